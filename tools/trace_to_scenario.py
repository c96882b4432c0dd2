#!/usr/bin/env python3
"""trace_to_scenario.py: turn a real Linux x86_fpu ftrace text (as saved by
tools/capture_fpu_trace.sh) into an fpusim scenario, with "expect" numbers for
the deferred policy taken from the real kernel's tracepoint counts.

    tools/trace_to_scenario.py TRACE -o traces/real_x.json [--name N]
        [--machine intel-sapphire-rapids] [--costs intel-like] [--cpus 2]
        [--mhz 2600] [--expect-file extra.json] [--report]

Input: ftrace text lines `COMM-PID [CPU] FLAGS SECONDS.MICROS: EVENT: ARGS`
(trace_clock global or local), lines starting with '#' are comments; the
`# fpusim: kthread pids:` header (written by the capture script) names the
kernel threads. Events used: sched_switch, x86_fpu_regs_activated,
x86_fpu_regs_deactivated, x86_fpu_copy_dst, x86_fpu_dropped,
raw_syscalls sys_enter/sys_exit, sched_process_fork/exec/exit,
signal_deliver. Others are ignored.

Output: one scenario JSON (events inline), `cpus` = the real machine's CPU
count, every CPU the trace covers replayed on the CPU of the same number.
Time: t = (timestamp - first timestamp) in microseconds * MHz (the machine
preset's frequency_mhz, 2600 for intel-sapphire-rapids), exact integers.

What the kernel (6.x, arch/x86/kernel/fpu, include/asm/fpu/sched.h) logs, and
so what each tracepoint means for the model (the DeferredPolicy):
  * regs_deactivated right after a sched_switch, logged by the outgoing task
    (load: 1): switch_fpu() saved its live registers (TIF_NEED_FPU_LOAD was
    clear) -> one context-switch save.
  * regs_deactivated (load: 0) followed by x86_fpu_dropped: fpu__drop() at
    exit (fpregs_deactivate(): owner = NULL, no save). Not a save.
  * regs_activated (load: 1): fpregs_restore_userregs() found
    !fpregs_state_valid() and did XRSTOR -> one restore. Called on return to
    user (switch_fpu_return), in fpu_clone() when the parent's registers are
    not loaded, and in signal-frame setup.
  * regs_activated (load: 0): fpregs_mark_activate() after loading the
    registers directly: signal delivery (init state, fpu__clear_user_states)
    and sigreturn (XRSTOR from the user frame) -> one restore in the model.
  * copy_dst: fpu_clone() XSAVEs the parent's registers into the child's buffer
    -> one save in the model (Cause fork), no regs_deactivated.
  * signal_deliver: the frame XSAVE (no tracepoint) -> one save in the model.
  * No tracepoint at all: kernel_fpu_begin() (saves current's live registers
    and sets TIF_NEED_FPU_LOAD, then invalidates the CPU's owner), XSAVE into
    a signal frame, KVM.

Inference rules (how the scenario's events are derived from the trace):
  R1 Contexts. pid 0 (swapper) is the idle task (null). A task is a kernel
     thread ("kthread" context) if the capture header lists it as PF_KTHREAD or
     its name is a known kernel thread's (kworker, ksoftirqd, migration, rcu_*,
     cpuhp, kthreadd, watchdog, irq/, jbd2, kcompactd, khugepaged, ...), unless
     it logged a syscall or an x86_fpu event as the current task (then it is a
     user task). Every other task is a user context named COMM-PID (COMM as
     last seen, characters outside [A-Za-z0-9_.:+-] replaced by '_').
  R2 Switches. Every sched_switch on a recorded CPU becomes {"ev": "switch",
     "next": ...} at its time. The first line on each CPU switches the CPU
     (which starts idle in the simulator) to the task that was running.
  R3 Stand-ins until the first restore. A user task's FPU state is unknown
     until the kernel provably loads its registers from memory: at the start
     of the window its registers may still be live on the CPU or it may be
     blocked in a syscall; a task forked in the window may first run (and
     return to user) on a CPU that is not recorded (wake_up_new_task() and
     sched_exec() place it). So every user task is first represented by a
     stand-in kernel-thread context COMM-PID:pre that does nothing
     FPU-related. At its first regs_activated (load: 1) the converter switches
     (a synthetic switch on the same CPU at the same time) from the stand-in
     to the real user context, which has never run, so its switch-in restores
     its buffer, as the kernel did. The kernel's regs_deactivated,
     regs_activated (load: 0) and copy_dst of a task before that point are
     "boundary" events, excluded from the expectations (and counted in the
     description). A fork by a represented task still declares the child's
     real context ({"ev": "fork"}); the child's own stand-in runs until its
     first restore (a new task's first return to user always restores:
     fpu->last_cpu = -1). Symmetrically, a switch-in at the very end of the
     window whose outcome (restore or not) lies after the window switches to a
     stand-in COMM-PID:end.
  R4 User/kernel mode (from raw_syscalls). sys_enter -> {"ev": "syscall"}.
     sys_exit -> the task returns to user: {"ev": "return_to_user"} at the
     regs_activated that follows it if the kernel restored, else at the
     sys_exit. Exception: a sys_exit flagged need-resched ('N' in the flags)
     that is followed directly by the task's own switch-out (state R) was
     preempted in exit_to_user_mode_loop() BEFORE switch_fpu_return(): it is
     switched out in kernel mode (no return yet) and returns to user after it
     is switched back in (at its regs_activated, or at the switch-in). A task
     switched out in any state but R (S, D, I, X, Z, ...) is in the kernel: a
     "syscall" is emitted before the switch if the model still has it in user
     mode (a page fault or other kernel entry without sys_enter). So is a task
     switched out in state "R+" (the '+' marks preemption through
     preempt_schedule*(), which only happens in kernel mode). A task switched
     out in plain state R without an open syscall called schedule() in the
     exit-to-user work loop (an interrupt or a wakeup hit it in user mode); the
     simulator resumes it in user mode, restoring at the switch-in, where the
     kernel restores on the way back to user.
     A sys_enter of a task the model has in kernel mode means it returned
     unseen: a return_to_user is emitted first. Without raw_syscalls in the
     trace only regs_activated / regs_deactivated and the switch state are
     used (rules R6/R7 then insert the returns).
  R5 FP use. Each time a user context reaches user mode in a time slice (the
     first return in that slice) it gets one {"ev": "use", "write": [...]}
     right after the return: the components are the XSTATE_BV bits the kernel
     printed (xfeatures) at the task's next save (regs_deactivated, or its
     latest x86_fpu event if none follows), i.e. the components in use in its
     registers, minus PKRU (switched by WRPKRU, not XRSTOR) and AMX (not used
     by these workloads; it would need xcomp_perm). For the handoff threads
     that is sse, ymm, opmask, zmm_hi256, hi16_zmm (xfeatures 0x2e6).
  R6 Saves without a tracepoint. The converter tracks the kernel state the
     model keeps (TIF_NEED_FPU_LOAD, fpu->last_cpu, per-CPU
     fpu_fpregs_owner_ctx) with the kernel's rules. If a task that has live
     registers by that tracking (it returned to user since its switch-in) is
     switched out WITHOUT a regs_deactivated, something saved them before
     without a tracepoint: kernel_fpu_begin() while it was current (in a
     syscall, or a softirq that interrupted it). A {"ev": "kernel_fpu"} ("in":
     "task" in kernel mode, "softirq" in user mode, dur 0) is inserted just
     before the switch. Likewise when the kernel restores (regs_activated) at a
     return although the task's registers were live by the tracking.
  R7 Invalidations without a tracepoint. If the kernel restores at a return to
     user although by the tracking the CPU still holds the task's registers
     (owner == task and last_cpu == this CPU), the registers were invalidated
     meanwhile: a kernel thread or softirq used kernel_fpu_begin() (which sets
     the owner to NULL), or the task ran on a CPU outside the recording. A
     {"ev": "kernel_fpu", "in": "softirq", "dur": 0} is inserted right after
     the task's last switch-out on that CPU (no context there has live
     registers by then, so nothing is saved). A regs_deactivated where the
     tracking has no live registers (a return the rules missed) inserts a
     return_to_user + use after the task's switch-in. Every inference is
     counted in the description; the opposite cases (the model would restore
     or save where the kernel did not) cannot be explained by a missing event
     and are reported as discrepancies, not papered over.
  R8 fork: x86_fpu_copy_dst + sched_process_fork by a user context ->
     {"ev": "fork", "child": ...} at the copy_dst (a regs_activated right
     before it is fpu_clone()'s own restore, not a return to user). exec:
     sched_process_exec -> {"ev": "exec"} at the task's next return to user
     (the model's exec returns to user at once; the kernel reloads at
     sys_exit). exit: {"ev": "exit"} right before the task's final switch-out
     (state X or Z): the kernel's fpu__drop() (6.16+: only when
     TIF_NEED_FPU_LOAD is clear; it logs regs_deactivated load 0 + dropped and
     clears the owner) runs earlier, but the task can still be preempted after
     it, and the model does not allow switching an exited context back in.
     signal_deliver -> {"ev": "signal"}; a regs_activated (load: 0) inside
     rt_sigreturn -> {"ev": "sigreturn"} if a frame is pending.

Expectations written for the "deferred" policy (Linux >= 5.2, the running
kernel): saves = context-switch regs_deactivated + copy_dst + signal frames +
R6 inferred saves; restores = regs_activated (load 1 and load 0) of the
represented user contexts; violations lost = leaked = 0. For "eager", "lazy"
and "lazy-preload" (Linux 4.x) the expectations are derived by derive_v4()
below, an independent application of the v4.x rules to the scenario's events
(saves, restores, #NM traps, LazyFP exposure windows). More expectations can be
merged in with --expect-file (JSON object policy -> expectation).
"""

import argparse
import json
import os
import re
import sys
from collections import defaultdict

LINE = re.compile(r"^\s*(.*?)-(\d+)\s+(?:\(\s*[\d-]+\)\s+)?\[(\d+)\]\s+(\S+)\s+(\d+)\.(\d+):\s+(\w+):\s?(.*)$")
KV = re.compile(r"(\w+)=(\S+)")
FPU = re.compile(r"x86/fpu: (\S+) load: (\d+) xfeatures: ([0-9a-fA-F]+) xcomp_bv: ([0-9a-fA-F]+)")
KTHREAD_NAMES = re.compile(
    r"^(kworker/|ksoftirqd/|migration/|rcu_|rcuo|rcub/|cpuhp/|kthreadd$|watchdog|idle_inject/|irq/|jbd2/|ext4-|"
    r"kcompactd|khugepaged$|kswapd|ksmd$|oom_reaper$|kblockd$|writeback$|kauditd$|khungtaskd$|kdevtmpfs$|"
    r"kintegrityd$|kthrotld$|xfsaild/|btrfs-|scsi_|card\d|pr/|kvm-|vhost-|psimon$|napi/|hwrng$|"
    r"kstrp$|zswap|mm_percpu_wq$|netns$|inet_frag_wq$|ipv6_addrconf$|md$|edac-poller$|blkcg_punt_bio$|"
    r"tpm_dev_wq$|ata_sff$|devfreq_wq$|cryptd$|kmpath|nvme|virtio|dio/|loop\d|kdmflush|kcryptd|"
    r"ttm$|khvcd$|ecryptfs|sugov:|ksgxd$|kpktgend|events|kaluad$|rpciod$|xprtiod$|nfsiod$|cifsiod$)"
)
COMPONENT_BITS = [(0, "x87"), (1, "sse"), (2, "ymm"), (5, "opmask"), (6, "zmm_hi256"), (7, "hi16_zmm")]
NR_EXECVE = {59, 322}  # execve, execveat (x86_64)
NR_RT_SIGRETURN = 15
NR_EXIT = {60, 231}


def sanitize(s):
    return re.sub(r"[^A-Za-z0-9_.:+-]", "_", s)[:56] or "task"


class Rec:
    __slots__ = ("i", "us", "cpu", "pid", "comm", "flags", "ev", "args", "f", "fpu", "consumed")

    def __init__(self, i, us, cpu, pid, comm, flags, ev, args):
        self.i, self.us, self.cpu, self.pid, self.comm = i, us, cpu, pid, comm
        self.flags, self.ev, self.args = flags, ev, args
        self.f = dict(KV.findall(args)) if ev in ("sched_switch", "sched_process_fork", "sched_process_exec",
                                                   "sched_process_exit", "signal_deliver",
                                                   "sched_migrate_task", "sched_wakeup") else {}
        m = FPU.search(args) if ev.startswith("x86_fpu_") else None
        self.fpu = (m.group(1), int(m.group(2)), int(m.group(3), 16)) if m else None
        self.consumed = False

    def nr(self):
        m = re.match(r"NR (-?\d+)", self.args)
        return int(m.group(1)) if m else None


def parse(path):
    meta, recs = {}, []
    for ln in open(path, encoding="utf-8", errors="replace"):
        ln = ln.rstrip("\n")
        if ln.startswith("#"):
            m = re.match(r"#\s*fpusim:\s*([^:]+):\s?(.*)$", ln)
            if m:
                meta[m.group(1).strip()] = m.group(2)
            continue
        m = LINE.match(ln)
        if not m:
            continue
        comm, pid, cpu, flags, sec, frac, ev, args = m.groups()
        us = int(sec) * 1000000 + int(frac.ljust(6, "0")[:6])
        recs.append(Rec(len(recs), us, int(cpu), int(pid), comm.strip(), flags, ev, args))
    return meta, recs


def components_of(xfeatures):
    return [name for b, name in COMPONENT_BITS if xfeatures & (1 << b)]


class Task:
    def __init__(self, pid, comm):
        self.pid, self.comm = pid, comm
        self.kind = "user"
        self.born = False          # created inside the window
        self.settled = False       # represented by its real user context
        self.used_standin = False
        self.name = None
        self.standin = None
        # Model-side (the simulator's view of this context).
        self.in_user = True        # a context never run starts in user mode
        self.need_load = True      # TIF_NEED_FPU_LOAD
        self.last_cpu = None
        self.exited = False
        self.dying = False
        self.frames = 0            # pending signal frames
        self.declared = False
        # Real-side.
        self.open_syscall = None   # NR of a sys_enter without sys_exit
        self.pending_return = False  # sys_exit with N: returns after the next switch-in
        self.pending_exec = False
        self.used_in_slice = False
        self.switch_out_index = None  # index in the output after its last switch-out
        self.slice_start_index = None
        self.counts = defaultdict(int)


class Converter:
    def __init__(self, recs, meta, mhz, cpus_filter=None):
        self.recs = recs
        self.meta = meta
        self.mhz = mhz
        self.out = []
        self.tasks = {}
        self.cur = {}            # cpu -> pid (0 = idle) per the trace
        self.switch_tail = {}    # cpu -> pid of the task just switched out (its trailing lines)
        self.owner = {}          # cpu -> pid whose registers the CPU holds (tracking)
        self.notes = []
        self.discrepancies = []
        self.inferred = defaultdict(int)
        self.t0 = recs[0].us if recs else 0
        self.cpus = sorted({r.cpu for r in recs if cpus_filter is None or r.cpu in cpus_filter})
        self.by_cpu = defaultdict(list)
        for r in recs:
            if r.cpu in self.cpus:
                self.by_cpu[r.cpu].append(r)
        self.pos_in_cpu = {}
        for c, lst in self.by_cpu.items():
            for k, r in enumerate(lst):
                self.pos_in_cpu[r.i] = k
        self.has_syscalls = any(r.ev in ("sys_enter", "sys_exit") for r in recs)
        self.kthread_pids = set()
        for tok in meta.get("kthread pids", "").split():
            self.kthread_pids.add(int(tok.split(":")[0]))
        self.classify()

    # ---------------------------------------------------------------- setup
    def task(self, pid, comm=None):
        t = self.tasks.get(pid)
        if t is None:
            t = Task(pid, comm or str(pid))
            self.tasks[pid] = t
        elif comm:
            t.comm = comm
        return t

    def classify(self):
        evidence = set()
        for r in self.recs:
            self.task(r.pid, r.comm if r.pid else "swapper")
            if r.ev == "sched_switch":
                self.task(int(r.f["prev_pid"]), r.f["prev_comm"])
                self.task(int(r.f["next_pid"]), r.f["next_comm"])
            if r.ev in ("sys_enter", "sys_exit") or r.ev.startswith("x86_fpu_"):
                evidence.add(r.pid)
            if r.ev == "sched_process_fork":
                self.task(int(r.f["child_pid"]), r.f.get("child_comm")).born = True
            if r.ev == "sched_process_exec":
                # the comm after exec is the name everybody knows the task by
                self.task(r.pid).comm = r.comm
        for pid, t in self.tasks.items():
            if pid == 0:
                t.kind = "idle"
            elif pid in evidence:
                t.kind = "user"
            elif pid in self.kthread_pids or KTHREAD_NAMES.match(t.comm):
                t.kind = "kthread"
            else:
                t.kind = "user"
        for pid, t in self.tasks.items():
            t.name = sanitize(f"{t.comm}-{pid}")
            t.standin = sanitize(f"{t.comm}-{pid}")[:60] + ":pre"
            t.settled = False  # R3: every user task starts as a stand-in

    # ---------------------------------------------------------------- output
    def cyc(self, r_or_us):
        us = r_or_us.us if isinstance(r_or_us, Rec) else r_or_us
        return (us - self.t0) * self.mhz

    def emit(self, t, cpu, ev, **kw):
        e = {"t": t, "cpu": cpu, "ev": ev}
        e.update(kw)
        self.out.append(e)
        return len(self.out) - 1

    def ctx_of(self, pid):
        """Name of the simulator context that currently stands for pid (None = idle)."""
        t = self.tasks[pid]
        if t.kind == "idle":
            return None
        if t.kind == "kthread":
            t.declared = True
            return t.name
        if t.settled:
            t.declared = True
            return t.name
        t.used_standin = True
        return t.standin

    # ------------------------------------------------------- model tracking
    def valid(self, t, cpu):
        return self.owner.get(cpu) == t.pid and t.last_cpu == cpu

    def track_return(self, t, cpu):
        """The model's load_user_regs(): returns True if it restores."""
        if not t.need_load:
            return False
        restored = not self.valid(t, cpu)
        if restored:
            self.owner[cpu] = t.pid
            t.last_cpu = cpu
        t.need_load = False
        return restored

    def track_save(self, t, cpu):
        t.need_load = True
        t.last_cpu = cpu

    # ------------------------------------------------------------ lookahead
    def next_on_cpu(self, r, pred=None, stop=None):
        lst = self.by_cpu[r.cpu]
        k = self.pos_in_cpu[r.i] + 1
        while k < len(lst):
            x = lst[k]
            if stop and stop(x):
                return None
            if pred is None or pred(x):
                return x
            k += 1
        return None

    def restore_follows(self, r, pid):
        """The kernel's regs_activated (load 1) of pid after r, before pid enters the
        kernel again, is switched out, or forks (fpu_clone's own restore)."""
        def stop(x):
            if x.ev == "sched_switch" and int(x.f["prev_pid"]) == pid:
                return True
            if x.pid != pid:
                return False
            if x.ev == "sys_enter" or x.ev == "x86_fpu_copy_dst" or x.ev == "signal_deliver":
                return True
            if x.ev == "x86_fpu_regs_activated" and x.fpu and x.fpu[1] == 0:
                return True
            return False
        x = self.next_on_cpu(r, lambda x: x.pid == pid and x.ev == "x86_fpu_regs_activated"
                             and x.fpu and x.fpu[1] == 1, stop)
        return x

    def deactivated_after_switch(self, r):
        """regs_deactivated (load 1) logged by the outgoing task right after sched_switch r."""
        prev = int(r.f["prev_pid"])
        lst = self.by_cpu[r.cpu]
        k = self.pos_in_cpu[r.i] + 1
        while k < len(lst) and lst[k].pid == prev and lst[k].ev != "sched_switch":
            if lst[k].ev == "x86_fpu_regs_deactivated" and lst[k].fpu and lst[k].fpu[1] == 1:
                return lst[k]
            k += 1
        return None

    def xfeatures_for_use(self, r, pid):
        x = self.next_on_cpu(r, lambda x: x.pid == pid and x.ev == "x86_fpu_regs_deactivated"
                             and x.fpu is not None)
        if x is not None:
            return x.fpu[2]
        t = self.tasks[pid]
        return getattr(t, "last_xfeatures", 0x2)  # default: SSE

    # ---------------------------------------------------------------- steps
    def do_return(self, r, t, cpu, kernel_restored, at=None):
        """The task returns to user space at record r (time `at` or r's)."""
        tt = self.cyc(at if at is not None else r)
        if not t.settled:
            return
        if t.in_user:
            return
        if t.pending_exec:
            # fpu_flush_thread(): TIF_NEED_FPU_LOAD set, registers invalidated.
            t.need_load = True
            t.last_cpu = None
        # Consistency with the kernel's decision.
        if kernel_restored:
            if not t.need_load:
                # R6: live by the tracking, yet reloaded: an unlogged kernel_fpu_begin() saved them.
                self.emit(tt, cpu, "kernel_fpu", **{"in": "task", "dur": 0})
                self.inferred["kernel_fpu_task_save"] += 1
                t.counts["inferred_saves"] += 1
                self.track_save(t, cpu)
                self.owner[cpu] = None
            elif self.valid(t, cpu):
                # R7: registers invalidated while the task was away.
                self.insert_invalidation(t, cpu)
        else:
            if t.need_load and not self.valid(t, cpu) and not t.pending_exec:
                self.discrepancies.append(
                    f"{r.us / 1e6:.6f} cpu {cpu}: {t.name} returns to user without a regs_activated, "
                    f"but by the kernel's rules its registers are not valid on this CPU (owner "
                    f"{self.owner.get(cpu)}, last_cpu {t.last_cpu}): the model will restore here")
        if t.pending_exec:
            self.emit(tt, cpu, "exec")
            t.pending_exec = False
            t.used_in_slice = False  # a new program
            self.track_return(t, cpu)
        else:
            self.emit(tt, cpu, "return_to_user")
            self.track_return(t, cpu)
        t.in_user = True
        self.maybe_use(r, t, cpu, tt)

    def maybe_use(self, r, t, cpu, tt):
        if t.used_in_slice or not t.settled or t.exited:
            return
        comps = components_of(self.xfeatures_for_use(r, t.pid))
        if comps:
            self.emit(tt, cpu, "use", ctx=t.name, write=comps)
        t.used_in_slice = True

    def insert_invalidation(self, t, cpu):
        idx = t.switch_out_index
        if idx is None:
            self.discrepancies.append(f"cannot place the invalidation for {t.name}: no earlier switch-out")
            return
        tt = self.out[idx - 1]["t"] if idx > 0 else 0
        self.insert_at(idx, [{"t": tt, "cpu": cpu, "ev": "kernel_fpu", "in": "softirq", "dur": 0}])
        self.owner[cpu] = None
        self.inferred["kernel_fpu_invalidation"] += 1

    def insert_at(self, idx, evs):
        """Insert events into the output at idx; indices recorded at or after it shift."""
        self.out[idx:idx] = evs
        for o in self.tasks.values():
            if o.switch_out_index is not None and o.switch_out_index > idx:
                o.switch_out_index += len(evs)
            if o.slice_start_index is not None and o.slice_start_index > idx:
                o.slice_start_index += len(evs)

    def ensure_kernel(self, r, t, cpu):
        if t.settled and t.in_user:
            self.emit(self.cyc(r), cpu, "syscall")
            t.in_user = False

    def settle(self, r, t, cpu):
        """R3: switch from the stand-in to the real user context."""
        if t.settled or t.kind != "user":
            return
        t.settled = True
        t.in_user = True  # a never-run context starts in user mode: the switch restores
        t.need_load = True
        t.last_cpu = None
        tt = self.cyc(r)
        self.emit(tt, cpu, "switch", next=self.ctx_of(t.pid))
        self.track_return(t, cpu)
        t.counts["settle_restore"] += 1
        t.used_in_slice = False
        t.slice_start_index = len(self.out)
        if t.pending_exec:
            t.pending_exec = False  # the fresh context is the exec'd image
        self.maybe_use(r, t, cpu, tt)

    # ---------------------------------------------------------------- main
    def run(self):
        started = set()
        for r in self.recs:
            cpu = r.cpu
            if cpu not in self.cpus:
                continue
            if cpu not in started:
                started.add(cpu)
                first = int(r.f["prev_pid"]) if r.ev == "sched_switch" else r.pid
                self.cur[cpu] = first
                if first:
                    t0 = self.tasks[first]
                    self.emit(self.cyc(r), cpu, "switch", next=self.ctx_of(first))
                    if t0.settled:
                        self.track_return(t0, cpu)
                        t0.used_in_slice = False
            actual = int(r.f["prev_pid"]) if r.ev == "sched_switch" else r.pid
            if r.ev != "sched_switch" and actual == self.switch_tail.get(cpu):
                # switch_fpu()'s regs_deactivated, logged by the outgoing task after its
                # sched_switch line (handled with the switch)
                continue
            self.switch_tail[cpu] = None
            if actual != self.cur[cpu]:
                self.implicit_switch(r, cpu, actual)
            if r.ev == "sched_switch":
                self.switch_tail[cpu] = actual
            handler = getattr(self, "on_" + r.ev, None)
            if handler:
                handler(r, cpu)

    def on_sched_switch(self, r, cpu):
        prev_pid, next_pid = int(r.f["prev_pid"]), int(r.f["next_pid"])
        self.switch(r, r, cpu, prev_pid, r.f.get("prev_state", "R"), next_pid,
                    self.deactivated_after_switch(r))

    def implicit_switch(self, r, cpu, next_pid):
        """R2: a task's line on a CPU whose current task (per the trace) is another one: its
        sched_switch was not recorded (on the capture machine, switches out of the idle task
        on CPU 1 never are). The switch is placed at that line; lookahead starts with it."""
        prev_pid = self.cur[cpu]
        if prev_pid != 0:
            self.notes.append(f"{r.us / 1e6:.6f} cpu {cpu}: unrecorded switch from {self.tasks[prev_pid].name}")
        self.inferred["unrecorded_switch_from_" + ("idle" if prev_pid == 0 else "task")] += 1
        k = self.pos_in_cpu[r.i]
        anchor = self.by_cpu[cpu][k - 1] if k > 0 else r
        self.switch(r, anchor, cpu, prev_pid, "R", next_pid, None)

    def switch(self, r, anchor, cpu, prev_pid, state, next_pid, deact):
        """Switch from prev_pid to next_pid at r's time; lookahead for next starts after anchor."""
        prev, nxt = self.tasks[prev_pid], self.tasks[next_pid]
        tt = self.cyc(r)
        if prev.kind == "user":
            if deact is not None:
                prev.last_xfeatures = deact.fpu[2]
            if prev.settled:
                preempted = state.startswith("R")
                # "R+" = preempted (preempt_schedule*(): kernel mode); plain "R" = schedule() at
                # the exit-to-user work loop, i.e. at the user boundary.
                in_kernel = (not preempted) or state.endswith("+") or prev.open_syscall is not None \
                    or prev.pending_return
                if deact is not None:
                    prev.counts["deact_switch"] += 1
                    if prev.need_load:
                        # R7: a return the rules missed: insert it after the switch-in.
                        self.hidden_return(r, prev, cpu)
                else:
                    if not prev.need_load:
                        # R6: an unlogged save (kernel_fpu_begin() while it was current). If the
                        # model has it in user mode, the section ran in an interrupt that then
                        # preempted it on the way out (irqentry_exit_to_user_mode() schedules
                        # before switch_fpu_return()): enter the kernel first, return after the
                        # switch back in.
                        if prev.in_user:
                            self.emit(tt, cpu, "syscall")
                            prev.in_user = False
                            if preempted:
                                prev.pending_return = True
                        self.emit(tt, cpu, "kernel_fpu", **{"in": "task", "dur": 0})
                        self.inferred["kernel_fpu_save_before_switch"] += 1
                        prev.counts["inferred_saves"] += 1
                        self.track_save(prev, cpu)
                        self.owner[cpu] = None
                if in_kernel:
                    self.ensure_kernel(r, prev, cpu)
                elif not prev.in_user and not prev.pending_return:
                    # preempted in user mode (interrupt) although the model has it in the kernel
                    self.do_return(r, prev, cpu, kernel_restored=False)
                if (state[:1] in ("X", "Z") or prev.dying) and not state.startswith("R") and not prev.exited:
                    # R8: the model's exit comes right before the final switch-out (the kernel's
                    # fpu__drop() may run earlier, but the task can still be preempted after it).
                    self.emit(tt, cpu, "exit")
                    prev.exited = True
                    if self.owner.get(cpu) == prev.pid:
                        self.owner[cpu] = None
                if not prev.need_load:
                    self.track_save(prev, cpu)
            else:
                if deact is not None:
                    prev.counts["boundary_deact"] += 1
        # the switch itself
        if nxt.kind == "user" and nxt.settled and (nxt.in_user or nxt.pending_return) \
                and self.runs_off_end(anchor, next_pid):
            # The kernel's restore decision for this switch-in lies after the window's end:
            # switch to a stand-in so that the model does not restore either.
            nxt.ended = True
            self.notes.append(f"final switch-in of {nxt.name} replaced by {nxt.name}:end (outcome after the window)")
        self.emit(tt, cpu, "switch", next=(nxt.name + ":end") if getattr(nxt, "ended", False)
                  else self.ctx_of(next_pid))
        if getattr(nxt, "ended", False):
            self.cur[cpu] = next_pid
            prev.switch_out_index = len(self.out)
            return
        prev.switch_out_index = len(self.out)
        self.cur[cpu] = next_pid
        if nxt.kind == "user" and nxt.settled:
            nxt.used_in_slice = False
            nxt.slice_start_index = len(self.out)
            if nxt.in_user:
                # The model returns to user as part of the switch.
                k = self.restore_follows(anchor, next_pid)
                if k is not None:
                    k.consumed = True
                    if self.valid(nxt, cpu) and nxt.need_load:
                        self.insert_invalidation(nxt, cpu)
                else:
                    if not self.valid(nxt, cpu):
                        self.discrepancies.append(
                            f"{r.us / 1e6:.6f} cpu {cpu}: {nxt.name} switched in (user mode) without a "
                            f"regs_activated, but its registers are not valid here by the kernel's rules")
                self.track_return(nxt, cpu)
                self.maybe_use(anchor, nxt, cpu, tt)
            elif nxt.pending_return:
                nxt.pending_return = False
                k = self.restore_follows(anchor, next_pid)
                if k is not None:
                    k.consumed = True
                    self.do_return(k, nxt, cpu, kernel_restored=True)
                else:
                    self.do_return(r, nxt, cpu, kernel_restored=False)

    def runs_off_end(self, r, pid):
        """True if nothing of pid follows r on this CPU before the trace ends (or only
        sys_exit lines, which leave the restore decision open)."""
        x = self.next_on_cpu(r, lambda x: x.pid == pid and x.ev != "sys_exit"
                             or (x.ev == "sched_switch" and int(x.f["prev_pid"]) == pid))
        return x is None

    def hidden_return(self, r, t, cpu):
        idx = t.slice_start_index if t.slice_start_index is not None else len(self.out)
        tt = self.out[idx - 1]["t"] if idx > 0 else self.cyc(r)
        evs = [{"t": tt, "cpu": cpu, "ev": "return_to_user"}]
        comps = components_of(self.xfeatures_for_use(r, t.pid))
        if comps and not t.used_in_slice:
            evs.append({"t": tt, "cpu": cpu, "ev": "use", "ctx": t.name, "write": comps})
            t.used_in_slice = True
        self.insert_at(idx, evs)
        self.inferred["hidden_return"] += 1
        if self.track_return(t, cpu):
            self.discrepancies.append(f"{t.name}: hidden return at {tt} needs a restore the kernel did not log")
        t.in_user = True

    def on_sys_enter(self, r, cpu):
        t = self.tasks[r.pid]
        if t.kind != "user":
            return
        if t.settled and not t.in_user:
            # R4: it returned to user without us seeing it.
            self.do_return(r, t, cpu, kernel_restored=False)
            self.inferred["return_before_sys_enter"] += 1
        if t.settled:
            self.maybe_use(r, t, cpu, self.cyc(r))
        t.open_syscall = r.nr()
        self.ensure_kernel(r, t, cpu)

    def on_sys_exit(self, r, cpu):
        t = self.tasks[r.pid]
        if t.kind != "user":
            return
        t.open_syscall = None
        if not t.settled:
            return
        if t.in_user and not t.pending_exec:
            return
        # Preempted before switch_fpu_return()?
        if "N" in r.flags:
            nx = self.next_on_cpu(r, lambda x: x.ev == "sched_switch" or x.pid == r.pid)
            if nx is not None and nx.ev == "sched_switch" and int(nx.f["prev_pid"]) == r.pid \
                    and nx.f.get("prev_state", "").startswith("R"):
                t.pending_return = True
                return
        k = self.restore_follows(r, r.pid)
        if k is not None:
            k.consumed = True
            self.do_return(k, t, cpu, kernel_restored=True)
        else:
            self.do_return(r, t, cpu, kernel_restored=False)

    def on_x86_fpu_regs_activated(self, r, cpu):
        t = self.tasks[r.pid]
        if t.kind != "user":
            return
        t.last_xfeatures = r.fpu[2] if r.fpu else getattr(t, "last_xfeatures", 2)
        load = r.fpu[1] if r.fpu else 1
        if not t.settled:
            if load == 1:
                t.counts["act_load1"] += 1
                self.settle(r, t, cpu)
                r.consumed = True
            else:
                t.counts["boundary_act"] += 1
            return
        if load == 1:
            t.counts["act_load1"] += 1
            if r.consumed:
                return
            nx = self.next_on_cpu(r, lambda x: x.pid == r.pid)
            if nx is not None and nx.ev == "x86_fpu_copy_dst" and nx.us - r.us <= 3:
                return  # fpu_clone()'s own restore (same syscall): the fork event does it
            if t.in_user and not t.pending_exec:
                # A restore while the model already has the task in user mode: it was reloaded
                # after kernel_fpu_begin() in an interrupt (R6) -- or the rules are off.
                if not t.need_load:
                    # an interrupt whose softirq used kernel_fpu_begin(); it returns to user
                    # through the restore path
                    self.emit(self.cyc(r), cpu, "irq", dur=0, kernel_fpu=True)
                    self.inferred["kernel_fpu_irq_save"] += 1
                    t.counts["inferred_saves"] += 1
                    self.track_save(t, cpu)
                    self.owner[cpu] = None
                    self.track_return(t, cpu)
                else:
                    self.discrepancies.append(f"{r.us / 1e6:.6f}: unexpected regs_activated of {t.name}")
                return
            self.do_return(r, t, cpu, kernel_restored=True)
        else:
            t.counts["act_load0"] += 1
            sigret = t.open_syscall == NR_RT_SIGRETURN or (
                not self.has_syscalls and not getattr(t, "signal_pending_activate", False))
            if sigret and t.frames > 0:
                self.emit(self.cyc(r), cpu, "sigreturn")
                t.frames -= 1
                t.in_user = True
                t.need_load = False
                self.owner[cpu] = t.pid
                t.last_cpu = cpu
            elif getattr(t, "signal_pending_activate", False):
                t.signal_pending_activate = False  # the signal's fpu__clear_user_states()
            else:
                t.counts["act_load0_unmodelled"] += 1

    def on_signal_deliver(self, r, cpu):
        t = self.tasks[r.pid]
        if t.kind != "user" or not t.settled:
            return
        self.emit(self.cyc(r), cpu, "signal")
        t.counts["signals"] += 1
        t.frames += 1
        self.track_return(t, cpu)
        self.owner[cpu] = t.pid
        t.last_cpu = cpu
        t.in_user = True
        t.signal_pending_activate = True
        # fpregs_restore_userregs() inside the frame setup is part of this event
        k = self.restore_follows(r, r.pid)
        if k is not None:
            k.consumed = True

    def on_x86_fpu_copy_dst(self, r, cpu):
        t = self.tasks[r.pid]
        fork = self.next_on_cpu(r, lambda x: x.pid == r.pid and x.ev == "sched_process_fork")
        if fork is None:
            return
        child = self.tasks[int(fork.f["child_pid"])]
        if t.kind != "user" or not t.settled:
            t.counts["boundary_copy"] += 1
            return
        t.counts["copy_dst"] += 1
        self.emit(self.cyc(r), cpu, "fork", child=child.name)
        child.declared = True
        self.track_return(t, cpu)  # fpu_clone(): fpregs_restore_userregs() if needed
        child.need_load, child.last_cpu, child.in_user = True, None, True

    def on_sched_process_exec(self, r, cpu):
        t = self.tasks[r.pid]
        if t.kind == "user":
            t.pending_exec = True
            if t.settled:
                t.in_user = False

    def on_x86_fpu_regs_deactivated(self, r, cpu):
        t = self.tasks[r.pid]
        if r.fpu and r.fpu[1] == 0:
            t.counts["deact_drop"] += 1

    def on_x86_fpu_dropped(self, r, cpu):
        # fpu__drop() (6.16+: only when TIF_NEED_FPU_LOAD is clear): fpregs_deactivate().
        t = self.tasks[r.pid]
        t.dying = True
        if t.kind == "user" and t.settled and t.need_load:
            # fpu__drop() logs only with TIF_NEED_FPU_LOAD clear: the task returned to user
            # in this slice without the rules seeing it (R7).
            self.hidden_return(r, t, cpu)
        if t.kind == "user" and t.settled and self.owner.get(cpu) == t.pid:
            self.owner[cpu] = None

    def on_sched_process_exit(self, r, cpu):
        self.tasks[r.pid].dying = True

    # -------------------------------------------------------------- results
    def contexts(self):
        ctxs = []
        for t in sorted(self.tasks.values(), key=lambda t: t.pid):
            if t.kind == "idle":
                continue
            if t.kind == "kthread" and t.declared:
                ctxs.append({"name": t.name, "kind": "kthread"})
            elif t.kind == "user":
                if t.used_standin:
                    ctxs.append({"name": t.standin, "kind": "kthread"})
                if getattr(t, "ended", False):
                    ctxs.append({"name": t.name + ":end", "kind": "kthread"})
                if t.settled or t.declared:
                    ctxs.append({"name": t.name})
        return ctxs

    def totals(self):
        tot = defaultdict(int)
        for t in self.tasks.values():
            for k, v in t.counts.items():
                tot[k] += v
        return tot


# ------------------------------------------------------------------------
# Expectations for the v4.x policies, derived independently of the simulator
# by applying the Linux v4.2 .. v5.1 rules (arch/x86/include/asm/fpu/internal.h
# switch_fpu_prepare()/switch_fpu_finish(), kernel/fpu/core.c fpu__restore(),
# fpu__copy(), fpu__clear(), fpu__drop(), kernel/fpu/signal.c) to the
# scenario's events:
#   switch: if prev->fpregs_active: XSAVE prev (save), last_cpu = cpu, and
#     either preload next (restore, no CR0.TS change) or set CR0.TS; else
#     prev->counter = 0, last_cpu = -1, and preload next unless the CPU still
#     holds it (fpu_want_lazy_restore: owner == next && next->last_cpu == cpu).
#     preload = next is a user task with fpstate_active and (eager, or
#     lazy-preload with next->counter > 5); a preload increments counter.
#   use with CR0.TS set (lazy): #NM -> fpu__restore(): activate, restore,
#     counter++ (traps_nm_ts).
#   fork: the child copies the parent's buffer; a parent without live
#     registers takes the #NM in the XSAVE first (trap + restore); one save.
#   exec: fpu__clear(): lazy drops the state (the next use traps), eager loads
#     the init image (one init restore). exit: fpu__drop().
#   signal: XSAVE to the frame if the registers are live (one save), then
#     fpu__clear(); sigreturn (64-bit frame): activate the registers and XRSTOR
#     straight from the user frame (one restore; no #NM afterwards).
#   kernel_fpu: __kernel_fpu_begin() saves a live current (and
#     __kernel_fpu_end() restores it), else clears the owner and CR0.TS
#     around the section.
# Exposure (LazyFP, CVE-2018-3665; this machine speculates past #NM): a window
# opens each time a context runs in user mode with CR0.TS set while the
# registers still hold another context's (or the kernel's) data.
def derive_v4(events, contexts, preload_mode):
    eager = preload_mode == "eager"
    kinds = {c["name"]: c.get("kind", "user") for c in contexts}

    class C:
        pass
    ctx = {}
    for n, k in kinds.items():
        c = C()
        c.user = k == "user"
        c.fpstate_active = eager and c.user
        c.fpregs_active = False
        c.counter = 0
        c.last_cpu = None
        c.in_user = True
        c.image = set()
        c.exited = False
        ctx[n] = c
    cur, owner, ts, regs, exposed = {}, {}, {}, {}, {}
    n = {"saves": 0, "restores": 0, "traps_nm_ts": 0, "exposed": 0}

    def regs_of(cpu):
        return regs.setdefault(cpu, {})

    def save(cpu, name):
        n["saves"] += 1
        ctx[name].image = {k for k, o in regs_of(cpu).items() if o is not None}

    def restore(cpu, name):
        n["restores"] += 1
        regs[cpu] = {k: name for k in ctx[name].image}

    def activate(cpu, name):
        ts[cpu] = False
        ctx[name].fpregs_active = True
        owner[cpu] = name

    def drop(cpu, name):
        c = ctx[name]
        c.counter = 0
        if c.fpregs_active:
            c.fpregs_active = False
            owner[cpu] = None
            if not eager:
                ts[cpu] = True
        c.fpstate_active = False

    def load(cpu, name):  # fpu__restore()
        c = ctx[name]
        c.fpstate_active = True
        activate(cpu, name)
        restore(cpu, name)
        c.counter = (c.counter + 1) % 256

    for e in events:
        cpu, ev = e["cpu"], e["ev"]
        ts.setdefault(cpu, not eager)
        me = cur.get(cpu)
        if ev == "switch":
            prev, nxt = me, e["next"]
            p, q = (ctx[prev] if prev else None), (ctx[nxt] if nxt else None)
            pre = bool(q and q.user and q.fpstate_active and
                       (eager or (preload_mode == "lazy-preload" and q.counter > 5)))
            if p and p.fpregs_active:
                save(cpu, prev)
                p.last_cpu = cpu
                p.fpregs_active = False
                if pre:
                    q.counter = (q.counter + 1) % 256
                    q.fpregs_active = True
                    owner[cpu] = nxt
                elif not eager:
                    ts[cpu] = True
            else:
                if p:
                    p.counter = 0
                    p.last_cpu = None
                if pre:
                    q.counter = (q.counter + 1) % 256
                    if owner.get(cpu) == nxt and q.last_cpu == cpu:
                        pre = False
                    activate(cpu, nxt)
            if pre:
                restore(cpu, nxt)
            cur[cpu] = nxt
        elif ev == "use":
            c = ctx[me]
            if ts[cpu]:
                n["traps_nm_ts"] += 1
                load(cpu, me)
            for k in e.get("write", []):
                regs_of(cpu)[k] = me
        elif ev == "syscall":
            ctx[me].in_user = False
        elif ev == "return_to_user":
            ctx[me].in_user = True
        elif ev in ("kernel_fpu", "irq"):
            if ev == "irq" and not e.get("kernel_fpu"):
                continue
            c = ctx[me] if me else None
            where = e.get("in", "softirq")
            in_int = where != "task"
            from_user = bool(c and c.user and c.in_user)
            usable = (not in_int) or from_user or eager or (not (c and c.fpregs_active) and ts[cpu])
            if usable:
                live = bool(c and c.fpregs_active)
                if live:
                    save(cpu, me)
                else:
                    owner[cpu] = None
                    ts[cpu] = False
                for k in e.get("clobbers", ["x87", "sse", "ymm"]):
                    regs_of(cpu)[k] = "<kernel>"
                if live:
                    restore(cpu, me)
                elif not eager:
                    ts[cpu] = True
        elif ev == "fork":
            par, ch = ctx[me], ctx[e["child"]]
            ch.counter, ch.fpregs_active, ch.last_cpu = 0, False, None
            ch.fpstate_active = par.fpstate_active
            if par.fpstate_active:
                if not par.fpregs_active:
                    n["traps_nm_ts"] += 1
                    load(cpu, me)
                n["saves"] += 1
                ch.image = {k for k, o in regs_of(cpu).items() if o is not None}
        elif ev == "exec":
            c = ctx[me]
            c.image = set()
            if not eager:
                drop(cpu, me)
            else:
                if not c.fpstate_active:
                    c.fpstate_active = True
                    activate(cpu, me)
                n["restores"] += 1  # init image
                regs[cpu] = {}
            c.in_user = True
        elif ev == "exit":
            drop(cpu, me)
            ctx[me].exited = True
            ctx[me].in_user = False
        elif ev == "signal":
            c = ctx[me]
            if c.fpregs_active:
                n["saves"] += 1
            c.frame = {k for k, o in regs_of(cpu).items() if o is not None} if c.fpregs_active else set(c.image)
            if not eager:
                drop(cpu, me)
            else:
                if not c.fpstate_active:
                    c.fpstate_active = True
                    activate(cpu, me)
                n["restores"] += 1
                regs[cpu] = {}
            c.in_user = True
        elif ev == "sigreturn":
            # __fpu__restore_sig(), 64-bit frame: fpu__activate_curr(); user_fpu_begin()
            # (fpregs_activate() if not active: CLTS in lazy mode); XRSTOR straight from the
            # user frame (copy_user_to_fpregs_zeroing()). Live afterwards: no #NM follows.
            c = ctx[me]
            c.fpstate_active = True
            if not c.fpregs_active:
                activate(cpu, me)
            n["restores"] += 1
            regs[cpu] = {k: me for k in getattr(c, "frame", set())}
            c.in_user = True
        # exposure after the event
        me = cur.get(cpu)
        c = ctx[me] if me else None
        bad = False
        if c and c.user and c.in_user and not c.exited and ts[cpu]:
            bad = any(o is not None and o != me for o in regs_of(cpu).values())
        if bad and not exposed.get(cpu):
            n["exposed"] += 1
        exposed[cpu] = bad
    return n


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("trace")
    ap.add_argument("-o", "--output", required=True)
    ap.add_argument("--name")
    ap.add_argument("--machine", default="intel-sapphire-rapids")
    ap.add_argument("--costs", default="intel-like")
    ap.add_argument("--cpus", type=int, help="CPU count (default: from the capture header, else 2)")
    ap.add_argument("--mhz", type=int, help="cycles per microsecond (default: the machine preset's frequency_mhz)")
    ap.add_argument("--only-cpu", type=int, action="append", help="convert only these CPUs' events")
    ap.add_argument("--summary", default="", help="text prepended to the description")
    ap.add_argument("--expect-file", help="JSON object {policy: expectation} merged into expect")
    ap.add_argument("--report", action="store_true", help="print per-task counts and inferences to stderr")
    a = ap.parse_args()

    meta, recs = parse(a.trace)
    if not recs:
        sys.exit(f"{a.trace}: no trace lines")
    here = os.path.dirname(os.path.abspath(__file__))
    mhz = a.mhz
    if mhz is None:
        cdir = os.environ.get("FPUSIM_CONFIG_DIR", os.path.join(here, "..", "configs"))
        mpath = os.path.join(cdir, "machines", a.machine + ".json")
        if not os.path.exists(mpath):
            sys.exit(f"{mpath}: no such machine preset; give --mhz (cycles per microsecond)")
        mhz = json.load(open(mpath))["frequency_mhz"]
    ncpu = a.cpus
    if ncpu is None:
        m = re.search(r"(\d+) CPUs", meta.get("cpu", ""))
        ncpu = int(m.group(1)) if m else 2
    conv = Converter(recs, meta, mhz, set(a.only_cpu) if a.only_cpu else None)
    conv.run()
    tot = conv.totals()
    inf = dict(conv.inferred)
    saves = tot["deact_switch"] + tot["copy_dst"] + tot["signals"] + tot["inferred_saves"]
    restores = tot["act_load1"] + tot["act_load0"] - tot["act_load0_unmodelled"]
    raw_deact = sum(1 for r in recs if r.ev == "x86_fpu_regs_deactivated" and r.cpu in conv.cpus)
    raw_act = sum(1 for r in recs if r.ev == "x86_fpu_regs_activated" and r.cpu in conv.cpus)
    span_us = recs[-1].us - recs[0].us
    nsw = sum(1 for r in recs if r.ev == "sched_switch" and r.cpu in conv.cpus)
    users = [t for t in conv.tasks.values() if t.kind == "user" and (t.settled or t.used_standin)]
    desc = []
    if a.summary:
        desc.append(a.summary.strip())
    desc.append(
        f"Generated by tools/trace_to_scenario.py from {os.path.relpath(a.trace, os.path.dirname(os.path.abspath(a.output)))}"
        f" ({meta.get('kernel', 'unknown kernel')}; {meta.get('cpu', 'unknown CPU')}; command: "
        f"{meta.get('command', '?')}): {len(recs)} trace lines, {span_us} us, CPU(s) "
        f"{','.join(map(str, conv.cpus))}, {nsw} sched_switch, {len(users)} user tasks, "
        f"t = microseconds x {mhz}.")
    desc.append(
        f"The real kernel logged {raw_deact} regs_deactivated and {raw_act} regs_activated in the window. "
        f"regs_deactivated: {tot['deact_switch']} at context switches of the represented user tasks (one "
        f"XSAVE each), {tot['deact_drop']} from fpu__drop() at exit (no save), {tot['boundary_deact']} of tasks "
        f"that existed before the window, before their first restore (boundary, rule R3). regs_activated: "
        f"{tot['act_load1']} with load 1 (XRSTOR in fpregs_restore_userregs), {tot['act_load0']} with load 0 "
        f"(fpregs_mark_activate: signal/sigreturn){', of which %d not modelled' % tot['act_load0_unmodelled'] if tot['act_load0_unmodelled'] else ''}"
        f"{', plus %d of tasks before their first restore (boundary)' % tot['boundary_act'] if tot['boundary_act'] else ''}. "
        f"Also {tot['copy_dst']} copy_dst (fork XSAVE into the child) and {tot['signals']} signal frames.")
    desc.append(
        f"Expected under deferred (the running kernel's policy): saves = {tot['deact_switch']} switch saves + "
        f"{tot['copy_dst']} fork copies + {tot['signals']} signal frames + {tot['inferred_saves']} inferred "
        f"unlogged kernel_fpu_begin() saves = {saves}; restores = {tot['act_load1']} + "
        f"{tot['act_load0'] - tot['act_load0_unmodelled']} = {restores}; no lost or leaked state. "
        f"Inferred events (rules R2, R6, R7): {json.dumps(inf, sort_keys=True) if inf else 'none'}. "
        f"Converter-detected discrepancies: {len(conv.discrepancies)}.")
    expect = {"deferred": {"totals": {"saves": saves, "restores": restores},
                           "violations": {"lost": 0, "leaked": 0}}}
    derived = {}
    for pol in ("eager", "lazy", "lazy-preload"):
        d = derive_v4(conv.out, conv.contexts(), pol)
        derived[pol] = d
        exp = {"totals": {"saves": d["saves"], "restores": d["restores"]},
               "violations": {"lost": 0, "leaked": 0}}
        if pol != "eager":
            exp["totals"]["traps_nm_ts"] = d["traps_nm_ts"]
            exp["violations"]["exposed"] = d["exposed"]
        expect[pol] = exp
    desc.append(
        "Expected under the v4.x policies, derived by applying the v4.2-v5.1 rules (switch_fpu_prepare/"
        "finish, fpu__restore on #NM, fpu__copy, fpu__clear, fpu__drop; see derive_v4() in the converter) "
        "to these events: " + "; ".join(
            f"{p}: saves {d['saves']}, restores {d['restores']}" +
            (f", #NM {d['traps_nm_ts']}, LazyFP exposure windows {d['exposed']}" if p != "eager" else "")
            for p, d in derived.items()) + ".")
    if a.expect_file:
        extra = json.load(open(a.expect_file))
        for pol, e in extra.items():
            if pol == "_description":
                desc.append(e)
                continue
            expect[pol] = e
    scen = {
        "format": "fpusim-scenario",
        "version": 1,
        "name": a.name or os.path.splitext(os.path.basename(a.output))[0],
        "description": " ".join(desc),
        "machine": a.machine,
        "costs": a.costs,
        "cpus": ncpu,
        "policy": "deferred",
        "contexts": conv.contexts(),
        "events": conv.out,
        "expect": expect,
    }
    with open(a.output, "w") as f:
        f.write("{\n")
        keys = list(scen.keys())
        for n, k in enumerate(keys):
            sep = "," if n + 1 < len(keys) else ""
            if k == "events":
                f.write('  "events": [\n')
                for m, e in enumerate(scen["events"]):
                    f.write("    " + json.dumps(e) + ("," if m + 1 < len(scen["events"]) else "") + "\n")
                f.write("  ]" + sep + "\n")
            elif k == "contexts":
                f.write('  "contexts": [\n')
                for m, c in enumerate(scen["contexts"]):
                    f.write("    " + json.dumps(c) + ("," if m + 1 < len(scen["contexts"]) else "") + "\n")
                f.write("  ]" + sep + "\n")
            else:
                f.write(f"  {json.dumps(k)}: {json.dumps(scen[k])}{sep}\n")
        f.write("}\n")
    if a.report or conv.discrepancies:
        print(f"{a.output}: {len(conv.out)} events, {len(scen['contexts'])} contexts; expected deferred saves "
              f"{saves}, restores {restores}; inferred {inf}", file=sys.stderr)
        for t in sorted(conv.tasks.values(), key=lambda t: t.pid):
            if t.counts:
                print(f"  {t.pid:>7} {t.comm:<20} {t.kind:<7} {'settled' if t.settled else 'stand-in'} "
                      f"{dict(t.counts)}", file=sys.stderr)
        for d in conv.discrepancies:
            print("  DISCREPANCY: " + d, file=sys.stderr)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""derive_v4.py: expectations of a host scenario under the Linux v4.x FPU
policies (eager, lazy, lazy-preload), derived independently of the simulator
by applying the v4.2 .. v5.1 rules to the scenario's events. An oracle for
the simulator's lazy policies on imported real traces: the expectations of
traces/real_*.json for these policies were computed with it.

    tools/derive_v4.py SCENARIO.json            # prints {"eager": {...}, "lazy": {...}, "lazy-preload": {...}}
    tools/derive_v4.py SCENARIO.json --check    # exit 1 unless the scenario's expect block holds these numbers

(It was part of the former tools/trace_to_scenario.py, which `fpusim import`
replaced; the events of an imported scenario are what that converter made.)
"""

import json
import sys

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


def expectations(scenario):
    out = {}
    for pol in ("eager", "lazy", "lazy-preload"):
        d = derive_v4(scenario["events"], scenario["contexts"], pol)
        exp = {"totals": {"saves": d["saves"], "restores": d["restores"]},
               "violations": {"lost": 0, "leaked": 0}}
        if pol != "eager":
            exp["totals"]["traps_nm_ts"] = d["traps_nm_ts"]
            exp["violations"]["exposed"] = d["exposed"]
        out[pol] = exp
    return out


def main():
    if len(sys.argv) < 2 or sys.argv[1] in ("-h", "--help"):
        print(__doc__)
        return 0 if len(sys.argv) >= 2 else 2
    with open(sys.argv[1]) as f:
        scenario = json.load(f)
    exp = expectations(scenario)
    if "--check" in sys.argv[2:]:
        bad = [p for p, e in exp.items() if scenario.get("expect", {}).get(p) != e]
        for p in bad:
            print(f"{sys.argv[1]}: {p}: derived {json.dumps(exp[p])}, the scenario expects "
                  f"{json.dumps(scenario.get('expect', {}).get(p))}", file=sys.stderr)
        return 1 if bad else 0
    print(json.dumps(exp, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

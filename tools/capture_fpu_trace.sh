#!/usr/bin/env bash
# capture_fpu_trace.sh: record the real kernel's x86_fpu tracepoints (with
# sched_switch, raw_syscalls, fork/exec/exit, signals and interrupts) around
# one workload, and save the raw trace text, trimmed to the workload's window,
# for `fpusim import` / `fpusim validate` (and optionally the same recording
# as a trace-cmd trace.dat).
#
#   sudo tools/capture_fpu_trace.sh [-c CPU] [-A] [-o OUT] [-k KB] [-e EVENTS] [-K] [-x]
#                                   [-m NOTE] [-N] [-d FILE.dat] -- CMD [ARGS...]
#
#   -c CPU   the CPU the workload runs on and the only CPU recorded
#            (tracing_cpumask); default 1. The workload is started with
#            `taskset -c CPU`; this script moves itself to another CPU first so
#            that its own shell does not run on the recorded CPU.
#   -A       record every CPU (tracing_cpumask of all CPUs) and do not pin the
#            workload with taskset (for workloads that pin or move themselves,
#            for example between CPU 0 and 1). -c CPU still names the CPU this
#            script moves away from (it runs on the other one).
#   -o OUT   output file; default tests/fixtures/real/<basename CMD>.trace.txt
#   -k KB    per-CPU ring buffer size; default 16384
#   -e EVENTS  extra events, space-separated SYSTEM:EVENT (for example
#            "kvm:kvm_fpu kvm:kvm_entry kvm:kvm_exit kvm:kvm_userspace_exit")
#   -K       also record the KVM events kvm:kvm_fpu kvm:kvm_entry kvm:kvm_exit
#            kvm:kvm_userspace_exit kvm:kvm_pio (those this kernel has)
#   -x       leave out the raw_syscalls:* and signal:* events (a trace
#            "recorded without the signal and syscall events")
#   -m NOTE  a free-text line for the header (for example how CMD was built)
#   -N       keep the whole recording (do not trim to the workload's window)
#   -d FILE.dat  after the text has been read from /sys/kernel/tracing/trace
#            (which does not consume the buffer), also write the same
#            recording as a trace.dat with `trace-cmd extract -o FILE.dat`
#            (read it with `trace-cmd report FILE.dat`), without the 5 MB
#            /proc/kallsyms copy (none of the events prints a symbol). The
#            .dat is never trimmed (the header says so): use -N for a
#            text/.dat pair that holds the same window.
#   -T FILE.dat  record with `trace-cmd record` instead (it streams to the
#            file, so the ring buffer's size does not bound the recording;
#            the same events, CPUs and clock), and write no text. Where
#            trace-cmd cannot enable ftrace itself (it says "Can't enable
#            ftrace", as on this project's machines), use -d.
#
# Needs root and tracefs (/sys/kernel/tracing). Events recorded:
#   x86_fpu:*  (whatever this kernel has: regs_activated, regs_deactivated,
#               copy_src/copy_dst, dropped, before/after_save, ...)
#   sched:sched_switch, sched_process_fork, sched_process_exec,
#   sched_process_exit, sched_migrate_task, sched_wakeup
#   raw_syscalls:sys_enter, sys_exit  (user/kernel mode boundaries; not with -x)
#   signal:signal_generate, signal_deliver  (not with -x)
#   irq:irq_handler_entry, irq_handler_exit, softirq_entry, softirq_exit
#   kvm:kvm_fpu, kvm_entry, kvm_exit, kvm_userspace_exit, kvm_pio  (with -K)
# Every event is checked to exist (a missing one is reported on stderr and
# left out); the header's "events:" line lists those enabled.
# trace_clock is set to "global" (one clock for every CPU).
#
# The window kept is: from the first line that involves the workload's first
# process (the pid started by this script, which becomes CMD after exec) to
# the switch-out after the last line of any of its tasks (children and threads
# found through sched_process_fork), plus the x86_fpu lines of that switch.
# Every other task's lines inside the window are kept (they share the CPU's
# registers). The output starts with "# fpusim:" header lines: kernel, CPU
# model, command, the CPU, the workload's pids and the pids in the window that
# are kernel threads (PF_KTHREAD in /proc/PID/stat, read before and after the
# run), which `fpusim import` uses to tell kernel threads from user tasks.
# The tracing state (events, cpumask, clock, buffer size) is restored on exit.
set -euo pipefail

CPU=1
OUT=""
KB=16384
TRIM=1
EXTRA=""
NOTE=""
ALLCPU=0
KVM=0
NOSYS=0
DAT=""
TREC=""
while getopts "c:o:k:e:m:NAKxd:T:h" opt; do
  case "$opt" in
    c) CPU="$OPTARG" ;;
    o) OUT="$OPTARG" ;;
    k) KB="$OPTARG" ;;
    e) EXTRA="$OPTARG" ;;
    m) NOTE="$OPTARG" ;;
    N) TRIM=0 ;;
    A) ALLCPU=1 ;;
    K) KVM=1 ;;
    x) NOSYS=1 ;;
    d) DAT="$OPTARG" ;;
    T) TREC="$OPTARG" ;;
    h) sed -n '2,/^set -euo/p' "$0" | sed '$d'; exit 0 ;;
    *) exit 2 ;;
  esac
done
shift $((OPTIND - 1))
[ "${1:-}" = "--" ] && shift
if [ $# -eq 0 ]; then
  echo "usage: $0 [-c CPU] [-A] [-o OUT] [-k KB] [-e EVENTS] [-K] [-x] [-m NOTE] [-N] [-d FILE.dat | -T FILE.dat] -- CMD [ARGS...]" >&2
  exit 2
fi
T=/sys/kernel/tracing
[ -w "$T/trace" ] || { echo "$0: need root and tracefs at $T" >&2; exit 2; }
NCPU=$(nproc --all)
[ "$CPU" -lt "$NCPU" ] || { echo "$0: CPU $CPU does not exist ($NCPU CPUs)" >&2; exit 2; }
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
[ -n "$OUT" ] || OUT="$ROOT/tests/fixtures/real/$(basename "$1").trace.txt"
mkdir -p "$(dirname "$OUT")"
if [ -n "$DAT$TREC" ]; then
  command -v trace-cmd >/dev/null || { echo "$0: -d and -T need trace-cmd" >&2; exit 2; }
  mkdir -p "$(dirname "$DAT$TREC")"
fi

# Keep this shell (and the tracefs writes) off the recorded CPU.
OTHER=$(( CPU == 0 ? 1 : 0 ))
if [ "$NCPU" -gt 1 ]; then taskset -pc "$OTHER" $$ >/dev/null; fi

# Save the tracing state, restore it on exit.
OLD_ON=$(cat $T/tracing_on)
OLD_MASK=$(cat $T/tracing_cpumask)
OLD_CLOCK=$(sed -n 's/.*\[\(.*\)\].*/\1/p' $T/trace_clock)
# "7 (expanded: 1408)" before the first use: restore the expanded size.
OLD_KB=$(sed -n 's/.*expanded: \([0-9]*\).*/\1/p' $T/buffer_size_kb)
[ -n "$OLD_KB" ] || OLD_KB=$(sed 's/ .*//' $T/buffer_size_kb)
OLD_EVENTS=$(cat $T/set_event)
restore() {
  echo 0 > $T/tracing_on
  echo > $T/set_event
  for e in $OLD_EVENTS; do echo "$e" >> $T/set_event 2>/dev/null || true; done
  echo "$OLD_MASK" > $T/tracing_cpumask
  echo "$OLD_CLOCK" > $T/trace_clock
  echo "$OLD_KB" > $T/buffer_size_kb
  echo > $T/trace
  echo "$OLD_ON" > $T/tracing_on
}
trap restore EXIT

echo 0 > $T/tracing_on
echo > $T/set_event
echo > $T/trace
echo "$KB" > $T/buffer_size_kb
echo global > $T/trace_clock
if [ "$ALLCPU" = 1 ]; then
  MASK=$(printf '%x' $(( (1 << NCPU) - 1 )))
  RECORDED="all $NCPU CPUs"
else
  MASK=$(printf '%x' $((1 << CPU)))
  RECORDED="$CPU"
fi
echo "$MASK" > $T/tracing_cpumask
EVENTS=""
for e in $(ls $T/events/x86_fpu | grep '^x86_fpu_'); do EVENTS="$EVENTS x86_fpu:$e"; done
EVENTS="$EVENTS sched:sched_switch sched:sched_process_fork sched:sched_process_exec sched:sched_process_exit"
EVENTS="$EVENTS sched:sched_migrate_task sched:sched_wakeup"
if [ "$NOSYS" = 0 ]; then
  EVENTS="$EVENTS raw_syscalls:sys_enter raw_syscalls:sys_exit signal:signal_generate signal:signal_deliver"
fi
EVENTS="$EVENTS irq:irq_handler_entry irq:irq_handler_exit irq:softirq_entry irq:softirq_exit"
if [ "$KVM" = 1 ]; then
  for e in kvm_fpu kvm_entry kvm_exit kvm_userspace_exit kvm_pio; do
    if [ -d "$T/events/kvm/$e" ]; then EVENTS="$EVENTS kvm:$e"; else echo "$0: no event kvm:$e (left out)" >&2; fi
  done
fi
EVENTS="$EVENTS $EXTRA"
ENABLED=""
for e in $EVENTS; do
  # Exists only if tracefs has its directory and accepts it in set_event.
  if [ -d "$T/events/${e%%:*}/${e#*:}" ] && echo "$e" >> $T/set_event 2>/dev/null; then
    ENABLED="$ENABLED $e"
  else
    echo "$0: no event $e" >&2
  fi
done

if [ -n "$TREC" ]; then
  # trace-cmd record enables the same events itself.
  echo > $T/set_event
  args=()
  for e in $ENABLED; do args+=(-e "$e"); done
  if [ "$ALLCPU" = 1 ]; then
    trace-cmd record -q -C global -M "$MASK" -b "$KB" -o "$TREC" "${args[@]}" "$@" || {
      echo "$0: trace-cmd record failed; record through tracefs with -d instead" >&2; exit 1; }
  else
    trace-cmd record -q -C global -M "$MASK" -b "$KB" -o "$TREC" "${args[@]}" taskset -c "$CPU" "$@" || {
      echo "$0: trace-cmd record failed; record through tracefs with -d instead" >&2; exit 1; }
  fi
  echo "$0: wrote $TREC ($(wc -c < "$TREC") bytes)" >&2
  exit 0
fi

kthreads() {  # pid of every kernel thread (PF_KTHREAD = 0x00200000)
  for s in /proc/[0-9]*/stat; do
    # comm may contain spaces and parentheses: take the fields after the last ')'.
    line=$(cat "$s" 2>/dev/null) || continue
    rest=${line##*) }
    set -- $rest
    flags=${7:-0}
    if (( (flags & 0x00200000) != 0 )); then p=${s#/proc/}; echo "${p%/stat}"; fi
  done
}
KT_BEFORE=$(kthreads | tr '\n' ' ')

WORK_OUT=$(mktemp)
echo 1 > $T/tracing_on
set +e
if [ "$ALLCPU" = 1 ]; then
  "$@" > "$WORK_OUT" 2>&1 &
else
  taskset -c "$CPU" "$@" > "$WORK_OUT" 2>&1 &
fi
WPID=$!
wait $WPID
WRC=$?
set -e
echo 0 > $T/tracing_on
KT_AFTER=$(kthreads | tr '\n' ' ')
cat "$WORK_OUT" >&2

RAW=$(mktemp)
cat $T/trace > "$RAW"
DATLINE=""
if [ -n "$DAT" ]; then
  # Reading $T/trace did not consume the ring buffer; trace-cmd extract reads
  # (and consumes) the same events through per_cpu/*/trace_pipe_raw.
  # trace-cmd saves /proc/kallsyms (5 MB here, 1 MB compressed) in the file;
  # no recorded event prints a kernel symbol, so the extract runs in a
  # private mount namespace with /dev/null over /proc/kallsyms (plain extract
  # if that is not possible).
  KSYMS="without kallsyms"
  if ! unshare -m sh -c 'mount --bind /dev/null /proc/kallsyms && exec trace-cmd extract -o "$1"' sh "$DAT" \
       > "$WORK_OUT.dat.log" 2>&1; then
    KSYMS="with kallsyms"
    trace-cmd extract -o "$DAT" > "$WORK_OUT.dat.log" 2>&1 || true
  fi
  DATN=$( (trace-cmd report "$DAT" 2>/dev/null || true) | grep -c -v '^cpus=' || true)
  if [ -s "$DAT" ] && [ "$DATN" -gt 0 ]; then
    DATLINE="$(basename "$DAT") written by trace-cmd extract from the same recording, untrimmed (all $(grep -vc '^#' "$RAW") recorded lines; trace-cmd report shows $DATN), $KSYMS, $(wc -c < "$DAT") bytes"
  else
    cat "$WORK_OUT.dat.log" >&2
    echo "$0: trace-cmd extract -o $DAT failed" >&2
    DATLINE="trace-cmd extract -o $(basename "$DAT") FAILED"
  fi
  rm -f "$WORK_OUT.dat.log"
fi
MODEL=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)
{
  echo "# fpusim: real x86_fpu trace captured by tools/capture_fpu_trace.sh"
  echo "# fpusim: kernel: $(uname -r) ($(uname -v))"
  echo "# fpusim: cpu: $MODEL; $NCPU CPUs; flags: $(grep -m1 -o -w -E 'avx512f|amx_tile|xsaves' /proc/cpuinfo | sort -u | tr '\n' ' ')"
  if [ "$ALLCPU" = 1 ]; then
    echo "# fpusim: command: $* (not pinned by the script; exit status $WRC)"
  else
    echo "# fpusim: command: taskset -c $CPU $* (exit status $WRC)"
  fi
  [ -z "$NOTE" ] || echo "# fpusim: note: $NOTE"
  echo "# fpusim: workload output: $(tr '\n' ' ' < "$WORK_OUT")"
  echo "# fpusim: date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "# fpusim: recorded cpu: $RECORDED (tracing_cpumask $MASK), trace_clock global"
  echo "# fpusim: events:$ENABLED"
  [ "$NOSYS" = 0 ] || echo "# fpusim: recorded without the signal and syscall events (-x)"
  [ -z "$DATLINE" ] || echo "# fpusim: trace.dat: $DATLINE"
  echo "# fpusim: workload pid: $WPID"
} > "$OUT.tmp"
python3 - "$RAW" "$WPID" "$TRIM" "$KT_BEFORE $KT_AFTER" >> "$OUT.tmp" <<'EOF'
import re, sys
raw, wpid, trim, kts = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "1", set(sys.argv[4].split())
LINE = re.compile(r"^\s*(.*)-(\d+)\s+\[(\d+)\]\s+(\S+)\s+([\d.]+):\s+(\w+):\s?(.*)$")
header, body = [], []
for ln in open(raw):
    ln = ln.rstrip("\n")
    (header if ln.startswith("#") else body).append(ln)
parsed = [LINE.match(ln) for ln in body]
total = len(body)
# The workload's tasks: the started pid and everything it forks, transitively.
ours = {wpid}
for m in parsed:
    if m and m.group(6) == "sched_process_fork":
        f = dict(re.findall(r"(\w+)=(\S+)", m.group(7)))
        if int(f["pid"]) in ours:
            ours.add(int(f["child_pid"]))
def pids_of(m):
    p = {int(m.group(2))}
    if m.group(6) == "sched_switch":
        f = dict(re.findall(r"(\w+)=(\S+)", m.group(7)))
        p |= {int(f["prev_pid"]), int(f["next_pid"])}
    return p
first = last = None
for i, m in enumerate(parsed):
    if m and pids_of(m) & ours:
        if first is None:
            first = i
        last = i
if first is None:
    sys.exit("capture: no event of the workload's tasks was recorded")
if trim:
    # Extend the end to the x86_fpu lines the same task logs right after its
    # last line (the regs_deactivated of its final switch-out).
    # Lines of other CPUs (all-CPU recordings) in between are skipped over.
    j = end = last + 1
    while j < len(parsed):
        m = parsed[j]
        if m and m.group(3) != parsed[last].group(3):
            j += 1
            continue
        if not (m and m.group(6).startswith("x86_fpu_") and m.group(2) == parsed[last].group(2)):
            break
        j += 1
        end = j
    j = end
    body = body[first:j]
    parsed = parsed[first:j]
seen = {}
for m in parsed:
    if not m:
        continue
    seen[int(m.group(2))] = m.group(1).strip()
    if m.group(6) == "sched_switch":
        f = dict(re.findall(r"(\w+)=(\S+)", m.group(7)))
        seen[int(f["prev_pid"])] = f["prev_comm"]
        seen[int(f["next_pid"])] = f["next_comm"]
print("# fpusim: workload pids: " + " ".join(str(p) for p in sorted(ours)))
print("# fpusim: kthread pids: " + " ".join(f"{p}:{seen[p]}" for p in sorted(seen) if str(p) in kts))
print("# fpusim: window: %d of %d recorded lines%s" % (len(body), total, " (trimmed to the workload)" if trim else ""))
for h in header:
    print(h)
for ln in body:
    print(ln)
EOF
mv "$OUT.tmp" "$OUT"
rm -f "$RAW" "$WORK_OUT"
echo "$0: wrote $OUT ($(wc -c < "$OUT") bytes, $(grep -vc '^#' "$OUT") trace lines)" >&2

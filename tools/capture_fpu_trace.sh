#!/usr/bin/env bash
# capture_fpu_trace.sh: record the real kernel's x86_fpu tracepoints (with
# sched_switch, raw_syscalls, fork/exec/exit and signal delivery) around one
# workload, and save the raw trace text, trimmed to the workload's window,
# for tools/trace_to_scenario.py.
#
#   sudo tools/capture_fpu_trace.sh [-c CPU] [-o OUT] [-k KB] [-e EVENTS] [-m NOTE] [-N] -- CMD [ARGS...]
#
#   -c CPU   the CPU the workload runs on and the only CPU recorded
#            (tracing_cpumask); default 1. The workload is started with
#            `taskset -c CPU`; this script moves itself to another CPU first so
#            that its own shell does not run on the recorded CPU.
#   -o OUT   output file; default tests/fixtures/real/<basename CMD>.trace.txt
#   -k KB    per-CPU ring buffer size; default 16384
#   -e EVENTS  extra events, space-separated SYSTEM:EVENT (for example
#            "kvm:kvm_fpu kvm:kvm_entry kvm:kvm_exit kvm:kvm_userspace_exit")
#   -m NOTE  a free-text line for the header (for example how CMD was built)
#   -N       keep the whole recording (do not trim to the workload's window)
#
# Needs root and tracefs (/sys/kernel/tracing). Events recorded:
#   x86_fpu:*  (whatever this kernel has: regs_activated, regs_deactivated,
#               copy_src/copy_dst, dropped, before/after_save, ...)
#   sched:sched_switch, sched_process_fork, sched_process_exec,
#   sched_process_exit, sched_migrate_task, sched_wakeup
#   raw_syscalls:sys_enter, sys_exit  (user/kernel mode boundaries)
#   signal:signal_deliver
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
# run), which the converter uses to tell kernel threads from user tasks.
# The tracing state (events, cpumask, clock, buffer size) is restored on exit.
set -euo pipefail

CPU=1
OUT=""
KB=16384
TRIM=1
EXTRA=""
NOTE=""
while getopts "c:o:k:e:m:Nh" opt; do
  case "$opt" in
    c) CPU="$OPTARG" ;;
    o) OUT="$OPTARG" ;;
    k) KB="$OPTARG" ;;
    e) EXTRA="$OPTARG" ;;
    m) NOTE="$OPTARG" ;;
    N) TRIM=0 ;;
    h) sed -n '2,/^set -euo/p' "$0" | sed '$d'; exit 0 ;;
    *) exit 2 ;;
  esac
done
shift $((OPTIND - 1))
[ "${1:-}" = "--" ] && shift
if [ $# -eq 0 ]; then
  echo "usage: $0 [-c CPU] [-o OUT] [-k KB] [-e EVENTS] [-m NOTE] [-N] -- CMD [ARGS...]" >&2
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
printf '%x\n' $((1 << CPU)) > $T/tracing_cpumask
EVENTS=""
for e in $(ls $T/events/x86_fpu | grep '^x86_fpu_'); do EVENTS="$EVENTS x86_fpu:$e"; done
EVENTS="$EVENTS sched:sched_switch sched:sched_process_fork sched:sched_process_exec sched:sched_process_exit"
EVENTS="$EVENTS sched:sched_migrate_task sched:sched_wakeup raw_syscalls:sys_enter raw_syscalls:sys_exit"
EVENTS="$EVENTS signal:signal_deliver $EXTRA"
ENABLED=""
for e in $EVENTS; do
  if echo "$e" >> $T/set_event 2>/dev/null; then ENABLED="$ENABLED $e"; else echo "$0: no event $e" >&2; fi
done

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
taskset -c "$CPU" "$@" > "$WORK_OUT" 2>&1 &
WPID=$!
wait $WPID
WRC=$?
set -e
echo 0 > $T/tracing_on
KT_AFTER=$(kthreads | tr '\n' ' ')
cat "$WORK_OUT" >&2

RAW=$(mktemp)
cat $T/trace > "$RAW"
MODEL=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)
{
  echo "# fpusim: real x86_fpu trace captured by tools/capture_fpu_trace.sh"
  echo "# fpusim: kernel: $(uname -r) ($(uname -v))"
  echo "# fpusim: cpu: $MODEL; $NCPU CPUs; flags: $(grep -m1 -o -w -E 'avx512f|amx_tile|xsaves' /proc/cpuinfo | sort -u | tr '\n' ' ')"
  echo "# fpusim: command: taskset -c $CPU $* (exit status $WRC)"
  [ -z "$NOTE" ] || echo "# fpusim: note: $NOTE"
  echo "# fpusim: workload output: $(tr '\n' ' ' < "$WORK_OUT")"
  echo "# fpusim: date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "# fpusim: recorded cpu: $CPU (tracing_cpumask $(printf '%x' $((1 << CPU)))), trace_clock global"
  echo "# fpusim: events:$ENABLED"
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
    j = last + 1
    while (j < len(parsed) and parsed[j] and parsed[j].group(6).startswith("x86_fpu_")
           and parsed[j].group(2) == parsed[last].group(2)):
        j += 1
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

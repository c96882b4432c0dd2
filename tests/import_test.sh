#!/usr/bin/env bash
# Tests of `fpusim import` and `fpusim validate` on the real kernel traces in
# tests/fixtures/real/ (captured on this project's machines, see its README):
# every fixture validates exactly, in every format it exists in (tracefs text,
# trace.dat, trace-cmd report with and without -l, perf script); the layouts
# people paste (no irq-flags column, a tgid column, CRLF, lines wrapped by a
# mail client) import to the same scenario; traces without the signal or
# syscall events, and windows cut from the fixtures anywhere, still validate;
# the import reproduces the committed traces/real_*.json; per-task
# expectations are checked by `fpusim check`; bad input exits 2 with a
# message, damaged input never crashes.
#
# usage: import_test.sh FPUSIM SOURCE_ROOT
# Prints "ok N - ..." / "not ok N - ...: reason", then "N passed, M failed";
# exits 1 if any case failed.
set -u

FPUSIM=${1:?usage: import_test.sh FPUSIM SOURCE_ROOT}
SRC=${2:?usage: import_test.sh FPUSIM SOURCE_ROOT}
case $FPUSIM in /*) ;; *) FPUSIM=$PWD/$FPUSIM ;; esac
case $SRC in /*) ;; *) SRC=$PWD/$SRC ;; esac
export SYSTEMC_DISABLE_COPYRIGHT_MESSAGE=1
export FPUSIM_CONFIG_DIR=${FPUSIM_CONFIG_DIR:-$SRC/configs}
FIX=$SRC/tests/fixtures/real

TMP=$(mktemp -d "${TMPDIR:-/tmp}/fpusim-import.XXXXXX") || exit 99
trap 'rm -rf "$TMP"' EXIT
cd "$TMP" || exit 99

n=0 passed=0 failed=0
ok() { n=$((n + 1)); passed=$((passed + 1)); echo "ok $n - $1"; }
not_ok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $1: $2"; }
first_line() { sed -n '/./{p;q}' "$1" | cut -c1-300; }

# validates DESC FILE [ARGS...]: exit 0 and "every count agrees".
validates() {
  local desc=$1 f=$2 rc
  shift 2
  "$FPUSIM" validate "$f" "$@" >v.out 2>v.err
  rc=$?
  if [ "$rc" = 0 ] && grep -q "^every count agrees" v.out; then
    ok "$desc"
  else
    not_ok "$desc" "exit $rc: $(grep -m1 'first divergence' v.out)$(first_line v.err)"
  fi
}

# expect_fail DESC NEEDLE CMD...: exit 2, a message on stderr containing NEEDLE.
expect_fail() {
  local desc=$1 needle=$2 rc
  shift 2
  "$@" >out.txt 2>err.txt
  rc=$?
  if [ "$rc" != 2 ]; then
    not_ok "$desc" "exit $rc (expected 2): $(first_line err.txt)"
  elif ! grep -qF -- "$needle" err.txt; then
    not_ok "$desc" "stderr lacks \"$needle\": $(first_line err.txt)"
  else
    ok "$desc"
  fi
}

# The scenario's events with context names reduced to their pid (a comm is
# printed differently by each tool: trace-cmd report names a task by its last
# comm, report -l cuts it to 8 characters) and without times (trace.dat has
# nanoseconds, text microseconds).
normal_events() {
  jq -c '.events[] | [.cpu, .ev, (.next // .child // .ctx // "" | tostring | sub("^.*-(?<p>[0-9]+)"; "\(.p)")),
          (.write // null), (.in // null), (.vcpu // "" | sub("^.*-(?<p>[0-9]+)"; "\(.p)"))]' "$1"
}
normal_expect() {
  jq -cS '.expect.deferred | .totals, (.per_context | with_entries(.key |= sub("^.*-(?<p>[0-9]+)"; "\(.p)")))' "$1"
}

# 1. Every fixture, in every format, validates exactly.
for f in "$FIX"/*.trace.txt "$FIX"/*.trace.dat "$FIX"/*.report*.txt "$FIX"/*.perf-script.txt; do
  [ -e "$f" ] || continue
  validates "validate $(basename "$f"): every count agrees" "$f"
done

# 2. One recording, four formats: the same scenario but for names and times.
"$FPUSIM" import "$FIX/yield_pair_full.trace.txt" -o text.json -q --name y || echo "import of yield_pair_full.trace.txt failed"
normal_events text.json >text.ev
normal_expect text.json >text.ex
[ -s text.ev ] && [ -s text.ex ] || echo "no events from yield_pair_full.trace.txt"
for f in yield_pair_full.trace.dat yield_pair_full.report.txt yield_pair_full.report-l.txt; do
  if "$FPUSIM" import "$FIX/$f" -o other.json -q --name y 2>err.txt && normal_events other.json >other.ev &&
    normal_expect other.json >other.ex && [ -s text.ev ] && cmp -s text.ev other.ev && cmp -s text.ex other.ex; then
    ok "$f imports to the scenario its tracefs text does ($(wc -l <text.ev) events)"
  else
    not_ok "$f imports to the scenario its tracefs text does" "$(diff text.ev other.ev | head -3)$(first_line err.txt)"
  fi
done
if "$FPUSIM" import "$FIX/yield_pair_full.trace.dat" -o dat.json 2>err.txt && grep -q "trace.dat, 366 records" err.txt; then
  ok "the trace.dat's summary names its format and its 366 records"
else
  not_ok "the trace.dat's summary" "$(first_line err.txt)"
fi

# 3. Layouts people paste: the same scenario, byte for byte.
base=$FIX/mixed.trace.txt
"$FPUSIM" import "$base" -o base.json -q --name m || echo "import of mixed.trace.txt failed"
jq -S 'del(.description)' base.json >base.norm
layout() {  # layout DESC FILE
  if "$FPUSIM" import "$2" -o layout.json -q --name m 2>err.txt && jq -S 'del(.description)' layout.json >layout.norm &&
    [ "$(jq '.events | length' base.json)" -gt 300 ] && cmp -s base.norm layout.norm; then
    ok "$1: the same scenario"
  else
    not_ok "$1: the same scenario" "$(first_line err.txt)"
  fi
}
# no irq-flags column (tracefs with options/irq-info off)
sed -E 's/^( *.+-[0-9]+ +\[[0-9]+\]) [^ ]+ ( *[0-9]+\.[0-9]+:)/\1\2/' "$base" >noflags.txt
layout "tracefs text without the irq-flags column" noflags.txt
# the tgid column (options/record-tgid)
sed -E 's/^( *.+-[0-9]+) +(\[[0-9]+\])/\1 (  777) \2/' "$base" >tgid.txt
layout "tracefs text with the tgid column" tgid.txt
sed 's/$/\r/' "$base" >crlf.txt
layout "CRLF line ends" crlf.txt
# a mail client wrapping at 72 columns (at spaces)
fold -s -w 72 "$base" >wrapped.txt
if [ "$(wc -l <wrapped.txt)" -gt "$(wc -l <"$base")" ]; then
  layout "lines wrapped at 72 columns" wrapped.txt
else
  not_ok "lines wrapped at 72 columns" "fold wrapped nothing"
fi
if "$FPUSIM" import wrapped.txt -o w.json 2>err.txt && grep -q "[0-9] wrapped lines joined back to their records" err.txt; then
  ok "the summary counts the wrapped lines joined"
else
  not_ok "the summary counts the wrapped lines joined" "$(first_line err.txt)"
fi
# perf script's "comm pid [cpu] time: system:event: args" is a fixture of its
# own (section 1); tracefs's timestamps without a decimal point (counter clock)
sed -E 's/ ([0-9]+)\.([0-9]{6}):/ \1\2:/' "$base" >counter.txt
if "$FPUSIM" validate counter.txt >v.out 2>&1 && grep -q "raw clock" <("$FPUSIM" import counter.txt -o c.json 2>&1); then
  ok "a raw counter clock validates and is named"
else
  not_ok "a raw counter clock" "$(grep -m1 'first divergence' v.out)"
fi

# 4. Traces without the signal or syscall events: inferred from the kernel's
# own x86_fpu events, counted, and still exact.
grep -v 'signal_deliver\|signal_generate\|# fpusim: events' "$FIX/signal_storm.trace.txt" >nosignal.txt
validates "signal_storm without signal events: every count agrees" nosignal.txt
if grep -qE "signal_from_regs_activated 20( |$)" v.out; then ok "the 20 signals are inferred from regs_activated and counted"
else not_ok "the 20 signals are inferred and counted" "$(grep -m1 inferred v.out)"; fi
grep -v 'sys_enter\|sys_exit\|signal_deliver\|signal_generate\|# fpusim: events' "$base" >nosys.txt
validates "mixed without syscall and signal events: every count agrees" nosys.txt

# kvm_entry / kvm_exit (this project's KVM host logs none): the same vCPU
# trace with an entry after each guest FPU load and an I/O exit before each
# kvm_pio (where the kernel logs them) validates the same way, the entries
# and exits now the kernel's.
awk '{ if ($0 ~ / kvm_pio: /) { l = $0; sub(/kvm_pio: .*$/, "kvm_exit: vcpu 0 reason IO_INSTRUCTION rip 0x1000 info 0 0", l); print l }
       print
       if ($0 ~ / kvm_fpu: load$/) { l = $0; sub(/kvm_fpu: load$/, "kvm_entry: vcpu 0, rip 0x1000", l); print l } }' \
  "$FIX/kvm_io_exits.trace.txt" >entries.txt
validates "a vCPU trace with kvm_entry and kvm_exit: every count agrees" entries.txt
if "$FPUSIM" import entries.txt -o entries.json -q && [ "$(jq '[.events[] | select(.ev == "vm_entry")] | length' entries.json)" = 20 ] &&
  [ "$(jq '[.events[] | select(.ev == "vm_exit" and .reason == "io")] | length' entries.json)" = 20 ] &&
  ! grep -q "vm_entry_at_guest_fpu_reload" v.out; then
  ok "its 20 entries and 20 I/O exits are the kernel's, none inferred"
else
  not_ok "kvm_entry and kvm_exit become the scenario's" "$(grep -m1 inferred v.out)"
fi

# 5. Windows cut anywhere (a trace that starts and ends mid-flight).
cut_fail=
cuts=0
for f in mixed yield_pair sleep_valid fork_exit fork_exec migrate signal_storm signal_storm_nosys kvm_preempt kvm_io_exits; do
  lines=$(grep -vc '^#' "$FIX/$f.trace.txt")
  for a in $(seq 1 41 "$lines"); do
    for len in 33 120; do
      { grep '^#' "$FIX/$f.trace.txt"; grep -v '^#' "$FIX/$f.trace.txt" | tail -n +"$a" | head -n "$len"; } >cut.txt
      # a window without FPU events is refused (exit 2): nothing to validate
      if ! grep -v '^#' cut.txt | grep -q ' x86_fpu_[a-z_]*: \| kvm_fpu: '; then
        "$FPUSIM" validate cut.txt >v.out 2>&1
        [ $? = 2 ] && grep -q "none of its .* records is an FPU event" v.out && continue
        cut_fail="$f lines $a..$((a + len - 1)): a window without FPU events: $(first_line v.out)"
        break 3
      fi
      cuts=$((cuts + 1))
      "$FPUSIM" validate cut.txt >v.out 2>&1 || { cut_fail="$f lines $a..$((a + len - 1)): $(grep -m1 'first divergence' v.out)"; break 3; }
    done
  done
done
if [ -z "$cut_fail" ]; then ok "$cuts windows cut from 10 fixtures all validate exactly"
else not_ok "windows cut from the fixtures validate" "$cut_fail"; fi

# 6. The committed real scenarios are what the import makes of their traces.
for s in mixed xstate_handoff; do
    if "$FPUSIM" import "$FIX/$s.trace.txt" -o "real_$s.json" -q 2>err.txt &&
    jq -S '.events, .contexts, .expect.deferred.totals' "real_$s.json" >mine.norm &&
    jq -S '.events, .contexts, .expect.deferred.totals' "$SRC/traces/real_$s.json" >theirs.norm &&
    [ -s theirs.norm ] && cmp -s mine.norm theirs.norm; then
    ok "traces/real_$s.json: its events, contexts and deferred totals are the import's"
  else
    not_ok "traces/real_$s.json is the import's" "$(first_line err.txt)"
  fi
done

# Their expectations under the v4.x policies are tools/derive_v4.py's, an
# oracle independent of the simulator.
if command -v python3 >/dev/null; then
  for s in mixed xstate_handoff; do
    if python3 "$SRC/tools/derive_v4.py" "$SRC/traces/real_$s.json" --check 2>err.txt; then
      ok "traces/real_$s.json: eager, lazy and lazy-preload expectations are tools/derive_v4.py's"
    else
      not_ok "traces/real_$s.json's v4.x expectations" "$(first_line err.txt)"
    fi
  done
fi

# 7. Per-task expectations: fpusim check uses them.
"$FPUSIM" import "$FIX/kvm_preempt.trace.txt" -o kp.json -q
if "$FPUSIM" check kp.json >out.txt 2>&1; then ok "fpusim check passes on an imported KVM scenario"
else not_ok "fpusim check on an imported KVM scenario" "$(first_line out.txt)"; fi
jq '.expect.deferred.per_context["kvm_preempt-8750:vcpu"].saves += 1' kp.json >kp_bad.json
"$FPUSIM" check kp_bad.json >out.txt 2>&1
rc=$?
if [ "$rc" = 1 ] && grep -q "kvm_preempt-8750:vcpu.saves = 33, expected 34" out.txt; then
  ok "a wrong per-task count fails check, naming the task"
else
  not_ok "a wrong per-task count fails check" "exit $rc: $(grep -m1 expected out.txt)"
fi
jq '.expect.deferred.per_context["nobody"] = {"saves": 1}' kp.json >kp_bad.json
expect_fail "per_context naming no context" '/expect/deferred/per_context/nobody: names no context' \
  "$FPUSIM" check kp_bad.json
if "$FPUSIM" validate "$FIX/sleep_valid.trace.txt" --scenario-out sv.json >/dev/null 2>&1 && "$FPUSIM" check sv.json >/dev/null 2>&1; then
  ok "validate --scenario-out writes a scenario that checks"
else
  not_ok "validate --scenario-out" "$(first_line sv.json)"
fi

# 8. A model that disagrees is shown: the first divergence, in context.
"$FPUSIM" validate "$FIX/mixed.trace.txt" --policy eager >v.out 2>&1
rc=$?
if [ "$rc" = 1 ] && grep -q "first divergence: " v.out && grep -q "^  > " v.out; then
  ok "validate under another policy exits 1 and shows the first divergence in the trace"
else
  not_ok "validate under another policy" "exit $rc"
fi

# 9. Bad input: exit 2 and a message naming the file; damaged input never crashes.
expect_fail "a missing trace" "nosuch.txt: cannot open" "$FPUSIM" import nosuch.txt -o x.json
: >empty.txt
expect_fail "an empty trace" "empty.txt: no trace record found" "$FPUSIM" import empty.txt -o x.json
printf 'hello\0world\n' >binary.txt
grep -v 'x86_fpu_\|kvm_fpu\|# fpusim: events' "$FIX/yield_pair.trace.txt" >nofpu.txt
expect_fail "a trace without FPU events" "nofpu.txt: none of its 265 records is an FPU event" \
  "$FPUSIM" import nofpu.txt -o x.json
expect_fail "a binary file that is not a trace.dat" "binary.txt: a binary file that is not a trace.dat" \
  "$FPUSIM" import binary.txt -o x.json
head -c 3000 "$FIX/yield_pair_full.trace.dat" >short.dat
expect_fail "a trace.dat cut in its header" "short.dat: not a readable trace.dat" "$FPUSIM" import short.dat -o x.json
expect_fail "a kernel too old" "kernel 4.19: the import reads x86_fpu events as Linux >= 5.2" \
  "$FPUSIM" import "$base" -o x.json --kernel 4.19
expect_fail "a kernel that is not a release" 'expected a release such as 6.18.4, got "soon"' \
  "$FPUSIM" import "$base" -o x.json --kernel soon
expect_fail "an unknown machine" "nosuch.json" "$FPUSIM" import "$base" -o x.json --machine nosuch
expect_fail "an output directory that does not exist" "no/such/dir/x.json: --output: cannot write" \
  "$FPUSIM" import "$base" -o no/such/dir/x.json
expect_fail "import without -o" "import needs -o" "$FPUSIM" import "$base"
if [ ! -e x.json ]; then ok "nothing written by the failed imports"; else not_ok "nothing written by the failed imports" "x.json exists"; fi
# lost events: counted and said, the rest imported
awk 'NR == 200 { print "CPU:1 [LOST 17 EVENTS]" } { print }' "$base" >lost.txt
if "$FPUSIM" import lost.txt -o lost.json 2>err.txt && grep -q "lost 17 events" err.txt &&
  jq -e '.description | test("lost 17 events")' lost.json >/dev/null; then
  ok "lost events are counted in the summary and the description"
else
  not_ok "lost events are counted" "$(first_line err.txt)"
fi
# damaged trace.dat files: any exit but a crash or an internal error
size=$(stat -c %s "$FIX/yield_pair_full.trace.dat")
crash=
for cut in 6000 20000 60000 $((size - 5000)); do
  head -c "$cut" "$FIX/yield_pair_full.trace.dat" >cut.dat
  "$FPUSIM" import cut.dat -o cut.json >/dev/null 2>err.txt
  rc=$?
  if [ "$rc" -ge 3 ] || { [ "$rc" = 2 ] && ! grep -q "cut.dat" err.txt; }; then crash="cut at $cut: exit $rc $(first_line err.txt)"; fi
done
for off in 4000 30000 70000 110000; do
  cp "$FIX/yield_pair_full.trace.dat" bad.dat
  printf '\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff' | dd of=bad.dat bs=1 seek="$off" conv=notrunc 2>/dev/null
  "$FPUSIM" import bad.dat -o bad.json >/dev/null 2>err.txt
  rc=$?
  if [ "$rc" -ge 3 ] || { [ "$rc" = 2 ] && ! grep -q "bad.dat" err.txt; }; then
    crash="$crash; 16 bytes overwritten at $off: exit $rc $(first_line err.txt)"
  fi
done
# damage in the (compressed) data at the end: what can be read is imported
# and what cannot is counted
best_effort=0
for off in $(seq $((size - 3000)) 100 $((size - 1500))); do
  cp "$FIX/yield_pair_full.trace.dat" bad.dat
  printf '\xff\xff\xff\xff\xff\xff\xff\xff' | dd of=bad.dat bs=1 seek="$off" conv=notrunc 2>/dev/null
  "$FPUSIM" import bad.dat -o bad.json >/dev/null 2>err.txt
  rc=$?
  if [ "$rc" -ge 3 ]; then crash="$crash; 8 bytes overwritten at $off: exit $rc $(first_line err.txt)"; fi
  if [ "$rc" = 0 ] && grep -q "records of events without a format skipped" err.txt; then best_effort=$((best_effort + 1)); fi
  if grep -q "mmap" err.txt; then crash="$crash; libtracecmd's own complaint on stderr at $off"; fi
done
if [ -z "$crash" ]; then ok "truncated and corrupt trace.dat files: a message or a best-effort import, never a crash"
else not_ok "damaged trace.dat files" "$crash"; fi
if [ "$best_effort" -gt 0 ]; then ok "damaged data: $best_effort best-effort imports with the unreadable records counted"
else not_ok "damaged data: a best-effort import" "none of the damaged files imported"; fi
# unknown events and junk lines among the records are skipped, and counted
awk 'NR == 100 { print; t = $4; print "           mixed-30613   [001] d..2. " t " my_driver_event: whatever=1";
                 print "   (garbage in the middle)"; print ""; next } { print }' "$base" >junk.txt
validates "unknown events and junk lines are skipped" junk.txt
if "$FPUSIM" import junk.txt -o junk.json 2>err.txt && grep -q "1 lines skipped" err.txt; then
  ok "the junk line is counted as skipped"
else
  not_ok "the junk line is counted as skipped" "$(grep -m1 'lines' err.txt)"
fi

# Names as real systems have them: a QEMU vCPU thread ("CPU 0/KVM"), a
# comm with spaces.
sed 's/kvm_preempt-8750/CPU 0\/KVM-8750/; s/comm=kvm_preempt pid=8750/comm=CPU 0\/KVM pid=8750/;
     s/prev_comm=kvm_preempt prev_pid=8750/prev_comm=CPU 0\/KVM prev_pid=8750/;
     s/next_comm=kvm_preempt next_pid=8750/next_comm=CPU 0\/KVM next_pid=8750/' "$FIX/kvm_preempt.trace.txt" >qemu.txt
validates 'a vCPU thread named "CPU 0/KVM": every count agrees' qemu.txt
if grep -q "CPU_0_KVM-8750:vcpu " v.out; then ok "its guest is a vCPU of its own row"; else not_ok "the CPU 0/KVM thread's vCPU" "$(grep -m1 vcpu v.out)"; fi
sed 's/mixed-/my mixed-/; s/comm=mixed /comm=my mixed /g' "$base" >spaces.txt
validates "comms with spaces: every count agrees" spaces.txt

# Kernels before 730faa15a069 (v6.16) log the switch's save with load 0.
sed -E '/sched_switch/{n; s/(x86_fpu_regs_deactivated: .* load: )1/\10/}' "$FIX/yield_pair.trace.txt" >v615.txt
if [ "$(grep -c 'regs_deactivated.*load: 0' v615.txt)" -gt 40 ]; then
  validates "switch saves logged with load 0 (a 6.15 kernel): every count agrees" v615.txt --kernel 6.15
else
  not_ok "switch saves logged with load 0" "the sed changed $(grep -c 'regs_deactivated.*load: 0' v615.txt) lines"
fi

# fpu_swap_kvm_fpstate()'s activation with load 1 (the thread was switched
# out inside KVM_RUN, nothing to save) is still the KVM swap.
awk '/kvm_fpu: unload/ && !done { sub(/load: 0/, "load: 1", prev); done = 1 } NR > 1 { print prev } { prev = $0 } END { print prev }' \
  "$FIX/kvm_preempt.trace.txt" >swap1.txt
"$FPUSIM" validate swap1.txt >v.out 2>&1
if grep -qE "^  restore kvm_fpu +40 " v.out && grep -qE "^  save kvm_fpu +39 " v.out; then
  ok "a KVM swap logged with load 1: still a kvm_fpu restore, and no save the kernel did not make"
else
  not_ok "a KVM swap logged with load 1" "$(grep -E 'kvm_fpu' v.out | head -2 | tr '\n' ' ')"
fi

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]

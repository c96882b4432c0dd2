#!/usr/bin/env bash
# Command-line tests for fpusim: malformed input must fail with exit code 2,
# one line on stderr naming the file, the JSON path and what was expected,
# and no output file written or touched; the ordinary commands must work.
#
# usage: cli_test.sh FPUSIM SOURCE_ROOT
# Prints "ok N - ..." / "not ok N - ...: reason" per case, then
# "N passed, M failed"; exits 1 if any case failed.
set -u

FPUSIM=${1:?usage: cli_test.sh FPUSIM SOURCE_ROOT}
SRC=${2:?usage: cli_test.sh FPUSIM SOURCE_ROOT}
case $FPUSIM in /*) ;; *) FPUSIM=$PWD/$FPUSIM ;; esac
case $SRC in /*) ;; *) SRC=$PWD/$SRC ;; esac
export SYSTEMC_DISABLE_COPYRIGHT_MESSAGE=1
export FPUSIM_CONFIG_DIR=${FPUSIM_CONFIG_DIR:-$SRC/configs}

TMP=$(mktemp -d "${TMPDIR:-/tmp}/fpusim-cli.XXXXXX") || exit 99
trap 'rm -rf "$TMP"' EXIT
CASES=$TMP/cases   # malformed inputs
OUT=$TMP/out       # must stay empty: nothing may be written on bad input
mkdir -p "$CASES" "$OUT"

n=0 passed=0 failed=0
ok() { n=$((n + 1)); passed=$((passed + 1)); echo "ok $n - $1"; }
not_ok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $1: $2"; }
# First non-empty line of a file, shortened for a one-line report.
first_line() { sed -n '/./{p;q}' "$1" | cut -c1-300; }

# ---------------------------------------------------------------------------
# The valid base scenario (like traces/smoke_two_tasks.json, smaller). Each
# event is on its own line so that variants can be made with sed:
#   /events/0 t=0 switch A, /events/1 use, /events/2 t=1000 switch B,
#   /events/3 use, /events/4 switch A, /events/5 use
cat >"$TMP/base.json" <<'EOF'
{
  "format": "fpusim-scenario", "version": 1,
  "name": "cli-base", "description": "valid base scenario of the CLI tests",
  "machine": "intel-sapphire-rapids", "costs": "intel-like", "policy": "deferred", "cpus": 2,
  "contexts": [{"name": "A"}, {"name": "B"}],
  "events": [
    {"t": 0, "cpu": 0, "ev": "switch", "next": "A"},
    {"t": 100, "cpu": 0, "ev": "use", "write": ["sse", "ymm"]},
    {"t": 1000, "cpu": 0, "ev": "switch", "next": "B"},
    {"t": 1100, "cpu": 0, "ev": "use", "write": ["sse"]},
    {"t": 2000, "cpu": 0, "ev": "switch", "next": "A"},
    {"t": 2100, "cpu": 0, "ev": "use", "read": ["sse", "ymm"]}
  ],
  "expect": {"deferred": {"totals": {"saves": 2, "restores": {"min": 1}}, "violations": {"lost": 0}}}
}
EOF
BASE=$TMP/base.json

# A small inline machine (x87, SSE, AVX; XSAVEOPT), one line, for the machine
# variants; the positive checks make sure it is valid as written.
MACHINE='{"name": "cli-avx", "description": "small AVX machine of the CLI tests", "sources": ["tests/cli"], "arch": "x86_64", "cpus": 2, "frequency_mhz": 3000, "xsave_instruction": "xsaveopt", "lazyfp_vulnerable": false, "cpuid_0xd": {"subleaf0": {"eax": "0x7", "ebx": "0x340", "ecx": "0x340", "edx": "0x0"}, "subleaf1": {"eax": "0x1", "ebx": "0x0", "ecx": "0x0", "edx": "0x0"}, "components": {"ymm": {"eax": "0x100", "ebx": "0x240", "ecx": "0x0"}}, "dump_xcr0": "0x7", "dump_xss": "0x0"}, "os": {"xcr0": "0x7", "xss": "0x0", "dynamic_features": []}}'

# variant_of BASE NAME SED-ARGS...: $CASES/NAME.json = BASE edited by sed;
# variant NAME SED-ARGS...: of the base. A variant that sed left unchanged is
# a broken test, reported by the case using it.
variant_of() {
  local base=$1 name=$2
  shift 2
  sed "$@" "$base" >"$CASES/$name.json"
}
variant() { variant_of "$BASE" "$@"; }
# inline_machine NAME MACHINE-JSON: the base with an inline machine object.
inline_machine() {
  local m=${2//&/\\&}
  m=${m//|/\\|}
  variant "$1" -e "s|\"machine\": \"intel-sapphire-rapids\"|\"machine\": $m|"
}
changed() { ! cmp -s "$BASE" "$1"; }

# A pre-existing report, given as --json to failing runs: must stay as is.
PRE=$TMP/pre-existing-report.json
printf '{"schema_version": 1, "note": "a report from an earlier run"}\n' >"$PRE"
cp "$PRE" "$TMP/pre-existing-report.orig"

# bad DESCRIPTION FILE PATH EXPECT -- ARGS...
#   Runs `fpusim ARGS...` and checks: exit code 2; stdout empty; stderr one
#   line, starting "fpusim: ", containing FILE (the file or option named),
#   ": PATH: " (the JSON path; skipped if PATH is empty) and EXPECT (what was
#   expected). For run and compare it adds --json/--csv to fresh names in
#   $OUT (which must stay empty), and runs once more with --json naming a
#   pre-existing report, which must be left byte-identical.
bad() {
  local desc=$1 file=$2 path=$3 expect=$4
  shift 5
  local cmd=$1 reason="" outs=() rc lines
  for a in "$@"; do
    case $a in "$CASES"/*.json) changed "$a" || reason="the test's variant equals the base scenario (sed did not apply)" ;; esac
  done
  if [ -n "$reason" ]; then not_ok "$desc" "$reason"; return; fi
  local own_outputs=no
  for a in "$@"; do
    case $a in --json | --csv | --log) own_outputs=yes ;; esac
  done
  if { [ "$cmd" = run ] || [ "$cmd" = compare ]; } && [ $own_outputs = no ]; then
    outs=(--json "$OUT/report.json" --csv "$OUT/report.csv")
    [ "$cmd" = run ] && outs+=(--log "$OUT/ops.log")
  fi
  "$FPUSIM" "$@" ${outs[@]+"${outs[@]}"} >"$TMP/stdout" 2>"$TMP/stderr"
  rc=$?
  lines=$(wc -l <"$TMP/stderr")
  local msg
  msg=$(first_line "$TMP/stderr")
  if [ "$rc" -ne 2 ]; then
    reason="exit code $rc, expected 2 (stderr: $msg)"
  elif [ "$lines" -ne 1 ]; then
    reason="stderr has $lines lines, expected exactly one: $(tr '\n' '|' <"$TMP/stderr" | cut -c1-300)"
  elif [[ $msg != "fpusim: "* ]]; then
    reason="message does not start with \"fpusim: \": $msg"
  elif [ -n "$file" ] && ! grep -qF -- "$file" "$TMP/stderr"; then
    reason="message does not name \"$file\": $msg"
  elif [ -n "$path" ] && ! grep -qF -- ": $path: " "$TMP/stderr"; then
    reason="message does not give the JSON path \"$path\": $msg"
  elif ! grep -qF -- "$expect" "$TMP/stderr"; then
    reason="message does not say \"$expect\": $msg"
  elif [ -s "$TMP/stdout" ]; then
    reason="something was printed on stdout: $(first_line "$TMP/stdout")"
  elif [ -n "$(ls -A "$OUT")" ]; then
    reason="output written despite the error: $(ls -A "$OUT" | tr '\n' ' ')"
  elif ! cmp -s "$PRE" "$TMP/pre-existing-report.orig"; then
    reason="the existing report given as --json was changed"
    cp "$TMP/pre-existing-report.orig" "$PRE"
  fi
  rm -rf "${OUT:?}"/* "$OUT"/.[!.]* 2>/dev/null
  if [ -z "$reason" ] && [ ${#outs[@]} -gt 0 ]; then
    "$FPUSIM" "$@" --json "$PRE" >/dev/null 2>&1
    rc=$?
    if [ "$rc" -ne 2 ]; then
      reason="with --json naming an existing report: exit code $rc, expected 2"
    elif ! cmp -s "$PRE" "$TMP/pre-existing-report.orig"; then
      reason="the existing report given as --json was changed"
      cp "$TMP/pre-existing-report.orig" "$PRE"
    elif [ -n "$(find "$TMP" -maxdepth 1 -name 'pre-existing-report.json.*')" ]; then
      reason="a temporary file was left next to the existing report"
    fi
  fi
  if [ -z "$reason" ]; then ok "$desc"; else not_ok "$desc" "$reason"; fi
}

# good DESCRIPTION EXIT GREP -- ARGS...: exit code EXIT and stdout containing
# GREP (skipped if empty).
good() {
  local desc=$1 want=$2 pattern=$3
  shift 4
  "$FPUSIM" "$@" >"$TMP/stdout" 2>"$TMP/stderr"
  local rc=$?
  if [ "$rc" -ne "$want" ]; then
    not_ok "$desc" "exit code $rc, expected $want (stderr: $(first_line "$TMP/stderr"))"
  elif [ -n "$pattern" ] && ! grep -qF -- "$pattern" "$TMP/stdout"; then
    not_ok "$desc" "stdout does not contain \"$pattern\""
  else
    ok "$desc"
  fi
}

# ---------------------------------------------------------------------------
# Positive checks: the base inputs are valid, so the variants test one thing.

good "fpusim --version exits 0" 0 "fpusim " -- --version
good "fpusim --help exits 0" 0 "usage: fpusim COMMAND" -- --help
good "fpusim run --help exits 0" 0 "--dry-run" -- run --help
# -j defaults to the CPUs the process may use (usable_cores: its affinity).
if command -v taskset >/dev/null 2>&1; then
  for cmd in compare check sweep; do
    if taskset -c 0 "$FPUSIM" "$cmd" --help 2>&1 | grep -q -- "--jobs ] arg (=1)"; then
      ok "$cmd -j defaults to the usable CPUs (1 under taskset -c 0)"
    else
      not_ok "$cmd -j defaults to the usable CPUs (1 under taskset -c 0)" "$(taskset -c 0 "$FPUSIM" "$cmd" --help 2>&1 | grep -- --jobs)"
    fi
  done
fi
good "fpusim list policies" 0 "deferred" -- list policies
# The policies register themselves (models/x86/policies/, linked whole):
# every one is in the executable, in the registry's order.
# With two architectures the listing groups them under "# ARCH" lines.
want="# x86_64 deferred eager lazy lazy-preload kvm-eager kvm-lazy-legacy deferred+kvm-eager \
eager+kvm-eager eager+kvm-lazy-legacy lazy+kvm-lazy-legacy lazy-preload+kvm-lazy-legacy # arm64 sve-reload sve-discard sve-keep \
kvm-arm64-eager-2017 kvm-arm64-lazy-2018 kvm-arm64-2022 kvm-arm64-2023 kvm-arm64-2025"
got=$("$FPUSIM" list policies 2>&1 | grep -v '^ ' | tr '\n' ' ')
if [ "$got" = "$want " ]; then ok "list policies names every registered policy in order"
else not_ok "list policies names every registered policy in order" "$got"; fi
good "fpusim list machines" 0 "intel-sapphire-rapids" -- list machines
good "fpusim list costs" 0 "intel-like" -- list costs
good "fpusim list stats" 0 "saves" -- list stats
good "base scenario: run --dry-run prints ok" 0 ": ok (" -- run "$BASE" --dry-run
good "base scenario: check passes" 0 "PASS" -- check "$BASE"
# Events that name VMs and vCPUs (the architecture's names) decode in a dry
# run as in a run (the dry run once knew only the contexts' names).
good "KVM scenario: run --dry-run prints ok" 0 ": ok (" -- run "$SRC/traces/kvm_amx_test.json" --dry-run
inline_machine inline-ok "$MACHINE"
good "base scenario with the inline test machine: run --dry-run prints ok" 0 "machine cli-avx" -- run "$CASES/inline-ok.json" --dry-run

if "$FPUSIM" layout intel-sapphire-rapids >"$TMP/stdout" 2>"$TMP/stderr" &&
  grep -q 11008 "$TMP/stdout" && grep -q 10752 "$TMP/stdout"; then
  ok "layout intel-sapphire-rapids prints 11008 (UABI max) and 10752 (kernel max)"
else
  not_ok "layout intel-sapphire-rapids prints 11008 (UABI max) and 10752 (kernel max)" \
    "exit code or sizes wrong: $(first_line "$TMP/stderr")"
fi

# run with --json and --csv: valid report files.
SMOKE=$SRC/traces/smoke_two_tasks.json
"$FPUSIM" run "$SMOKE" --json "$TMP/smoke.json" --csv "$TMP/smoke.csv" >"$TMP/stdout" 2>"$TMP/stderr"
rc=$?
desc="run traces/smoke_two_tasks.json --json --csv exits 0 and writes a report with schema_version 1 and totals.saves"
if [ "$rc" -ne 0 ]; then
  not_ok "$desc" "exit code $rc (stderr: $(first_line "$TMP/stderr"))"
elif [ ! -s "$TMP/smoke.json" ] || [ ! -s "$TMP/smoke.csv" ]; then
  not_ok "$desc" "report files missing or empty"
elif command -v python3 >/dev/null 2>&1; then
  if why=$(python3 - "$TMP/smoke.json" 2>&1 <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))
assert r["schema_version"] == 1, "schema_version is %r" % r["schema_version"]
assert isinstance(r["totals"]["saves"], int), "totals.saves is not an integer"
EOF
  ); then
    ok "$desc"
  else
    not_ok "$desc" "$(echo "$why" | tail -n 1)"
  fi
elif grep -q '"schema_version": 1' "$TMP/smoke.json" && grep -q '"saves": [0-9]' "$TMP/smoke.json"; then
  ok "$desc"
else
  not_ok "$desc" "schema_version 1 or totals.saves not found in the report"
fi
if head -n 1 "$TMP/smoke.csv" | grep -qx 'section,name,unit,value' && grep -q '^totals,saves,' "$TMP/smoke.csv"; then
  ok "the CSV report has its header and a totals,saves row"
else
  not_ok "the CSV report has its header and a totals,saves row" "$(first_line "$TMP/smoke.csv")"
fi
if [ -z "$(find "$TMP" -maxdepth 1 -name '*.tmp.*')" ]; then
  ok "no temporary files left after writing the reports"
else
  not_ok "no temporary files left after writing the reports" "$(find "$TMP" -maxdepth 1 -name '*.tmp.*' | tr '\n' ' ')"
fi

good "smoke scenario under --policy lazy on the LazyFP-vulnerable SPR: exposed violations, exit 1" 1 "exposed" -- \
  run "$SMOKE" --policy lazy

# A report written into a FIFO (like /dev/stdout) goes into it; the FIFO is
# not replaced by a regular file.
desc="--json naming a FIFO writes into it and leaves it a FIFO"
if mkfifo "$TMP/fifo" 2>/dev/null; then
  cat "$TMP/fifo" >"$TMP/fifo.out" &
  reader=$!
  "$FPUSIM" run "$BASE" -q --json "$TMP/fifo" >/dev/null 2>"$TMP/stderr"
  rc=$?
  if [ -p "$TMP/fifo" ]; then wait "$reader"; else kill "$reader" 2>/dev/null; wait "$reader" 2>/dev/null; fi
  if [ "$rc" -ne 0 ]; then
    not_ok "$desc" "exit code $rc (stderr: $(first_line "$TMP/stderr"))"
  elif [ ! -p "$TMP/fifo" ]; then
    not_ok "$desc" "the FIFO was replaced"
  elif ! grep -q '"schema_version": 1' "$TMP/fifo.out"; then
    not_ok "$desc" "the report did not arrive through the FIFO"
  else
    ok "$desc"
  fi
else
  ok "$desc # skip: mkfifo failed"
fi

# ---------------------------------------------------------------------------
# Usage errors.

"$FPUSIM" >"$TMP/stdout" 2>"$TMP/stderr"
rc=$?
if [ "$rc" -eq 2 ] && grep -q "usage: fpusim" "$TMP/stderr"; then ok "no arguments: usage on stderr, exit 2"
else not_ok "no arguments: usage on stderr, exit 2" "exit code $rc"; fi
bad "unknown command" "" "" 'unknown command "frobnicate"' -- frobnicate
bad "unknown option" "" "" "'--frobnicate'" -- run "$BASE" --frobnicate
bad "run without a scenario" "" "" "run needs a SCENARIO" -- run
bad "list without what" "" "" "policies, bugs, machines, costs or stats" -- list bogus
bad "--set without =" "--set nothing" "" "expected KEY=VALUE" -- run "$BASE" --set nothing

# ---------------------------------------------------------------------------
# Malformed scenarios.

head -c 400 "$BASE" >"$CASES/truncated.json"
line=$(($(wc -l <"$CASES/truncated.json") + 1))
bad "broken JSON (truncated file): line and column" "truncated.json" "" "invalid JSON at line $line, column " -- \
  run "$CASES/truncated.json"

bad "missing scenario file" "no-such-scenario.json" "" "cannot open file" -- run "$CASES/no-such-scenario.json"

variant top-key -e 's|"version": 1,|"version": 1, "bogus": 1,|'
bad "unknown top-level key" "top-key.json" "/bogus" 'unknown key "bogus"; expected one of' -- run "$CASES/top-key.json"

variant no-name -e 's|"name": "cli-base", ||'
bad "missing required top-level key" "no-name.json" "/" 'missing required key "name"' -- run "$CASES/no-name.json"

variant version -e 's|"version": 1|"version": 2|'
bad "wrong format version" "version.json" "/version" "expected 1, got an integer (2)" -- run "$CASES/version.json"

variant cpus-type -e 's|"cpus": 2|"cpus": "two"|'
bad "wrong type for cpus" "cpus-type.json" "/cpus" 'expected an integer, got a string ("two")' -- run "$CASES/cpus-type.json"

# Numbers no double holds, and an index no array has (issue 16: these were
# internal errors, exit 3).
variant cpus-huge -e 's|"cpus": 2|"cpus": 1e400|'
bad "a number larger than any double" "cpus-huge.json" "" "the number 1e400 is out of range" -- run "$CASES/cpus-huge.json"
bad "--set with a number larger than any double" "--set cpus=1e400" "" "the number is out of range" -- \
  run "$BASE" --set cpus=1e400
bad "--set with an index no array has" "--set events.99999999999999999999.t=5" "" "is not an index of an array" -- \
  run "$BASE" --set events.99999999999999999999.t=5

variant machine-type -e 's|"machine": "intel-sapphire-rapids"|"machine": 5|'
bad "wrong type for machine (a preset name or an object)" "machine-type.json" "/machine" \
  'expected a string or an object, got an integer (5)' -- run "$CASES/machine-type.json"

variant bound-negative -e 's|"saves": 2|"saves": -1|'
bad "negative expected count" "bound-negative.json" "/expect/deferred/totals/saves" \
  "expected an integer >= 0 or an object" -- check "$CASES/bound-negative.json"

bad "--set cpus=0 is out of range" "(with --set cpus=0)" "/cpus" "expected at least 1, got an integer (0)" -- \
  run "$BASE" --set cpus=0

variant event-key -e 's|"write": \["sse", "ymm"\]}|"write": ["sse", "ymm"], "colour": "red"}|'
bad "unknown key in an event" "event-key.json" "/events/1/colour" 'unknown key "colour"' -- run "$CASES/event-key.json"

variant t-string -e 's|"t": 1000,|"t": "1000",|'
bad "wrong type: string for t" "t-string.json" "/events/2/t" "expected a non-negative integer, got a string" -- \
  run "$CASES/t-string.json"

variant t-negative -e 's|"t": 0,|"t": -5,|'
bad "negative t" "t-negative.json" "/events/0/t" "expected a non-negative integer, got -5" -- run "$CASES/t-negative.json"

variant t-huge -e 's|"t": 2100,|"t": 9007199254740992,|'
bad "t over 2^53" "t-huge.json" "/events/5/t" "expected at most 9007199254740991" -- run "$CASES/t-huge.json"

variant ctx-unknown -e 's|"next": "B"|"next": "C"|'
bad "unknown context in switch" "ctx-unknown.json" "/events/2/next" 'unknown context "C"' -- run "$CASES/ctx-unknown.json"

variant cpu-unknown -e 's|"t": 1100, "cpu": 0|"t": 1100, "cpu": 2|'
bad "unknown cpu (cpu >= cpus)" "cpu-unknown.json" "/events/3/cpu" "CPU 2 does not exist" -- run "$CASES/cpu-unknown.json"

# arm64: VMs, KVM events and SME, each error with its file and JSON path.
A64=$SRC/traces/arm64_kvm_softirq_neon.json
variant_of "$A64" a64-vl -e 's|"vms": \[{"name": "vm0", |"vms": [{"name": "vm0", "sve": true, "sve_vl": 512, |'
bad "arm64: a vCPU VL the machine lacks" "a64-vl.json" "/vms/0/sve_vl" \
  "a vector length machine arm-neoverse-n2 supports (128)" -- run "$CASES/a64-vl.json"
variant_of "$A64" a64-vcpu -e 's|"kvm_run", "vcpu": "vcpu0"|"kvm_run", "vcpu": "vcpu9"|'
bad "arm64: kvm_run of an unknown vCPU" "a64-vcpu.json" "/events/2/vcpu" 'unknown vCPU "vcpu9"' -- run "$CASES/a64-vcpu.json"
variant_of "$A64" a64-reason -e 's|"vm_exit", "reason": "irq"|"vm_exit", "reason": "xsetbv"|'
bad "arm64: an x86 exit reason" "a64-reason.json" "/events/5/reason" 'unknown arm64 VM exit reason "xsetbv"' -- \
  run "$CASES/a64-reason.json"
bad "arm64: VMs under a host-only policy" "arm64_kvm_softirq_neon.json" "/vms" "models the arm64 host only" -- \
  run "$A64" --policy sve-discard
variant_of "$A64" a64-sme -e '14s|"ev": "use", "write": \["fpsimd"\]}|"ev": "smstart"}|'
bad "arm64: SMSTART on a machine without SME" "a64-sme.json" "/events/1" "which has no SME" -- run "$CASES/a64-sme.json"
variant_of "$A64" a64-za -e '14s|"write": \["fpsimd"\]|"write": ["za"]|' -e 's|"arm-neoverse-n2"|"arm-fvp-sme2"|'
bad "arm64: ZA used with PSTATE.ZA clear" "a64-za.json" "/events/1" "PSTATE.ZA clear" -- run "$CASES/a64-za.json"
# kvm_mode: under nVHE the guest exit leaves the host's CPACR_EL1 alone, so
# the VHE-only bugs b3eb56b6 and d52d165d do nothing there.
good "arm64: the b3eb56b6 bug does nothing under nVHE" 0 "violations: 0" -- \
  run "$SRC/traces/bugs/arm64_kvm_b3eb56b629d1.json" --policy kvm-arm64-lazy-2018 --bug b3eb56b6 --set machine.kvm_mode=nvhe
good "arm64: ... and breaks T's SVE under VHE" 1 "trap config 1" -- \
  run "$SRC/traces/bugs/arm64_kvm_b3eb56b629d1.json" --policy kvm-arm64-lazy-2018 --bug b3eb56b6
good "arm64: the d52d165d bug does nothing under nVHE (by its old policy name)" 0 "violations: 0" -- \
  run "$SRC/traces/bugs/arm64_kvm_d52d165d67c5.json" --policy kvm-arm64-2022-bug-d52d165d --set machine.kvm_mode=nvhe
# pKVM (kvm_mode "protected"): every entry's first guest FP use traps and
# hyp switches the registers at its exit; under nVHE the same run traps twice.
good "arm64: pKVM traps the guest's FP at every entry" 0 "guest FP to EL2 4" -- \
  run "$SRC/traces/arm64_pkvm.json"
good "arm64: ... and nVHE at the first and after the preemption" 0 "guest FP to EL2 2" -- \
  run "$SRC/traces/arm64_pkvm.json" --set machine.kvm_mode=nvhe
bad "arm64: protected KVM under a policy before v6.10" "arm64_pkvm.json" "/vms" "b5b9955617bc" -- \
  run "$SRC/traces/arm64_pkvm.json" --policy kvm-arm64-2022
bad "arm64: an unknown kvm_mode" "(with --set machine.kvm_mode=pkvm)" "/machine/kvm_mode" "protected" -- \
  run "$SRC/traces/arm64_pkvm.json" --set machine.kvm_mode=pkvm
bad "arm64: guest FPMR under a policy before v6.12" "arm64_kvm_fpmr.json" "/vms/1/fpmr" "ef3be86021c3" -- \
  run "$SRC/traces/arm64_kvm_fpmr.json" --policy kvm-arm64-2022 --set vms.1.fpmr=true
bad "arm64: guest FPMR on a machine without FPMR" "arm64_kvm_fpmr.json" "/vms/1/fpmr" "has no FPMR" -- \
  run "$SRC/traces/arm64_kvm_fpmr.json" --set machine.features.fpmr=false --set vms.1.fpmr=true
bad "arm64: a cost preset with zero bytes per cycle" "(with --set costs.save_bytes_per_cycle.value=0)" \
  "/save_bytes_per_cycle/value" "a positive number of bytes per cycle" -- \
  run "$A64" --set costs.save_bytes_per_cycle.value=0
variant_of "$SRC/traces/arm64_no_fp.json" a64-nofp -e 's|"ev": "syscall"}|"ev": "use", "write": ["fpsimd"]}|'
bad "arm64: FP use on a CPU without FP/AdvSIMD" "a64-nofp.json" "/events/1" "which has no FP/AdvSIMD" -- \
  run "$CASES/a64-nofp.json"
bad "arm64: SME2 without SME in a machine" "(with --set machine.features.sme2=true)" "/features/sme2" "SME2 needs SME" -- \
  run "$A64" --set machine.features.sme2=true

variant comp-unknown -e 's|"write": \["sse", "ymm"\]|"write": ["sse", "ymmx"]|'
bad "unknown component name" "comp-unknown.json" "/events/1/write/1" 'unknown component "ymmx"; expected x87, sse' -- \
  run "$CASES/comp-unknown.json"

variant policy-unknown -e 's|"policy": "deferred"|"policy": "bogus"|'
bad "unknown policy in the file" "policy-unknown.json" "/policy" 'unknown policy "bogus"; policies: ' -- \
  run "$CASES/policy-unknown.json"

bad "unknown policy via --policy" "--policy" "" 'unknown policy "bogus"; policies: ' -- run "$BASE" --policy bogus

bad "unknown policy via compare --policies" "--policies" "" 'unknown policy "bogus"' -- \
  compare "$BASE" --policies eager,bogus

variant kind-unknown -e 's|"t": 1100, "cpu": 0, "ev": "use"|"t": 1100, "cpu": 0, "ev": "teleport"|'
bad "unknown event kind" "kind-unknown.json" "/events/3/ev" 'unknown event kind "teleport"; expected one of' -- \
  run "$CASES/kind-unknown.json"

variant backwards -e 's|"t": 1100,|"t": 900,|'
bad "time going backwards" "backwards.json" "/events/3/t" "time goes backwards: 900 after 1000" -- \
  run "$CASES/backwards.json"

variant no-next -e 's|"ev": "switch", "next": "B"|"ev": "switch"|'
bad "missing required key: next in a switch" "no-next.json" "/events/2" 'a "switch" event needs "next"' -- \
  run "$CASES/no-next.json"

variant dup-context -e 's|{"name": "B"}|{"name": "A"}|'
bad "duplicate context name" "dup-context.json" "/contexts/1/name" 'duplicate context name "A"' -- \
  run "$CASES/dup-context.json"

variant context-kind -e 's|{"name": "B"}|{"name": "B", "kind": "daemon"}|'
bad "unknown context kind" "context-kind.json" "/contexts/1/kind" 'expected one of "user", "kthread"' -- \
  run "$CASES/context-kind.json"

variant preset-missing -e 's|"machine": "intel-sapphire-rapids"|"machine": "intel-no-such-cpu"|'
bad "missing machine preset name" "preset-missing.json" "/machine" 'no machine preset "intel-no-such-cpu"' -- \
  run "$CASES/preset-missing.json"

# A machine "preset" that is no file (issue 16: named neither the scenario
# nor /machine).
mkdir -p "$CASES/a-directory"
variant preset-dir -e "s|\"machine\": \"intel-sapphire-rapids\"|\"machine\": \"$CASES/a-directory/\"|"
bad "machine preset that is a directory" "preset-dir.json" "/machine" "is a directory, not a JSON file" -- \
  run "$CASES/preset-dir.json"
variant preset-null -e 's|"machine": "intel-sapphire-rapids"|"machine": "/dev/null"|'
bad "machine preset that is /dev/null" "preset-null.json" "/machine" "/dev/null: is not a regular file" -- \
  run "$CASES/preset-null.json"

# Work bounded by what the input says (issue 16: these ran without end or
# word).
bad "a workload of more than 10^11 events" "sched_fp_share.json" "/workload/duration" "at most 10^11 events" -- \
  run "$SRC/traces/sched_fp_share.json" --set workload.duration=9007199254740991
bad "more than one interrupt per cycle" "sched_web_mix.json" "/workload/irqs/per_million_cycles" \
  "at most 1000000 (one interrupt per cycle)" -- run "$SRC/traces/sched_web_mix.json" \
  --set workload.irqs.per_million_cycles=9e18

# Duplicate keys (issue 16: the last one won, silently).
variant dup-key -e 's|"cpus": 2,|"cpus": 2, "cpus": 1,|'
bad "a key given twice" "dup-key.json" "/" 'the key "cpus" is given twice' -- run "$CASES/dup-key.json"
variant dup-key-event -e '0,/"ev": "switch"/s//"ev": "switch", "ev": "switch"/'
bad "a key given twice in an event" "dup-key-event.json" "/events/0" 'the key "ev" is given twice' -- \
  run "$CASES/dup-key-event.json"

variant stat-unknown -e 's|"saves": 2|"savez": 2|'
bad "unknown statistic in expect" "stat-unknown.json" "/expect/deferred/totals/savez" 'unknown statistic "savez"' -- \
  run "$CASES/stat-unknown.json"

variant expect-policy -e 's|"expect": {"deferred"|"expect": {"deferredd"|'
bad "unknown policy in expect" "expect-policy.json" "/expect/deferredd" 'unknown policy "deferredd"' -- \
  check "$CASES/expect-policy.json"

variant both-events -e 's|"cpus": 2,|"cpus": 2, "events_file": "ev.jsonl",|'
bad "both events and events_file" "both-events.json" "/" '"events", "events_file" or "workload", not several' -- \
  run "$CASES/both-events.json"

# Inline machines.
inline_machine xcr0 "${MACHINE/\"xcr0\": \"0x7\"/\"xcr0\": \"0x5\"}"
bad "impossible XCR0 in an inline machine (AVX without SSE: 0x5)" "xcr0.json" "/machine/os/xcr0" "impossible XCR0" -- \
  run "$CASES/xcr0.json"

inline_machine dynamic "${MACHINE/\"dynamic_features\": \[\]/\"dynamic_features\": [\"ymm\"]}"
bad "dynamic feature that is not XFD-capable" "dynamic.json" "/machine/os/dynamic_features" \
  "ymm cannot be dynamic: it must be enabled in XCR0 and XFD-capable" -- run "$CASES/dynamic.json"

inline_machine size-typo "${MACHINE/\"eax\": \"0x100\"/\"eax\": \"0x110\"}"
bad "component size typo breaks the CPUID cross-check" "size-typo.json" "/machine/cpuid_0xd/subleaf0/ebx" \
  "the table gives a standard size of 848 bytes for dump_xcr0, the dump says 832" -- run "$CASES/size-typo.json"

inline_machine machine-key "${MACHINE/\"arch\"/\"bogus\": 1, \"arch\"}"
bad "unknown key in an inline machine" "machine-key.json" "/machine/bogus" 'unknown key "bogus"' -- \
  run "$CASES/machine-key.json"

inline_machine insn "${MACHINE/\"xsaveopt\"/\"xsaves\"}"
bad "save instruction the inline machine's CPUID does not support" "insn.json" "/machine/xsave_instruction" \
  "an instruction this CPU supports" -- run "$CASES/insn.json"

# --set overrides.
bad "--set machine.bogus=1 fails schema validation" "(with --set machine.bogus=1)" "/bogus" 'unknown key "bogus"' -- \
  run "$BASE" --set machine.bogus=1
bad "--set costs value out of range" "(with --set costs.nm_trap.value=-1)" "/nm_trap/value" "expected at least 0" -- \
  run "$BASE" --set costs.nm_trap.value=-1
bad "--set of a missing parent key" "--set machine.nothere.x=1" "" 'no key "nothere"' -- \
  run "$BASE" --set machine.nothere.x=1

# Semantic errors found while replaying (exit 2, the event named).
variant kernel-use -e 's|^\(    {"t": 1000, "cpu": 0, "ev": "switch", "next": "B"},\)$|    {"t": 500, "cpu": 0, "ev": "syscall"},\n    {"t": 600, "cpu": 0, "ev": "use", "write": ["sse"]},\n\1|'
bad "use by a context in kernel mode (after a syscall)" "kernel-use.json" "/events/3" "in kernel mode" -- \
  run "$CASES/kernel-use.json"
bad "the same semantic error under compare is reported once" "kernel-use.json" "/events/3" \
  "[policies eager, lazy, lazy-preload, deferred]" -- compare "$CASES/kernel-use.json" --jobs 4
bad "the same semantic error under check" "kernel-use.json" "/events/3" "in kernel mode" -- check "$CASES/kernel-use.json"

variant other-cpu -e 's|^\(    {"t": 1000, "cpu": 0, "ev": "switch", "next": "B"},\)$|    {"t": 500, "cpu": 1, "ev": "switch", "next": "A"},\n\1|'
bad "switching to a context running on another CPU" "other-cpu.json" "/events/2/next" "A is running on CPU 0" -- \
  run "$CASES/other-cpu.json"

variant sigreturn -e 's|^\(    {"t": 1000, "cpu": 0, "ev": "switch", "next": "B"},\)$|    {"t": 500, "cpu": 0, "ev": "sigreturn"},\n\1|'
bad "sigreturn without a signal" "sigreturn.json" "/events/2" "no signal frame pending" -- run "$CASES/sigreturn.json"

# KVM inputs: a base with one VM, then variants of it.
KBASE=$CASES/kvm-base.json
cat >"$KBASE" <<'KEOF'
{
  "format": "fpusim-scenario", "version": 1, "name": "cli-kvm", "description": "KVM base of the CLI tests",
  "machine": "intel-sapphire-rapids", "costs": "intel-like", "policy": "kvm-eager", "cpus": 1,
  "contexts": [{"name": "qemu", "process": "qemu"}, {"name": "other"}],
  "vms": [{"name": "vm0", "vcpus": [{"name": "vcpu0", "thread": "qemu"}]}],
  "events": [
    {"t": 0, "cpu": 0, "ev": "switch", "next": "qemu"},
    {"t": 100, "cpu": 0, "ev": "kvm_run", "vcpu": "vcpu0"},
    {"t": 200, "cpu": 0, "ev": "vm_entry"},
    {"t": 300, "cpu": 0, "ev": "guest_wrmsr", "msr": "xfd", "value": ["xtiledata"]},
    {"t": 400, "cpu": 0, "ev": "use", "ctx": "vcpu0", "write": ["sse"]},
    {"t": 500, "cpu": 0, "ev": "vm_exit", "reason": "io"},
    {"t": 600, "cpu": 0, "ev": "kvm_return"},
    {"t": 700, "cpu": 0, "ev": "vcpu_save_state", "vcpu": "vcpu0", "slot": 1}
  ]
}
KEOF
if "$FPUSIM" run "$KBASE" -q --json "$TMP/kvm-ok.json" 2>/dev/null; then ok "the KVM base scenario runs"
else not_ok "the KVM base scenario runs" "exit code $?"; fi
kvariant() { variant_of "$KBASE" "$@"; }
kvariant kvm-vcpu -e 's|"ev": "kvm_run", "vcpu": "vcpu0"|"ev": "kvm_run", "vcpu": "vcpu9"|'
bad "KVM_RUN of an undeclared vCPU" "kvm-vcpu.json" "/events/1/vcpu" 'unknown vCPU "vcpu9" (declare it in /vms/*/vcpus)' -- \
  run "$CASES/kvm-vcpu.json"
kvariant kvm-vm -e 's|"ev": "vcpu_save_state", "vcpu": "vcpu0", "slot": 1|"ev": "vm_destroy", "vm": "vm7"|'
bad "VM event naming an undeclared VM" "kvm-vm.json" "/events/7/vm" 'unknown VM "vm7" (declare it in /vms)' -- \
  run "$CASES/kvm-vm.json"
kvariant kvm-thread -e 's|"thread": "qemu"|"thread": "nobody"|'
bad "vCPU thread that is not a declared context" "kvm-thread.json" "/vms/0/vcpus/0/thread" \
  "the name of a user context declared in /contexts" -- run "$CASES/kvm-thread.json"
kvariant kvm-thread-process -e 's|"thread": "qemu"}\]}|"thread": "qemu"}, {"name": "vcpu1", "thread": "other"}]}|'
bad "vCPU threads of two processes in one VM" "kvm-thread-process.json" "/vms/0/vcpus/1/thread" \
  "a thread of the VM's process qemu; other belongs to other" -- run "$CASES/kvm-thread-process.json"
kvariant kvm-xfd-bit -e 's|"value": \["xtiledata"\]|"value": ["ymm"]|'
bad "guest XFD bit for a feature that is not XFD-capable" "kvm-xfd-bit.json" "/events/3" \
  "the guest's XFD-capable features are xtiledata" -- run "$CASES/kvm-xfd-bit.json"
kvariant kvm-no-amx -e 's|"vms": \[{"name": "vm0", |"vms": [{"name": "vm0", "guest_features": ["x87", "sse", "ymm"], |'
bad "guest XFD write in a VM whose guest lacks AMX (no XFD)" "kvm-no-amx.json" "/events/3" \
  "whose guest CPUID has no XFD" -- run "$CASES/kvm-no-amx.json"
kvariant kvm-features -e 's|"vms": \[{"name": "vm0", |"vms": [{"name": "vm0", "guest_features": ["x87", "sse", "apx"], |'
bad "guest feature the host does not support" "kvm-features.json" "/vms/0/guest_features" \
  "guest features the host supports" -- run "$CASES/kvm-features.json"
kvariant kvm-alloc -e 's|"vms": \[{"name": "vm0", |"vms": [{"name": "vm0", "amx_alloc": "lazy", |'
bad "unknown AMX allocation design" "kvm-alloc.json" "/vms/0/amx_alloc" 'expected one of "kvm_set_cpuid2", "first_use"' -- \
  run "$CASES/kvm-alloc.json"
kvariant kvm-reason -e 's|"reason": "io"|"reason": "coffee"|'
bad "unknown VM exit reason" "kvm-reason.json" "/events/5/reason" 'unknown VM exit reason "coffee"' -- \
  run "$CASES/kvm-reason.json"
kvariant kvm-use-other -e 's|"ctx": "vcpu0"|"ctx": "other"|'
bad "guest use naming a context that does not run there" "kvm-use-other.json" "/events/4/ctx" \
  "other is not running on CPU 0" -- run "$CASES/kvm-use-other.json"
# The same error found during the simulation leaves no VCD (nor its
# temporary) behind: $OUT must stay empty.
bad "an error during the run writes no VCD" "kvm-use-other.json" "/events/4/ctx" \
  "other is not running on CPU 0" -- run "$CASES/kvm-use-other.json" --vcd "$OUT/timeline.vcd"
kvariant kvm-switch-guest -e 's|"ev": "switch", "next": "qemu"|"ev": "switch", "next": "vcpu0"|'
bad "switch to a vCPU's guest state" "kvm-switch-guest.json" "/events/0/next" \
  "vcpu0 is a vCPU's guest state; switch to its thread qemu" -- run "$CASES/kvm-switch-guest.json"
kvariant kvm-entry-outside -e 's|"ev": "kvm_run", "vcpu": "vcpu0"|"ev": "syscall"|'
bad "VM entry outside KVM_RUN" "kvm-entry-outside.json" "/events/2" "not inside KVM_RUN (a kvm_run event must come first)" -- \
  run "$CASES/kvm-entry-outside.json"
kvariant kvm-save-in-run -e 's|{"t": 600, "cpu": 0, "ev": "kvm_return"},||'
bad "vCPU state save inside KVM_RUN" "kvm-save-in-run.json" "/events/6" "inside KVM_RUN (kvm_return first)" -- \
  run "$CASES/kvm-save-in-run.json"
kvariant kvm-load-slot -e 's|"ev": "vcpu_save_state", "vcpu": "vcpu0", "slot": 1|"ev": "vcpu_load_state", "vcpu": "vcpu0", "slot": 2|'
bad "vCPU state load from an empty slot" "kvm-load-slot.json" "/events/7" "slot 2, which no vcpu_save_state filled" -- \
  run "$CASES/kvm-load-slot.json"
kvariant kvm-set-xsave -e 's|"ev": "vcpu_save_state", "vcpu": "vcpu0", "slot": 1|"ev": "kvm_set_xsave", "vcpu": "vcpu0"|'
bad "KVM_SET_XSAVE with neither slot nor write" "kvm-set-xsave.json" "/events/7" 'needs either "slot"' -- \
  run "$CASES/kvm-set-xsave.json"
kvariant kvm-lazy-amx -e 's|"policy": "kvm-eager"|"policy": "kvm-lazy-legacy"|'
bad "an AMX guest under kvm-lazy-legacy" "kvm-lazy-amx.json" "/vms/0" "predates guest AMX" -- run "$CASES/kvm-lazy-amx.json"
kvariant kvm-perm -e 's|"vms": \[{"name": "vm0", |"vms": [{"name": "vm0", "created": false, |' \
  -e 's|"ev": "kvm_run", "vcpu": "vcpu0"|"ev": "vm_create", "vm": "vm0"|'
bad "VM with AMX created without ARCH_REQ_XCOMP_GUEST_PERM" "kvm-perm.json" "/events/1" "fails with -EPERM" -- \
  run "$CASES/kvm-perm.json"

# JSON-lines events files.
variant jsonl -e '/"events": \[/,/^  \],$/c\  "events_file": "events.jsonl",'
cat >"$CASES/events.jsonl" <<'EOF'
{"t": 0, "cpu": 0, "ev": "switch", "next": "A"}
{"t": 100, "cpu": 0, "ev": "use", "write": ["sse"]}
{"t": 200, "cpu": 0, "ev": "use", "write": ["sse"], "bad": 1}
{"t": 300, "cpu": 0, "ev": "use", "read": ["sse"]}
EOF
bad "JSON-lines events_file with a bad line 3" "events.jsonl:3" "/bad" 'unknown key "bad"' -- run "$CASES/jsonl.json"

variant jsonl-broken -e '/"events": \[/,/^  \],$/c\  "events_file": "broken.jsonl",'
printf '{"t": 0, "cpu": 0, "ev": "switch", "next": "A"}\n{"t": 100, "cpu": 0, "ev": "use", "write": ["sse"]\n' \
  >"$CASES/broken.jsonl"
bad "JSON-lines events_file with broken JSON on line 2" "broken.jsonl:2" "/" "invalid JSON" -- \
  run "$CASES/jsonl-broken.json"

variant jsonl-missing -e '/"events": \[/,/^  \],$/c\  "events_file": "no-such-events.jsonl",'
bad "events_file that does not exist" "jsonl-missing.json" "/events_file" "cannot open" -- \
  run "$CASES/jsonl-missing.json"

# The same error found by --dry-run and by check.
bad "--dry-run finds event errors too" "backwards.json" "/events/3/t" "time goes backwards" -- \
  run "$CASES/backwards.json" --dry-run
bad "check reports a bad event once" "event-key.json" "/events/1/colour" 'unknown key "colour"' -- \
  check "$CASES/event-key.json"

# The bug corpus's inputs (issue 13): the new event keys, --bug, expect keys
# with bugs, --disable-rule.
variant sig-fault -e 's|"ev": "switch", "next": "B"}|"ev": "signal", "fault": "maybe"}|'
bad "signal with an unknown fault" "sig-fault.json" "/events/2/fault" 'expected "retry" or "fatal", got "maybe"' -- \
  run "$CASES/sig-fault.json"
variant sig-fatal -e 's|"ev": "switch", "next": "B"}|"ev": "signal", "fault": "fatal"}|'
bad "a signal frame write that fails for good" "sig-fatal.json" "/events/2/fault" 'expected "retry"' -- \
  run "$CASES/sig-fatal.json"
variant exec-to-user -e 's|"ev": "switch", "next": "B"}|"ev": "exec", "to_user": "no"}|'
bad "exec with a to_user that is not a boolean" "exec-to-user.json" "/events/2/to_user" "expected true or false" -- \
  run "$CASES/exec-to-user.json"
variant fault-key -e 's|"ev": "switch", "next": "B"}|"ev": "exec", "fault": "retry"}|'
bad "fault on an exec" "fault-key.json" "/events/2/fault" 'does not belong to a "exec" event' -- \
  run "$CASES/fault-key.json"
variant pending -e 's|"ev": "switch", "next": "B"}|"ev": "signal", "fault": "retry"}|' \
  -e 's|"t": 1100, "cpu": 0, "ev": "use", "write": \["sse"\]}|"t": 1100, "cpu": 0, "ev": "return_to_user"}|' \
  -e 's|"t": 2000, "cpu": 0, "ev": "switch", "next": "A"}|"t": 2000, "cpu": 0, "ev": "syscall"}|'
bad "return_to_user while a faulted signal delivery waits" "pending.json" "/events/3" \
  "faulted and waits in the kernel: its next signal event retries it first" -- run "$CASES/pending.json"
variant_of "$A64" a64-fault -e '0,/"ev": "use", "write": \["fpsimd"\]}/s|"ev": "use", "write": \["fpsimd"\]}|"ev": "signal", "fault": "retry"}|'
bad "arm64: a signal frame fault" "a64-fault.json" "/events/1" "modelled for x86_64" -- run "$CASES/a64-fault.json"
bad "--bug naming no bug" "--bug" "" 'unknown bug "deadbeef" on x86_64; bugs: 58122bf1d856' -- \
  run "$BASE" --bug deadbeef
bad "--bug that does not break the policy" "--bug" "" "bug 58122bf1d856 does not break policy deferred (it breaks eager" -- \
  run "$BASE" --bug 58122bf1d856
bad "compare --bug that breaks none of the policies" "--bug" "" "bug 58122bf1d856 breaks none of the policies run (deferred, lazy)" -- \
  compare "$BASE" --policies deferred,lazy --bug 58122bf1d856
bad "--policy with a malformed bug spelling" "--policy" "" 'expected a policy name, optionally followed by "--bug NAME"' -- \
  run "$BASE" --policy "deferred --bugs x"
variant expect-bug -e 's|"expect": {"deferred":|"expect": {"deferred --bug 58122bf1d856":|'
bad "an expectation whose bug does not break its policy" "expect-bug.json" "/expect/deferred --bug 58122bf1d856" \
  "does not break policy deferred" -- check "$CASES/expect-bug.json"
variant expect-twice -e 's|"expect": {"deferred":|"expect": {"eager --bug 58122bf1d856": {}, "eager --bug 58122bf": {}, "deferred":|'
bad "two expectation keys for one run" "expect-twice.json" "/expect/eager --bug 58122bf1d856" \
  'names the same run as "eager --bug 58122bf" (eager --bug 58122bf1d856)' -- check "$CASES/expect-twice.json"
variant pending-perm -e 's|"ev": "switch", "next": "B"}|"ev": "signal", "fault": "retry"}|' \
  -e 's|"t": 1100, "cpu": 0, "ev": "use", "write": \["sse"\]}|"t": 1100, "cpu": 0, "ev": "xcomp_perm", "features": ["xtiledata"]}|' \
  -e 's|"t": 2000, "cpu": 0, "ev": "switch", "next": "A"}|"t": 2000, "cpu": 0, "ev": "syscall"}|'
bad "arch_prctl while a faulted signal delivery waits" "pending-perm.json" "/events/3" \
  "faulted and waits in the kernel" -- run "$CASES/pending-perm.json"
variant pending-ptrace -e 's|"ev": "switch", "next": "B"}|"ev": "signal", "fault": "retry"}|' \
  -e 's|"t": 1100, "cpu": 0, "ev": "use", "write": \["sse"\]}|"t": 1100, "cpu": 0, "ev": "switch", "next": "B"}|' \
  -e 's|"t": 2000, "cpu": 0, "ev": "switch", "next": "A"}|"t": 2000, "cpu": 1, "ev": "state_write", "target": "A", "write": ["sse"]}|'
bad "a tracer's write into a task retrying its signal delivery" "pending-ptrace.json" "/events/4" \
  "in the kernel retrying a faulted signal delivery (a tracee must be stopped)" -- run "$CASES/pending-ptrace.json"
bad "--disable-rule of the oracle itself" "--disable-rule" "" "expected exposed, trap_config, kernel_trap or foreign_regs" -- \
  run "$BASE" --disable-rule leaked
good "check --bug: a run without an expectation fails (exit 1), naming it" 1 \
  'no expectation for this run: add "kvm-eager --bug c9aef3b85f42"' -- \
  check "$SRC/traces/kvm_fpu_per_run.json" --bug c9aef3b
good "check --bug: each buggy run against its own expectation, once" 0 "1 passed, 0 failed" -- \
  check "$SRC/traces/bugs/kvm_load_c9aef3b85f42.json" --bug c9aef3b
good "run --bug: the alias and the spelling give the same run" 1 \
  "under kvm-eager --bug c9aef3b85f42 on" -- run "$SRC/traces/bugs/kvm_load_c9aef3b85f42.json" --policy kvm-eager-v5.2
"$FPUSIM" compare "$SRC/traces/bugs/kvm_load_c9aef3b85f42.json" --policies kvm-eager,eager+kvm-eager \
  --bug c9aef3b85f42 >"$TMP/stdout" 2>"$TMP/stderr"; rc=$?
if [ $rc -eq 1 ] && grep -qx "fpusim: violations under kvm-eager --bug c9aef3b85f42 (leaked 2, foreign_regs 2)" "$TMP/stderr" &&
   grep -q "^  foreign regs  *2  *0$" "$TMP/stdout"; then
  ok "compare exits 1 when a run has violations, naming it; the table shows them per kind"
else not_ok "compare with violations" "exit $rc $(first_line "$TMP/stderr")"; fi
good "check --bug over scenarios of two architectures: those it cannot break are skipped" 0 \
  "SKIP $SRC/traces/bugs/arm64_kvm_039f49c4cafb.json: no --bug breaks one of its runs" -- \
  check "$SRC/traces/bugs/arm64_kvm_039f49c4cafb.json" "$SRC/traces/bugs/kvm_load_c9aef3b85f42.json" --bug c9aef3b
bad "check --bug that breaks no run of any scenario" "--bug" "" "breaks no run of the scenarios checked" -- \
  check "$SRC/traces/smoke_two_tasks.json" --bug 2955bcc
good "LazyFP's bug changes nothing where the kernel uses XSAVEOPT (eagerfpu=auto chose eager)" 0 "violations: 0" -- \
  run "$SRC/traces/bugs/lazyfp_58122bf1d856.json" --bug 58122bf --set machine.xsave_instruction=xsaveopt
good "list bugs: every bug with its commit, kernels, architecture and scenario" 0 \
  "scenario: traces/bugs/arm64_kvm_d52d165d67c5.json" -- list bugs
good "list stats explains the foreign_regs rule" 0 "violations_foreign_regs [count]" -- list stats

# Machines for layout.
bad "layout of a missing machine preset" "layout" "" 'no machine preset "no-such-machine"' -- layout no-such-machine
bad "layout with an impossible --set" "(with --set machine.os.xcr0=0x5)" "/os/xcr0" "impossible XCR0" -- \
  layout intel-sapphire-rapids --set machine.os.xcr0=0x5

# Output paths that cannot be written: refused before simulating.
bad "--csv into a missing directory (the --json report is not written either)" "$TMP/no-such-dir/r.csv" "" \
  "cannot write in" -- run "$BASE" --json "$PRE" --csv "$TMP/no-such-dir/r.csv"
bad "--json naming a directory" "$OUT" "" "is a directory" -- run "$BASE" --json "$OUT"

# '-' is stdout for the operation log and the timeline as for the reports
# (the log once went to a file named "-"); a VCD needs a file name.
mkdir -p "$TMP/dash" && (cd "$TMP/dash" && "$FPUSIM" run "$BASE" --log - -q >"$TMP/dash.out" 2>"$TMP/dash.err")
rc=$?
if [ "$rc" -eq 0 ] && grep -q "^# cycle cpu op context" "$TMP/dash.out" && [ -z "$(ls -A "$TMP/dash")" ]; then
  ok "run --log - writes the log on stdout and no file"
else
  not_ok "run --log - writes the log on stdout and no file" "exit $rc, files: $(ls -A "$TMP/dash" | tr '\n' ' '), stdout: $(first_line "$TMP/dash.out")"
fi
(cd "$TMP/dash" && "$FPUSIM" run "$BASE" --perfetto - -q >"$TMP/dash.out" 2>"$TMP/dash.err")
rc=$?
if [ "$rc" -eq 0 ] && grep -q '"traceEvents"' "$TMP/dash.out" && [ -z "$(ls -A "$TMP/dash")" ]; then
  ok "run --perfetto - writes the timeline on stdout and no file"
else
  not_ok "run --perfetto - writes the timeline on stdout and no file" "exit $rc, files: $(ls -A "$TMP/dash" | tr '\n' ' ')"
fi
(cd "$TMP/dash" && "$FPUSIM" run "$BASE" --vcd - -q >/dev/null 2>"$TMP/dash.err")
rc=$?
if [ "$rc" -eq 2 ] && grep -q -- "--vcd: a VCD needs a file name" "$TMP/dash.err" && [ -z "$(ls -A "$TMP/dash")" ]; then
  ok "run --vcd -: exit 2, a VCD needs a file name"
else
  not_ok "run --vcd -: exit 2, a VCD needs a file name" "exit $rc: $(first_line "$TMP/dash.err")"
fi

# A report written through a symbolic link replaces the link's file, not the
# link; through a link into /proc/self/fd (as /dev/stdout is) it is written
# directly. (Once, as root, `--json /dev/stdout >FILE` renamed a regular file
# over the /dev/stdout link itself.)
mkdir -p "$TMP/links" && echo '{}' >"$TMP/links/real.json"
ln -s "$TMP/links/real.json" "$TMP/links/to-real"
ln -s /proc/self/fd/1 "$TMP/links/to-stdout"
"$FPUSIM" run "$BASE" -q --json "$TMP/links/to-real" >/dev/null 2>"$TMP/links.err"
rc=$?
if [ "$rc" -eq 0 ] && [ -L "$TMP/links/to-real" ] && grep -q '"totals"' "$TMP/links/real.json"; then
  ok "--json through a link: the link stays, its file holds the report"
else
  not_ok "--json through a link: the link stays, its file holds the report" "exit $rc: $(ls -la "$TMP/links" | tr '\n' ' ')"
fi
"$FPUSIM" run "$BASE" -q --json "$TMP/links/to-stdout" >"$TMP/links/redirected" 2>"$TMP/links.err"
rc=$?
if [ "$rc" -eq 0 ] && [ -L "$TMP/links/to-stdout" ] && grep -q '"totals"' "$TMP/links/redirected" &&
  [ -z "$(ls "$TMP/links" | grep tmp)" ]; then
  ok "--json through a link to /proc/self/fd/1 with stdout in a file: written directly, the link stays"
else
  not_ok "--json through a link to /proc/self/fd/1 with stdout in a file: written directly, the link stays" \
    "exit $rc: $(ls -la "$TMP/links" | tr '\n' ' ')"
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]

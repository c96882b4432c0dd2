#!/usr/bin/env bash
# Tests of `fpusim sweep` (and scripts/plot_sweep.sh when gnuplot is there):
# point directories, results.csv, resuming (skipping finished points,
# rerunning a deleted one), -j 1 = -j 2, failed points, Ctrl-C, bad grids.
#
# usage: sweep_test.sh FPUSIM SOURCE_ROOT
# Prints "ok N - ..." / "not ok N - ...: reason" per case, then
# "N passed, M failed"; exits 1 if any case failed.
set -u

FPUSIM=${1:?usage: sweep_test.sh FPUSIM SOURCE_ROOT}
SRC=${2:?usage: sweep_test.sh FPUSIM SOURCE_ROOT}
case $FPUSIM in /*) ;; *) FPUSIM=$PWD/$FPUSIM ;; esac
case $SRC in /*) ;; *) SRC=$PWD/$SRC ;; esac
export SYSTEMC_DISABLE_COPYRIGHT_MESSAGE=1
export FPUSIM_CONFIG_DIR=${FPUSIM_CONFIG_DIR:-$SRC/configs}

TMP=$(mktemp -d "${TMPDIR:-/tmp}/fpusim-sweep.XXXXXX") || exit 99
trap 'rm -rf "$TMP"' EXIT

n=0 passed=0 failed=0
ok() { n=$((n + 1)); passed=$((passed + 1)); echo "ok $n - $1"; }
not_ok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $1: $2"; }
check() {  # check DESCRIPTION REASON-IF-FAILED CONDITION...
  local desc=$1 why=$2
  shift 2
  if "$@"; then ok "$desc"; else not_ok "$desc" "$why"; fi
}
first_line() { sed -n '/./{p;q}' "$1" | cut -c1-300; }
mtimes() { find "$1" -name report.json -printf '%P %T@\n' | sort; }
column() {  # column CSV NAME: the values of a column, one per line
  awk -F, -v name="$2" 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == name) c = i; next } c { print $c }' "$1"
}

# The grid: 2 policies x 2 #NM trap costs on the 50-handoff scenario, which
# is copied next to the grid (the scenario path is relative to the grid).
mkdir -p "$TMP/grids"
cp "$SRC/traces/xstate_handoff_50.json" "$TMP/grids/handoff.json"
GRID=$TMP/grids/grid.json
cat >"$GRID" <<'EOF'
{
  "format": "fpusim-sweep", "version": 1,
  "name": "sweep-test", "description": "eager and lazy at two #NM trap costs",
  "scenario": "handoff.json",
  "policies": ["eager", "lazy"],
  "parameters": {"costs.nm_trap.value": [500, 2000]},
  "x": "costs.nm_trap.value"
}
EOF

# --bug: the grid's policies the bug breaks run with it (eager, not lazy);
# the policy column names the run.
"$FPUSIM" sweep "$GRID" -o "$TMP/bug" --bug 58122bf1d856 >/dev/null 2>"$TMP/stderr"; rc=$?
check "sweep --bug exits 0 (violations are data)" "exit $rc $(first_line "$TMP/stderr")" [ "$rc" -eq 0 ]
check "sweep --bug: the bug joins the policy it breaks" "$(column "$TMP/bug/results.csv" policy | sort -u | tr '\n' '|')" \
  [ "$(column "$TMP/bug/results.csv" policy | sort -u | tr '\n' '|')" = "eager --bug 58122bf1d856|lazy|" ]
"$FPUSIM" sweep "$GRID" -o "$TMP/bug2" --bug c9aef3b85f42 >/dev/null 2>"$TMP/stderr"; rc=$?
check "sweep --bug that breaks none of the grid's policies: exit 2" "exit $rc" [ "$rc" -eq 2 ]
check "... naming the bug and what it breaks" "$(first_line "$TMP/stderr")" \
  grep -q "bug c9aef3b85f42 breaks none of the policies run (eager, lazy); it breaks kvm-eager" "$TMP/stderr"

# ---------------------------------------------------------------------------
# A fresh sweep.
OUT=$TMP/out
"$FPUSIM" sweep "$GRID" -o "$OUT" >"$TMP/stdout" 2>"$TMP/stderr"
rc=$?
summary=$(tail -n 1 "$TMP/stderr")
check "fresh sweep exits 0" "exit code $rc (stderr: $(first_line "$TMP/stderr"))" [ "$rc" -eq 0 ]
check "fresh sweep: summary says 4 ran, 0 skipped, 0 failed" "summary: $summary" \
  grep -q "4 points: 4 ran, 0 skipped, 0 failed" <<<"$summary"
check "fresh sweep: stderr is the summary line only (no progress when stderr is not a terminal)" \
  "stderr: $(tr '\n' '|' <"$TMP/stderr" | cut -c1-300)" [ "$(wc -l <"$TMP/stderr")" -eq 1 ]
check "fresh sweep: nothing on stdout" "stdout: $(first_line "$TMP/stdout")" [ ! -s "$TMP/stdout" ]
check "fresh sweep: its reports have every statistic of the architecture (no 'lack statistics' note)" \
  "summary: $summary" bash -c '! grep -q "lack statistics" <<<"$1"' _ "$summary"

want="0000-eager-costs.nm_trap.value=500 0001-lazy-costs.nm_trap.value=500 0002-eager-costs.nm_trap.value=2000 0003-lazy-costs.nm_trap.value=2000"
have=$(ls "$OUT/points" 2>/dev/null | tr '\n' ' ' | sed 's/ $//')
check "point directories are index-policy-parameters, in grid order" "have: $have" [ "$have" = "$want" ]
missing=""
for p in $want; do
  for f in point.json run.sh stderr.txt report.json; do
    [ -f "$OUT/points/$p/$f" ] || missing+=" $p/$f"
  done
  [ -x "$OUT/points/$p/run.sh" ] || missing+=" $p/run.sh(not executable)"
  grep -q "\"policy\": \"$(cut -d- -f2 <<<"$p")\"" "$OUT/points/$p/point.json" 2>/dev/null ||
    missing+=" $p/point.json(policy)"
  grep -q -- "--set costs.nm_trap.value=" "$OUT/points/$p/run.sh" || missing+=" $p/run.sh(--set)"
done
check "every point has point.json, an executable run.sh, stderr.txt and report.json" "missing:$missing" [ -z "$missing" ]

CSV=$OUT/results.csv
# The statistics of the scenario's architecture (x86): the core group and
# x86's own; arm64's are not columns of an x86 sweep (they were, empty,
# and every fresh sweep said its reports "lack statistics of this fpusim").
nstats=$("$FPUSIM" list stats | awk '/^# / { keep = ($2 == "core:" || $2 == "x86:" || $2 == "x86_kvm:") } keep && /^[a-z]/ { print $1 }' | sort -u | wc -l)
header=$(head -n 1 "$CSV" 2>/dev/null)
check "results.csv header: point, policy, the parameter, every statistic, violations" "header: ${header:0:200}" \
  bash -c '[[ $1 == point,policy,costs.nm_trap.value,events,* && $1 == *,fpu_cycles,* && $1 == *,violations ]]' _ "$header"
widths=$(awk -F, '{ print NF }' "$CSV" 2>/dev/null | sort -u | tr '\n' ' ')
check "results.csv: every line has 3 + $nstats + 1 columns" "column counts: $widths" [ "$widths" = "$((nstats + 4)) " ]
rows=$(tail -n +2 "$CSV" | cut -d, -f1 | tr '\n' ' ' | sed 's/ $//')
check "results.csv: one row per point, in point order" "rows: $rows" [ "$rows" = "$want" ]
lazy_cycles=$(paste -d' ' <(column "$CSV" policy) <(column "$CSV" fpu_cycles) | awk '$1 == "lazy" { print $2 }' | tr '\n' ' ')
read -r l500 l2000 <<<"$lazy_cycles"
check "results.csv: lazy's fpu_cycles grow with the swept #NM cost" "lazy fpu_cycles: $lazy_cycles" \
  [ "${l500:-0}" -lt "${l2000:-0}" ]
check "results.csv: the parameter column holds the swept values" "values: $(column "$CSV" costs.nm_trap.value | tr '\n' ' ')" \
  [ "$(column "$CSV" costs.nm_trap.value | tr '\n' ' ')" = "500 500 2000 2000 " ]
check "results.json: same points" "$(grep -c '"point":' "$OUT/results.json" 2>/dev/null) points" \
  [ "$(grep -c '"point":' "$OUT/results.json" 2>/dev/null)" -eq 4 ]

# An arm64 grid: its columns are the core's and arm64's statistics.
cp "$SRC/traces/arm64_fpsimd_ping_pong.json" "$TMP/grids/arm64.json"
cat >"$TMP/grids/arm64-grid.json" <<'EOF'
{"format": "fpusim-sweep", "version": 1, "name": "arm64", "description": "two arm64 host policies",
 "scenario": "arm64.json", "policies": ["sve-discard", "sve-keep"]}
EOF
"$FPUSIM" sweep "$TMP/grids/arm64-grid.json" -o "$TMP/arm64" >/dev/null 2>"$TMP/stderr"; rc=$?
a64=$(head -n 1 "$TMP/arm64/results.csv" 2>/dev/null)
check "an arm64 sweep: its columns have arm64's statistics and none of x86's" "exit $rc, header: ${a64:0:300}" \
  bash -c '[[ $1 == *,traps_sve_acc,* && $1 != *,cr0_ts_sets,* ]] && ! grep -q "lack statistics" "$2"' _ "$a64" "$TMP/stderr"

# ---------------------------------------------------------------------------
# Resuming.
before=$(mtimes "$OUT")
cp "$CSV" "$TMP/results.first.csv"
sleep 0.05
"$FPUSIM" sweep "$GRID" -o "$OUT" >/dev/null 2>"$TMP/stderr"
rc=$?
summary=$(tail -n 1 "$TMP/stderr")
check "rerun exits 0 and skips every point" "exit $rc, summary: $summary" \
  grep -q "4 points: 0 ran, 4 skipped, 0 failed" <<<"$summary"
check "rerun writes no report (mtimes unchanged)" "before: $before / after: $(mtimes "$OUT")" [ "$before" = "$(mtimes "$OUT")" ]
check "rerun: results.csv identical" "differs" cmp -s "$CSV" "$TMP/results.first.csv"

rm "$OUT/points/0001-lazy-costs.nm_trap.value=500/report.json"
"$FPUSIM" sweep "$GRID" -o "$OUT" >/dev/null 2>"$TMP/stderr"
summary=$(tail -n 1 "$TMP/stderr")
check "after deleting one report, the rerun runs only that point" "summary: $summary" \
  grep -q "4 points: 1 ran, 3 skipped, 0 failed" <<<"$summary"
after=$(mtimes "$OUT")
check "... and the other reports are untouched" "before: $before / after: $after" \
  [ "$(grep -v 0001- <<<"$before")" = "$(grep -v 0001- <<<"$after")" ]
check "... and results.csv is the same as the first time" "differs" cmp -s "$CSV" "$TMP/results.first.csv"

P1=$OUT/points/0001-lazy-costs.nm_trap.value=500
cp "$P1/report.json" "$TMP/report.0001.json"
rm "$P1/report.json"
sh "$P1/run.sh" 2>"$TMP/stderr"
check "a point's run.sh reruns it alone and writes the same report" "rc/stderr: $(first_line "$TMP/stderr")" \
  cmp -s "$P1/report.json" "$TMP/report.0001.json"

# -j 1 and -j 2 give the same results.
"$FPUSIM" sweep "$GRID" -o "$TMP/out-j1" -j 1 >/dev/null 2>&1
"$FPUSIM" sweep "$GRID" -o "$TMP/out-j2" -j 2 >/dev/null 2>&1
check "-j 1 and -j 2 give identical results.csv" "differ" \
  cmp -s "$TMP/out-j1/results.csv" "$TMP/out-j2/results.csv"
check "... identical to the first sweep's" "differ" cmp -s "$TMP/out-j1/results.csv" "$TMP/results.first.csv"

# ---------------------------------------------------------------------------
# Failed points: an events_file scenario (not decoded up front) whose second
# event is on CPU 1; with "cpus": 1 the run fails (exit 2) at that event.
cat >"$TMP/grids/two-cpus.json" <<'EOF'
{"format": "fpusim-scenario", "version": 1, "name": "two-cpus", "description": "events on CPUs 0 and 1",
 "machine": "intel-sapphire-rapids", "costs": "intel-like", "policy": "deferred", "cpus": 2,
 "contexts": [{"name": "A"}, {"name": "B"}], "events_file": "two-cpus.jsonl"}
EOF
printf '%s\n' '{"t": 0, "cpu": 0, "ev": "switch", "next": "A"}' '{"t": 10, "cpu": 1, "ev": "switch", "next": "B"}' \
  '{"t": 100, "cpu": 0, "ev": "use", "write": ["sse"]}' >"$TMP/grids/two-cpus.jsonl"
cat >"$TMP/grids/cpus.json" <<'EOF'
{"format": "fpusim-sweep", "version": 1, "name": "cpus", "description": "", "scenario": "two-cpus.json",
 "policies": ["deferred"], "parameters": {"cpus": [2, 1]}}
EOF
"$FPUSIM" sweep "$TMP/grids/cpus.json" -o "$TMP/out-fail" >/dev/null 2>"$TMP/stderr"
rc=$?
check "a point that fails: exit 1" "exit code $rc (stderr: $(first_line "$TMP/stderr"))" [ "$rc" -eq 1 ]
check "... the failed point is listed with its error" "stderr: $(first_line "$TMP/stderr")" \
  grep -q "point 0001-deferred-cpus=1 failed: exit code 2: .*CPU 1" "$TMP/stderr"
check "... the summary counts it" "summary: $(tail -n 1 "$TMP/stderr")" \
  grep -q "2 points: 1 ran, 0 skipped, 1 failed" <(tail -n 1 "$TMP/stderr")
check "... no results.csv" "results.csv was written" [ ! -e "$TMP/out-fail/results.csv" ]
check "... its stderr.txt holds the error" "stderr.txt: $(first_line "$TMP/out-fail/points/0001-deferred-cpus=1/stderr.txt")" \
  grep -q "CPU 1" "$TMP/out-fail/points/0001-deferred-cpus=1/stderr.txt"
"$FPUSIM" sweep "$GRID" -o "$TMP/out-fail" >/dev/null 2>"$TMP/stderr"
rc=$?
check "another grid into the same -o DIR: exit 2, refused" "exit $rc: $(first_line "$TMP/stderr")" \
  grep -q "not a point of this grid" "$TMP/stderr"

# A scenario whose events name VMs and vCPUs (the architecture's names):
# checking the points decodes them as a run does.
cp "$SRC/traces/kvm_fpu_per_run.json" "$TMP/grids/kvm.json"
cat >"$TMP/grids/kvm-grid.json" <<'EOF'
{"format": "fpusim-sweep", "version": 1, "name": "kvm", "description": "", "scenario": "kvm.json",
 "policies": ["kvm-eager"], "parameters": {"costs.vm_exit.value": [1000, 2000]}}
EOF
"$FPUSIM" sweep "$TMP/grids/kvm-grid.json" -o "$TMP/out-kvm" >/dev/null 2>"$TMP/stderr"
rc=$?
check "a sweep of a KVM scenario runs (vm and vcpu names decode)" "exit $rc: $(first_line "$TMP/stderr")" [ "$rc" -eq 0 ]

# ---------------------------------------------------------------------------
# Ctrl-C (SIGINT to the sweep alone, as `kill -INT`): the running points are
# killed, none is left running, the finished point's report is kept. One
# short point, then two that would run for hours.
cp "$SRC/traces/sched_fp_share.json" "$TMP/grids/sched.json"
cat >"$TMP/grids/long.json" <<'EOF'
{"format": "fpusim-sweep", "version": 1, "name": "long", "description": "", "scenario": "sched.json",
 "policies": ["eager"], "parameters": {"workload.duration": [400000000, 400000000000000, 500000000000000]}}
EOF
if command -v pgrep >/dev/null 2>&1; then
  # start_long_sweep DIR: the long grid in the background (its pid in
  # $sweep), once point 0 has finished (and been reaped) and points 1 and 2 run (their pids in
  # $kids, their command lines in $args); up to 120 s (the grid's check
  # alone takes about 30 s in an ASan+UBSan build).
  start_long_sweep() {
    "$FPUSIM" sweep "$TMP/grids/long.json" -o "$1" -j 2 >/dev/null 2>"$TMP/stderr" &
    sweep=$!
    kids=""
    for _ in $(seq 2400); do
      kids=$(pgrep -P "$sweep" | tr '\n' ' ')
      # A child seen between fork and exec still shows the sweep's command
      # line: wait until both run the point's (`fpusim run ...`).
      args=$(for k in $kids; do tr '\0' ' ' <"/proc/$k/cmdline"; echo; done 2>/dev/null)
      # Point 2 running means point 0 was reaped: its report alone is not
      # enough (an ASan build still checks for leaks after writing it).
      [ -f "$1/points/0000-eager-workload.duration=400000000/report.json" ] && [ "$(wc -w <<<"$kids")" -eq 2 ] &&
        [ "$(grep -c ' run ' <<<"$args")" -eq 2 ] && grep -q 'workload.duration=500000000000000' <<<"$args" && break
      sleep 0.05
    done
  }
  INT=$TMP/out-int
  start_long_sweep "$INT"
  kill -INT "$sweep"
  for _ in $(seq 100); do kill -0 "$sweep" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$sweep" 2>/dev/null; then
    not_ok "SIGINT stops the sweep within 10 s" "still running; killing it and its points"
    pkill -KILL -P "$sweep"
    kill -KILL "$sweep"
  fi
  wait "$sweep"
  rc=$?
  left=""
  for k in $kids; do kill -0 "$k" 2>/dev/null && left+=" $k"; done
  [ -n "$left" ] && kill -KILL $left
  check "SIGINT: two points were running" "children: '$kids'" [ "$(wc -w <<<"$kids")" -eq 2 ]
  check "SIGINT: exit code 130" "exit code $rc (stderr: $(first_line "$TMP/stderr"))" [ "$rc" -eq 130 ]
  check "SIGINT: no point left running" "still running:$left" [ -z "$left" ]
  check "SIGINT: the summary says interrupted, 2 points not done" "summary: $(tail -n 1 "$TMP/stderr")" \
    grep -q "3 points: 1 ran, 0 skipped, 0 failed; interrupted by signal 2 with 2 points not done" <(tail -n 1 "$TMP/stderr")
  reports=$(cd "$INT/points" && find . -name 'report.json*' | sort | tr '\n' ' ')
  check "SIGINT: the finished point's report is kept, the killed points have none (nor temporaries)" \
    "reports: $reports" [ "$reports" = "./0000-eager-workload.duration=400000000/report.json " ]
  # Points that share the cores read their trace in the simulation's thread
  # (Replayer::share_cores): said on their command line, unless the user chose.
  if [ -n "${FPUSIM_READER_THREAD+set}" ] || [ "$(nproc)" -ge 4 ]; then want=0; else want=2; fi
  check "SIGINT: the points were given --reader-thread=off when they share the cores ($want of 2)" "argv: $args" \
    [ "$(grep -c -- "--reader-thread=off" <<<"$args")" -eq "$want" ]
  check "... not written into run.sh or point.json (a point rerun alone has the cores)" "found" \
    bash -c "! grep -rq reader-thread '$INT/points'"
  # SIGKILL, which the sweep cannot catch: its running points die with it
  # (PR_SET_PDEATHSIG; issue 16: they ran on).
  start_long_sweep "$TMP/out-kill"
  kill -KILL "$sweep"
  wait "$sweep" 2>/dev/null
  left=""
  for _ in $(seq 100); do
    left=""
    for k in $kids; do kill -0 "$k" 2>/dev/null && left+=" $k"; done
    [ -z "$left" ] && break
    sleep 0.1
  done
  [ -n "$left" ] && kill -KILL $left
  check "SIGKILL: two points were running" "children: '$kids'" [ "$(wc -w <<<"$kids")" -eq 2 ]
  check "SIGKILL: the running points die with the sweep" "still running 10 s later:$left" [ -z "$left" ]
else
  echo "# pgrep not installed: SIGINT and SIGKILL of a sweep not tested"
fi

# ---------------------------------------------------------------------------
# Bad input: exit 2, one line naming the grid file, the JSON path and what was
# expected; no output directory created.
# bad DESCRIPTION PATH EXPECT GRID-JSON
bad() {
  local desc=$1 path=$2 expect=$3 doc=$4 f=$TMP/grids/bad.json reason=""
  printf '%s\n' "$doc" >"$f"
  rm -rf "$TMP/out-bad"
  "$FPUSIM" sweep "$f" -o "$TMP/out-bad" >"$TMP/stdout" 2>"$TMP/stderr"
  local rc=$? msg
  msg=$(first_line "$TMP/stderr")
  if [ "$rc" -ne 2 ]; then reason="exit code $rc, expected 2 (stderr: $msg)"
  elif [ "$(wc -l <"$TMP/stderr")" -ne 1 ]; then reason="stderr has $(wc -l <"$TMP/stderr") lines, expected one"
  elif ! grep -qF -- "fpusim: $f: $path: " "$TMP/stderr"; then reason="message does not name the grid and \"$path\": $msg"
  elif ! grep -qF -- "$expect" "$TMP/stderr"; then reason="message does not say \"$expect\": $msg"
  elif [ -e "$TMP/out-bad" ]; then reason="the output directory was created"
  fi
  if [ -z "$reason" ]; then ok "$desc"; else not_ok "$desc" "$reason"; fi
}
HEAD='"format": "fpusim-sweep", "version": 1, "name": "bad", "description": "", "scenario": "handoff.json"'
bad "unknown top-level key" "/colour" 'unknown key "colour"' \
  "{$HEAD, \"policies\": [\"eager\"], \"colour\": 1}"
bad "unknown policy" "/policies/1" 'unknown policy "lasy"' \
  "{$HEAD, \"policies\": [\"eager\", \"lasy\"]}"
bad "parameter key that is no --set key (no such cost)" "/parameters/costs.nm_trapp.value" 'no key "nm_trapp"' \
  "{$HEAD, \"policies\": [\"eager\"], \"parameters\": {\"costs.nm_trapp.value\": [1, 2]}}"
bad "parameter key that is no --set key (no such scenario key)" "/parameters/cpuz" 'unknown key "cpuz"' \
  "{$HEAD, \"policies\": [\"eager\"], \"parameters\": {\"cpuz\": [1, 2]}}"
bad "parameter key that is not a dotted name" "/parameters/costs..x" "expected a --set key" \
  "{$HEAD, \"policies\": [\"eager\"], \"parameters\": {\"costs..x\": [1]}}"
bad "a bad value is named by its index" "/parameters/costs.nm_trap.value/2" "expected at least 0" \
  "{$HEAD, \"policies\": [\"eager\"], \"parameters\": {\"costs.nm_trap.value\": [500, 1000, -5]}}"
bad "a value that is an array" "/parameters/cpus/1" "expected a number or a string or true or false" \
  "{$HEAD, \"policies\": [\"eager\"], \"parameters\": {\"cpus\": [1, [2]]}}"
bad "x that is not a parameter" "/x" "expected one of the parameters" \
  "{$HEAD, \"policies\": [\"eager\"], \"parameters\": {\"cpus\": [1]}, \"x\": \"cpu\"}"
bad "the policy as a parameter" "/parameters/policy" 'swept by "policies"' \
  "{$HEAD, \"policies\": [\"eager\"], \"parameters\": {\"policy\": [\"lazy\"]}}"
bad "a missing scenario" "/scenario" "cannot open scenario" \
  '{"format": "fpusim-sweep", "version": 1, "name": "bad", "description": "", "scenario": "nope.json", "policies": ["eager"]}'
bad "wrong format" "/format" '"fpusim-sweep"' \
  '{"format": "fpusim-scenario", "version": 1, "name": "bad", "description": "", "scenario": "handoff.json", "policies": ["eager"]}'

"$FPUSIM" sweep "$GRID" >/dev/null 2>"$TMP/stderr"
rc=$?
check "sweep without -o: exit 2" "exit $rc: $(first_line "$TMP/stderr")" grep -q "sweep needs an output directory" "$TMP/stderr"

# ---------------------------------------------------------------------------
# --merge (README, "Sweeps on a cluster"), here on local sweeps: from
# DIR/sweep.json alone, the same results; points without a report listed.
cp "$OUT/results.csv" "$TMP/results-before.csv"
rm -f "$OUT/results.csv" "$OUT/results.json"
"$FPUSIM" sweep "$OUT" --merge >/dev/null 2>"$TMP/stderr"; rc=$?
check "sweep DIR --merge of a finished local sweep: exit 0, the same results.csv" "exit $rc: $(first_line "$TMP/stderr")" \
  bash -c '[ "$1" -eq 0 ] && cmp -s "$2/results.csv" "$3"' _ "$rc" "$OUT" "$TMP/results-before.csv"
cp -r "$OUT" "$TMP/out-merge"
rm "$TMP/out-merge/points/0002-eager-costs.nm_trap.value=2000/report.json"
"$FPUSIM" sweep "$TMP/out-merge" --merge >/dev/null 2>"$TMP/stderr"; rc=$?
check "--merge with a report deleted: exit 1, the point named (its exit code 0 kept), no results" "exit $rc: $(tr '\n' '|' <"$TMP/stderr" | cut -c1-300)" \
  bash -c '[ "$1" -eq 1 ] && grep -q "point 0002-eager-costs.nm_trap.value=2000 failed: exit code 0 recorded but no report.json" "$2" &&
    grep -q "4 points: 3 done, 1 failed; no results written" "$2" && [ ! -e "$3/results.csv" ]' _ "$rc" "$TMP/stderr" "$TMP/out-merge"
rm "$TMP/out-merge/points/0002-eager-costs.nm_trap.value=2000/exit_code"
"$FPUSIM" sweep "$TMP/out-merge" --merge >/dev/null 2>"$TMP/stderr"; rc=$?
check "--merge with a point never run: exit 1, 'not run'" "exit $rc: $(first_line "$TMP/stderr")" \
  bash -c '[ "$1" -eq 1 ] && grep -q "point 0002-eager-costs.nm_trap.value=2000 failed: not run (no report, no exit code)" "$2"' _ "$rc" "$TMP/stderr"
check "a local sweep leaves each point's exit code, tagged local" "$(cat "$OUT/points/0001-lazy-costs.nm_trap.value=500/exit_code" 2>&1)" \
  [ "$(cat "$OUT/points/0001-lazy-costs.nm_trap.value=500/exit_code" 2>/dev/null)" = "1 local" ]
jq '.points[1].values = []' "$OUT/sweep.json" >"$TMP/out-merge/sweep.json"
"$FPUSIM" sweep "$TMP/out-merge" --merge >/dev/null 2>"$TMP/stderr"; rc=$?
check "--merge of a damaged sweep.json: exit 2, names the file and the JSON path" "exit $rc: $(first_line "$TMP/stderr")" \
  bash -c '[ "$1" -eq 2 ] && grep -q "sweep.json: /points/1/values: expected 1 values, one per parameter" "$2"' _ "$rc" "$TMP/stderr"
"$FPUSIM" sweep "$GRID" -o "$OUT" --merge >/dev/null 2>"$TMP/stderr"; rc=$?
check "--merge with a grid and -o: exit 2 (it takes the directory once)" "exit $rc: $(first_line "$TMP/stderr")" [ "$rc" -eq 2 ]
"$FPUSIM" sweep "$OUT" --merge --set cpus=1 >/dev/null 2>"$TMP/stderr"; rc=$?
check "--merge with --set: exit 2 (the points' settings are in sweep.json)" "exit $rc: $(first_line "$TMP/stderr")" \
  bash -c '[ "$1" -eq 2 ] && grep -q "runs nothing" "$2"' _ "$rc" "$TMP/stderr"
"$FPUSIM" sweep "$OUT" --merge --bug 58122bf1d856 >/dev/null 2>"$TMP/stderr"; rc=$?
check "--merge with --bug: exit 2" "exit $rc: $(first_line "$TMP/stderr")" \
  bash -c '[ "$1" -eq 2 ] && grep -q "runs nothing" "$2"' _ "$rc" "$TMP/stderr"
"$FPUSIM" sweep "$GRID" -o "$TMP/out-nw" --no-wait >/dev/null 2>"$TMP/stderr"; rc=$?
check "--no-wait without --slurm: exit 2" "exit $rc: $(first_line "$TMP/stderr")" \
  bash -c '[ "$1" -eq 2 ] && grep -q "need --slurm" "$2"' _ "$rc" "$TMP/stderr"

# ---------------------------------------------------------------------------
# The plot script: an SVG with one line per policy and the crossover of eager
# and lazy (lazy is cheaper than eager with cheap #NM traps, dearer with
# expensive ones, on a scenario where tasks often switch without using FP).
if command -v gnuplot >/dev/null 2>&1; then
  cat >"$TMP/grids/cross.json" <<EOF
{"format": "fpusim-sweep", "version": 1, "name": "crossover", "description": "",
 "scenario": "$SRC/traces/no_fp_between_switches.json", "policies": ["eager", "lazy"],
 "parameters": {"costs.nm_trap.value": [0, 3000]}}
EOF
  "$FPUSIM" sweep "$TMP/grids/cross.json" -o "$TMP/out-cross" >/dev/null 2>&1
  bash "$SRC/scripts/plot_sweep.sh" "$TMP/out-cross" fpu_cycles "$TMP/cross.svg" >"$TMP/stdout" 2>"$TMP/stderr"
  rc=$?
  check "plot_sweep.sh writes an SVG" "exit $rc: $(first_line "$TMP/stderr")" grep -q "<svg" "$TMP/cross.svg"
  check "plot_sweep.sh finds the eager/lazy crossover" "stdout: $(first_line "$TMP/stdout")" \
    grep -q "crossover: eager = lazy at costs.nm_trap.value = " "$TMP/stdout"
  bash "$SRC/scripts/plot_sweep.sh" "$TMP/out-cross" no_such_stat "$TMP/x.svg" >/dev/null 2>"$TMP/stderr"
  rc=$?
  check "plot_sweep.sh with an unknown statistic: exit 2, names it" "exit $rc: $(first_line "$TMP/stderr")" \
    grep -q 'no statistic "no_such_stat"' "$TMP/stderr"
else
  echo "# gnuplot not installed: plot_sweep.sh not tested"
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]

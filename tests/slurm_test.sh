#!/usr/bin/env bash
# `fpusim sweep --slurm` against a real Slurm: a private single-node cluster
# started here (scripts/local_slurm.sh: munged, slurmctld and slurmd as root,
# everything in a temporary directory) and stopped again by pid.
#
# - a sweep through Slurm merges to results.csv and results.json equal byte
#   for byte to a local -j 2 sweep's; task logs, jobs.json, progress lines;
#   a rerun with every point done submits nothing;
# - array tasks killed (one pending, one running) are listed as failed with
#   their logs, no results are written, a rerun submits only those points;
#   --no-wait prints the job id, --merge waits and merges; Ctrl-C while
#   waiting leaves the job to Slurm;
# - bad uses: -j with --slurm, a partition sbatch refuses, no sbatch on PATH,
#   --merge of a directory that is no sweep: exit 2 with the reason.
#
# usage: slurm_test.sh FPUSIM SOURCE_ROOT
# Skipped (exit 77) when not root: the daemons cannot be started then.
set -u

FPUSIM=${1:?usage: slurm_test.sh FPUSIM SOURCE_ROOT}
SRC=${2:?usage: slurm_test.sh FPUSIM SOURCE_ROOT}
case $FPUSIM in /*) ;; *) FPUSIM=$PWD/$FPUSIM ;; esac
case $SRC in /*) ;; *) SRC=$PWD/$SRC ;; esac
export SYSTEMC_DISABLE_COPYRIGHT_MESSAGE=1
export FPUSIM_CONFIG_DIR=${FPUSIM_CONFIG_DIR:-$SRC/configs}

if [ "$(id -u)" -ne 0 ]; then
  echo "SKIP: starting a private Slurm cluster (munged, slurmctld, slurmd) needs root; run the suite as root to test --slurm"
  exit 77
fi

TMP=$(mktemp -d "${TMPDIR:-/tmp}/fpusim-slurm.XXXXXX") || exit 99
cleanup() {
  "$SRC/scripts/local_slurm.sh" stop "$TMP/cluster" >/dev/null 2>&1
  rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

n=0 passed=0 failed=0
ok() { n=$((n + 1)); passed=$((passed + 1)); echo "ok $n - $1"; }
not_ok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $1: $2"; }
check() {  # check DESCRIPTION REASON-IF-FAILED CONDITION...
  local desc=$1 why=$2
  shift 2
  if "$@"; then ok "$desc"; else not_ok "$desc" "$why"; fi
}
first_line() { sed -n '/./{p;q}' "$1" | cut -c1-300; }
same_results() {  # same_results DIR1 DIR2
  cmp -s "$1/results.csv" "$2/results.csv" && cmp -s "$1/results.json" "$2/results.json"
}

if ! "$SRC/scripts/local_slurm.sh" start "$TMP/cluster" >"$TMP/cluster.out" 2>&1; then
  echo "not ok 1 - the private cluster starts: $(tr '\n' '|' <"$TMP/cluster.out" | cut -c1-600)"
  echo "0 passed, 1 failed"
  exit 1
fi
export SLURM_CONF=$TMP/cluster/slurm.conf
ok "a private single-node cluster starts ($(sinfo --noheader --format='%P %D node(s) %c CPUs %T' | tr '\n' ' '))"
PIDS="$(cat "$TMP/cluster/munge/munged.pid" "$TMP/cluster/slurmctld.pid" "$TMP/cluster/slurmd.pid" 2>/dev/null | tr '\n' ' ')"

# Grid A: 2 policies x 2 #NM trap costs on the 50-handoff scenario (fast
# points).
mkdir -p "$TMP/grids"
cp "$SRC/traces/xstate_handoff_50.json" "$TMP/grids/handoff.json"
cat >"$TMP/grids/a.json" <<'EOF'
{"format": "fpusim-sweep", "version": 1, "name": "slurm-a", "description": "eager and lazy at two #NM trap costs",
 "scenario": "handoff.json", "policies": ["eager", "lazy"],
 "parameters": {"costs.nm_trap.value": [500, 2000]}, "x": "costs.nm_trap.value"}
EOF
# Grid B: the scheduled fp-share workload, long enough (about 2-3 s a point
# with --set workload.duration=...) that a task can be caught running.
cp "$SRC/traces/sched_fp_share.json" "$TMP/grids/share.json"
cat >"$TMP/grids/b.json" <<'EOF'
{"format": "fpusim-sweep", "version": 1, "name": "slurm-b", "description": "eager and lazy at two FP shares",
 "scenario": "share.json", "policies": ["eager", "lazy"],
 "parameters": {"workload.tasks.0.fp.probability": [0.2, 0.8]}}
EOF
LONG=(--set workload.duration=1000000000000)

# ---------------------------------------------------------------------------
# Grid A through Slurm, against a local -j 2 sweep.
"$FPUSIM" sweep "$TMP/grids/a.json" -o "$TMP/a-local" -j 2 >/dev/null 2>"$TMP/a-local.err"
check "local -j 2 sweep of grid A" "$(first_line "$TMP/a-local.err")" [ -f "$TMP/a-local/results.csv" ]
"$FPUSIM" sweep "$TMP/grids/a.json" -o "$TMP/a" --slurm --poll 0.2 >"$TMP/a.out" 2>"$TMP/a.err"
rc=$?
check "sweep --slurm exits 0" "exit $rc: $(tail -n 3 "$TMP/a.err" | tr '\n' '|')" [ "$rc" -eq 0 ]
check "... its results.csv and results.json equal the local -j 2 sweep's byte for byte" \
  "$(diff "$TMP/a/results.csv" "$TMP/a-local/results.csv" 2>&1 | head -c 300)" same_results "$TMP/a" "$TMP/a-local"
job=$(sed -n 's/^fpusim sweep: submitted job \([0-9]*\): 4 points as 4 array tasks.*/\1/p' "$TMP/a.err")
check "... submitted one job of 4 array tasks" "$(first_line "$TMP/a.err")" [ -n "$job" ]
check "... progress on stderr: points done, running, pending, failed" "$(tr '\n' '|' <"$TMP/a.err" | cut -c1-400)" \
  grep -q "^fpusim sweep: job $job: 4/4 points done, 0 tasks running, 0 pending, 0 failed" "$TMP/a.err"
check "... the summary names the job" "$(tail -n 1 "$TMP/a.err")" \
  grep -q "4 points: 4 ran, 0 skipped, 0 failed (2 with violations), .*, Slurm job $job; results in" "$TMP/a.err"
check "... nothing on stdout" "$(first_line "$TMP/a.out")" [ ! -s "$TMP/a.out" ]
logs=$(ls "$TMP/a/slurm/" 2>/dev/null | grep -c "^${job}_[0-3]\.log$")
check "... a log per array task in DIR/slurm/" "$(ls "$TMP/a/slurm" 2>&1 | tr '\n' ' ')" [ "$logs" -eq 4 ]
check "... each task log names its point and its exit code" "$(head -c 300 "$TMP/a/slurm/${job}_1.log" 2>&1)" \
  grep -q "point 0001-lazy-costs.nm_trap.value=500: exit code 1" "$TMP/a/slurm/${job}_1.log"
check "... jobs.json records the submission" "$(head -c 300 "$TMP/a/slurm/jobs.json" 2>&1)" \
  grep -q "\"job_id\": \"$job\"" "$TMP/a/slurm/jobs.json"
"$FPUSIM" sweep "$TMP/a" --merge >/dev/null 2>"$TMP/merge.err"
rc=$?
check "sweep DIR --merge of a finished sweep: exit 0, results unchanged" "exit $rc: $(first_line "$TMP/merge.err")" \
  bash -c '[ "$1" -eq 0 ] && cmp -s "$2/results.csv" "$3/results.csv"' _ "$rc" "$TMP/a" "$TMP/a-local"
cp "$TMP/a/slurm/jobs.json" "$TMP/jobs-before"
"$FPUSIM" sweep "$TMP/grids/a.json" -o "$TMP/a" --slurm --poll 0.2 >/dev/null 2>"$TMP/a2.err"
rc=$?
check "a rerun with every point done submits nothing" "exit $rc: $(tr '\n' '|' <"$TMP/a2.err" | cut -c1-300)" \
  bash -c '[ "$1" -eq 0 ] && ! grep -q submitted "$2" && grep -q "4 points: 0 ran, 4 skipped, 0 failed" "$2" &&
    cmp -s "$3" "$4/slurm/jobs.json"' _ "$rc" "$TMP/a2.err" "$TMP/jobs-before" "$TMP/a"

"$FPUSIM" sweep "$TMP/grids/a.json" -o "$TMP/a3" --slurm --points-per-task 3 --poll 0.2 >/dev/null 2>"$TMP/a3.err"
rc=$?
check "--points-per-task 3: 4 points as 2 array tasks (2 points each, dealt round-robin), same results" \
  "exit $rc: $(first_line "$TMP/a3.err"); tasks: $(awk '{ print NF }' "$TMP/a3/slurm/tasks-1.txt" 2>&1 | tr '\n' ' ')" \
  bash -c '[ "$1" -eq 0 ] && grep -q "submitted job [0-9]*: 4 points as 2 array tasks" "$2" &&
    [ "$(awk "{ print NF }" "$3/slurm/tasks-1.txt" | tr "\n" " ")" = "2 2 " ] && cmp -s "$3/results.csv" "$4/results.csv"' \
  _ "$rc" "$TMP/a3.err" "$TMP/a3" "$TMP/a-local"

# ---------------------------------------------------------------------------
# Grid B: kill a pending and a running array task, rerun, merge.
"$FPUSIM" sweep "$TMP/grids/b.json" -o "$TMP/b-local" -j 2 "${LONG[@]}" >/dev/null 2>"$TMP/b-local.err"
check "local -j 2 sweep of grid B" "$(first_line "$TMP/b-local.err")" [ -f "$TMP/b-local/results.csv" ]
"$FPUSIM" sweep "$TMP/grids/b.json" -o "$TMP/b" --slurm --max-parallel 1 --no-wait "${LONG[@]}" \
  >"$TMP/b.out" 2>"$TMP/b.err"
rc=$?
jobb=$(tr -d '\n' <"$TMP/b.out")
check "--no-wait: exit 0, the job id on stdout" "exit $rc, stdout \"$jobb\": $(first_line "$TMP/b.err")" \
  bash -c '[ "$1" -eq 0 ] && [[ $2 =~ ^[0-9]+$ ]]' _ "$rc" "$jobb"
check "... stderr says how to merge" "$(tail -n 1 "$TMP/b.err")" grep -q -- "--merge\` waits for it" "$TMP/b.err"
"$FPUSIM" sweep "$TMP/grids/b.json" -o "$TMP/b" -j 2 "${LONG[@]}" >/dev/null 2>"$TMP/b-here.err"
rc=$?
check "a local run of the sweep while its Slurm job is queued: exit 2, names the job" "exit $rc: $(first_line "$TMP/b-here.err")" \
  bash -c '[ "$1" -eq 2 ] && grep -q "Slurm job $2 of this sweep is still in the queue" "$3"' _ "$rc" "$jobb" "$TMP/b-here.err"
state3=$(squeue --noheader --array --jobs="${jobb}_3" --format=%T 2>&1)
scancel "${jobb}_3" 2>"$TMP/scancel.err"
check "scancel of a pending task (--max-parallel 1: task 3 waits)" "state before: $state3; $(first_line "$TMP/scancel.err")" \
  bash -c '[ "$1" = PENDING ] && [ ! -s "$2" ]' _ "$state3" "$TMP/scancel.err"
running=""
for ((i = 0; i < 300; i++)); do
  running=$(squeue --noheader --array --jobs="$jobb" --states=RUNNING --format=%K 2>/dev/null | head -n 1)
  [ -n "$running" ] && break
  sleep 0.1
done
check "a task of the job runs" "squeue: $(squeue --noheader --array --jobs="$jobb" 2>&1 | tr '\n' '|')" [ -n "$running" ]
scancel "${jobb}_${running:-0}"
"$FPUSIM" sweep "$TMP/b" --merge --poll 0.2 >/dev/null 2>"$TMP/bm.err"
rc=$?
check "--merge waits for the job; two tasks killed: exit 1" "exit $rc: $(tail -n 1 "$TMP/bm.err")" [ "$rc" -eq 1 ]
check "... the cancelled pending task's point is listed with its task and log" "$(tr '\n' '|' <"$TMP/bm.err" | cut -c1-600)" \
  grep -q "point 0003-lazy-workload.tasks.0.fp.probability=0.8 failed: no report and no exit code: array task ${jobb}_3 .*slurm/${jobb}_3.log" "$TMP/bm.err"
check "... so is the killed running task's" "$(tr '\n' '|' <"$TMP/bm.err" | cut -c1-600)" \
  grep -q "failed: no report and no exit code: array task ${jobb}_${running:-0} " "$TMP/bm.err"
check "... the summary: 2 done, 2 failed, no results written" "$(tail -n 1 "$TMP/bm.err")" \
  bash -c 'tail -n 1 "$1" | grep -q "4 points: 2 done, 2 failed; no results written" && [ ! -e "$2/results.csv" ]' _ "$TMP/bm.err" "$TMP/b"
# The rerun: only the two failed points are submitted; SIGTERM while it
# waits (as Ctrl-C: a background job of a script ignores SIGINT, and fpusim
# leaves an ignored signal ignored, for nohup) leaves the job to Slurm,
# --merge then waits and merges.
"$FPUSIM" sweep "$TMP/grids/b.json" -o "$TMP/b" --slurm --poll 0.2 "${LONG[@]}" >/dev/null 2>"$TMP/b2.err" &
pid=$!
for ((i = 0; i < 100; i++)); do
  grep -q "^fpusim sweep: submitted job" "$TMP/b2.err" 2>/dev/null && break
  sleep 0.1
done
kill -TERM "$pid"
wait "$pid"
rc=$?
check "the rerun submits only the 2 failed points" "$(first_line "$TMP/b2.err")" \
  grep -q "^fpusim sweep: submitted job [0-9]*: 2 points as 2 array tasks" "$TMP/b2.err"
check "... SIGTERM while it waits: exit 143, the job goes on" "exit $rc: $(tail -n 1 "$TMP/b2.err")" \
  bash -c '[ "$1" -eq 143 ] && grep -q "goes on in the queue: .*--merge. waits for it and merges, .scancel [0-9]*. stops it" "$2"' \
  _ "$rc" "$TMP/b2.err"
check "... tasks-2.txt lists the two points, one a task" "$(tr '\n' '|' <"$TMP/b/slurm/tasks-2.txt" 2>&1)" \
  [ "$(tr '\n' '|' <"$TMP/b/slurm/tasks-2.txt" 2>/dev/null)" = \
    "$(ls "$TMP/b/points" | sed -n "$((${running:-0} + 1))p")|0003-lazy-workload.tasks.0.fp.probability=0.8|" ]
"$FPUSIM" sweep "$TMP/b" --merge --poll 0.2 >/dev/null 2>"$TMP/bm2.err"
rc=$?
check "--merge then waits for the rerun and merges: exit 0" "exit $rc: $(tail -n 2 "$TMP/bm2.err" | tr '\n' '|')" [ "$rc" -eq 0 ]
check "... results equal the local -j 2 sweep's byte for byte" \
  "$(diff "$TMP/b/results.csv" "$TMP/b-local/results.csv" 2>&1 | head -c 300)" same_results "$TMP/b" "$TMP/b-local"

# ---------------------------------------------------------------------------
# Bad uses: exit 2, the reason.
"$FPUSIM" sweep "$TMP/grids/a.json" -o "$TMP/x1" --slurm -j 2 >/dev/null 2>"$TMP/x1.err"
rc=$?
check "--slurm with -j: exit 2" "exit $rc: $(first_line "$TMP/x1.err")" \
  bash -c '[ "$1" -eq 2 ] && grep -q -- "--max-parallel limits" "$2"' _ "$rc" "$TMP/x1.err"
"$FPUSIM" sweep "$TMP/grids/a.json" -o "$TMP/x2" --slurm --partition nosuch >/dev/null 2>"$TMP/x2.err"
rc=$?
check "a partition the cluster lacks: exit 2 with sbatch's own words" "exit $rc: $(first_line "$TMP/x2.err")" \
  bash -c '[ "$1" -eq 2 ] && grep -q "sbatch refused the job: .*[Pp]artition" "$2"' _ "$rc" "$TMP/x2.err"
env PATH=/nonexistent "$FPUSIM" sweep "$TMP/grids/a.json" -o "$TMP/x3" --slurm >/dev/null 2>"$TMP/x3.err"
rc=$?
check "no sbatch on PATH: exit 2, says so" "exit $rc: $(first_line "$TMP/x3.err")" \
  bash -c '[ "$1" -eq 2 ] && grep -q "cannot run sbatch: .*slurm-client" "$2"' _ "$rc" "$TMP/x3.err"
"$FPUSIM" sweep "$TMP/grids" --merge >/dev/null 2>"$TMP/x4.err"
rc=$?
check "--merge of a directory that is no sweep: exit 2" "exit $rc: $(first_line "$TMP/x4.err")" \
  bash -c '[ "$1" -eq 2 ] && grep -q "not a sweep.s output directory" "$2"' _ "$rc" "$TMP/x4.err"
"$FPUSIM" sweep "$TMP/grids/a.json" -o "$TMP/x5" --partition p >/dev/null 2>"$TMP/x5.err"
rc=$?
check "--partition without --slurm: exit 2" "exit $rc: $(first_line "$TMP/x5.err")" [ "$rc" -eq 2 ]

"$FPUSIM" sweep "$TMP/grids/a.json" -o "$TMP/x6" --slurm --sbatch-arg=--array=0-1 >/dev/null 2>"$TMP/x6.err"
rc=$?
check "--sbatch-arg=--array=...: exit 2, fpusim sets the array" "exit $rc: $(first_line "$TMP/x6.err")" \
  bash -c '[ "$1" -eq 2 ] && grep -q "fpusim sets or cannot follow sbatch.s --array" "$2"' _ "$rc" "$TMP/x6.err"
"$FPUSIM" sweep "$TMP/grids/a.json" -o "$TMP/x7" --slurm --sbatch-arg=--chd=/tmp >/dev/null 2>"$TMP/x7.err"
rc=$?
check "--sbatch-arg=--chd=... (sbatch's prefix of --chdir): exit 2" "exit $rc: $(first_line "$TMP/x7.err")" \
  bash -c '[ "$1" -eq 2 ] && grep -q "sbatch.s --chdir" "$2"' _ "$rc" "$TMP/x7.err"

# A directory whose name holds % (sbatch's pattern character in --output).
PCT="$TMP/a 50%share"
"$FPUSIM" sweep "$TMP/grids/a.json" -o "$PCT" --slurm --poll 0.2 >/dev/null 2>"$TMP/pct.err"
rc=$?
jobp=$(sed -n 's/^fpusim sweep: submitted job \([0-9]*\).*/\1/p' "$TMP/pct.err")
check "-o DIR with % and a space: exit 0, task logs where fpusim says, same results" "exit $rc: $(tail -n 1 "$TMP/pct.err")" \
  bash -c '[ "$1" -eq 0 ] && [ -f "$2/slurm/${3}_0.log" ] && cmp -s "$2/results.csv" "$4/results.csv"' _ "$rc" "$PCT" "$jobp" "$TMP/a-local"
check "... its tasks were seen in the queue (squeue's %Z matched), none looked for after the job ended" \
  "$(tr '\n' '|' <"$TMP/pct.err" | cut -c1-500)" \
  bash -c 'grep -Eq "points done, ([1-9][0-9]* tasks? running|.* [1-9][0-9]* pending)" "$1" && ! grep -q "has ended" "$1"' _ "$TMP/pct.err"

# A job id the cluster gave again to a job that is not the sweep's.
jobf=$(sbatch --parsable --output=/dev/null --wrap "sleep 60")
"$FPUSIM" sweep "$TMP/grids/a.json" -o "$TMP/a-foreign" -j 2 >/dev/null 2>&1
rm "$TMP/a-foreign"/points/*/report.json
mkdir -p "$TMP/a-foreign/slurm"
jq --arg id "$jobf" '.submissions[-1].job_id = $id' "$TMP/a/slurm/jobs.json" >"$TMP/a-foreign/slurm/jobs.json"
"$FPUSIM" sweep "$TMP/grids/a.json" -o "$TMP/a-foreign" -j 2 >/dev/null 2>"$TMP/foreign.err"
rc=$?
check "jobs.json naming a job id now another's job: a local run is not refused" "exit $rc: $(first_line "$TMP/foreign.err")" \
  bash -c '[ "$1" -eq 0 ] && cmp -s "$2/results.csv" "$3/results.csv"' _ "$rc" "$TMP/a-foreign" "$TMP/a-local"
scancel "$jobf"

# --merge where squeue is not on PATH (a directory copied off the cluster):
# the files decide at once, also for a point that never ran.
timeout 20 env PATH=/nonexistent "$FPUSIM" sweep "$TMP/a" --merge >/dev/null 2>"$TMP/nosq.err"
rc=$?
check "--merge without squeue on PATH: the files decide, exit 0 at once" "exit $rc: $(first_line "$TMP/nosq.err")" \
  bash -c '[ "$1" -eq 0 ] && grep -q "taking the job as ended" "$2"' _ "$rc" "$TMP/nosq.err"
cp -r "$TMP/a" "$TMP/a-nosq"
rm "$TMP/a-nosq/points/0002-eager-costs.nm_trap.value=2000/report.json" "$TMP/a-nosq/points/0002-eager-costs.nm_trap.value=2000/exit_code"
start=$(date +%s)
timeout 30 env PATH=/nonexistent "$FPUSIM" sweep "$TMP/a-nosq" --merge >/dev/null 2>"$TMP/nosq2.err"
rc=$?
took=$(($(date +%s) - start))
check "... and with a point that never ran: exit 1 within 3 s, the point listed" "exit $rc after $took s: $(tr '\n' '|' <"$TMP/nosq2.err" | cut -c1-400)" \
  bash -c '[ "$1" -eq 1 ] && [ "$2" -le 3 ] && grep -q "point 0002-eager-costs.nm_trap.value=2000 failed: no report and no exit code" "$3"' \
  _ "$rc" "$took" "$TMP/nosq2.err"

# ---------------------------------------------------------------------------
"$SRC/scripts/local_slurm.sh" stop "$TMP/cluster" >"$TMP/stop.out" 2>&1
alive=""
for p in $PIDS; do kill -0 "$p" 2>/dev/null && alive+=" $p"; done
check "every daemon started is stopped (pids $PIDS)" "alive:$alive $(first_line "$TMP/stop.out")" [ -z "$alive" ]
left=""
for p in /proc/[0-9]*; do
  case $(readlink "$p/cwd" 2>/dev/null) in "$TMP"/*) left+=" ${p#/proc/}" ;; esac
done
check "no process of a job is left (none working in the test's directories)" "left:$left" [ -z "$left" ]

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]

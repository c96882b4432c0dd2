#!/usr/bin/env bash
# The benchmark: every speed and memory figure of the README, in one run.
# - the bare SystemC rate (one SC_METHOD re-arming itself with next_trigger);
# - generated traces of 1 M and 10 M events (2 CPUs, 8 tasks) replayed end
#   to end from the file with `fpusim run`, as JSON lines and converted to
#   the binary trace (`fpusim convert`): events/s, peak RSS, ratio to bare;
# - 256 CPUs x 4096 contexts (1 M events, binary): peak RSS;
# - an 8-point sweep (2 policies x 4 #NM costs on a 2 M-event trace) with
#   -j 1 and -j 2, three times each: wall times and the speed-up.
# Not a test: it prints figures.
#
#   bench/run_bench.sh [BUILD_DIR] [EVENT_COUNTS...]
set -euo pipefail
build=${1:-build}
shift || true
counts=("$@")
((${#counts[@]})) || counts=(1000000 10000000)
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
# The ceiling: bare SystemC timed activations per second on this machine.
read -r _ _ bare < <(SYSTEMC_DISABLE_COPYRIGHT_MESSAGE=1 "$build/bench/fpusim-sc-bare" 10000000)
printf 'bare SystemC (one SC_METHOD, next_trigger): %s timed activations/s\n\n' "$bare"
printf '%-10s %-6s %6s %10s %14s %12s %14s\n' events format cpus "wall s" "events/s" "peak RSS MiB" "ratio to bare"
row() {  # row FORMAT SCENARIO [CPUS]
  local out ev e wall rate rss ratio
  out=$("$build/fpusim" run "$2" --quiet --perf 2>&1 >/dev/null)
  # "fpusim: N events in S s (R events/s), peak RSS M MiB"
  ev=$(sed -n 's/^fpusim: \([0-9]*\) events in \([0-9.e-]*\) s (\([0-9]*\) events\/s), peak RSS \([0-9.]*\) MiB.*/\1 \2 \3 \4/p' <<<"$out")
  read -r e wall rate rss <<<"$ev"
  ratio=$(awk -v a="$rate" -v b="$bare" 'BEGIN { printf "%.2f", a / b }')
  printf '%-10s %-6s %6s %10.3f %14s %12s %14s\n' "$e" "$1" "${3:-2}" "$wall" "$rate" "$rss" "$ratio"
}
for n in "${counts[@]}"; do
  "$build/bench/fpusim-gentrace" --events "$n" --cpus 2 --tasks 8 --seed 1 --out "$dir" 2>/dev/null
  row jsonl "$dir/bench.json"
  "$build/fpusim" convert "$dir/bench.json" -o "$dir/bench-bin.json" >/dev/null
  row binary "$dir/bench-bin.json"
  rm -f "$dir/bench.jsonl" "$dir/bench-bin.fpt"
done

# Many CPUs and contexts: per-CPU and per-context state, not the trace, sets
# the memory here.
"$build/bench/fpusim-gentrace" --events 1000000 --cpus 256 --tasks 4096 --seed 1 --out "$dir" 2>/dev/null
"$build/fpusim" convert "$dir/bench.json" -o "$dir/bench-bin.json" >/dev/null
rm -f "$dir/bench.jsonl"
printf '\n256 CPUs x 4096 contexts:\n'
row binary "$dir/bench-bin.json" 256
rm -f "$dir/bench-bin.fpt"

# Sweep scaling: 8 points, each its own `fpusim run` process, -j 1 against
# -j 2 (with fewer than two cores per process the children read their trace
# in the simulation's thread: Replayer::share_cores).
"$build/bench/fpusim-gentrace" --events 2000000 --cpus 2 --tasks 8 --seed 2 --out "$dir" 2>/dev/null
cat >"$dir/grid.json" <<EOF
{"format": "fpusim-sweep", "version": 1, "name": "bench", "description": "sweep scaling",
 "scenario": "$dir/bench.json", "policies": ["eager", "lazy"],
 "parameters": {"costs.nm_trap.value": [250, 500, 1000, 2000]}}
EOF
ms() { local s e; s=$(date +%s%N); "$@" >/dev/null 2>&1 || return 1; e=$(date +%s%N); echo $(((e - s) / 1000000)); }
# sweep_times LABEL [ENV...]: -j 1 and -j 2, three times each, best of three.
sweep_times() {
  local label=$1 best1=0 best2=0 a b rep all=""
  shift
  for rep in 1 2 3; do
    rm -rf "$dir/j1" "$dir/j2"
    a=$(ms env "$@" "$build/fpusim" sweep "$dir/grid.json" -o "$dir/j1" -j 1)
    b=$(ms env "$@" "$build/fpusim" sweep "$dir/grid.json" -o "$dir/j2" -j 2)
    cmp -s "$dir/j1/results.csv" "$dir/j2/results.csv" || { echo "sweep results differ between -j 1 and -j 2" >&2; exit 1; }
    all+=$(awk -v a="$a" -v b="$b" 'BEGIN { printf " %.2f/%.2f", a / 1000, b / 1000 }')
    ((best1 == 0 || a < best1)) && best1=$a
    ((best2 == 0 || b < best2)) && best2=$b
  done
  awk -v l="$label" -v a="$best1" -v b="$best2" -v all="$all" \
    'BEGIN { printf "  %-34s -j 1 %5.2f s, -j 2 %5.2f s, speed-up %.2fx   (runs -j1/-j2:%s)\n", l, a / 1000, b / 1000, a / b, all }'
}
printf '\nsweep of 8 points (2 policies x 4 #NM costs, 2 M events each, JSON lines), %s cores, best of 3:\n' "$(nproc)"
sweep_times "as shipped (Replayer::share_cores):"
sweep_times "FPUSIM_READER_THREAD=0 (one thread):" FPUSIM_READER_THREAD=0

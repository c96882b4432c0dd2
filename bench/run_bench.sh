#!/usr/bin/env bash
# Replay benchmark: generates traces of 1 M and 10 M events (JSON lines) and
# replays each end to end from the file with `fpusim run`, printing events/s
# and peak resident memory; then converts each (`fpusim convert`) and replays
# the binary trace (.fpt) the same way. Not a test: it prints figures.
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
row() {  # row FORMAT SCENARIO
  local out ev e wall rate rss ratio
  out=$("$build/fpusim" run "$2" --quiet --perf 2>&1 >/dev/null)
  # "fpusim: N events in S s (R events/s), peak RSS M MiB"
  ev=$(sed -n 's/^fpusim: \([0-9]*\) events in \([0-9.e-]*\) s (\([0-9]*\) events\/s), peak RSS \([0-9.]*\) MiB.*/\1 \2 \3 \4/p' <<<"$out")
  read -r e wall rate rss <<<"$ev"
  ratio=$(awk -v a="$rate" -v b="$bare" 'BEGIN { printf "%.2f", a / b }')
  printf '%-10s %-6s %6s %10.3f %14s %12s %14s\n' "$e" "$1" 2 "$wall" "$rate" "$rss" "$ratio"
}
for n in "${counts[@]}"; do
  "$build/bench/fpusim-gentrace" --events "$n" --cpus 2 --tasks 8 --seed 1 --out "$dir" 2>/dev/null
  row jsonl "$dir/bench.json"
  "$build/fpusim" convert "$dir/bench.json" -o "$dir/bench-bin.json" >/dev/null
  row binary "$dir/bench-bin.json"
  rm -f "$dir/bench.jsonl" "$dir/bench-bin.fpt"
done

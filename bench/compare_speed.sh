#!/usr/bin/env bash
# Replay speed of two fpusim binaries, measured alternately in one run (this
# machine's speed drifts by tens of percent from minute to minute, so runs of
# the two are interleaved rather than one batch after the other): a
# generated trace of EVENTS events (2 CPUs, 8 tasks) as JSON lines and as
# the binary trace, under `deferred`, REPS runs of each binary per format.
# Prints every run's events/s and peak RSS, then the medians and NEW/OLD.
# Not a test: it prints figures (for a change on the hot path, before and
# after; README "Performance").
#
#   bench/compare_speed.sh OLD_FPUSIM NEW_FPUSIM [EVENTS] [REPS] [GENTRACE]
set -euo pipefail
old=$(realpath "${1:?usage: compare_speed.sh OLD NEW [EVENTS] [REPS] [GENTRACE]}")
new=$(realpath "${2:?usage: compare_speed.sh OLD NEW [EVENTS] [REPS] [GENTRACE]}")
events=${3:-1000000}
reps=${4:-7}
src=$(cd "$(dirname "$0")/.." && pwd)
gentrace=${5:-$src/build/bench/fpusim-gentrace}
export SYSTEMC_DISABLE_COPYRIGHT_MESSAGE=1
export FPUSIM_CONFIG_DIR=${FPUSIM_CONFIG_DIR:-$src/configs}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
"$gentrace" --events "$events" --cpus 2 --tasks 8 --seed 1 --out "$dir" 2>/dev/null
"$old" convert "$dir/bench.json" -o "$dir/bin.json" >/dev/null

one() {  # one BINARY SCENARIO: "events/s rss"
  "$1" run "$2" --policy deferred --quiet --perf 2>&1 >/dev/null |
    sed -n 's/^fpusim: [0-9]* events in [0-9.e-]* s (\([0-9]*\) events\/s), peak RSS \([0-9.]*\) MiB.*/\1 \2/p'
}
median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

printf '%d events, %d runs of each binary per format, alternated\n' "$events" "$reps"
for fmt in jsonl binary; do
  scen=$dir/bench.json
  [ "$fmt" = binary ] && scen=$dir/bin.json
  : >"$dir/old.$fmt"; : >"$dir/new.$fmt"
  for ((i = 0; i < reps; i++)); do
    # Alternate which goes first, too.
    if ((i % 2)); then one "$new" "$scen" >>"$dir/new.$fmt"; one "$old" "$scen" >>"$dir/old.$fmt"
    else one "$old" "$scen" >>"$dir/old.$fmt"; one "$new" "$scen" >>"$dir/new.$fmt"; fi
  done
  mo=$(cut -d' ' -f1 "$dir/old.$fmt" | median); mn=$(cut -d' ' -f1 "$dir/new.$fmt" | median)
  ro=$(cut -d' ' -f2 "$dir/old.$fmt" | median); rn=$(cut -d' ' -f2 "$dir/new.$fmt" | median)
  printf '%-6s old: %s\n%-6s new: %s\n' "$fmt" "$(cut -d' ' -f1 "$dir/old.$fmt" | tr '\n' ' ')" "" \
    "$(cut -d' ' -f1 "$dir/new.$fmt" | tr '\n' ' ')"
  awk -v f="$fmt" -v a="$mo" -v b="$mn" -v ra="$ro" -v rb="$rn" 'BEGIN {
    printf "%-6s median events/s: old %.0f, new %.0f, new/old %.3f; peak RSS MiB: old %.1f, new %.1f\n", f, a, b, b / a, ra, rb }'
done

#!/usr/bin/env bash
# fpusim explore's figures for the README ("Exhaustive exploration"): every
# bug of tests/explore/corpus.list at its bound (the counterexample of its
# kind, its length, whether the fixed policy runs it clean) and every policy
# of tests/explore/policies.list exhausted; states, transitions, seconds.
# Not a test (tests/explore_test.sh checks the lines marked "test"): it
# prints markdown tables.
#
#   bench/explore_bounds.sh [BUILD_DIR] [JOBS]
set -uo pipefail
build=${1:-build}
jobs=${2:-$(nproc)}
src=$(cd "$(dirname "$0")/.." && pwd)
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
export SYSTEMC_DISABLE_COPYRIGHT_MESSAGE=1
printf 'explore -j %s, %s\n\n' "$jobs" "$(nproc) cores"
printf '| bug | policy | bound (explore options) | found | events | fixed run | distinct states | transitions | s |\n'
printf '|---|---|---|---|---|---|---|---|---|\n'
while IFS='|' read -r bug policy kind args _; do
  case "$bug" in ''|\#*) continue ;; esac
  rm -rf "$dir/out"
  # shellcheck disable=SC2086
  "$build/fpusim" explore --policy "$policy" --bug "$bug" $args -j "$jobs" -o "$dir/out" >/dev/null 2>&1
  j=$dir/out/explore.json
  [ -f "$j" ] || { printf '| %s | %s | `%s` | (failed) |||||\n' "$bug" "$policy" "$args"; continue; }
  jq -r --arg b "$bug" --arg p "$policy" --arg k "$kind" --arg a "$args" '
    ([.violations[] | select(.kinds | split(", ") | index($k))] | first) as $v |
    "| \($b) | \($p) | `\($a)` | \(if $v then $v.kinds else "not found" end) | \(if $v then $v.length else "" end) | " +
    "\(if $v == null then "" elif ([$v.expect[$p].violations[]] | add) == 0 then "clean" else "violations" end) | " +
    "\(.distinct_states) | \(.transitions) | \(.seconds * 100 | round / 100) |"' "$j"
done <"$src/tests/explore/corpus.list"
printf '\n| policy | bound (explore options) | result | depth reached | distinct states | transitions | s | peak RSS MiB |\n'
printf '|---|---|---|---|---|---|---|---|\n'
while IFS='|' read -r policy args _; do
  case "$policy" in ''|\#*) continue ;; esac
  rm -rf "$dir/out"
  # shellcheck disable=SC2086
  "$build/fpusim" explore --policy "$policy" $args -j "$jobs" -o "$dir/out" >/dev/null 2>&1
  rc=$?
  j=$dir/out/explore.json
  jq -r --arg p "$policy" --arg a "$args" --arg rc "$rc" '
    "| \($p) | `\($a)` | \(if $rc == "0" then (if .closed then "exhausted, closed" else "exhausted" end) + ", no violation" else "exit \($rc)" end) | " +
    "\(.depth_reached) | \(.distinct_states) | \(.transitions) | \(.seconds * 100 | round / 100) | \(.peak_rss_kib / 1024 * 10 | round / 10) |"' "$j"
done <"$src/tests/explore/policies.list"

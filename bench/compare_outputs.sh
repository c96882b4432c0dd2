#!/usr/bin/env bash
# Compares two fpusim binaries' outputs, byte for byte: for a change meant to
# be invisible (a speed-up), every report, log, timeline, stdout, stderr and
# exit code must be the same. Cases: every scenario in traces/ under the
# policies of its "expect" block (plus kvm-eager for kvm_*), generated traces
# (fpusim-gentrace; 2, 5 and 8 CPUs) from JSON lines and from their binary
# form (fpusim convert), and broken traces (a bad JSON line, a replay error
# before a bad line, a truncated and a corrupted binary trace).
#
#   bench/compare_outputs.sh OLD_FPUSIM NEW_FPUSIM [GENTRACE] [EVENTS]
#
# For a change that alters the report's format on purpose (documented in
# README "Reports"), IGNORE_JSON_KEYS="k1 k2" compares the JSON reports
# without those top-level keys; every other output is still compared byte
# for byte, and the summary names the keys left out.
#
# The timing part of the "fpusim: N events in S s ..." line on stderr is
# masked. Prints one line per difference and a summary; exits 1 on any.
set -uo pipefail
ignore_keys=${IGNORE_JSON_KEYS:-}
old=$(realpath "${1:?usage: compare_outputs.sh OLD NEW [GENTRACE] [EVENTS]}")
new=$(realpath "${2:?usage: compare_outputs.sh OLD NEW [GENTRACE] [EVENTS]}")
src=$(cd "$(dirname "$0")/.." && pwd)
gentrace=${3:-$src/build/bench/fpusim-gentrace}
events=${4:-300000}
export SYSTEMC_DISABLE_COPYRIGHT_MESSAGE=1
export FPUSIM_CONFIG_DIR=${FPUSIM_CONFIG_DIR:-$src/configs}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/fpusim-compare.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
cases=0 diffs=0

# run1 BIN DIR SCENARIO POLICY: every output of one run into DIR. POLICY is
# an "expect" key: a policy, maybe followed by --bug NAME.
run1() {
  mkdir -p "$2"
  local words=()
  read -ra words <<<"${4:-}"
  local args=()
  [ ${#words[@]} -gt 0 ] && args=(--policy "${words[@]}")
  (cd "$2" && "$1" run "$3" "${args[@]}" --json r.json --csv r.csv --log r.log --perfetto r.perfetto \
    >stdout 2>stderr.raw; echo $? >rc)
  sed -E 's/^(fpusim: [0-9]+ events in ).*$/\1.../' "$2/stderr.raw" >"$2/stderr"
  rm -f "$2/stderr.raw"
}

# check LABEL SCENARIO [POLICY]
check() {
  cases=$((cases + 1))
  rm -rf "$tmp/a" "$tmp/b"
  run1 "$old" "$tmp/a" "$2" "${3:-}"
  run1 "$new" "$tmp/b" "$2" "${3:-}"
  local f bad=""
  if [ -n "$ignore_keys" ]; then
    local d k
    for d in "$tmp/a" "$tmp/b"; do
      [ -e "$d/r.json" ] || continue
      local filter="."
      for k in $ignore_keys; do filter="$filter | del(.\"$k\")"; done
      jq -S "$filter" "$d/r.json" >"$d/r.json.norm" && mv "$d/r.json.norm" "$d/r.json"
    done
  fi
  for f in rc stdout stderr r.json r.csv r.log r.perfetto; do
    if [ -e "$tmp/a/$f" ] || [ -e "$tmp/b/$f" ]; then
      cmp -s "$tmp/a/$f" "$tmp/b/$f" || bad="$bad $f"
    fi
  done
  if [ -n "$bad" ]; then
    diffs=$((diffs + 1))
    echo "DIFF $1 ${3:-(default policy)}:$bad"
  fi
}

for s in "$src"/traces/*.json; do
  name=$(basename "$s" .json)
  policies=$(jq -r '(.expect // {}) | keys[]' "$s")
  case $name in kvm_*) policies="$policies"$'\n'"kvm-eager" ;; esac
  [ -n "$policies" ] || policies=" "
  while IFS= read -r p; do
    [ -n "$p" ] || continue
    check "$name" "$s" "$p"
  done < <(printf '%s\n' "$policies" | sort -u)
done

# Generated traces, JSON lines and binary (converted by the old binary).
for spec in "2 1" "2 2" "5 3" "8 4"; do
  read -r cpus seed <<<"$spec"
  d=$tmp/gen-$cpus-$seed
  mkdir -p "$d"
  "$gentrace" --events "$events" --cpus "$cpus" --tasks $((cpus * 4)) --seed "$seed" --out "$d" 2>/dev/null
  "$old" convert "$d/bench.json" -o "$d/bin.json" >/dev/null
  for p in deferred lazy; do
    check "gen cpus=$cpus seed=$seed jsonl" "$d/bench.json" "$p"
    check "gen cpus=$cpus seed=$seed binary" "$d/bin.json" "$p"
  done
done

# Broken traces (from the 2-CPU one): errors must surface at the same point.
d=$tmp/gen-2-1
half=$((events / 2))
sed "${half}s/.*/{\"t\": 1, \"bogus\": true}/" "$d/bench.jsonl" >"$d/badline.jsonl"
sed 's/"bench.jsonl"/"badline.jsonl"/' "$d/bench.json" >"$d/badline.json"
check "jsonl with a bad line" "$d/badline.json" deferred
# A use naming a context that is not running (a replay error), a few lines before the bad line.
awk -v from=$((half - 20)) '
  match($0, /"cpu":[0-9]+/) { cpu = substr($0, RSTART + 6, RLENGTH - 6) }
  /"ev":"switch"/ { cur[cpu] = $0 ~ /"next":"T0"/ ? "T0" : "other" }
  !done && NR >= from && /"ev":"use"/ && !/"ctx"/ {
    sub(/"ev":"use"/, "\"ev\":\"use\",\"ctx\":\"" (cur[cpu] == "T0" ? "T1" : "T0") "\"")
    done = 1
  }
  { print }' "$d/badline.jsonl" >"$d/twoerr.jsonl"
sed 's/"bench.jsonl"/"twoerr.jsonl"/' "$d/bench.json" >"$d/twoerr.json"
check "jsonl with a replay error before a bad line" "$d/twoerr.json" deferred
size=$(stat -c %s "$d/bin.fpt")
head -c $((size / 2)) "$d/bin.fpt" >"$d/trunc.fpt"
sed 's/"bin.fpt"/"trunc.fpt"/' "$d/bin.json" >"$d/trunc.json"
check "truncated binary trace" "$d/trunc.json" deferred
cp "$d/bin.fpt" "$d/corrupt.fpt"
printf '\xff\xff' | dd of="$d/corrupt.fpt" bs=1 seek=$((size / 3)) conv=notrunc status=none
sed 's/"bin.fpt"/"corrupt.fpt"/' "$d/bin.json" >"$d/corrupt.json"
check "corrupted binary trace" "$d/corrupt.json" deferred

echo "compare_outputs: $cases cases, $diffs with differences${ignore_keys:+ (JSON reports compared without: $ignore_keys)}"
[ "$diffs" -eq 0 ]

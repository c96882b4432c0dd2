#!/usr/bin/env bash
# fpusim explore (sim/app/explore.h). Usage: explore_test.sh FPUSIM SRC [PLUGIN]
# - corpus bugs (tests/explore/corpus.list, the lines marked "test"): explore
#   finds each at its bound, writes a counterexample of the listed kind whose
#   run under the fixed policy is clean, and `fpusim check` passes on it (the
#   buggy run fails as expected, the fixed run passes);
# - policies (tests/explore/policies.list, "test"): the bound is exhausted
#   without a violation (exit 0);
# - the same results with -j 1 and -j 2, and with symmetry folded or not;
# - --verify holds, and catches a key made unsound on purpose;
# - --max-states stops with exit 4; bad input exits 2 with one line and
#   writes nothing.
set -u
FPUSIM=$1
SRC=$2
PLUGIN=${3:-}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
n=0
failed=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $1: $2"; }
export SYSTEMC_DISABLE_COPYRIGHT_MESSAGE=1

i=0
while IFS='|' read -r bug policy kind args mark; do
  case "$bug" in ''|\#*) continue ;; esac
  [ "$mark" = test ] || continue
  i=$((i + 1))
  out=$TMP/bug$i
  # shellcheck disable=SC2086
  "$FPUSIM" explore --policy "$policy" --bug "$bug" $args -j 2 -o "$out" >"$out.log" 2>&1
  rc=$?
  if [ $rc -ne 1 ]; then not_ok "$bug: explore finds it ($args)" "exit $rc: $(tail -3 "$out.log")"; continue; fi
  # The counterexample of the listed kind, and its run under the fix.
  file=$(jq -r --arg k "$kind" --arg p "$policy" \
    '.violations[] | select(.kinds | split(", ") | index($k)) | select([.expect[$p].violations[]] | add == 0) | .file' \
    "$out/explore.json" | head -1)
  if [ -z "$file" ] || [ ! -f "$file" ]; then
    not_ok "$bug: a $kind counterexample clean under $policy" "$(grep -A3 '^violations' "$out.log")"
    continue
  fi
  len=$(jq '.events | length' "$file")
  if "$FPUSIM" check "$file" >"$out.check" 2>&1; then
    ok "$bug: found as $kind in $len events; fpusim check: $(grep -c PASS "$out.check") runs pass (the bug's with its violations)"
  else
    not_ok "$bug: fpusim check on its counterexample" "$(cat "$out.check")"
  fi
done <"$SRC/tests/explore/corpus.list"

while IFS='|' read -r policy args mark; do
  case "$policy" in ''|\#*) continue ;; esac
  [ "$mark" = test ] || continue
  out=$TMP/policy.log
  # shellcheck disable=SC2086
  "$FPUSIM" explore --policy "$policy" $args -j 2 >"$out" 2>&1
  rc=$?
  if [ $rc -eq 0 ] && grep -q '^violations: none' "$out" && grep -q '^bound exhausted' "$out"; then
    ok "$policy: bound exhausted without a violation ($(grep '^states' "$out" | cut -d, -f1))"
  else
    not_ok "$policy: bound exhausted without a violation ($args)" "exit $rc: $(tail -4 "$out")"
  fi
done <"$SRC/tests/explore/policies.list"

# A plugin's policy (the example xfd-lazy-amx, which leaves a task's tiles
# in the registers under XFD): clean where the CPU does not speculate past
# the trap, the LazyFP-like exposure where it does, as its README says.
if [ -n "$PLUGIN" ]; then
  "$FPUSIM" explore --plugin "$PLUGIN" --policy xfd-lazy-amx --cpus 2 --contexts 2 --depth 6 -j 2 \
    --set machine.lazyfp_vulnerable=false --verify 100 >"$TMP/plugin.log" 2>&1
  rc=$?
  "$FPUSIM" explore --plugin "$PLUGIN" --policy xfd-lazy-amx --cpus 1 --contexts 2 --depth 5 >"$TMP/plugin2.log" 2>&1
  rc2=$?
  if [ $rc -eq 0 ] && grep -q '^violations: none' "$TMP/plugin.log" && grep -q '^verify: 100 pairs' "$TMP/plugin.log" &&
     [ $rc2 -eq 1 ] && grep -q '^  exposed at ' "$TMP/plugin2.log"; then
    ok "plugin policy xfd-lazy-amx: clean without LazyFP-style speculation (key verified), exposed with it"
  else
    not_ok "plugin policy xfd-lazy-amx" "exit $rc/$rc2: $(tail -3 "$TMP/plugin.log") / $(tail -3 "$TMP/plugin2.log")"
  fi
fi

# The same results whatever the number of threads; the seconds, the memory
# and the output directory aside.
strip() { jq 'del(.seconds) | del(.peak_rss_kib) | del(.violations[].file)' "$1"; }
base="--policy deferred --bug 59c4bd853abc --cpus 2 --contexts 2 --depth 5"
# shellcheck disable=SC2086
"$FPUSIM" explore $base -j 1 -o "$TMP/j1" >/dev/null 2>&1
# shellcheck disable=SC2086
"$FPUSIM" explore $base -j 2 -o "$TMP/j2" >/dev/null 2>&1
if [ -f "$TMP/j1/explore.json" ] && diff <(strip "$TMP/j1/explore.json") <(strip "$TMP/j2/explore.json") >/dev/null &&
   diff -r "$TMP/j1/counterexamples" "$TMP/j2/counterexamples" >/dev/null; then
  ok "-j 1 and -j 2: the same states, counts and counterexamples"
else
  not_ok "-j 1 and -j 2 agree" "$(diff <(strip "$TMP/j1/explore.json") <(strip "$TMP/j2/explore.json") | head -5)"
fi

# Folding symmetric tasks and CPUs changes the state count, not the verdict.
# shellcheck disable=SC2086
"$FPUSIM" explore $base --no-symmetry -o "$TMP/nosym" >/dev/null 2>&1
folded=$(jq .distinct_states "$TMP/j1/explore.json")
unfolded=$(jq .distinct_states "$TMP/nosym/explore.json")
if [ "$(jq -c '[.violations[] | .kinds, .length]' "$TMP/j1/explore.json")" = \
     "$(jq -c '[.violations[] | .kinds, .length]' "$TMP/nosym/explore.json")" ] && [ "$unfolded" -gt "$folded" ]; then
  ok "symmetry: $folded states folded, $unfolded not; the same violations at the same lengths"
else
  not_ok "symmetry folding keeps the verdict" "folded $folded, unfolded $unfolded"
fi

# --disable-rule: the search goes on past a rule's violations (here the
# exposure of explore's sigreturn finding) to what follows (the leak); the
# scenario written still expects what every rule finds.
"$FPUSIM" explore --policy deferred --cpus 1 --contexts 2 --depth 10 -j 2 --disable-rule exposed \
  --events switch,signal,syscall,xcomp_perm,use,sigreturn -o "$TMP/dr" >"$TMP/dr.log" 2>&1
rc=$?
f=$TMP/dr/counterexamples/leaked.json
if [ $rc -eq 1 ] && [ -f "$f" ] && [ "$(jq '.expect.deferred.violations.exposed' "$f")" = 1 ] &&
   "$FPUSIM" check "$f" >/dev/null 2>&1 && ! ls "$TMP/dr/counterexamples/exposed.json" >/dev/null 2>&1; then
  ok "--disable-rule exposed: the leak behind explore's sigreturn finding ($(jq '.events | length' "$f") events), checked with every rule"
else
  not_ok "--disable-rule exposed" "exit $rc: $(tail -4 "$TMP/dr.log")"
fi

# The state key's self-check: states that met under one key have the same
# futures; and a key without the trace rules' part is caught.
for args in "--policy deferred --cpus 2 --contexts 2 --depth 5" \
            "--policy kvm-eager --cpus 1 --contexts 1 --vcpus 1 --depth 6" \
            "--policy deferred --cpus 2 --contexts 1 --kthreads 2 --depth 5" \
            "--policy kvm-arm64-2025 --machine arm-fvp-sme2 --cpus 2 --contexts 1 --vcpus 1 --depth 5"; do
  # shellcheck disable=SC2086
  if "$FPUSIM" explore $args --verify 200 -j 2 >"$TMP/verify.log" 2>&1 && grep -q '^verify: 200 pairs' "$TMP/verify.log"; then
    ok "--verify: $(grep '^verify' "$TMP/verify.log" | cut -d: -f2 | cut -d, -f1) ($args)"
  else
    not_ok "--verify ($args)" "$(tail -2 "$TMP/verify.log")"
  fi
done
"$FPUSIM" explore --policy deferred --cpus 1 --contexts 2 --depth 5 --verify 300 --verify-weak-key >"$TMP/weak.log" 2>&1
rc=$?
if [ $rc -eq 3 ] && grep -q 'two states under one key differ' "$TMP/weak.log"; then
  ok "--verify catches an unsound key (the trace rules left out): $(grep -o 'differ: .*' "$TMP/weak.log" | cut -c1-80)"
else
  not_ok "--verify catches an unsound key" "exit $rc: $(tail -2 "$TMP/weak.log")"
fi

# --max-states: stopped early without a violation is exit 4, not 0.
"$FPUSIM" explore --policy deferred --depth 8 --max-states 500 >"$TMP/max.log" 2>&1
rc=$?
if [ $rc -eq 4 ] && grep -q '^bound not exhausted' "$TMP/max.log"; then ok "--max-states 500: exit 4, bound not exhausted"
else not_ok "--max-states" "exit $rc: $(tail -3 "$TMP/max.log")"; fi

# Bad input: exit 2, one line naming what is wrong, nothing written.
bad() {  # description, expected text, args...
  local what=$1 want=$2
  shift 2
  rm -rf "$TMP/bad"
  "$FPUSIM" explore "$@" -o "$TMP/bad" >"$TMP/bad.out" 2>"$TMP/bad.err"
  local rc=$?
  if [ $rc -eq 2 ] && [ "$(wc -l <"$TMP/bad.err")" -eq 1 ] && grep -q -- "$want" "$TMP/bad.err" &&
     [ -z "$(ls -A "$TMP/bad" 2>/dev/null)" ]; then
    ok "bad input, $what: exit 2: $(cat "$TMP/bad.err")"
  else
    not_ok "bad input, $what" "exit $rc, stderr: $(cat "$TMP/bad.err"), written: $(ls "$TMP/bad" 2>/dev/null)"
  fi
}
bad "no policy" "needs --policy" --cpus 1
bad "unknown policy" "unknown policy \"nosuch\"" --policy nosuch
bad "a bug that does not break the policy" "814fb7bb7db5" --policy deferred --bug 814fb7bb7db5
bad "an unknown event kind" "no event kind \"smstart\"" --policy deferred --events switch,smstart
bad "an empty event kind" "--events: an empty kind" --policy deferred --events switch,,use
bad "no event kind" "--events: an empty kind" --policy deferred --events ""
bad "more CPUs than the machine" "--cpus: 4 CPUs, but machine" --policy kvm-arm64-2025 --machine arm-fvp-sme2 --cpus 4 --set machine.cpus=2
bad "too many tasks" "--contexts: expected 1 to 5" --policy deferred --contexts 9
bad "a scenario override" "explore takes machine.KEY" --policy deferred --set policy=lazy
bad "an unknown machine" "nosuch" --policy deferred --machine nosuch
bad "VMs under a host-only policy" "models the arm64 host only" --policy sve-keep --machine aws-graviton3 --vcpus 1
touch "$TMP/file"
"$FPUSIM" explore --policy deferred -o "$TMP/file/sub" >/dev/null 2>"$TMP/o.err"
rc=$?
if [ $rc -eq 2 ] && grep -q -- "-o: cannot write" "$TMP/o.err"; then ok "an -o that cannot be a directory: exit 2 before exploring"
else not_ok "-o that cannot be written" "exit $rc: $(cat "$TMP/o.err")"; fi

echo "# $n checks, $failed failed"
[ $failed -eq 0 ]

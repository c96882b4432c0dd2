#!/usr/bin/env bash
# The bug corpus (fpusim list bugs), bug by bug: its scenario runs clean
# under the scenario's policy (one the bug breaks) and exits 1 with --bug,
# with every violation kind the bug is listed as caught as; `fpusim check
# traces/bugs/*.json` passes. Then each checker rule of issue 13's kinds is
# switched off in turn (--disable-rule): the bugs a rule alone catches are
# those whose buggy run is clean without it. Usage: bug_corpus_test.sh FPUSIM SRC
set -u
FPUSIM=$1
SRC=$2
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
n=0
failed=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $1: $2"; }

"$FPUSIM" list bugs >"$TMP/bugs.txt" || { echo "fpusim list bugs failed"; exit 99; }
# name|scenario|kinds, one line per bug.
awk '/^[0-9a-f]/ {name=$1} /^    caught as: / {sub(/^    caught as: /, ""); kinds=$0}
     /^    breaks: / {sub(/^    breaks: /, ""); breaks=$0}
     /^    scenario: / {print name "|" $2 "|" kinds "|" breaks}' "$TMP/bugs.txt" >"$TMP/corpus"
[ "$(wc -l <"$TMP/corpus")" -ge 14 ] || { echo "fewer bugs listed than the corpus has"; exit 99; }

rules="exposed trap_config kernel_trap foreign_regs"
declare -A alone
while IFS='|' read -r name scen kinds breaks; do
  f=$SRC/$scen
  if [ ! -f "$f" ]; then not_ok "$name: its scenario" "$scen missing"; continue; fi
  policy=$(jq -r .policy "$f")
  case ", ${breaks%% (alias*}, " in
    *", $policy, "*) ;;
    *) not_ok "$name: $scen's policy" "$policy is not one the bug breaks ($breaks)"; continue ;;
  esac
  "$FPUSIM" run "$f" -q >/dev/null 2>"$TMP/err"; rc=$?
  if [ $rc -eq 0 ]; then ok "$name: $scen under $policy, without the bug: exit 0"
  else not_ok "$name: without the bug" "exit $rc $(head -1 "$TMP/err")"; fi
  "$FPUSIM" run "$f" --bug "$name" --json "$TMP/r.json" -q >/dev/null 2>"$TMP/err"; rc=$?
  why=
  [ $rc -eq 1 ] || why="exit $rc $(head -1 "$TMP/err")"
  for k in $(echo "$kinds" | sed 's/ (.*//; s/,/ /g'); do
    [ -n "$why" ] && break
    v=$(jq ".violations.$k" "$TMP/r.json")
    [ "$v" -gt 0 ] 2>/dev/null || why="violations.$k = $v"
  done
  if [ -z "$why" ]; then ok "$name: with --bug $name: exit 1, caught as $kinds"
  else not_ok "$name: with --bug" "$why"; fi
  for r in $rules; do
    "$FPUSIM" run "$f" --bug "$name" --disable-rule "$r" -q >/dev/null 2>&1
    [ $? -eq 0 ] && alone[$r]="${alone[$r]:-}${alone[$r]:+ }$name"
  done
done <"$TMP/corpus"

# Which bugs each rule alone catches (the others also show as lost or
# leaked state, or under two rules).
want_exposed="58122bf1d856"
want_trap_config="039f49c4cafb 388eff894d6b"
want_kernel_trap="b45f72177594 59d78a2ec0e9"
want_foreign_regs=""
for r in $rules; do
  want_var=want_$r
  got=$(echo ${alone[$r]:-} | tr ' ' '\n' | sort | tr '\n' ' ')
  want=$(echo ${!want_var} | tr ' ' '\n' | sort | tr '\n' ' ')
  echo "# $r alone catches: ${alone[$r]:-none}"
  if [ "$got" = "$want" ]; then ok "the bugs $r alone catches: ${alone[$r]:-none}"
  else not_ok "the bugs $r alone catches" "got '${alone[$r]:-}', expected '${!want_var}'"; fi
done

# A rule that is the oracle itself cannot be switched off.
"$FPUSIM" run "$SRC/traces/smoke_two_tasks.json" --disable-rule lost -q >/dev/null 2>"$TMP/err"; rc=$?
if [ $rc -eq 2 ] && grep -q 'expected exposed, trap_config, kernel_trap or foreign_regs' "$TMP/err"; then
  ok "--disable-rule lost is refused (exit 2)"
else not_ok "--disable-rule lost" "exit $rc $(head -1 "$TMP/err")"; fi

# The whole corpus passes its expectations.
if "$FPUSIM" check "$SRC"/traces/bugs/*.json >"$TMP/check.txt" 2>&1 && grep -q ' 0 failed' "$TMP/check.txt"; then
  ok "fpusim check traces/bugs/*.json: $(tail -1 "$TMP/check.txt")"
else not_ok "fpusim check traces/bugs/*.json" "$(grep -m1 FAIL "$TMP/check.txt")"; fi

echo "$((n - failed)) passed, $failed failed"
[ "$failed" -eq 0 ]

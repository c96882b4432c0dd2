#!/usr/bin/env bash
# Walks the bad-input corpus (tests/bad_input/CASES): every file there is a
# malformed input of some kind (each top-level scenario key, each event kind,
# workloads, machines, costs, sweep grids, JSON-lines and binary events files
# with each header field damaged, real traces), and must make `fpusim ARGS`
# exit 2 with exactly one line on stderr that names the file, gives the JSON
# path (where the case has one) and says what was expected (FRAGMENT); write
# nothing (the scratch folder and the working directory stay empty, the
# corpus folder unchanged) and print nothing on stdout. A
# `run` case is given --json to the scratch folder, and a second time --json
# naming a pre-existing report, which must stay byte-identical.
#
# usage: bad_input_test.sh FPUSIM SOURCE_ROOT
set -u
FPUSIM=${1:?usage: bad_input_test.sh FPUSIM SOURCE_ROOT}
SRC=${2:?usage: bad_input_test.sh FPUSIM SOURCE_ROOT}
case $FPUSIM in /*) ;; *) FPUSIM=$PWD/$FPUSIM ;; esac
case $SRC in /*) ;; *) SRC=$PWD/$SRC ;; esac
export SYSTEMC_DISABLE_COPYRIGHT_MESSAGE=1
export FPUSIM_CONFIG_DIR=${FPUSIM_CONFIG_DIR:-$SRC/configs}
DIR=$SRC/tests/bad_input
TMP=$(mktemp -d "${TMPDIR:-/tmp}/fpusim-bad.XXXXXX") || exit 99
trap 'rm -rf "$TMP"' EXIT
OUT=$TMP/out     # given as output paths: must stay empty
WORK=$TMP/work   # the commands' working directory: must stay empty
mkdir -p "$OUT" "$WORK"
PRE=$TMP/pre-existing.json
printf '{"note": "a report from an earlier run"}\n' >"$PRE"
cp "$PRE" "$TMP/pre.orig"

n=0 passed=0 failed=0
ok() { n=$((n + 1)); passed=$((passed + 1)); echo "ok $n - $1"; }
not_ok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $1: $2"; }

# check FILE PATH FRAGMENT RC: the last run's outcome.
check() {
  local file=$1 path=$2 frag=$3 rc=$4 msg lines
  msg=$(head -c 400 "$TMP/stderr" | head -1)
  lines=$(wc -l <"$TMP/stderr")
  if [ "$rc" != 2 ]; then echo "exit $rc, expected 2: $msg"
  elif [ "$lines" != 1 ]; then echo "$lines lines on stderr, expected one: $(head -c 300 "$TMP/stderr" | tr '\n' '|')"
  elif [[ $msg != "fpusim: "* ]]; then echo "no \"fpusim: \" prefix: $msg"
  elif ! grep -qF -- "$file" "$TMP/stderr"; then echo "does not name $file: $msg"
  elif [ -n "$path" ] && ! grep -qF -- ": $path: " "$TMP/stderr"; then echo "does not give the path $path: $msg"
  elif ! grep -qF -- "$frag" "$TMP/stderr"; then echo "does not say \"$frag\": $msg"
  elif [ -s "$TMP/stdout" ]; then echo "wrote to stdout: $(head -c 200 "$TMP/stdout")"
  elif [ -n "$(ls -A "$OUT")" ]; then echo "wrote $(ls -A "$OUT" | tr '\n' ' ')"
  elif [ -n "$(ls -A "$WORK")" ]; then echo "wrote in its working directory: $(ls -A "$WORK" | tr '\n' ' ')"
  fi
}

files=0
dir_listing=$(ls -lA "$DIR")
while IFS='|' read -r file path frag args; do
  case $file in '#'* | '') continue ;; esac
  files=$((files + 1))
  [ -e "$DIR/$file" ] || { not_ok "$file" "no such file in tests/bad_input"; continue; }
  args=${args//\{\}/$DIR/$file}
  args=${args//\{dir\}/$DIR}
  args=${args//\{out\}/$OUT}
  read -r -a argv <<<"$args"
  extra=()
  [ "${argv[0]}" = run ] && extra=(--json "$OUT/report.json")
  [ -n "$frag$path" ] || { not_ok "$file" "the case gives neither a path nor a fragment: it could not fail"; continue; }
  (cd "$WORK" && "$FPUSIM" "${argv[@]}" "${extra[@]}" >"$TMP/stdout" 2>"$TMP/stderr")
  why=$(check "$file" "$path" "$frag" $?)
  if [ -z "$why" ] && [ "${argv[0]}" = run ]; then
    (cd "$WORK" && "$FPUSIM" "${argv[@]}" --json "$PRE" >"$TMP/stdout" 2>"$TMP/stderr")
    cmp -s "$PRE" "$TMP/pre.orig" || why="changed the pre-existing report it was given"
  fi
  find "$OUT" "$WORK" -mindepth 1 -delete 2>/dev/null
  if [ -z "$why" ]; then ok "$file: ${argv[0]}"; else not_ok "$file: ${argv[0]}" "$why"; fi
done <"$DIR/CASES"
if [ "$(ls -lA "$DIR")" = "$dir_listing" ]; then ok "nothing written beside the inputs (tests/bad_input)"
else not_ok "nothing written beside the inputs" "tests/bad_input changed"; fi
echo "$passed passed, $failed failed ($files cases)"
[ "$failed" = 0 ] && [ "$files" -ge 80 ]

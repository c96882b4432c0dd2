#!/usr/bin/env bash
# Runs one fuzz target's plain build on every input in its regression
# directory (tests/fuzz/regress/TARGET/): the inputs the fuzzers once failed
# on, and seeds. Passes when the target returns normally on all of them.
# usage: fuzz_regress.sh FUZZ_EXE DIR
set -u
exe=${1:?usage: fuzz_regress.sh FUZZ_EXE DIR}
dir=${2:?usage: fuzz_regress.sh FUZZ_EXE DIR}
shopt -s nullglob
inputs=("$dir"/*)
if [ ${#inputs[@]} = 0 ]; then echo "no inputs in $dir"; exit 1; fi
tmp=$(mktemp -d) || exit 99
trap 'rm -rf "$tmp"' EXIT
fail=0
for f in "${inputs[@]}"; do
  if ! "$exe" "$f" >"$tmp/out" 2>"$tmp/err"; then
    echo "not ok - $(basename "$f"): $(head -c 300 "$tmp/err")"
    fail=1
  fi
done
echo "${#inputs[@]} inputs, $( [ $fail = 0 ] && echo none failed || echo some failed)"
exit $fail

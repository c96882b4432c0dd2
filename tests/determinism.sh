#!/usr/bin/env bash
# The same inputs give byte-identical reports (DESIGN principle 5): every
# policy, JSON, CSV and operation log, on a replayed multi-CPU scenario with
# migration and on a scheduled (synthetic) workload. The second run reads its
# trace in the simulation's thread (FPUSIM_READER_THREAD=0), the first on the
# reader thread: how the trace is read changes nothing.
set -u
fpusim=$1
shift
scenarios=("$@")
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
pass=0 fail=0
for scenario in "${scenarios[@]}"; do
  for p in deferred eager lazy lazy-preload; do
    for i in 1 2; do
      FPUSIM_READER_THREAD=$((i == 1)) "$fpusim" run "$scenario" --policy "$p" --quiet --json "$dir/$p.$i.json" --csv "$dir/$p.$i.csv" \
        --log "$dir/$p.$i.log" >/dev/null 2>&1
    done
    if cmp -s "$dir/$p.1.json" "$dir/$p.2.json" && cmp -s "$dir/$p.1.csv" "$dir/$p.2.csv" &&
       cmp -s "$dir/$p.1.log" "$dir/$p.2.log" && [ -s "$dir/$p.1.json" ]; then
      pass=$((pass + 1))
    else
      echo "reports differ between two runs of $scenario under $p"
      fail=$((fail + 1))
    fi
  done
done
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]

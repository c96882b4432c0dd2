#!/usr/bin/env bash
# Fails if a scenario in traces/ is not in traces/meson.build (and so would
# never run in the test suite), or if the list names a missing file.
set -u
root=$1
missing=0
for f in "$root"/traces/*.json "$root"/traces/bugs/*.json; do
  name=${f#"$root"/traces/}
  if ! grep -q "'$name'" "$root/traces/meson.build"; then
    echo "not listed in traces/meson.build: $name"
    missing=$((missing + 1))
  fi
done
for name in $(sed -n "s/^ *'\([^']*\.json\)',*$/\1/p" "$root/traces/meson.build"); do
  if [ ! -f "$root/traces/$name" ]; then
    echo "listed but missing: traces/$name"
    missing=$((missing + 1))
  fi
done
if [ "$missing" -eq 0 ]; then echo "1 passed, 0 failed"; else echo "0 passed, 1 failed"; fi
exit $((missing > 0))

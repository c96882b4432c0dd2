#!/usr/bin/env bash
# Fuzzes fpusim's input paths with libFuzzer under AddressSanitizer and
# UndefinedBehaviorSanitizer: the scenario loader (with every event decoded),
# machine and cost presets, sweep grids, events files (JSON lines and the
# binary trace) and the real-trace import (text and trace.dat). Targets are
# in fuzz/; the build is build-fuzz/ (clang, meson -Dfuzz=true).
#
#   scripts/fuzz.sh [SECONDS [TARGET...]]
#   scripts/fuzz.sh --ci [TARGET...]
#
# --ci is the reproducible gate .ci/run uses: a fresh corpus seeded from the
# project's inputs only (build-fuzz/ci-corpus/, remade each time), libFuzzer's
# -seed=1 and a fixed number of executions per target (about a minute each
# here) instead of a time limit, so a clone that passes here passes in CI and
# a finding there is reproduced here by the same command. Exploration (new
# inputs, a random seed, a growing corpus) is the SECONDS form, run by hand
# before an input path changes lands; its findings become regression inputs.
#
# Runs each target (default: all) for SECONDS (default 60) on its corpus in
# build-fuzz/corpus/TARGET, seeded from the project's own inputs and
# tests/fuzz/regress/TARGET/, which it keeps between runs; prints the
# executions per target and in all. Exits 1 if a target crashed, aborted (an
# uncaught exception or internal error: fuzz/fuzz_target.h) or tripped a
# sanitizer: the input is in build-fuzz/crashes/; once fixed, copy it into
# tests/fuzz/regress/TARGET/, where test fuzz-regress-TARGET keeps it.
# Needs clang and libFuzzer (Debian: clang, libclang-rt-dev; scripts/setup.sh
# --sanitizers installs them) and scripts/setup.sh's build in build/ for seeds.
set -euo pipefail
cd "$(dirname "$0")/.."
ci=0
if [ "${1:-}" = --ci ]; then ci=1; shift; secs=; else secs=${1:-60}; shift || true; fi
targets=("$@")
((${#targets[@]})) || targets=(scenario presets sweep events trace_import)
jobs=${FUZZ_JOBS:-1}

if [ ! -f build-fuzz/build.ninja ]; then
  echo "fuzz: configuring build-fuzz/ (clang, libFuzzer, ASan+UBSan)" >&2
  CC=clang CXX=clang++ meson setup build-fuzz -Dfuzz=true -Db_sanitize=address,undefined -Db_lundef=false \
    -Dbuildtype=debugoptimized >"${TMPDIR:-/tmp}/fpusim-fuzz-setup.log" 2>&1 ||
    { tail -20 "${TMPDIR:-/tmp}/fpusim-fuzz-setup.log" >&2; exit 1; }
fi
echo "fuzz: building the fuzz targets (ninja -C build-fuzz fuzzers)" >&2
ninja -C build-fuzz fuzzers >build-fuzz/ninja.log 2>&1 || { tail -30 build-fuzz/ninja.log >&2; exit 1; }

# --ci: executions per target (about a minute each on a 2-core Zen 4 with
# ASan+UBSan: the targets differ a lot in speed).
ci_runs() {
  case $1 in
    scenario) echo 30000 ;; presets) echo 20000 ;; sweep) echo 100000 ;;
    events) echo 20000 ;; trace_import) echo 8000 ;; *) echo 10000 ;;
  esac
}
corpus_root=build-fuzz/corpus
((ci)) && { corpus_root=build-fuzz/ci-corpus; rm -rf "$corpus_root"; }

# seed TARGET: the project's own inputs for it, once.
seed() {
  local t=$1 c=$corpus_root/$1 f i=0
  mkdir -p "$c"
  cp tests/fuzz/regress/"$t"/* "$c"/ 2>/dev/null || true
  [ -e "$c/.seeded" ] && return
  case $t in
    scenario) cp traces/*.json traces/bugs/*.json "$c"/ ;;
    presets) cp configs/machines/*.json configs/costs/*.json "$c"/ ;;
    sweep)  # the target writes the grid beside a scenario.json
      for f in configs/sweeps/*.json; do
        jq '.scenario = "scenario.json"' "$f" >"$c/$(basename "$f")" 2>/dev/null || true
      done ;;
    events)
      for f in traces/*.json; do
        jq -c '.events[]?' "$f" >"$c/$(basename "$f" .json).jsonl" 2>/dev/null || true
        if [ -x build/fpusim ] && ((i++ < 12)); then
          build/fpusim convert "$f" -o "$c/tmp.json" >/dev/null 2>&1 && mv "$c/tmp.fpt" "$c/$(basename "$f" .json).fpt"
          rm -f "$c/tmp.json" "$c/tmp.fpt"
        fi
      done ;;
    trace_import) cp tests/fixtures/real/*.txt tests/fixtures/real/*.dat "$c"/ ;;
  esac
  find "$c" -type f -size 0 -delete
  touch "$c/.seeded"
}

mkdir -p build-fuzz/crashes
export ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1
export LSAN_OPTIONS=suppressions=$PWD/fuzz/lsan.supp
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
export SYSTEMC_DISABLE_COPYRIGHT_MESSAGE=1 FPUSIM_CONFIG_DIR=$PWD/configs
total=0
failed=()
for t in "${targets[@]}"; do
  seed "$t"
  log=build-fuzz/fuzz-$t.log
  rm -f build-fuzz/crashes/"$t"-* fuzz-[0-9]*.log
  par=()
  if ((ci)); then
    par=(-seed=1 -runs="$(ci_runs "$t")")
  else
    par=(-max_total_time="$secs")
    ((jobs > 1)) && par+=(-jobs="$jobs" -workers="$jobs")  # libFuzzer's worker processes log into ./fuzz-N.log
  fi
  set +e
  build-fuzz/fuzz-"$t" "$corpus_root/$t" -timeout=20 -rss_limit_mb=2560 -max_len=200000 \
    ${par[@]+"${par[@]}"} -artifact_prefix=build-fuzz/crashes/"$t"- -print_final_stats=1 >"$log" 2>&1
  rc=$?
  set -e
  cat fuzz-[0-9]*.log >>"$log" 2>/dev/null || true
  rm -f fuzz-[0-9]*.log
  n=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | awk '{ s += $1 } END { print s + 0 }')
  total=$((total + n))
  if [ "$rc" = 0 ] && ! ls build-fuzz/crashes/"$t"-* >/dev/null 2>&1; then
    printf 'fuzz %-13s %10d executions%s, no finding\n' "$t" "$n" "${secs:+ in $secs s}"
  else
    printf 'fuzz %-13s %10d executions, FINDING (exit %d): %s\n' "$t" "$n" "$rc" "$(ls build-fuzz/crashes/"$t"-* 2>/dev/null | tr '\n' ' ')"
    grep -m3 -E "ERROR|runtime error|fuzz: " "$log" | sed 's/^/    /'
    # The input itself, so that a finding in CI (whose clone is gone
    # afterwards) can be reproduced: base64 -d >FILE; build-fuzz/fuzz-TARGET FILE
    for f in build-fuzz/crashes/"$t"-*; do
      [ -f "$f" ] || continue
      if (($(stat -c %s "$f") <= 65536)); then
        echo "    input $(basename "$f") as base64 (base64 -d >FILE; build-fuzz/fuzz-$t FILE):"
        base64 -w 100 "$f" | sed 's/^/    /'
      else
        echo "    input $(basename "$f"): $(stat -c %s "$f") bytes, too long to print"
      fi
    done
    failed+=("$t")
  fi
done
echo "fuzz: $total executions in all"
((${#failed[@]} == 0)) || { echo "fuzz: findings in ${failed[*]} (logs: build-fuzz/fuzz-TARGET.log)"; exit 1; }

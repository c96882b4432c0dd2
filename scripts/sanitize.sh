#!/usr/bin/env bash
# Runs the tests under the sanitizers (it builds fpusim again for each and
# takes several minutes on two cores; the CI's second stage runs asan):
# - build-asan/: AddressSanitizer + UndefinedBehaviorSanitizer, the whole test
#   suite (any report fails the test that triggered it);
# - build-tsan/: ThreadSanitizer on what runs the replay's reader thread (the
#   convert test: long traces, errors handed over from the reader, the
#   determinism test: with and without the reader thread).
# Run scripts/setup.sh first. Exits non-zero if any test fails.
#   scripts/sanitize.sh [asan|tsan]   (default: both; the CI runs asan)
set -euo pipefail
cd "$(dirname "$0")/.."
which=${1:-both}
case $which in asan | tsan | both) ;; *) echo "usage: scripts/sanitize.sh [asan|tsan]" >&2; exit 2 ;; esac
if [ "$which" != tsan ]; then
  [ -f build-asan/build.ninja ] ||
    meson setup build-asan -Db_sanitize=address,undefined -Db_lundef=false -Dbuildtype=debugoptimized >/dev/null
  echo "sanitize: building build-asan/ (ASan+UBSan)" >&2
  ninja -C build-asan >/dev/null
  # Leaks inside Debian's trace libraries are not fpusim's (fuzz/lsan.supp).
  ASAN_OPTIONS=detect_leaks=1 LSAN_OPTIONS=suppressions=$PWD/fuzz/lsan.supp \
    UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    meson test -C build-asan --num-processes 2 -t 4 --print-errorlogs
fi
[ "$which" != asan ] || exit 0
[ -f build-tsan/build.ninja ] ||
  meson setup build-tsan -Db_sanitize=thread -Dbuildtype=debugoptimized >/dev/null
ninja -C build-tsan >/dev/null
TSAN_OPTIONS=halt_on_error=1 meson test -C build-tsan --num-processes 2 -t 8 --print-errorlogs convert determinism

#!/usr/bin/env bash
# Runs the tests under the sanitizers (not part of CI: it builds fpusim twice
# more and takes several minutes on two cores):
# - build-asan/: AddressSanitizer + UndefinedBehaviorSanitizer, the whole test
#   suite (any report fails the test that triggered it);
# - build-tsan/: ThreadSanitizer on what runs the replay's reader thread (the
#   convert test: long traces, errors handed over from the reader, the
#   determinism test: with and without the reader thread).
# Run scripts/setup.sh first. Exits non-zero if any test fails.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -f build-asan/build.ninja ] ||
  meson setup build-asan -Db_sanitize=address,undefined -Db_lundef=false -Dbuildtype=debugoptimized >/dev/null
ninja -C build-asan >/dev/null
ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  meson test -C build-asan --num-processes 2 -t 4 --print-errorlogs
[ -f build-tsan/build.ninja ] ||
  meson setup build-tsan -Db_sanitize=thread -Dbuildtype=debugoptimized >/dev/null
ninja -C build-tsan >/dev/null
TSAN_OPTIONS=halt_on_error=1 meson test -C build-tsan --num-processes 2 -t 8 --print-errorlogs convert determinism

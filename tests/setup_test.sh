#!/usr/bin/env bash
# scripts/setup.sh when a step fails (issue 16): the step's own error and the
# command to rerun, on stderr; exit non-zero; nothing on stdout. Run on a copy
# of the script with fake dpkg-query (everything installed), meson and ninja
# first in PATH. Usage: setup_test.sh SRC
set -u
SRC=$1
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
n=0
failed=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $1: $2"; }

mkdir -p "$TMP/proj/scripts" "$TMP/bin"
cp "$SRC/scripts/setup.sh" "$TMP/proj/scripts/"
cat >"$TMP/bin/dpkg-query" <<'X'
#!/bin/sh
printf 'install ok installed'
X
cat >"$TMP/bin/ninja" <<'X'
#!/bin/sh
echo "[1/2] Compiling C++ object fpusim.p/main.cpp.o"
echo "FAILED: fpusim.p/main.cpp.o"
echo "main.cpp:1:1: error: boom" >&2
exit 1
X
cat >"$TMP/bin/meson" <<'X'
#!/bin/sh
echo "The Meson build system"
echo "meson.build:12:0: ERROR: Dependency \"systemc\" not found, tried pkgconfig" >&2
exit 1
X
chmod +x "$TMP/bin/"*

check() {  # check DESCRIPTION EXPECT...
  local desc=$1 rc reason=""
  shift
  PATH="$TMP/bin:$PATH" bash "$TMP/proj/scripts/setup.sh" >"$TMP/out" 2>"$TMP/err" </dev/null
  rc=$?
  [ $rc -ne 0 ] || reason="exit 0"
  [ -s "$TMP/out" ] && reason="something on stdout: $(head -1 "$TMP/out")"
  for want in "$@"; do
    grep -qF -- "$want" "$TMP/err" || reason="${reason:+$reason; }stderr does not say \"$want\""
  done
  if [ -z "$reason" ]; then ok "$desc: $(tail -1 "$TMP/err")"; else not_ok "$desc" "$reason ($(tr '\n' '|' <"$TMP/err"))"; fi
}

# No build/ yet: meson's error and the command.
check "a failed configuration" 'ERROR: Dependency "systemc" not found' "rerun: meson setup build --buildtype=release"
# Configured: the compiler's error and the command.
mkdir -p "$TMP/proj/build" && touch "$TMP/proj/build/build.ninja"
check "a failed build" "main.cpp:1:1: error: boom" "FAILED: fpusim.p/main.cpp.o" "rerun: ninja -C build"

echo "# $n checks, $failed failed"
[ $failed -eq 0 ]

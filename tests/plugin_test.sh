#!/usr/bin/env bash
# Policy plugins (--plugin, models/plugin.h): the example plugin's policy in
# every command that takes plugins, the plugins fpusim must refuse (exit 2,
# one line naming the file, nothing written), and the README's "Write your
# own policy" commands run against an installed fpusim.
#
# usage: plugin_test.sh FPUSIM SOURCE_ROOT BUILD_ROOT EXAMPLE_PLUGIN TEST_BUILD_DIR
# Prints "ok N - ..." / "not ok N - ...: reason", then "N passed, M failed".
set -u
FPUSIM=${1:?usage}; SRC=${2:?usage}; BUILD=${3:?usage}; PLUGIN=${4:?usage}; TBUILD=${5:?usage}
case $FPUSIM in /*) ;; *) FPUSIM=$PWD/$FPUSIM ;; esac
export SYSTEMC_DISABLE_COPYRIGHT_MESSAGE=1
export FPUSIM_CONFIG_DIR=${FPUSIM_CONFIG_DIR:-$SRC/configs}
TMP=$(mktemp -d "${TMPDIR:-/tmp}/fpusim-plugin.XXXXXX") || exit 99
trap 'rm -rf "$TMP"' EXIT
n=0 passed=0 failed=0
ok() { n=$((n + 1)); passed=$((passed + 1)); echo "ok $n - $1"; }
not_ok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $1: $2"; }
SCEN=$SRC/plugins/xfd_lazy_amx/xfd_lazy_amx_saves_tiles.json

# ---- the example plugin in each command
if "$FPUSIM" list policies --plugin "$PLUGIN" >"$TMP/list" 2>&1 && grep -qx 'xfd-lazy-amx' "$TMP/list"; then
  ok "list policies --plugin lists xfd-lazy-amx"
else not_ok "list policies --plugin" "$(head -3 "$TMP/list")"; fi
if "$FPUSIM" list policies | grep -qx 'xfd-lazy-amx'; then not_ok "built-in list" "xfd-lazy-amx is listed without the plugin"
else ok "without --plugin the policy does not exist"; fi
"$FPUSIM" run "$SCEN" --policy xfd-lazy-amx >/dev/null 2>"$TMP/err"; rc=$?
if [ $rc -eq 2 ] && grep -q 'unknown policy "xfd-lazy-amx"' "$TMP/err"; then ok "run without the plugin: unknown policy, exit 2"
else not_ok "run without the plugin" "rc=$rc $(head -1 "$TMP/err")"; fi
# Loading the same file twice (two spellings) is harmless.
"$FPUSIM" run "$SCEN" --plugin "$PLUGIN" --plugin "$(dirname "$PLUGIN")/../plugins/$(basename "$PLUGIN")" \
  --policy xfd-lazy-amx --json "$TMP/run.json" >/dev/null 2>"$TMP/err"; rc=$?
# exposure on this Intel preset is a violation: exit 1 with a complete report
if [ $rc -eq 1 ] && [ "$(jq -r '.policy.name' "$TMP/run.json")" = xfd-lazy-amx ] &&
   [ "$(jq '.totals.bytes_saved' "$TMP/run.json")" = 960 ]; then ok "run --plugin (twice) --policy xfd-lazy-amx"
else not_ok "run --plugin" "rc=$rc $(head -1 "$TMP/err")"; fi
# compare exits 1 as run does, naming the run with violations.
"$FPUSIM" compare "$SCEN" --plugin "$PLUGIN" --policies deferred,xfd-lazy-amx --json "$TMP/cmp.json" >"$TMP/cmp.txt" 2>"$TMP/err"; rc=$?
if [ $rc -eq 1 ] && grep -q 'xfd-lazy-amx' "$TMP/cmp.txt" &&
   grep -qx 'fpusim: violations under xfd-lazy-amx (exposed 3)' "$TMP/err" &&
   [ "$(jq '.policies["xfd-lazy-amx"].totals.bytes_saved' "$TMP/cmp.json")" = 960 ] &&
   [ "$(jq '.policies.deferred.totals.bytes_saved' "$TMP/cmp.json")" = 17344 ]; then
  ok "compare --plugin: the plugin's policy beside deferred, same figures as run"
else not_ok "compare --plugin" "rc=$rc $(head -1 "$TMP/err")"; fi
if "$FPUSIM" check --plugin "$PLUGIN" "$SRC"/plugins/xfd_lazy_amx/*.json >"$TMP/check" 2>&1; then
  ok "check --plugin passes the plugin's scenarios"
else not_ok "check --plugin" "$(grep -m1 FAIL "$TMP/check")"; fi
"$FPUSIM" convert "$SCEN" --plugin "$PLUGIN" -o "$TMP/conv.json" >/dev/null 2>"$TMP/err"; rc=$?
if [ $rc -eq 0 ] && "$FPUSIM" check --plugin "$PLUGIN" "$TMP/conv.json" >/dev/null 2>&1; then
  ok "convert --plugin: a scenario naming the plugin's policy converts and checks from its binary form"
else not_ok "convert --plugin" "rc=$rc $(head -1 "$TMP/err")"; fi
cat >"$TMP/grid.json" <<GRID
{"format": "fpusim-sweep", "version": 1, "name": "plugin-grid", "description": "a plugin policy in a sweep",
 "scenario": "$SCEN", "policies": ["deferred", "xfd-lazy-amx"],
 "parameters": {"machine.lazyfp_vulnerable": [false]}}
GRID
"$FPUSIM" sweep "$TMP/grid.json" --plugin "$PLUGIN" -o "$TMP/sweep" -j 2 >/dev/null 2>"$TMP/err"; rc=$?
if [ $rc -eq 0 ] && grep -q -- "--plugin" "$TMP"/sweep/points/*xfd-lazy-amx*/run.sh &&
   grep -q '^[^,]*,xfd-lazy-amx,' "$TMP/sweep/results.csv"; then
  ok "sweep --plugin: each point's process loads the plugin (run.sh too)"
else not_ok "sweep --plugin" "rc=$rc $(head -2 "$TMP/err")"; fi
"$FPUSIM" sweep "$TMP/grid.json" -o "$TMP/sweep2" >/dev/null 2>"$TMP/err"; rc=$?
if [ $rc -eq 2 ] && grep -q 'unknown policy "xfd-lazy-amx"' "$TMP/err" && [ ! -e "$TMP/sweep2" ]; then
  ok "sweep without the plugin: unknown policy, exit 2, nothing written"
else not_ok "sweep without the plugin" "rc=$rc $(head -1 "$TMP/err")"; fi

# ---- plugins fpusim refuses: exit 2, one line naming the file, no report
refuse() {  # LABEL FILE PATTERN
  rm -f "$TMP/no.json"
  "$FPUSIM" run "$SCEN" --policy deferred --plugin "$2" --json "$TMP/no.json" >/dev/null 2>"$TMP/err"; local rc=$?
  if [ $rc -eq 2 ] && [ "$(wc -l <"$TMP/err")" -eq 1 ] && grep -qF -- "$2" "$TMP/err" && grep -q -- "$3" "$TMP/err" &&
     [ ! -e "$TMP/no.json" ]; then ok "refused: $1"
  else not_ok "refused: $1" "rc=$rc $(head -2 "$TMP/err")"; fi
}
refuse "no such file" "$TMP/missing.so" "cannot load plugin: no such file"
echo 'not ELF' >"$TMP/text.so"
refuse "not a shared object" "$TMP/text.so" "cannot load plugin:"
refuse "a library without FPUSIM_PLUGIN" "$(ldd "$FPUSIM" | awk '/libm\.so/ {print $3}')" "not an fpusim plugin"
refuse "built for another ABI" "$TBUILD/bad-plugin-bad_abi.so" "plugin built for plugin ABI"
refuse "a policy name that is taken" "$TBUILD/bad-plugin-taken.so" 'policy "deferred" is already registered'
refuse "registers no policy" "$TBUILD/bad-plugin-none.so" "registers no policy"
refuse "a policy without a factory" "$TBUILD/bad-plugin-incomplete.so" "needs a name, a factory"
refuse "an init that throws" "$TBUILD/bad-plugin-throws.so" "its init function threw: boom"
refuse "a null policy" "$TBUILD/bad-plugin-null_policy.so" "adds a null policy"
refuse "one name added twice" "$TBUILD/bad-plugin-twice.so" 'policy "same" is added twice'
refuse "an architecture not in the build" "$TBUILD/bad-plugin-other_arch.so" 'no architecture "riscv"'

# ---- README "Write your own policy": install, build the example against the
# installed headers and pkg-config file, load it into the installed fpusim.
DEST=$TMP/dest
if meson install -C "$BUILD" --no-rebuild --destdir "$DEST" >"$TMP/install.log" 2>&1; then
  pc=$(find "$DEST" -name fpusim.pc | head -1)
  prefix=$(sed -n 's/^prefix=//p' "$pc")
  export PKG_CONFIG_PATH=$(dirname "$pc")
  flags=$(pkg-config --define-variable=prefix="$DEST$prefix" --cflags --libs fpusim 2>"$TMP/err")
  if [ -n "$flags" ] && c++ -std=c++17 -O2 -shared -fPIC -o "$TMP/my_policy.so" \
       "$SRC/plugins/xfd_lazy_amx/xfd_lazy_amx.cpp" $flags 2>"$TMP/cc.log"; then
    ok "the example plugin builds against the installed headers with pkg-config --cflags --libs fpusim"
    lib=$(dirname "$(find "$DEST" -name 'libfpusim.so*' | head -1)")
    if LD_LIBRARY_PATH=$lib "$DEST$prefix/bin/fpusim" list policies --plugin "$TMP/my_policy.so" 2>&1 |
         grep -qx 'xfd-lazy-amx'; then ok "the installed fpusim loads it"
    else not_ok "the installed fpusim loads it" "$(LD_LIBRARY_PATH=$lib "$DEST$prefix/bin/fpusim" list policies --plugin "$TMP/my_policy.so" 2>&1 | tail -1)"; fi
  else not_ok "build against the installed fpusim" "$(head -3 "$TMP/err" "$TMP/cc.log")"; fi
else not_ok "meson install --destdir" "$(tail -3 "$TMP/install.log")"; fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]

#!/usr/bin/env bash
# Tests of `fpusim convert` and binary traces (.fpt): a converted scenario
# gives byte-identical --json reports (but for "scenario"/"file") under every
# policy, for an inline trace and a JSON-lines one; the same messages for
# later errors; corrupted .fpt files and bad scenarios exit 2 with a message
# naming the file.
#
# usage: convert_test.sh FPUSIM SOURCE_ROOT GENTRACE
# Prints "ok N - ..." / "not ok N - ...: reason" per case, then
# "N passed, M failed"; exits 1 if any case failed.
set -u

FPUSIM=${1:?usage: convert_test.sh FPUSIM SOURCE_ROOT GENTRACE}
SRC=${2:?usage: convert_test.sh FPUSIM SOURCE_ROOT GENTRACE}
GENTRACE=${3:?usage: convert_test.sh FPUSIM SOURCE_ROOT GENTRACE}
case $FPUSIM in /*) ;; *) FPUSIM=$PWD/$FPUSIM ;; esac
case $SRC in /*) ;; *) SRC=$PWD/$SRC ;; esac
case $GENTRACE in /*) ;; *) GENTRACE=$PWD/$GENTRACE ;; esac
export SYSTEMC_DISABLE_COPYRIGHT_MESSAGE=1
export FPUSIM_CONFIG_DIR=${FPUSIM_CONFIG_DIR:-$SRC/configs}

TMP=$(mktemp -d "${TMPDIR:-/tmp}/fpusim-convert.XXXXXX") || exit 99
trap 'rm -rf "$TMP"' EXIT
cd "$TMP" || exit 99

n=0 passed=0 failed=0
ok() { n=$((n + 1)); passed=$((passed + 1)); echo "ok $n - $1"; }
not_ok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $1: $2"; }
first_line() { sed -n '/./{p;q}' "$1" | cut -c1-300; }

# The x86_64 section of the listing (its "# ARCH" header lines group the
# policies by architecture; these traces are x86_64's).
policies=$("$FPUSIM" list policies | awk '/^# /{arch=$2; next} !/^ / && arch=="x86_64"')
[ -n "$policies" ] || { echo "no policies listed"; exit 99; }

# same_reports DESC ORIGINAL CONVERTED: every policy, same exit code and
# --json report (without "scenario"/"file").
# $policies: one per line (a run with bugs is "POLICY --bug NAME").
same_reports() {
  local desc=$1 a=$2 b=$3 p ra rb why= IFS=$'\n'
  for p in $policies; do
    "$FPUSIM" run "$a" --policy "$p" --json a.json -q 2>a.err; ra=$?
    "$FPUSIM" run "$b" --policy "$p" --json b.json -q 2>b.err; rb=$?
    if [ "$ra" != "$rb" ]; then why="$p: exit $ra vs $rb"; break; fi
    if [ "$ra" -gt 1 ]; then why="$p: exit $ra: $(first_line a.err) / $(first_line b.err)"; break; fi
    if ! cmp -s <(jq -S 'del(.scenario.file)' a.json) <(jq -S 'del(.scenario.file)' b.json); then
      why="$p: the reports differ"
      break
    fi
  done
  if [ -z "$why" ]; then ok "$desc"; else not_ok "$desc" "$why"; fi
}

# expect_fail DESC NEEDLE CMD...: exit 2, one line on stderr containing NEEDLE.
expect_fail() {
  local desc=$1 needle=$2 rc
  shift 2
  "$@" >out.txt 2>err.txt; rc=$?
  if [ "$rc" != 2 ]; then
    not_ok "$desc" "exit $rc (expected 2): $(first_line err.txt)"
  elif ! grep -qF -- "$needle" err.txt; then
    not_ok "$desc" "stderr lacks \"$needle\": $(first_line err.txt)"
  else
    ok "$desc"
  fi
}

# 1. The inline trace.
mkdir inline
if "$FPUSIM" convert "$SRC/traces/migration_and_back.json" -o inline/mb.json >out.txt 2>err.txt &&
  [ -s inline/mb.json ] && [ -s inline/mb.fpt ] && jq -e '.events_file == "mb.fpt" and (has("events") | not)' \
  inline/mb.json >/dev/null; then
  ok "convert migration_and_back.json"
else
  not_ok "convert migration_and_back.json" "$(first_line err.txt)"
fi
same_reports "migration_and_back: same reports from the binary trace, every policy" \
  "$SRC/traces/migration_and_back.json" inline/mb.json
"$FPUSIM" run inline/mb.json --dry-run >out.txt 2>err.txt
if grep -q ": ok (2 contexts, 18 events" out.txt; then ok "dry run of the converted scenario"
else not_ok "dry run of the converted scenario" "$(first_line out.txt)$(first_line err.txt)"; fi
if [ -z "$(find . -name '*.tmp.*')" ]; then ok "no temporary files left"; else not_ok "no temporary files left" "$(find . -name '*.tmp.*')"; fi

# KVM events (version 2 records: kinds from 16 on, the extension field):
# every KVM scenario converts and replays to the same reports, under the
# policies that run guests with AMX (kvm-lazy-legacy predates guest AMX).
mkdir kvm
all_policies=$policies
policies=$'kvm-eager\nkvm-eager --bug c9aef3b85f42\nkvm-eager --bug b45f72177594\neager+kvm-eager'
for f in "$SRC"/traces/kvm_*.json "$SRC"/traces/bugs/kvm_*.json; do
  b=$(basename "$f" .json)
  if "$FPUSIM" convert "$f" -o "kvm/$b.json" >out.txt 2>err.txt; then
    same_reports "$b: same reports from the binary trace, every policy" "$f" "kvm/$b.json"
  else
    not_ok "convert $b" "$(first_line err.txt)"
  fi
done
policies=$all_policies

# 2. A JSON-lines trace, converted into another directory.
mkdir gen conv
"$GENTRACE" --events 2000 --out gen 2>/dev/null || { echo "fpusim-gentrace failed"; exit 99; }
if "$FPUSIM" convert gen/bench.json -o conv/bench.json >out.txt 2>err.txt && grep -q "2000 events" out.txt; then
  ok "convert a JSON-lines trace of 2000 events"
else
  not_ok "convert a JSON-lines trace of 2000 events" "$(first_line out.txt)$(first_line err.txt)"
fi
same_reports "JSON lines: same reports from the binary trace, every policy" gen/bench.json conv/bench.json
# Converting a converted scenario again gives the same file.
if "$FPUSIM" convert conv/bench.json -o conv/again.json >/dev/null 2>err.txt && cmp -s conv/bench.fpt conv/again.fpt; then
  ok "converting the binary trace again is the identity"
else
  not_ok "converting the binary trace again is the identity" "$(first_line err.txt)"
fi

# 3. Errors found after decoding name the original file and line.
mkdir sem
cat >sem/s.json <<'EOF'
{"format": "fpusim-scenario", "version": 1, "name": "sem", "description": "a later error", "policy": "deferred", "machine": "intel-sapphire-rapids",
 "costs": "intel-like", "cpus": 2, "contexts": [{"name": "A"}, {"name": "B"}], "events_file": "s.jsonl"}
EOF
printf '%s\n' '{"t": 0, "cpu": 0, "ev": "switch", "next": "A"}' '' \
  '{"t": 10, "cpu": 0, "ev": "use", "write": ["sse"]}' '   ' \
  '{"t": 20, "cpu": 1, "ev": "switch", "next": "A"}' >sem/s.jsonl
"$FPUSIM" convert sem/s.json -o sem/b.json >/dev/null 2>err.txt || not_ok "convert a trace with a later error" "$(first_line err.txt)"
"$FPUSIM" run sem/s.json -q 2>a.err; ra=$?
"$FPUSIM" run sem/b.json -q 2>b.err; rb=$?
if [ "$ra" = 2 ] && [ "$rb" = 2 ] && grep -qF "sem/s.jsonl:5: /next" a.err && cmp -s a.err b.err; then
  ok "a later error names the original file and line (blank lines kept)"
else
  not_ok "a later error names the original file and line (blank lines kept)" "$ra $rb $(first_line a.err) / $(first_line b.err)"
fi

# 4. Corrupted binary traces.
sz=$(stat -c %s conv/bench.fpt)
head -c $((sz - 3)) conv/bench.fpt >conv/cut.fpt
sed 's/"bench.fpt"/"cut.fpt"/' conv/bench.json >conv/cut.json
expect_fail "a truncated .fpt exits 2 naming it" "conv/cut.fpt" "$FPUSIM" run conv/cut.json -q
head -c 30 conv/bench.fpt >conv/head.fpt
sed 's/"bench.fpt"/"head.fpt"/' conv/bench.json >conv/head.json
expect_fail "a .fpt cut in its header exits 2 naming it" "conv/head.fpt: truncated header" "$FPUSIM" run conv/head.json -q
{ printf 'XPUSIMT1'; tail -c +9 conv/bench.fpt; } >conv/magic.fpt
sed 's/"bench.fpt"/"magic.fpt"/' conv/bench.json >conv/magic.json
expect_fail "a .fpt with a bad magic exits 2 naming it" "conv/magic.fpt: not an fpusim binary trace" \
  "$FPUSIM" run conv/magic.json -q
expect_fail "dry run of a truncated .fpt exits 2" "conv/cut.fpt" "$FPUSIM" run conv/cut.json --dry-run
{ head -c 200 conv/bench.fpt; printf '\377\377'; tail -c +203 conv/bench.fpt; } >conv/junk.fpt
sed 's/"bench.fpt"/"junk.fpt"/' conv/bench.json >conv/junk.json
expect_fail "a .fpt with a malformed record exits 2 naming it" "conv/junk.fpt: record" "$FPUSIM" run conv/junk.json -q
jq '.contexts[1].name = "X"' conv/bench.json >conv/ctx.json
expect_fail "a .fpt converted for other contexts is refused" 'conv/bench.fpt: converted for a context "T1"' \
  "$FPUSIM" run conv/ctx.json -q
expect_fail "a .fpt event on a CPU the machine lacks" "conv/bench.fpt: record" \
  "$FPUSIM" run conv/bench.json -q --set cpus=1

# 4b. Reading on a reader thread (the default) or in the simulation's thread
# (FPUSIM_READER_THREAD=0) gives the same report, the same error at the same
# point and the same exit code. The 40000-event traces span more batches
# than the reader keeps ahead (16 x 1024 events).
mkdir big
"$GENTRACE" --events 40000 --out big 2>/dev/null || { echo "fpusim-gentrace failed"; exit 99; }
"$FPUSIM" convert big/bench.json -o big/bin.json >/dev/null 2>&1 || not_ok "convert big/bench.json" ""
sz=$(stat -c %s big/bin.fpt)
head -c $((sz - 3)) big/bin.fpt >big/cut.fpt
sed 's/"bin.fpt"/"cut.fpt"/' big/bin.json >big/cut.json
for s in big/bench.json big/bin.json big/cut.json sem/s.json conv/junk.json; do
  "$FPUSIM" run "$s" --json thr.json --log thr.log -q 2>thr.err; ra=$?
  FPUSIM_READER_THREAD=0 "$FPUSIM" run "$s" --json one.json --log one.log -q 2>one.err; rb=$?
  if [ "$ra" = "$rb" ] && cmp -s thr.err one.err && { [ "$ra" != 0 ] || { cmp -s thr.json one.json && cmp -s thr.log one.log; }; }; then
    ok "$s: the same with and without the reader thread"
  else
    not_ok "$s: the same with and without the reader thread" "exit $ra vs $rb: $(first_line thr.err) / $(first_line one.err)"
  fi
  rm -f thr.* one.*
done

# 5. Bad input to convert: exit 2, the message run gives, nothing written.
mkdir bad
cp sem/s.json bad/s.json
printf '%s\n' '{"t": 0, "cpu": 0, "ev": "switch", "next": "A"}' '{"t": 5, "cpu": 0, "ev": "use", "bad": 1}' >bad/s.jsonl
"$FPUSIM" run bad/s.json -q 2>run.err
expect_fail "convert of a scenario with a bad event exits 2" 'bad/s.jsonl:2: /bad: unknown key "bad"' \
  "$FPUSIM" convert bad/s.json -o bad/out.json
if cmp -s run.err err.txt; then ok "convert and run give the same message"; else not_ok "convert and run give the same message" "$(first_line run.err)"; fi
if [ ! -e bad/out.json ] && [ ! -e bad/out.fpt ] && [ -z "$(find bad -name '*.tmp.*')" ]; then
  ok "a failed convert writes nothing"
else
  not_ok "a failed convert writes nothing" "$(ls bad)"
fi
printf '{"format": "fpusim-scenario", "version": 1, "name": "x", "cpus": 2}\n' >bad/nosrc.json
expect_fail "convert of a scenario without events exits 2" "bad/nosrc.json" "$FPUSIM" convert bad/nosrc.json -o bad/o.json
expect_fail "convert of a workload scenario exits 2" "has no trace to convert" \
  "$FPUSIM" convert "$SRC/traces/sched_no_fp.json" -o bad/o.json
expect_fail "convert without -o exits 2" "-o OUT.json" "$FPUSIM" convert "$SRC/traces/migration_and_back.json"
expect_fail "convert of a missing scenario exits 2" "no-such.json" "$FPUSIM" convert no-such.json -o bad/o.json

# The x86 bug corpus: the core kinds' new values (signal/sigreturn "fault",
# exec "to_user", state_write "invalid_header") in `sub` survive the binary
# trace, under every run the scenario expects.
mkdir bugs
for f in "$SRC"/traces/bugs/*.json; do
  b=$(basename "$f" .json)
  case $b in kvm_* | arm64_*) continue ;; esac
  if "$FPUSIM" convert "$f" -o "bugs/$b.json" >out.txt 2>err.txt; then
    policies=$(jq -r '.expect | keys_unsorted | join("\n")' "$f") \
      same_reports "bugs: $b: same reports from the binary trace" "$f" "bugs/$b.json"
  else
    not_ok "convert $b.json" "$(first_line err.txt)"
  fi
done

# arm64 scenarios: the architecture's records (sve_set_vl's vector length in
# `arg`, kvm_run's vCPU, vm_exit's reason, checked by its EventSyntax record
# check) replay as from JSON, under every arm64 policy, or for a scenario
# with VMs every policy its expectations name.
arm64_policies=$("$FPUSIM" list policies | awk '/^# /{arch=$2; next} !/^ / && arch=="arm64"')
mkdir arm64
for f in "$SRC"/traces/arm64_*.json "$SRC"/traces/bugs/arm64_*.json; do
  b=$(basename "$f" .json)
  if "$FPUSIM" convert "$f" -o "arm64/$b.json" >out.txt 2>err.txt; then
    policies=$arm64_policies
    if grep -q '"vms"' "$f"; then
      policies=$(jq -r '.expect | keys_unsorted | join("\n")' "$f")
    fi
    policies=$policies same_reports "arm64: $b: same reports from the binary trace" "$f" "arm64/$b.json"
  else
    not_ok "convert $b.json" "$(first_line err.txt)"
  fi
done

# Progress lines while a long trace replays (run --progress SECONDS): the
# share of the trace comes from the binary trace's header and from the
# JSON-lines file's size; none with --quiet.
mkdir prog
"$GENTRACE" --events 300000 --out prog 2>/dev/null || { echo "fpusim-gentrace failed"; exit 99; }
"$FPUSIM" convert prog/bench.json -o prog/bin.json >/dev/null 2>&1
for f in prog/bench.json prog/bin.json; do
  "$FPUSIM" run "$f" --progress 0.0001 --reader-thread off >/dev/null 2>err.txt
  if grep -qE '^fpusim: replaying: [0-9.]+ M events read, [0-9]+% of the trace, about [0-9]+ s to go, [0-9.]+ M events/s$' err.txt; then
    ok "progress lines while $(basename "$f") replays"
  else
    not_ok "progress lines while $(basename "$f") replays" "$(first_line err.txt)"
  fi
done
"$FPUSIM" run prog/bin.json --progress 0.0001 --reader-thread on >/dev/null 2>err.txt
if grep -qE '^fpusim: replaying: .*% of the trace' err.txt; then ok "progress lines with the reader thread"
else not_ok "progress lines with the reader thread" "$(first_line err.txt)"; fi
"$FPUSIM" run prog/bin.json --progress 0.0001 --reader-thread off -q >/dev/null 2>err.txt
if [ ! -s err.txt ]; then ok "no progress lines with --quiet"; else not_ok "no progress lines with --quiet" "$(first_line err.txt)"; fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]

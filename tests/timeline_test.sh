#!/usr/bin/env bash
# --perfetto and --vcd: well-formed files with the expected tracks, slices
# that nest per track, and nothing left behind when a run fails.
set -u
fpusim=$1
root=$2
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
pass=0 fail=0
ok() { pass=$((pass + 1)); echo "ok - $1"; }
bad() { fail=$((fail + 1)); echo "not ok - $1"; }

"$fpusim" run "$root/traces/migration_and_back.json" --policy lazy --quiet \
  --perfetto "$dir/t.json" --vcd "$dir/w.vcd" --json "$dir/r.json" >/dev/null 2>&1
[ -s "$dir/t.json" ] && ok "perfetto file written" || bad "perfetto file written"
[ -s "$dir/w.vcd" ] && ok "vcd file written" || bad "vcd file written"
if python3 - "$dir/t.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
ev = d["traceEvents"]
names = {e["args"]["name"] for e in ev if e["ph"] == "M" and e["name"] == "thread_name"}
assert {"cpu0", "cpu1", "cpu0 fpu", "cpu1 fpu"} <= names, names
# B/E pairs balance and nest per track; timestamps never go backwards per track.
depth, last = {}, {}
for e in ev:
    if e["ph"] in "BE":
        k = e["tid"]
        depth[k] = depth.get(k, 0) + (1 if e["ph"] == "B" else -1)
        assert depth[k] in (0, 1), ("unbalanced", e)
        assert float(e["ts"]) >= last.get(k, 0), ("time goes back", e)
        last[k] = float(e["ts"])
assert all(v == 0 for v in depth.values()), depth
ops = [e for e in ev if e["ph"] == "X"]
assert any(e["cat"] == "nm_ts_trap" for e in ops), "no #NM slice under lazy"
assert any(e["cat"] == "save" for e in ops) and any(e["cat"] == "restore" for e in ops)
assert any(e["ph"] == "C" and "CR0.TS" in e["name"] for e in ev)
PY
then ok "perfetto JSON: tracks, balanced slices, traps, saves, restores, counters"; else bad "perfetto JSON content"; fi
# The VCD's variables sit in the scopes of the module hierarchy (cpuN with
# its regfile and traps children), the same in replay and scheduled mode, and
# their trap counts agree with the report (SystemC writes a time step's values
# when time next advances, so the last step's changes are not in the file).
cat >"$dir/vcd.py" <<'PY'
import json, sys
def parse(path):
    ids, scope, last, defs, skip = {}, [], {}, True, False
    for line in open(path):
        w = line.split()
        if not w:
            continue
        if defs:
            if w[0] == "$scope":
                scope.append(w[2])
            elif w[0] == "$upscope":
                scope.pop()
            elif w[0] == "$var":
                ids[w[3]] = ".".join(scope[1:] + [w[4]])  # below the "SystemC" scope
            elif w[0] == "$enddefinitions":
                defs = False
            continue
        if w[0] == "$comment":
            skip = True
        if skip:
            skip = w[-1] != "$end"
            continue
        if w[0][0] in "#$":
            continue
        val, i = (w[0][1:], w[1]) if w[0][0] == "b" else (w[0][0], w[0][1:])
        last[ids[i]] = int(val, 2) if val not in "xz" else None
    return set(ids.values()), last
names, last = parse(sys.argv[1])
report = json.load(open(sys.argv[2]))
cpus = int(sys.argv[3])
want = set()
for c in range(cpus):
    want |= {f"cpu{c}.{v}" for v in ("current", "regfile.owner", "regfile.live_bytes", "traps.cr0_ts",
                                     "traps.xfd", "traps.count")}
assert names == want, (sorted(names), sorted(want))
traps = sum(last[f"cpu{c}.traps.count"] for c in range(cpus))
assert 0 < traps <= report["totals"]["traps"], (traps, report["totals"]["traps"])
mods = [m for c in range(cpus) for m in (f"cpu{c}", f"cpu{c}.regfile", f"cpu{c}.traps")]
if len(sys.argv) > 4:  # scheduled mode: the host scheduler
    mods.append("host")
assert report["platform"] == {"modules": mods}, report["platform"]
PY
if python3 "$dir/vcd.py" "$dir/w.vcd" "$dir/r.json" 2; then
  ok "vcd: cpuN.current, cpuN.regfile.*, cpuN.traps.*; report lists the modules"
else
  bad "vcd hierarchy or report modules (replay)"
fi
"$fpusim" run "$root/traces/sched_web_mix.json" --policy lazy --quiet --vcd "$dir/s.vcd" --json "$dir/s.json" >/dev/null 2>&1
if python3 "$dir/vcd.py" "$dir/s.vcd" "$dir/s.json" 2 host; then
  ok "scheduled mode: the same VCD scopes; report lists cpuN modules and host"
else
  bad "vcd hierarchy or report modules (scheduled)"
fi
# KVM: each guest run is a slice nested in its vCPU thread's run slice.
"$fpusim" run "$root/traces/kvm_softirq_and_migration.json" --quiet --perfetto "$dir/k.json" >/dev/null 2>&1
if python3 - "$dir/k.json" <<'PY'
import json, sys
ev = json.load(open(sys.argv[1]))["traceEvents"]
stack = {}
guests = 0
for e in ev:
    if e["ph"] == "B":
        s = stack.setdefault(e["tid"], [])
        if e.get("cat") == "guest":
            assert len(s) == 1 and s[0] == "qemu", ("guest slice outside its thread's", e, s)
            guests += 1
        s.append(e["name"])
    elif e["ph"] == "E":
        stack[e["tid"]].pop()
assert all(not s for s in stack.values()), stack
assert guests == 4, guests  # VM entries: 2 on cpu0, 2 on cpu1
PY
then ok "perfetto: vCPU guest slices nest in their thread's run slices"; else bad "perfetto vCPU guest slices"; fi
# scripts/plot_timeline.sh draws a --perfetto trace (arm64 KVM: the guest
# runs nested in the vCPU thread's run) as an SVG; a file that is no such
# trace is refused with exit 2.
if command -v gnuplot >/dev/null && command -v jq >/dev/null; then
  "$fpusim" run "$root/traces/arm64_kvm_softirq_neon.json" --policy kvm-arm64-2022 --quiet --perfetto "$dir/a.json" \
    >/dev/null 2>&1
  if "$root/scripts/plot_timeline.sh" "$dir/a.json" "$dir/a.svg" >/dev/null 2>&1 && grep -q "<svg" "$dir/a.svg" &&
     grep -q "vcpu0 (guest)" "$dir/a.svg" && grep -q "guest_fp_trap vcpu0" "$dir/a.svg"; then
    ok "plot_timeline.sh draws the arm64 KVM timeline with its guest runs and traps"
  else
    bad "plot_timeline.sh on the arm64 KVM timeline"
  fi
  echo '{"x": 1}' > "$dir/notrace.json"
  "$root/scripts/plot_timeline.sh" "$dir/notrace.json" "$dir/n.svg" >/dev/null 2>&1
  if [ $? -eq 2 ] && [ ! -e "$dir/n.svg" ]; then ok "plot_timeline.sh refuses a file that is no trace (exit 2)"
  else bad "plot_timeline.sh on a file that is no trace"; fi
else
  echo "# skipped plot_timeline.sh checks: gnuplot or jq missing"
fi
# A failing run leaves no timeline and no temporary file.
printf '{"format":"fpusim-scenario"}' > "$dir/bad.json"
"$fpusim" run "$dir/bad.json" --perfetto "$dir/none.json" --vcd "$dir/none.vcd" >/dev/null 2>&1
if [ ! -e "$dir/none.json" ] && [ ! -e "$dir/none.vcd" ] && [ -z "$(ls "$dir" | grep tmp)" ]; then
  ok "bad input writes no timeline"
else
  bad "bad input writes no timeline"
fi
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]

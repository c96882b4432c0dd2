#!/usr/bin/env python3
"""make_corpus.py: writes the bad-input corpus of this folder (every file but
this script) and its CASES manifest, which tests/bad_input_test.sh walks.
Run from anywhere after scripts/setup.sh (the binary traces are made with
build/fpusim convert); then check that the test passes and read the messages.
Cases added by hand go into this script, so that the corpus stays one
program's output."""
import json, os, copy, struct
D=os.path.dirname(os.path.abspath(__file__))
ROOT=os.path.dirname(os.path.dirname(D))
for f in os.listdir(D):
    if not f.endswith('.py'): os.remove(os.path.join(D,f))
cases=[]  # (file, path, expect, args)
base={"format":"fpusim-scenario","version":1,"name":"bad-base","description":"valid base of the bad-input corpus",
 "machine":"intel-sapphire-rapids","costs":"intel-like","policy":"deferred","cpus":2,
 "contexts":[{"name":"A"},{"name":"B"}],
 "events":[{"t":0,"cpu":0,"ev":"switch","next":"A"},{"t":100,"cpu":0,"ev":"use","write":["sse","ymm"]},
           {"t":1000,"cpu":0,"ev":"switch","next":"B"},{"t":1100,"cpu":0,"ev":"use","write":["sse"]}],
 "expect":{"deferred":{"totals":{"saves":1}}}}
def write(name, obj=None, text=None, binary=None):
    p=os.path.join(D,name)
    if binary is not None: open(p,'wb').write(binary)
    elif text is not None: open(p,'w').write(text)
    else: open(p,'w').write(json.dumps(obj,indent=1)+"\n")
    return name
def scen(name, mutate, path, expect, cmd="run"):
    s=copy.deepcopy(base); mutate(s); write(name, s)
    cases.append((name, path, expect, cmd+" {}"))
# --- top-level keys: missing required, wrong type, unknown
for k in ["format","version","name","description","machine","costs","policy"]:
    scen(f"scenario-missing-{k}.json", lambda s,k=k: s.pop(k), "", f'"{k}"')
for k,v,exp in [("format","fpusim-trace","fpusim-scenario"),("version",2,"1"),("name","",""),("description",5,"string"),
                ("machine",7,""),("costs",[1],""),("policy","nosuch","nosuch"),("cpus",0,""),("cpus",5000,""),
                ("cpus","two",""),("contexts",[],""),("contexts","A",""),("events",{},"array"),("expect",[],"object"),("vms",{},"array")]:
    scen(f"scenario-{k}-{str(v).replace(' ','_').replace('[','').replace(']','').replace('{','').replace('}','') or 'empty'}.json", lambda s,k=k,v=v: s.__setitem__(k,v), f"/{k}", exp)
scen("scenario-unknown-key.json", lambda s: s.__setitem__("colour","blue"), "/colour", "")
scen("scenario-events-and-workload.json", lambda s: s.__setitem__("workload",{"duration":1000,"tasks":[{"name":"w","burst":{"min":1,"max":2}}]}), "/", 'give one of "events", "events_file" or "workload"')
scen("scenario-no-events.json", lambda s: s.pop("events"), "/", 'missing required key "events"')
scen("scenario-events-file-missing.json", lambda s: (s.pop("events"), s.__setitem__("events_file","nosuch.jsonl")), "/events_file", "nosuch.jsonl")
scen("scenario-context-duplicate.json", lambda s: s["contexts"].append({"name":"A"}), "/contexts/2/name", "duplicate")
scen("scenario-context-bad-name.json", lambda s: s["contexts"].append({"name":"has space"}), "/contexts/2/name", "")
scen("scenario-context-bad-kind.json", lambda s: s["contexts"].append({"name":"C","kind":"daemon"}), "/contexts/2/kind", "")
scen("scenario-expect-unknown-policy.json", lambda s: s.__setitem__("expect",{"nosuch":{}}), "/expect/nosuch", "nosuch")
scen("scenario-expect-unknown-stat.json", lambda s: s["expect"]["deferred"]["totals"].__setitem__("speed",1), "/expect/deferred/totals/speed", "speed")
scen("scenario-expect-bad-bound.json", lambda s: s["expect"]["deferred"]["totals"].__setitem__("saves",{"min":"x"}), "/expect/deferred/totals/saves/min", "")
scen("scenario-expect-per-context-unknown.json", lambda s: s["expect"]["deferred"].__setitem__("per_context",{"Z":{"saves":1}}), "/expect/deferred/per_context/Z", "names no context")
scen("scenario-expect-unknown-violation.json", lambda s: s["expect"]["deferred"].__setitem__("violations",{"smelly":0}), "/expect/deferred/violations/smelly", "")
scen("scenario-machine-missing-preset.json", lambda s: s.__setitem__("machine","nosuch-machine"), "/machine", "nosuch-machine")
scen("scenario-costs-missing-preset.json", lambda s: s.__setitem__("costs","nosuch-costs"), "/costs", "nosuch-costs")
scen("scenario-machine-is-directory.json", lambda s: s.__setitem__("machine","/tmp/"), "/machine", "")
scen("scenario-number-overflow.json", lambda s: s["events"][0].__setitem__("t",1e400) if False else None, "", "")
os.remove(os.path.join(D,"scenario-number-overflow.json")); cases.pop()
write("scenario-number-overflow.json", text=json.dumps(base).replace('"t": 100,','"t": 1e400,'))
cases.append(("scenario-number-overflow.json","","1e400","run {}"))
dup=json.dumps(base, indent=1).replace('"cpus": 2,','"cpus": 2,\n "cpus": 3,')
l1=dup.split('\n').index(' "cpus": 2,')+1
write("scenario-duplicate-key.json", text=dup)
cases.append(("scenario-duplicate-key.json","/",f'the key "cpus" is given twice in this object (lines {l1} and {l1+1})',"run {}"))
write("scenario-not-json.json", text="{\"format\": \"fpusim-scenario\", \n")
cases.append(("scenario-not-json.json","","line","run {}"))
write("scenario-empty.json", text="")
cases.append(("scenario-empty.json","","invalid JSON at line 1, column 1","run {}"))
write("scenario-binary.json", binary=b"\x00\x01\x02FPU\xff\xfe")
cases.append(("scenario-binary.json","","invalid JSON at line 1","run {}"))
# --- events: every kind with a missing key and a bad value
ev_kinds={
 "switch":{"next":"A"},"use":{"write":["sse"]},"syscall":{},"return_to_user":{},"kernel_fpu":{"in":"task","dur":10},
 "irq":{"dur":10},"signal":{},"sigreturn":{},"fork":{"child":"B"},"exec":{},"exit":{},
 "state_read":{"target":"B"},"state_write":{"target":"B","write":["sse"]},"xcomp_perm":{"features":["xtiledata"]},
}
for kind,fields in ev_kinds.items():
    for fk in fields:
        def m(s,kind=kind,fields=fields,fk=fk):
            e={"t":2000,"cpu":0,"ev":kind}; e.update({k:v for k,v in fields.items() if k!=fk}); s["events"].append(e)
        scen(f"event-{kind}-missing-{fk}.json", m, "/events/4", "")
    def mu(s,kind=kind,fields=fields):
        e={"t":2000,"cpu":0,"ev":kind}; e.update(fields); e["colour"]="blue"; s["events"].append(e)
    scen(f"event-{kind}-unknown-key.json", mu, "/events/4/colour", "colour")
for name,e,path,exp in [
  ("event-unknown-kind",{"t":2000,"cpu":0,"ev":"teleport"},"/events/4/ev","teleport"),
  ("event-cpu-too-large",{"t":2000,"cpu":9,"ev":"syscall"},"/events/4/cpu",""),
  ("event-t-backwards",{"t":5,"cpu":0,"ev":"syscall"},"/events/4/t",""),
  ("event-t-negative",{"t":-1,"cpu":0,"ev":"syscall"},"/events/4/t",""),
  ("event-t-string",{"t":"now","cpu":0,"ev":"syscall"},"/events/4/t",""),
  ("event-switch-unknown-context",{"t":2000,"cpu":0,"ev":"switch","next":"Z"},"/events/4/next","Z"),
  ("event-use-unknown-component",{"t":2000,"cpu":0,"ev":"use","write":["sse","warp"]},"/events/4/write/1","warp"),
  ("event-kernel-fpu-bad-in",{"t":2000,"cpu":0,"ev":"kernel_fpu","in":"nmi","dur":1},"/events/4/in","nmi"),
  ("event-not-object",["switch"],"/events/4",""),
  ("event-kvm-run-unknown-vcpu",{"t":2000,"cpu":0,"ev":"kvm_run","vcpu":"v9"},"/events/4/vcpu","v9"),
  ("event-vm-exit-bad-reason",{"t":2000,"cpu":0,"ev":"vm_exit","reason":"boredom"},"/events/4/reason","boredom"),
  ("event-guest-wrmsr-bad-msr",{"t":2000,"cpu":0,"ev":"guest_wrmsr","msr":"efer","value":[]},"/events/4/msr","efer"),
]:
    scen(f"{name}.json", lambda s,e=e: s["events"].append(e), path, exp)
# semantic errors: valid syntax the kernel cannot do
scen("semantic-use-in-kernel.json", lambda s: s["events"].extend([{"t":2000,"cpu":0,"ev":"syscall"},{"t":2100,"cpu":0,"ev":"use","write":["sse"]}]), "/events/5", "")
scen("semantic-sigreturn-without-frame.json", lambda s: s["events"].append({"t":2000,"cpu":0,"ev":"sigreturn"}), "/events/4", "")
scen("semantic-switch-to-running.json", lambda s: s["events"].append({"t":2000,"cpu":1,"ev":"switch","next":"B"}), "/events/4/next", "running on CPU 0")
# --- workloads
wl={"seed":1,"duration":100000,"timeslice":10000,"tasks":[{"name":"w","count":2,"burst":{"min":100,"max":200}}]}
def wscen(name, mut, path, exp):
    def m(s):
        s.pop("events"); s.pop("expect"); s.pop("contexts"); w=copy.deepcopy(wl); mut(w); s["workload"]=w
    scen(name, m, path, exp)
wscen("workload-duration-huge.json", lambda w: w.__setitem__("duration",2**53-1), "/workload/duration", "10^11")
wscen("workload-irq-rate-huge.json", lambda w: w.__setitem__("irqs",{"per_million_cycles":2e18,"dur":10}), "/workload/irqs/per_million_cycles", "")
wscen("workload-no-tasks.json", lambda w: w.__setitem__("tasks",[]), "/workload/tasks", "")
wscen("workload-burst-inverted.json", lambda w: w["tasks"][0].__setitem__("burst",{"min":300,"max":200}), "/workload/tasks/0/burst", "")
wscen("workload-task-count-zero.json", lambda w: w["tasks"][0].__setitem__("count",0), "/workload/tasks/0/count", "")
wscen("workload-fp-probability.json", lambda w: w["tasks"][0].__setitem__("fp",{"probability":1.5,"write":["sse"]}), "/workload/tasks/0/fp/probability", "")
# --- machines (through `layout FILE`)
mach=json.load(open(ROOT+'/configs/machines/amd-zen3.json'))
def mcase(name, mut, path, exp):
    m=copy.deepcopy(mach); mut(m); write(name, m); cases.append((name, path, exp, "layout {}"))
for k in ["name","arch","cpus","frequency_mhz","xsave_instruction","cpuid_0xd","os"]:
    mcase(f"machine-missing-{k}.json", lambda m,k=k: m.pop(k), "/arch" if k=="arch" else "", f'"{k}"' if k!="arch" else "(missing)")
mcase("machine-xsave-instruction-bad.json", lambda m: m.__setitem__("xsave_instruction","fxsave9"), "/xsave_instruction", "")
mcase("machine-frequency-zero.json", lambda m: m.__setitem__("frequency_mhz",0), "/frequency_mhz", "")
mcase("machine-xcr0-not-hex.json", lambda m: m["os"].__setitem__("xcr0","seven"), "/os/xcr0", "")
mcase("machine-xcr0-beyond-cpuid.json", lambda m: m["os"].__setitem__("xcr0","0x2e7"), "/os/xcr0", "")
# fuzz-presets found this (CI, 2026-12-05): a dump_xcr0 naming a component
# the table does not describe reached the size computation (internal error).
mcase("machine-dump-xcr0-beyond-cpuid.json", lambda m: m["cpuid_0xd"].__setitem__("dump_xcr0","0x21f"), "/cpuid_0xd/dump_xcr0", "bndregs")
mcase("machine-dump-xss-user-bit.json", lambda m: m["cpuid_0xd"].__setitem__("dump_xss","0x4"), "/cpuid_0xd/dump_xss", "ymm is a user component")
mcase("machine-arch-unknown.json", lambda m: m.__setitem__("arch","riscv"), "/arch", 'got "riscv"')
mcase("machine-component-unknown.json", lambda m: m["cpuid_0xd"]["components"].__setitem__("warp",{"eax":"0x1","ebx":"0x0","ecx":"0x0"}), "/cpuid_0xd/components/warp", "warp")
# --- costs (through run with --set costs=FILE)
costs=json.load(open(ROOT+'/configs/costs/intel-like.json'))
write("costs-base-scenario.json", base)
def ccase(name, mut, path, exp):
    c=copy.deepcopy(costs); mut(c); write(name, c)
    s=copy.deepcopy(base); s["costs"]=name; sn=name.replace(".json","-scenario.json"); write(sn, s)
    cases.append((name, path, exp, "run {dir}/"+sn))
ck=[k for k in costs if k not in ("name","description")]
ccase("costs-missing-nm_trap.json", lambda c: c.pop("nm_trap"), "", "nm_trap")
ccase("costs-negative.json", lambda c: c["nm_trap"].__setitem__("value",-5), "/nm_trap/value", "")
ccase("costs-no-source.json", lambda c: c["nm_trap"].pop("source"), "/nm_trap", "source")
ccase("costs-unknown-key.json", lambda c: c.__setitem__("teleport",{"value":1,"source":"x"}), "/teleport", "")
ccase("costs-value-string.json", lambda c: c["nm_trap"].__setitem__("value","fast"), "/nm_trap/value", "")
# --- sweep grids
grid={"format":"fpusim-sweep","version":1,"name":"bad","description":"bad grids","scenario":"costs-base-scenario.json",
      "policies":["eager","lazy"],"parameters":{"costs.nm_trap.value":[250,500]}}
def gcase(name, mut, path, exp):
    g=copy.deepcopy(grid); mut(g); write(name, g); cases.append((name, path, exp, "sweep {} -o {out}/sweep"))
gcase("sweep-missing-scenario.json", lambda g: g.pop("scenario"), "", "scenario")
gcase("sweep-scenario-nosuch.json", lambda g: g.__setitem__("scenario","nosuch.json"), "/scenario", "nosuch.json")
gcase("sweep-policy-unknown.json", lambda g: g.__setitem__("policies",["eager","warp"]), "/policies/1", "warp")
gcase("sweep-parameter-empty.json", lambda g: g["parameters"].__setitem__("costs.nm_trap.value",[]), "/parameters/costs.nm_trap.value", "")
gcase("sweep-parameter-bad-key.json", lambda g: g["parameters"].__setitem__("costs..nm",[1]), "/parameters/costs..nm", "")
gcase("sweep-too-many-points.json", lambda g: g.__setitem__("parameters",{"costs.nm_trap.value":list(range(1,1001)),"costs.clts.value":list(range(1,1001))}), "/parameters", "")
# --- events files (JSON lines) and binary traces
def jl(name, lines, path, exp):
    write(name, text="\n".join(lines)+"\n")
    s=copy.deepcopy(base); s.pop("events"); s["events_file"]=name; s.pop("expect")
    sn=name.replace(".jsonl","-scenario.json"); write(sn, s)
    cases.append((name, path, exp, "run {dir}/"+sn))
jl("jsonl-not-json.jsonl", ['{"t":0,"cpu":0,"ev":"switch","next":"A"}','{"t":1,'], "", "jsonl-not-json.jsonl:2: /: invalid JSON")
jl("jsonl-missing-ev.jsonl", ['{"t":0,"cpu":0,"ev":"switch","next":"A"}','{"t":10,"cpu":0}'], "", 'jsonl-missing-ev.jsonl:2: /: missing required key "ev"')
jl("jsonl-bad-context.jsonl", ['{"t":0,"cpu":0,"ev":"switch","next":"Q"}'], "", "Q")
jl("jsonl-array-line.jsonl", ['[1,2,3]'], "", "jsonl-array-line.jsonl:1: /: expected an event object")
jl("jsonl-time-backwards.jsonl", ['{"t":50,"cpu":0,"ev":"switch","next":"A"}','{"t":5,"cpu":0,"ev":"syscall"}'], "", "time goes backwards")
# binary: a good .fpt of the base, then each header field damaged
import subprocess
env=dict(os.environ, SYSTEMC_DISABLE_COPYRIGHT_MESSAGE="1", FPUSIM_CONFIG_DIR=ROOT+"/configs")
s=copy.deepcopy(base); s.pop("expect"); s["events"].append({"t":1200,"cpu":1,"ev":"switch","next":None}); write("fpt-source.json", s)
subprocess.run([ROOT+"/build/fpusim","convert",os.path.join(D,"fpt-source.json"),"-o",os.path.join(D,"fpt-good.json")],env=env,check=True,capture_output=True)
good=open(os.path.join(D,"fpt-good.fpt"),"rb").read()
for f in ("fpt-source.json","fpt-good.json","fpt-good.fpt"): os.remove(os.path.join(D,f))
def fpt(name, data, exp):
    write(name, binary=data)
    s=copy.deepcopy(base); s.pop("events"); s["events_file"]=name; s.pop("expect")
    sn=name.replace(".fpt","-scenario.json"); write(sn, s)
    cases.append((name, "", exp, "run {dir}/"+sn))
fpt("fpt-bad-magic.fpt", b"XPUSIMT1"+good[8:], "bad magic")
fpt("fpt-version-99.fpt", good[:8]+struct.pack("<I",99)+good[12:], "version 99")
fpt("fpt-cpus-zero.fpt", good[:12]+struct.pack("<I",0)+good[16:], "0 CPUs (expected 1..4096)")
fpt("fpt-cpus-one.fpt", good[:12]+struct.pack("<I",1)+good[16:], "beyond the header's 1 CPU")
fpt("fpt-count-too-large.fpt", good[:16]+struct.pack("<Q",1000)+good[24:], "truncated")
fpt("fpt-count-too-small.fpt", good[:16]+struct.pack("<Q",1)+good[24:], "more records")
fpt("fpt-jsonl-flag.fpt", good[:24]+b"\x07"+good[25:], "malformed header")
fpt("fpt-origin-length-huge.fpt", good[:25]+struct.pack("<I",0x7fffffff)+good[29:], "header")
olen=struct.unpack("<I",good[25:29])[0]
p=29+olen
fpt("fpt-context-count-wrong.fpt", good[:p]+struct.pack("<I",5)+good[p+4:], "truncated header")
fpt("fpt-truncated-header.fpt", good[:20], "truncated header")
fpt("fpt-truncated-records.fpt", good[:-3], "truncated")
fpt("fpt-empty.fpt", b"", "bad magic")
# --- real traces (import)
def imp(name, data, exp, args="import {} -o {out}/x.json"):
    write(name, binary=data if isinstance(data,bytes) else data.encode()); cases.append((name, "", exp, args))
imp("trace-empty.txt", "", "no trace record found")
imp("trace-no-fpu-events.txt", "  bash-1 [000] d..2. 1.000000: sched_switch: prev_comm=bash prev_pid=1 prev_prio=120 prev_state=S ==> next_comm=swapper/0 next_pid=0 next_prio=120\n", "none of its 1 records is an FPU event")
imp("trace-binary-junk.txt", b"\x00\x00\x7fELF\x01", "a binary file that is not a trace.dat")
imp("trace-dat-header-only.dat", open(ROOT+'/tests/fixtures/real/yield_pair_full.trace.dat','rb').read()[:400], "not a readable trace.dat")
imp("trace-kernel-too-old.txt", open(ROOT+'/tests/fixtures/real/yield_pair.trace.txt').read(), "older kernels are not supported", "import {} -o {out}/x.json --kernel 4.19")
imp("trace-machine-unknown.txt", open(ROOT+'/tests/fixtures/real/sleep_valid.trace.txt').read(), "--machine nosuch: ", "validate {} --machine nosuch")
with open(os.path.join(D,'CASES'),'w') as f:
    f.write("# The bad-input corpus: FILE|JSON PATH|FRAGMENT|ARGUMENTS. Each case must exit 2 with one line\n"
            "# on stderr naming FILE, giving \": PATH: \" (when not empty) and containing FRAGMENT, write nothing,\n"
            "# and leave a pre-existing report untouched. {} is the file, {dir} this folder, {out} a scratch folder.\n"
            "# Made by hand and by a script once; tests/bad_input_test.sh walks it.\n")
    for c in cases: f.write("|".join(c)+"\n")
print(len(cases), "cases")

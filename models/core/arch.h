// The architecture interface: everything the shared code (the platform, the
// replayer, the scheduler, the writers) knows about an architecture, and the
// only way it reaches one. An architecture lives in its own folder
// (models/<arch>/) and registers an Arch under its name; the machine preset's
// architecture picks it.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <ostream>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "models/core/bugs.h"
#include "models/core/checker.h"
#include "models/core/context.h"
#include "models/core/event.h"
#include "models/core/machine.h"
#include "models/core/event_syntax.h"
#include "models/core/observer.h"
#include "models/core/state_key.h"
#include "models/core/stats.h"
#include "models/core/summary.h"

namespace fpusim {

struct Scenario;  // sim/input/presets.h
class JsonIn;     // sim/input/json_input.h
namespace trace_import {
class TraceImporter;  // sim/import/importer.h
}

// A trap-control register shown per CPU in timelines: the Perfetto counter
// "cpuN <display>" with argument <arg>, the VCD variable "cpuN.traps.<vcd>".
struct ControlInfo {
  std::string_view display;
  std::string_view arg;
  std::string_view vcd;
  unsigned width;  // bits; 1 = a flag
};

// One run's architecture side: the host kernel (and KVM) agent under its
// policy, with its CPUs and contexts. The platform hands it every event.
class ArchAgent {
 public:
  virtual ~ArchAgent() = default;
  // Handles `e` on `cpu` at effective time `t`, with the checker's exposure
  // accounting around it (Checker::advance at `t`, Checker::update at its
  // end, t + cost + e.dur); returns the cycles of FPU management it cost
  // there. Throws SemanticError for what the modelled kernel cannot do.
  // One virtual call per event: the replay's hot path.
  virtual Cycles handle(CpuId cpu, Cycles t, const Event& e) = 0;
  virtual ContextBase& context(ContextId id) = 0;
  virtual CpuView cpu_view(CpuId cpu) const = 0;
  virtual void add_observer(Observer* o) = 0;
  // Scheduled mode: the running task asks for the machine's dynamically
  // enabled features (those a task must request before first use); with
  // the exposure accounting, as handle().
  virtual Cycles request_dynamic_features(CpuId cpu, Cycles t) = 0;
  // Per context: the thread that runs it (a vCPU's guest state), else
  // kNoContext; a use may name the guest its thread runs.
  virtual std::vector<ContextId> runner_threads() const = 0;
  // The run's model state as `fpusim explore`'s key (models/core/state_key.h):
  // the agent's, its policy's and its checker's, everything its future
  // depends on.
  virtual void state_key(StateKey& k) const = 0;
  // A copy of this run's state that goes on by itself (explore tries each
  // event on a copy), counting into `stats` and checked by `checker`, a copy
  // of this run's checker (Checker's copy constructor); without observers.
  virtual std::unique_ptr<ArchAgent> clone(Stats& stats, Checker& checker) const = 0;
};

// The named policy a run uses, as the shared code sees it. A run with bugs
// (`--bug`) has one of its own, made by policy_with_bugs(): `base` is the
// registered policy the bugs break and `bugs` are the bugs.
struct PolicyDesc {
  PolicyDesc() = default;
  PolicyDesc(std::string n, std::string k, std::string d)
      : name(std::move(n)), kernels(std::move(k)), description(std::move(d)) {}
  std::string name;
  std::string kernels;      // which kernel versions behaved so (or "research, not in Linux")
  std::string description;
  const PolicyDesc* base = nullptr;
  std::vector<const BugDesc*> bugs;
  // The registered policy under the bugs.
  const PolicyDesc& registered() const { return base ? *base : *this; }
};

// A policy a plugin adds (models/plugin.h), as the shared code sees it;
// each architecture's plugin type derives from it (x86::PluginPolicy).
struct PluginPolicy {
  virtual ~PluginPolicy() = default;
  virtual std::string_view arch() const = 0;  // the Arch::name() it is for
  virtual const PolicyDesc& desc() const = 0;
};

// What `fpusim explore` (sim/app/explore.h) needs of an architecture
// besides the core events; JSON documents as text.
struct ExploreParts {
  std::string costs;                 // the cost preset the machine goes with
  std::string vms;                   // the scenario's "vms" for the vCPUs asked for ("": none)
  std::vector<std::string> threads;  // the vCPU threads "vms" names, declared as contexts after the tasks
  // The component lists (JSON arrays) its use letters write; the first is
  // also what a ptrace state_write writes.
  std::vector<std::string> uses;
  std::vector<std::string> letters;  // its own events: JSON objects without "t" and "cpu"
  // Its own events aimed at a task (ptrace kinds): one letter per task,
  // "target" naming it.
  std::vector<std::string> task_letters;
};

// The VM every architecture's explore_parts() declares: "vm0" with vCPUs
// vcpu0.. run by threads vmm0.., and the run-loop letters (kvm_run of each,
// vm_entry, vm_exit with `exit_reason`, kvm_return).
// `vm_keys`: more keys of the VM (JSON members, "" for none).
void add_explore_vm(ExploreParts& p, unsigned vcpus, std::string_view exit_reason, const std::string& vm_keys = "");

class Arch {
 public:
  virtual ~Arch() = default;
  virtual std::string_view name() const = 0;

  // ---- presets and scenarios ----
  // A machine or cost preset (its JSON document, already read), validated
  // against the architecture's schema; InputError naming `file`.
  virtual std::shared_ptr<MachineBase> load_machine(const nlohmann::json& doc, const std::string& file) const = 0;
  virtual std::shared_ptr<const CostsBase> load_costs(const nlohmann::json& doc, const std::string& file) const = 0;
  // Reads the scenario's sections that are the architecture's (x86: "vms")
  // into s.arch_part; may declare contexts (s.contexts, `names`: name ->
  // index). Runs after "contexts" is read.
  virtual void load_scenario_part(const JsonIn& scenario, Scenario& s, std::map<std::string, size_t>& names,
                                  const std::string& file) const = 0;
  // The workload task key that asks for the dynamically enabled features at
  // the task's start (ArchAgent::request_dynamic_features; x86:
  // "amx_permission").
  virtual std::string_view dynamic_permission_key() const = 0;
  // A JSON array of component names (a workload's "write").
  virtual ComponentMask components_from_json(const JsonIn& names) const = 0;
  // The names its events use besides the contexts' (x86: VMs, vCPUs).
  virtual void add_names(const Scenario& s, std::unordered_map<std::string, ContextId>& ids) const = 0;
  // `fpusim layout MACHINE`: the machine's state components and layouts.
  virtual void print_layout(std::ostream& os, const MachineBase& m) const = 0;

  // ---- state components ----
  virtual std::string component_name(unsigned i) const = 0;
  // A mask as reports print it ("sse|ymm").
  virtual std::string components_string(ComponentMask m) const = 0;
  // Bytes of each component on `scenario`'s machine (the checker's weights).
  virtual std::array<std::uint32_t, kMaxComponents> component_bytes(const Scenario& s) const = 0;

  // ---- statistics ----
  virtual const std::vector<CauseInfo>& causes() const = 0;
  // Its groups, after the core group (ids from kNumCoreStats on).
  virtual std::vector<const StatGroup*> stat_groups() const = 0;
  // The counters a report lists under "traps_by_kind", with their keys.
  virtual std::vector<std::pair<std::string_view, StatId>> trap_kinds() const = 0;
  // Trap-control registers per CPU (CpuView::controls, in this order).
  virtual const std::vector<ControlInfo>& controls() const = 0;

  // ---- reports ----
  // What the headers of the text summary and the comparison say about the
  // machine after its CPU count (x86: the save instruction).
  virtual std::string machine_brief(const Scenario& s) const = 0;
  // Its sections of the JSON report: report["machine"]["derived"] (what it
  // derives from the machine preset) and any of its own.
  virtual void report_sections(nlohmann::json& report, const Scenario& s, const PolicyDesc& policy) const = 0;
  // After the traps total of the text summary: its breakdown, "(...)".
  virtual std::string trap_detail(const Stats& st) const = 0;
  // The text summary's rows of this architecture, after the traps row.
  virtual void summary_rows(SummaryTable& t, const Scenario& s, const PolicyDesc& policy, const Stats& st) const = 0;
  // `fpusim compare`'s rows of this architecture: after the traps row
  // (`tail` false) and at the end of the table (`tail` true).
  virtual std::vector<CompareRow> compare_rows(const Scenario& s, bool tail) const = 0;

  // ---- events ----
  // How traces write its events (keys, kinds, component names), for the
  // shared decoders.
  virtual const EventSyntax& event_syntax() const = 0;
  // Kinds whose effect reaches other CPUs' contexts: no later event is
  // processed before one of them (Replayer::is_barrier).
  virtual std::uint32_t barrier_kinds() const = 0;

  // ---- exploration ----
  // Explore's parts on machine `m` under `policy` (a registered one, or one
  // with bugs) with `vcpus` vCPUs (each with a thread of its own, in one
  // VM with what the policy's KVM gives a guest).
  virtual ExploreParts explore_parts(const MachineBase& m, const PolicyDesc& policy, unsigned vcpus) const = 0;

  // ---- the bug corpus (models/core/bugs.h) ----
  // Its bugs, in the order `fpusim list bugs` shows them.
  virtual const std::vector<BugDesc>& bugs() const = 0;

  // ---- policies and runs ----
  // The named policy, or null.
  virtual const PolicyDesc* find_policy(std::string_view name) const = 0;
  // "eager, lazy, ..." for error messages.
  virtual std::string policy_names() const = 0;
  // Its policies as `fpusim list policies` shows them, in order.
  virtual std::vector<const PolicyDesc*> policies() const = 0;
  // A policy a plugin adds (models/plugin.h): check_plugin_policy() says why
  // it cannot be added ("" if it can: the architecture's type, complete, its
  // name free); add_plugin_policy() lists it after the built-in ones.
  virtual std::string check_plugin_policy(const PluginPolicy& p) const = 0;
  virtual void add_plugin_policy(std::unique_ptr<PluginPolicy> p) const = 0;
  // A run of `s` under `policy` (from resolve_policy: a registered policy,
  // or one with bugs whose base is registered), watched by `observers`
  // from its start. `ids`: the names events are decoded with, name_table(s)
  // (contexts numbered in s.contexts' order, and add_names()'s).
  virtual std::unique_ptr<ArchAgent> make_agent(const Scenario& s, const PolicyDesc& policy, Stats& stats,
                                                Checker& checker,
                                                const std::unordered_map<std::string, ContextId>& ids,
                                                const std::vector<Observer*>& observers) const = 0;
  // Real kernel traces of this architecture (`fpusim import`, `fpusim
  // validate`; sim/import/importer.h); null if it has no importer yet.
  virtual const trace_import::TraceImporter* trace_importer() const { return nullptr; }
};

// The registry of architectures, by name.
void register_arch(const Arch* a);
const Arch* find_arch(std::string_view name);
std::vector<const Arch*> archs();

// The architecture a machine document names in "arch". With one
// architecture in the build a document without a valid "arch" goes to it
// (its loader then says what is wrong); otherwise InputError.
const Arch& arch_of_machine(const nlohmann::json& doc, const std::string& file);
// The architecture `name`, or InputError naming `file` and `path`.
const Arch& arch_named(std::string_view name, const std::string& file, const std::string& path);
// The policy `spelling` of `arch`: a registered name, "NAME --bug BUG ...",
// or a bug's alias; InputError naming `file` and `path` with the valid names.
const PolicyDesc& resolve_policy(const Arch& arch, std::string_view spelling, const std::string& file,
                                 const std::string& path);
// The bug `name` of `arch`: its full name or a prefix of at least 7
// characters that names one bug (as git abbreviates commits). find_bug:
// null if none (InputError naming `file` and `path` if the prefix fits two);
// resolve_bug: InputError for none either.
const BugDesc* find_bug(const Arch& arch, std::string_view name, const std::string& file, const std::string& path);
const BugDesc& resolve_bug(const Arch& arch, std::string_view name, const std::string& file, const std::string& path);
// `policy` with `bugs` added (each must break policy.registered(), else
// InputError): one object per distinct run, named "POLICY --bug A --bug B"
// with the bugs in the architecture's order; `policy` itself if none.
const PolicyDesc& policy_with_bugs(const Arch& arch, const PolicyDesc& policy, const std::vector<const BugDesc*>& bugs,
                                   const std::string& file, const std::string& path);
// The bits of `policy`'s bugs for `arch`'s agent (BugDesc::bit); each must
// be one of arch.bugs() (resolve_policy made sure).
std::uint32_t bug_bits(const Arch& arch, const PolicyDesc& policy);
// Whether `bug` breaks `policy` (its registered policy is one of bug.breaks).
bool bug_breaks(const BugDesc& bug, const PolicyDesc& policy);
// The command line's `--bug` NAMES applied to the runs of a command: each
// of `policies` with the bugs that break it, unchanged if none does;
// InputError (naming "--bug") for an unknown bug or one that breaks none of
// them.
std::vector<const PolicyDesc*> apply_cli_bugs(const Arch& arch, const std::vector<const PolicyDesc*>& policies,
                                              const std::vector<std::string>& names);
// Where the architecture is not known yet (a sweep grid): a policy of any
// architecture.
const PolicyDesc& resolve_policy_any(std::string_view name, const std::string& file, const std::string& path);

// The counters of a run on `a`: the core group, then a's groups.
StatSet stat_set(const Arch& a);
// Every counter this build knows, by name: the core group, then each
// architecture's groups (for listings, sweeps and expectations, which go by
// name; ids are per architecture).
std::vector<const StatInfo*> all_stats();
const StatInfo* find_stat(std::string_view name);

}  // namespace fpusim

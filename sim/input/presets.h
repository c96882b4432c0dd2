// Loading machine and cost presets (configs/machines, configs/costs) and
// scenarios into typed structs. Schema-validated first, then read through
// JsonIn so that every key is consumed.
#pragma once

#include <array>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "models/core/arch.h"
#include "models/core/context.h"
#include "models/core/machine.h"
#include "models/core/stats.h"
#include "sim/input/json_input.h"

namespace fpusim {

// A --set KEY=VALUE override. KEY is a dotted path: "machine.X" and
// "costs.X" address the machine and cost documents, anything else the
// scenario (e.g. "policy", "cpus").
struct Override {
  std::string key;
  std::string value;
};
Override parse_override(const std::string& text);  // "a.b=3"
// Applies the overrides whose first component is `doc_name` ("" for the
// scenario); VALUE is parsed as JSON, else taken as a string.
void apply_overrides(Json& doc, const std::vector<Override>& sets, const std::string& doc_name);
// `file` followed by " (with --set KEY=VALUE, ...)" listing the overrides that
// apply to `doc_name`, for messages about a document the overrides changed.
std::string with_overrides(const std::string& file, const std::vector<Override>& sets, const std::string& doc_name);

// Resolves a preset name to configs/<kind>/<name>.json; a value containing
// '/' or ending in .json is a path, relative to `relative_to`'s directory.
std::string preset_path(const std::string& kind, const std::string& name_or_path, const std::string& relative_to);
std::vector<std::string> list_presets(const std::string& kind);


// The keys every architecture's machine preset has (MachineBase: name,
// description, sources, arch, cpus, frequency_mhz, lazyfp_vulnerable), for
// the architectures' loaders (Arch::load_machine).
void read_machine_base(const JsonIn& in, MachineBase& m);

struct Bound {
  std::uint64_t min = 0;
  std::uint64_t max = UINT64_MAX;
  bool contains(std::uint64_t v) const { return v >= min && v <= max; }
  std::string str() const;
};

struct Expectation {
  const PolicyDesc* policy = nullptr;  // whose run it checks (the "expect" key)
  std::vector<std::pair<std::string, Bound>> totals;  // by counter name
  // Per context (fpusim import writes the kernel's counts per task): by
  // context name, then counter name.
  std::vector<std::pair<std::string, std::vector<std::pair<std::string, Bound>>>> per_context;
  std::array<std::optional<Bound>, kNumViolationKinds> violations;  // by ViolationKind
};

struct ContextDecl {
  std::string name;
  ContextKind kind = ContextKind::kUser;
  std::string process;
};

// Scheduled mode: synthetic tasks run by the HostScheduler instead of a
// trace (traces/README.md, "Workloads").
struct TaskClass {
  std::string name;
  unsigned count = 1;
  Cycles burst_min = 0, burst_max = 0;  // user-mode computation between blocking points
  double fp_probability = 0;            // share of bursts that use FP/SIMD
  ComponentMask fp_write = 0;           // what those bursts write
  unsigned fp_uses = 1;                 // uses spread over such a burst
  double sleep_probability = 0;         // a burst ends in a blocking syscall
  Cycles sleep_min = 0, sleep_max = 0;
  double syscall_probability = 0;       // a burst ends in a non-blocking syscall
  // Asks for the dynamically enabled features at start (the key
  // Arch::dynamic_permission_key() names; ArchAgent::request_dynamic_features).
  bool dynamic_permission = false;
  int cpu = -1;                         // initial CPU; -1 = round robin
};

struct Workload {
  std::uint64_t seed = 1;
  Cycles duration = 0;
  Cycles timeslice = 0;
  Cycles wakeup_granularity = 0;  // 0 = a woken task waits for the slice end
  Cycles balance_interval = 0;    // 0 = no load balancing
  double irq_per_million_cycles = 0;
  double irq_kernel_fpu_probability = 0;
  Cycles irq_dur = 0;
  std::vector<TaskClass> tasks;
  double max_events = 0;  // an upper bound on the events it makes (load_scenario)
};

struct Scenario {
  std::string file;
  std::string arch;  // the machine preset's "arch": picks the Arch (models/core/arch.h)
  std::string name;
  std::string description;
  const PolicyDesc* policy = nullptr;  // "policy", resolved (its machine's Arch::find_policy)
  // Loaded by the machine's architecture (Arch::load_machine, load_costs).
  std::shared_ptr<MachineBase> machine;
  std::shared_ptr<const CostsBase> costs;
  Json machine_json;  // resolved (with overrides), for reports
  Json costs_json;
  std::string machine_file;
  std::string costs_file;
  std::vector<ContextDecl> contexts;
  // The architecture's own sections (Arch::load_scenario_part; x86: VMs).
  std::shared_ptr<const ScenarioPart> arch_part;
  // Events: inline (kept as JSON) or a JSON-lines file streamed at run time.
  Json inline_events;
  std::string events_file;
  std::optional<Workload> workload;  // scheduled mode
  std::map<std::string, Expectation> expect;
};

// The names events are decoded with: contexts (by their index in
// `contexts`), and the architecture's (Arch::add_names).
std::unordered_map<std::string, ContextId> name_table(const Scenario& s);

// Loads, validates and resolves a scenario (machine and costs included).
Scenario load_scenario(const std::string& path, const std::vector<Override>& sets);
// The same for a document already read (`fpusim explore` builds its own);
// `path` names it in messages and presets resolve relative to it.
Scenario load_scenario_doc(Json doc, const std::string& path, const std::vector<Override>& sets);

}  // namespace fpusim

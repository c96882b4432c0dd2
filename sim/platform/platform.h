// The SystemC platform of one run: a Core module per CPU ("cpuN", with its
// "cpuN.regfile" and "cpuN.traps" children: sim/platform/cpu_modules.h)
// replaying its events at their effective times, or in scheduled mode the
// same CPU modules run by the HostScheduler ("host"); the host agent and
// policy they call, and the checker and stats observing them. One simulation
// per process: the SystemC kernel cannot be restarted.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "models/core/checker.h"
#include "models/core/arch.h"
#include "models/core/stats.h"
#include "sim/input/presets.h"

namespace fpusim {

struct RunResult {
  const Arch* arch = nullptr;
  const PolicyDesc* policy = nullptr;  // the one run_scenario was given
  Stats stats;
  std::vector<Violation> violations;
  std::uint64_t total_violations = 0;
  std::uint64_t peak_exposed_bytes = 0;
  std::vector<std::string> context_names;
  std::vector<Cycles> cpu_end;         // per CPU: effective time its last event ended
  std::uint64_t peak_buffered_events = 0;
  double wall_seconds = 0;
  // The SystemC modules of the platform, parents before their children:
  // "cpu0", "cpu0.regfile", "cpu0.traps", ..., and "host" in scheduled mode.
  std::vector<std::string> modules;
};

struct RunOptions {
  std::vector<Observer*> observers;  // operation log, Perfetto timeline
  std::string vcd_file;                   // SystemC VCD of per-CPU state; "" = none
  std::vector<ViolationKind> disabled_rules;  // checker rules switched off (Checker::disable)
};

// The architecture of the scenario's machine; InputError if this build has
// none of that name.
const Arch& scenario_arch(const Scenario& scenario);

// Replays `scenario` under `policy` (resolved once from its name by the
// caller, resolve_policy()) in this process. Throws InputError for a bad
// trace (with file and JSON path), InternalError for simulator bugs.
RunResult run_scenario(const Scenario& scenario, const PolicyDesc& policy, const RunOptions& options = {});

}  // namespace fpusim

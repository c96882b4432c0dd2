// What every architecture's machine and cost presets have, and the part of
// a scenario an architecture reads itself. An architecture extends them
// and loads them (Arch::load_machine, Arch::load_costs).
#pragma once

#include <string>
#include <vector>

namespace fpusim {

struct MachineBase {
  std::string name;
  std::string description;
  std::vector<std::string> sources;
  std::string arch;  // the Arch that loaded it (Arch::name())
  unsigned cpus = 1;
  double frequency_mhz = 1000;
  // Cores that speculate past a trap that guards register state (x86:
  // CVE-2018-3665, LazyFP): foreign live registers under an armed trap are
  // readable, so the checker's exposure counts as a violation.
  bool lazyfp_vulnerable = false;
  virtual ~MachineBase() = default;
};

struct CostsBase {
  std::string name;
  std::string description;
  virtual ~CostsBase() = default;
};

// The sections of a scenario that belong to its architecture (x86: "vms").
struct ScenarioPart {
  virtual ~ScenarioPart() = default;
};

}  // namespace fpusim

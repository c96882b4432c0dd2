// The x86 scenario sections and presets: machine presets (CPUID leaf 0xD
// tables and the XSAVE configuration the OS enables), cost presets, and a
// scenario's VMs (traces/README.md, "KVM"). Read through JsonIn, so that every
// key is consumed; X86Arch (models/x86/arch.cpp) calls them.
#pragma once

#include <map>
#include <memory>
#include <ostream>
#include <string>
#include <unordered_map>
#include <vector>

#include "models/core/machine.h"
#include "models/x86/cost_model.h"
#include "models/x86/kvm.h"
#include "models/x86/machine.h"
#include "sim/input/vms.h"
#include "sim/input/json_input.h"

namespace fpusim {
struct Scenario;
}

namespace fpusim::x86 {

Machine load_machine(const Json& doc, const std::string& file);
CostModel load_costs(const Json& doc, const std::string& file);
// A JSON array of component names.
ComponentMask read_components(const JsonIn& arr);

// A VM of the trace (sim/input/vms.h) with its x86 keys.
struct VmDecl : VmDeclBase {
  bool confidential = false;
  AmxAlloc amx_alloc = AmxAlloc::kSetCpuid;
  ComponentMask features = 0;  // guest CPUID 0xD XCR0 bits
  bool xfd = false;            // guest CPUID XFD
  bool created = true;         // exists when the trace starts
};

// "vms" of a scenario (after its contexts): into s.arch_part.
void load_vms(const JsonIn& in, Scenario& s, std::map<std::string, size_t>& seen, const std::string& file);
// `fpusim layout`: components, standard and compacted layouts, Linux's
// fpu_kernel_cfg / fpu_user_cfg / fpu_guest_cfg.
void print_layout(std::ostream& os, const Machine& m);
// The scenario's VMs (none without "vms").
const std::vector<VmDecl>& vms_of(const Scenario& s);
// The scenario's machine and costs, which X86Arch loaded.
const Machine& machine_of(const Scenario& s);
const CostModel& costs_of(const Scenario& s);

}  // namespace fpusim::x86

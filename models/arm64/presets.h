// The arm64 machine and cost presets (configs/schema/machine-arm64.schema.json,
// cost-arm64.schema.json) and `fpusim layout` for arm64 machines.
#pragma once

#include <optional>

#include <ostream>
#include <string>

#include <map>
#include <unordered_map>
#include <vector>

#include "models/arm64/machine.h"
#include "sim/input/json_input.h"
#include "sim/input/vms.h"

namespace fpusim {
struct Scenario;
}

namespace fpusim::arm64 {

Machine load_machine(const Json& doc, const std::string& file);
CostModel load_costs(const Json& doc, const std::string& file);
void print_layout(std::ostream& os, const Machine& m);

// A VM of the trace (sim/input/vms.h) with its arm64 keys: whether its
// vCPUs have SVE (KVM_ARM_VCPU_SVE) and their maximum vector length
// (KVM_REG_ARM64_SVE_VLS; vcpu->arch.sve_max_vl, b43b5dd9).
struct VmDecl : VmDeclBase {
  bool sve = false;
  unsigned sve_vl = 0;  // bits; 0 without SVE
  // "fpmr": FEAT_FPMR for the guest (ID_AA64PFR2_EL1.FPMR); unset: KVM's
  // default, the host's where the policy's KVM supports it.
  std::optional<bool> fpmr;
};
// "vms" of a scenario (after its contexts): into s.arch_part.
void load_vms(const JsonIn& in, Scenario& s, std::map<std::string, size_t>& seen, const std::string& file);
const std::vector<VmDecl>& vms_of(const Scenario& s);
const Machine& machine_of(const Scenario& s);
const CostModel& costs_of(const Scenario& s);

}  // namespace fpusim::arm64

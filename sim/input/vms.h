// The "vms" section of a scenario as every architecture with KVM has it: a
// VM's name and its vCPUs, each a host thread (a user context) that issues
// KVM_RUN. Each vCPU becomes a context of kind kGuest named after it (its
// guest FP state). An architecture reads its own keys of each VM through
// the callback and keeps what it needs beside these declarations.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "models/core/function_ref.h"
#include "sim/input/presets.h"

namespace fpusim {

struct VcpuDecl {
  std::string name;
  std::string thread;  // the user context that issues KVM_RUN
};
struct VmDeclBase {
  std::string name;
  std::string process;  // the vCPU threads' process
  std::vector<VcpuDecl> vcpus;
};

// Reads /vms (if present): for VM i, its "name" and "vcpus", declaring
// each vCPU's guest context in `s` and `seen`, and `read_own(v, i)` for the
// architecture's keys; every other key is an error. The result is in the
// order of /vms.
std::vector<VmDeclBase> read_vms(const JsonIn& in, Scenario& s, std::map<std::string, size_t>& seen,
                                 const std::string& file, FunctionRef<void(const JsonIn& vm, size_t index)> read_own);

// The names VM and vCPU events use: VMs by index, vCPUs as their guest
// contexts, under kVmKeyPrefix / kVcpuKeyPrefix (models/core/event_syntax.h).
void add_vm_names(const std::vector<const VmDeclBase*>& vms, std::unordered_map<std::string, ContextId>& ids);

// An architecture's VMs as the scenario keeps them (s.arch_part), `Decl`
// deriving from VmDeclBase with the architecture's own keys.
template <class Decl>
struct ScenarioVms : ScenarioPart {
  std::vector<Decl> vms;
};
template <class Decl>
const std::vector<Decl>& vms_of(const Scenario& s) {
  static const std::vector<Decl> none;
  const auto* p = dynamic_cast<const ScenarioVms<Decl>*>(s.arch_part.get());
  return p ? p->vms : none;
}
// Reads /vms into s.arch_part; `read_own(v, decl)` reads VM v's own keys.
template <class Decl, class ReadOwn>
void load_vms(const JsonIn& in, Scenario& s, std::map<std::string, size_t>& seen, const std::string& file,
              ReadOwn read_own) {
  auto part = std::make_shared<ScenarioVms<Decl>>();
  auto read = [&](const JsonIn& v, size_t) {
    part->vms.emplace_back();
    read_own(v, part->vms.back());
  };
  std::vector<VmDeclBase> base = read_vms(in, s, seen, file, read);
  for (size_t i = 0; i < base.size(); ++i) static_cast<VmDeclBase&>(part->vms[i]) = std::move(base[i]);
  s.arch_part = std::move(part);
}
template <class Decl>
void add_vm_names(const Scenario& s, std::unordered_map<std::string, ContextId>& ids) {
  std::vector<const VmDeclBase*> vms;
  for (const Decl& d : vms_of<Decl>(s)) vms.push_back(&d);
  add_vm_names(vms, ids);
}

}  // namespace fpusim

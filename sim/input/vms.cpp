#include "sim/input/vms.h"

#include "models/core/event_syntax.h"

namespace fpusim {

std::vector<VmDeclBase> read_vms(const JsonIn& in, Scenario& s, std::map<std::string, size_t>& seen,
                                 const std::string& file, FunctionRef<void(const JsonIn& vm, size_t index)> read_own) {
  std::vector<VmDeclBase> out;
  if (!in.has("vms")) return out;
  JsonIn vms = in.at("vms");
  std::map<std::string, size_t> vm_names;
  for (size_t i = 0; i < vms.size(); ++i) {
    JsonIn v = vms.at(i);
    VmDeclBase d;
    d.name = v.at("name").as_string();
    if (!vm_names.emplace(d.name, i).second) {
      throw InputError{file, v.path() + "/name", "duplicate VM name \"" + d.name + "\""};
    }
    read_own(v, i);
    JsonIn vcpus = v.at("vcpus");
    if (!vcpus.size()) vcpus.fail("at least one vCPU");
    for (size_t k = 0; k < vcpus.size(); ++k) {
      JsonIn c = vcpus.at(k);
      VcpuDecl vd;
      vd.name = c.at("name").as_string();
      JsonIn th = c.at("thread");
      vd.thread = th.as_string();
      auto it = seen.find(vd.thread);
      if (it == seen.end() || s.contexts[it->second].kind != ContextKind::kUser) {
        th.fail("the name of a user context declared in /contexts (the vCPU thread)");
      }
      const std::string& proc = s.contexts[it->second].process;
      if (d.process.empty()) d.process = proc;
      if (proc != d.process) {
        th.fail("a thread of the VM's process " + d.process + "; " + vd.thread + " belongs to " + proc);
      }
      auto runs_other = [&](const VmDeclBase& o) {
        for (const VcpuDecl& ov : o.vcpus) {
          if (ov.thread == vd.thread) th.fail("a thread that runs no other vCPU; " + vd.thread + " runs " + ov.name);
        }
      };
      for (const VmDeclBase& o : out) runs_other(o);
      runs_other(d);
      if (!seen.emplace(vd.name, s.contexts.size()).second) {
        throw InputError{file, c.path() + "/name", "vCPU name \"" + vd.name + "\" is already a context"};
      }
      s.contexts.push_back(ContextDecl{vd.name, ContextKind::kGuest, d.process});
      c.require_all_read();
      d.vcpus.push_back(std::move(vd));
    }
    v.require_all_read();
    out.push_back(std::move(d));
  }
  return out;
}

void add_vm_names(const std::vector<const VmDeclBase*>& vms, std::unordered_map<std::string, ContextId>& ids) {
  for (size_t i = 0; i < vms.size(); ++i) {
    ids.emplace(kVmKeyPrefix + vms[i]->name, static_cast<ContextId>(i));
    for (const VcpuDecl& v : vms[i]->vcpus) ids.emplace(kVcpuKeyPrefix + v.name, ids.at(v.name));
  }
}

}  // namespace fpusim

// Shared fixture for the unit tests of the x86 functional core: a Rig wires
// Machine, CostModel, Policy, Stats, Checker and Agent the way
// sim/platform/platform.cpp does, without the SystemC kernel, and runs events the way
// Core::process() does: before_event(cpu, t), the handler, then
// after_event(cpu, t + cost). Each CPU keeps its own clock; `gap` cycles of
// workload separate consecutive events on a CPU.
#pragma once

#include <gtest/gtest.h>

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "models/core/checker.h"
#include "models/x86/cost_model.h"
#include "models/core/stats.h"
#include "models/x86/agent.h"
#include "models/x86/policy.h"
#include "models/x86/xstate.h"
#include "sim/input/json_input.h"
#include "models/x86/presets.h"
#include "sim/input/presets.h"

namespace fpusim::test {

using x86::Cause;
using x86::XStat;

inline std::string config_file(const std::string& kind, const std::string& name) {
  return std::string(FPUSIM_SOURCE_ROOT) + "/configs/" + kind + "/" + name + ".json";
}

// A machine preset, optionally edited before loading (like --set machine.X=V).
inline x86::Machine load_machine_preset(const std::string& name, const std::function<void(Json&)>& edit = {}) {
  const std::string path = config_file("machines", name);
  Json doc = load_json_file(path);
  if (edit) edit(doc);
  return x86::load_machine(doc, path);
}

inline CostModel load_cost_preset(const std::string& name) {
  const std::string path = config_file("costs", name);
  return x86::load_costs(load_json_file(path), path);
}

// Bytes of each component the machine enables (as Platform::component_bytes).
inline std::array<std::uint32_t, kMaxComponents> component_bytes(const x86::Machine& m) {
  std::array<std::uint32_t, kMaxComponents> b{};
  for (unsigned i = 0; i < x86::kNumXfeatures; ++i) {
    if ((m.xcr0 | m.xss) & bit(i)) b[i] = x86::component_size(m.cpuid, i);
  }
  return b;
}

constexpr ComponentMask kSse = bit(x86::kSSE);
constexpr ComponentMask kX87 = bit(x86::kX87);
constexpr ComponentMask kYmm = bit(x86::kYMM);
constexpr ComponentMask kTileData = bit(x86::kXtileData);
constexpr ComponentMask kTileCfg = bit(x86::kXtileCfg);
constexpr ComponentMask kAmx = x86::kMaskAmx;
constexpr ComponentMask kAvx512 = x86::kMaskAvx512;

class Rig {
 public:
  Rig(x86::Machine m, CostModel c, std::unique_ptr<x86::Policy> p)
      : machine(std::move(m)), cost(std::move(c)), policy(std::move(p)),
        checker(machine.cpus, component_bytes(machine), machine.lazyfp_vulnerable, &stats),
        agent(machine, cost, *policy, stats, checker), clock(machine.cpus, 0) {}
  Rig(const Rig&) = delete;
  Rig& operator=(const Rig&) = delete;

  // Declares a context; `process` defaults to the context's own name.
  ContextId add(const std::string& name, x86::ContextKind kind = x86::ContextKind::kUser,
                const std::string& process = "") {
    const std::string p = process.empty() ? name : process;
    auto it = processes_.find(p);
    if (it == processes_.end()) it = processes_.emplace(p, agent.add_process(p)).first;
    return agent.add_context(name, kind, it->second);
  }
  ContextId add_kthread(const std::string& name) { return add(name, x86::ContextKind::kKthread); }
  void start() { agent.start(); }

  // One event on `cpu`, timed as Core::process() times it.
  Cycles step(CpuId cpu, const std::function<Cycles(Cycles)>& handler) {
    const Cycles t = clock.at(cpu);
    agent.before_event(cpu, t);
    const Cycles cost_cycles = handler(t);
    clock[cpu] = t + cost_cycles;
    agent.after_event(cpu, clock[cpu]);
    clock[cpu] += gap;
    return cost_cycles;
  }

  Cycles sw(CpuId cpu, ContextId next) {
    return step(cpu, [&](Cycles t) { return agent.context_switch(cpu, t, next); });
  }
  Cycles idle(CpuId cpu) { return sw(cpu, kNoContext); }
  Cycles use(CpuId cpu, ComponentMask write, ComponentMask read = 0, ComponentMask release = 0) {
    return step(cpu, [&](Cycles t) { return agent.use(cpu, t, write, read, release); });
  }
  Cycles read(CpuId cpu, ComponentMask read) { return use(cpu, 0, read); }
  Cycles syscall(CpuId cpu) {
    return step(cpu, [&](Cycles t) { return agent.syscall(cpu, t); });
  }
  Cycles ret(CpuId cpu) {
    return step(cpu, [&](Cycles t) { return agent.return_to_user(cpu, t); });
  }
  Cycles kfpu(CpuId cpu, x86::KernelFpuContext where, ComponentMask clobbers = 0) {
    return step(cpu, [&](Cycles t) { return agent.kernel_fpu(cpu, t, where, clobbers); });
  }
  Cycles irq(CpuId cpu, bool kernel_fpu, ComponentMask clobbers = 0) {
    return step(cpu, [&](Cycles t) { return agent.irq(cpu, t, kernel_fpu, clobbers); });
  }
  // `fault`: kFaultRetry or kFaultFatal (models/core/event.h).
  Cycles signal(CpuId cpu, std::uint8_t fault = 0) {
    return step(cpu, [&](Cycles t) { return agent.signal(cpu, t, fault); });
  }
  Cycles sigreturn(CpuId cpu, std::uint8_t fault = 0) {
    return step(cpu, [&](Cycles t) { return agent.sigreturn(cpu, t, fault); });
  }
  Cycles fork(CpuId cpu, ContextId child) {
    return step(cpu, [&](Cycles t) { return agent.fork(cpu, t, child); });
  }
  Cycles exec(CpuId cpu, bool to_user = true) {
    return step(cpu, [&](Cycles t) { return agent.exec(cpu, t, to_user); });
  }
  Cycles exit(CpuId cpu) {
    return step(cpu, [&](Cycles t) { return agent.exit(cpu, t); });
  }
  Cycles perm(CpuId cpu, ComponentMask features) {
    return step(cpu, [&](Cycles t) { return agent.xcomp_perm(cpu, t, features); });
  }
  Cycles state_read(CpuId cpu, ContextId target) {
    return step(cpu, [&](Cycles t) { return agent.state_read(cpu, t, target); });
  }
  Cycles state_write(CpuId cpu, ContextId target, ComponentMask write, bool invalid_header = false) {
    return step(cpu, [&](Cycles t) { return agent.state_write(cpu, t, target, write, invalid_header); });
  }

  // ---- KVM (vCPU indices as Agent::add_vcpu returns them)
  Cycles kvm_run(CpuId cpu, std::uint32_t vcpu) {
    return step(cpu, [&](Cycles t) { return agent.kvm_run(cpu, t, vcpu); });
  }
  Cycles entry(CpuId cpu) {
    return step(cpu, [&](Cycles t) { return agent.vm_entry(cpu, t); });
  }
  Cycles exit_(CpuId cpu, x86::VmExitReason r = x86::VmExitReason::hlt) {
    return step(cpu, [&](Cycles t) { return agent.vm_exit(cpu, t, r); });
  }
  Cycles kvm_return(CpuId cpu) {
    return step(cpu, [&](Cycles t) { return agent.kvm_return(cpu, t); });
  }
  Cycles wrmsr(CpuId cpu, x86::GuestMsr m, ComponentMask v) {
    return step(cpu, [&](Cycles t) { return agent.guest_wrmsr(cpu, t, m, v); });
  }
  Cycles rdmsr(CpuId cpu, x86::GuestMsr m) {
    return step(cpu, [&](Cycles t) { return agent.guest_rdmsr(cpu, t, m); });
  }
  Cycles xsetbv(CpuId cpu, ComponentMask xcr0, std::uint32_t index = 0) {
    return step(cpu, [&](Cycles t) { return agent.guest_xsetbv(cpu, t, index, xcr0); });
  }
  Cycles cr4(CpuId cpu, bool osxsave) {
    return step(cpu, [&](Cycles t) { return agent.guest_cr4(cpu, t, osxsave); });
  }
  Cycles save_state(CpuId cpu, std::uint32_t vcpu, std::uint32_t slot) {
    return step(cpu, [&](Cycles t) { return agent.vcpu_save_state(cpu, t, vcpu, slot); });
  }
  Cycles load_state(CpuId cpu, std::uint32_t vcpu, std::uint32_t slot) {
    return step(cpu, [&](Cycles t) { return agent.vcpu_load_state(cpu, t, vcpu, slot); });
  }
  Cycles set_xsave(CpuId cpu, std::uint32_t vcpu, std::int64_t slot, ComponentMask write = 0) {
    return step(cpu, [&](Cycles t) { return agent.kvm_set_xsave(cpu, t, vcpu, slot, write); });
  }
  Cycles vm_create(CpuId cpu, std::uint32_t vm) {
    return step(cpu, [&](Cycles t) { return agent.vm_create(cpu, t, vm); });
  }
  Cycles vm_destroy(CpuId cpu, std::uint32_t vm) {
    return step(cpu, [&](Cycles t) { return agent.vm_destroy(cpu, t, vm); });
  }
  Cycles guest_perm(CpuId cpu, ComponentMask f) {
    return step(cpu, [&](Cycles t) { return agent.xcomp_guest_perm(cpu, t, f); });
  }

  template <typename E>
  std::uint64_t total(E s) const {
    return stats.get(s);
  }
  template <typename E>
  std::uint64_t of(ContextId c, E s) const {
    return stats.of(c, s);
  }
  std::uint64_t cause_saves(Cause c) const { return stats.per_cause[static_cast<size_t>(c)].saves; }
  std::uint64_t cause_restores(Cause c) const { return stats.per_cause[static_cast<size_t>(c)].restores; }
  std::uint64_t lost() const { return total(Stat::violations_lost); }
  std::uint64_t leaked() const { return total(Stat::violations_leaked); }
  std::uint64_t exposed() const { return total(Stat::violations_exposed); }
  // "" when the checker found nothing; else every recorded violation, for
  // failure messages.
  std::string violation_report() const {
    std::string s;
    for (const Violation& v : checker.violations()) {
      s += std::string(violation_kind_name(v.kind)) + " on cpu " + std::to_string(v.cpu) + " at " +
           std::to_string(v.time) + ": " + x86::mask_to_names(v.components) + ": " + v.detail + "\n";
    }
    return s;
  }

  x86::Context& ctx(ContextId id) { return agent.ctx(id); }
  x86::CpuState& cpu(CpuId id) { return agent.cpu(id); }

  x86::Machine machine;
  CostModel cost;
  std::unique_ptr<x86::Policy> policy;
  Stats stats;
  Checker checker;
  x86::Agent agent;
  std::vector<Cycles> clock;
  Cycles gap = 1000;

 private:
  std::map<std::string, std::uint32_t> processes_;
};

// A policy as scenarios name it: registered, "NAME --bug BUG" or an alias.
inline const PolicyDesc& policy_desc(const std::string& name) {
  return resolve_policy(*find_arch("x86_64"), name, "agent_fixture", "");
}
inline const x86::PolicyInfo& policy_info(const std::string& name) {
  const x86::PolicyInfo* p = x86::find_policy(policy_desc(name).registered().name);
  if (!p) throw std::runtime_error("no policy " + name);
  return *p;
}
inline std::uint32_t bug_bits(const std::string& name) {
  return fpusim::bug_bits(*find_arch("x86_64"), policy_desc(name));
}

inline std::unique_ptr<x86::Policy> make_policy(const std::string& name) { return policy_info(name).make(); }

// The rig runs the policy's host mechanism and its KVM behaviour.
inline std::unique_ptr<Rig> make_rig(const std::string& machine, const std::string& policy,
                                     const std::string& costs = "intel-like",
                                     const std::function<void(Json&)>& edit = {}) {
  const x86::PolicyInfo& info = policy_info(policy);
  auto r = std::make_unique<Rig>(load_machine_preset(machine, edit), load_cost_preset(costs), info.make());
  r->agent.set_kvm(*info.kvm);
  r->agent.set_bugs(bug_bits(policy));
  return r;
}

inline std::unique_ptr<Rig> make_rig(x86::Machine m, std::unique_ptr<x86::Policy> p,
                                     const std::string& costs = "intel-like") {
  return std::make_unique<Rig>(std::move(m), load_cost_preset(costs), std::move(p));
}

// No checker finding of any kind so far.
#define EXPECT_CLEAN(rig)                                                         \
  do {                                                                            \
    EXPECT_EQ((rig).checker.total_violations(), 0u) << (rig).violation_report();  \
  } while (0)

// No lost or leaked state (exposure, which lazy policies cause by design on
// LazyFP-vulnerable machines, is not checked).
#define EXPECT_NO_LOSS_OR_LEAK(rig)                                               \
  do {                                                                            \
    EXPECT_EQ((rig).lost(), 0u) << (rig).violation_report();                      \
    EXPECT_EQ((rig).leaked(), 0u) << (rig).violation_report();                    \
  } while (0)

}  // namespace fpusim::test

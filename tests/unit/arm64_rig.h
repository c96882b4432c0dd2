// A test rig for the arm64 agent: machine, costs, policy (and its KVM
// scheme), stats, checker and agent wired as Arm64Run wires them, and each
// event run as the platform runs it (before_event, handler, after_event),
// 100 cycles after the previous one on its CPU.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "models/arm64/agent.h"
#include "models/arm64/policy.h"
#include "models/arm64/presets.h"
#include "models/core/checker.h"
#include "sim/input/json_input.h"

namespace fpusim::arm64::testing {

inline std::string config_file(const std::string& kind, const std::string& name) {
  return std::string(FPUSIM_SOURCE_ROOT) + "/configs/" + kind + "/" + name + ".json";
}

constexpr ComponentMask kV = kMaskFpsimd;
constexpr ComponentMask kSve = kMaskVec;

// Machine, costs, policy, stats, checker and agent wired as Arm64Run does;
// each event runs as the platform runs it (before_event, handler,
// after_event), `gap` cycles after the previous one on its CPU.
struct Rig {
  Machine machine;
  CostModel costs;
  std::unique_ptr<Policy> policy;
  Stats stats;
  std::unique_ptr<Checker> checker;
  std::unique_ptr<Agent> agent;
  std::vector<Cycles> clock;

  std::unique_ptr<KvmScheme> kvm;

  Rig(const std::string& machine_name, std::unique_ptr<Policy> p, unsigned cpus = 2) : policy(std::move(p)) {
    const std::string mf = config_file("machines", machine_name), cf = config_file("costs", "arm64-neoverse");
    Json doc = load_json_file(mf);
    doc["cpus"] = cpus;
    machine = load_machine(doc, mf);
    costs = load_costs(load_json_file(cf), cf);
    checker = std::make_unique<Checker>(machine.cpus, component_bytes(machine.default_vl), false, &stats);
    agent = std::make_unique<Agent>(machine, costs, *policy, stats, *checker);
    clock.assign(machine.cpus, 0);
  }
  // A policy as scenarios name it ("kvm-arm64-2022 --bug d52d165d", or an
  // alias), with its KVM scheme if it has one.
  Rig(const std::string& machine_name, const std::string& policy_name, unsigned cpus = 1)
      : Rig(machine_name, info_of(policy_name).make(), cpus) {
    const PolicyInfo& info = info_of(policy_name);
    const std::uint32_t bugs = bug_bits(*find_arch("arm64"), resolve(policy_name));
    agent->set_bugs(bugs);
    if (info.make_kvm) {
      kvm = info.make_kvm(bugs);
      agent->set_kvm(kvm.get());
    }
  }
  static const PolicyDesc& resolve(const std::string& name) {
    return resolve_policy(*find_arch("arm64"), name, "arm64_rig", "");
  }
  static const PolicyInfo& info_of(const std::string& name) {
    return *find_policy(resolve(name).registered().name);
  }
  ContextId add(const std::string& name, ContextKind k = ContextKind::kUser) {
    const ContextId id = agent->add_context(name, k);
    stats.per_context.resize(agent->num_contexts());
    return id;
  }
  void start() { agent->start(); }

  template <typename F>
  void run(CpuId cpu, F&& f) {
    const Cycles t = clock[cpu] += 100;
    agent->before_event(cpu, t);
    const Cycles c = f(t);
    agent->after_event(cpu, t + c);
    clock[cpu] += c;
  }
  void sw(CpuId cpu, ContextId next) { run(cpu, [&](Cycles t) { return agent->context_switch(cpu, t, next); }); }
  void idle(CpuId cpu) { sw(cpu, kNoContext); }
  void use(CpuId cpu, ComponentMask write, ComponentMask read = 0) {
    run(cpu, [&](Cycles t) { return agent->use(cpu, t, write, read, 0); });
  }
  void syscall(CpuId cpu) { run(cpu, [&](Cycles t) { return agent->syscall(cpu, t); }); }
  void ret(CpuId cpu) { run(cpu, [&](Cycles t) { return agent->return_to_user(cpu, t); }); }
  void softirq_neon(CpuId cpu) {
    run(cpu, [&](Cycles t) { return agent->kernel_fpu(cpu, t, KernelFpuContext::kSoftirq, 0); });
  }
  void smstart(CpuId cpu, bool sm, bool za) {
    run(cpu, [&](Cycles t) { return agent->sme_mode(cpu, t, true, sm, za); });
  }
  void smstop(CpuId cpu, bool sm, bool za) {
    run(cpu, [&](Cycles t) { return agent->sme_mode(cpu, t, false, sm, za); });
  }
  void set_vl(CpuId cpu, unsigned vl) { run(cpu, [&](Cycles t) { return agent->sve_set_vl(cpu, t, vl); }); }
  void set_svl(CpuId cpu, unsigned vl) { run(cpu, [&](Cycles t) { return agent->sme_set_vl(cpu, t, vl); }); }
  void signal(CpuId cpu) { run(cpu, [&](Cycles t) { return agent->signal(cpu, t, 0); }); }
  void sigreturn(CpuId cpu) { run(cpu, [&](Cycles t) { return agent->sigreturn(cpu, t, 0); }); }
  void fork(CpuId cpu, ContextId child) { run(cpu, [&](Cycles t) { return agent->fork(cpu, t, child); }); }
  void exec(CpuId cpu) { run(cpu, [&](Cycles t) { return agent->exec(cpu, t, true); }); }
  void state_write(CpuId cpu, ContextId target, ComponentMask w) {
    run(cpu, [&](Cycles t) { return agent->state_write(cpu, t, target, w, false); });
  }
  void ssve_write(CpuId cpu, ContextId target, ComponentMask w) {
    run(cpu, [&](Cycles t) { return agent->ssve_write(cpu, t, target, w); });
  }

  // A vCPU run by `thread`: its guest context (declare before start()).
  ContextId vcpu(const std::string& name, ContextId thread, bool sve = false, unsigned vl = 0, bool fpmr = false) {
    const ContextId g = add(name, ContextKind::kGuest);
    agent->add_vcpu(name, thread, g, sve, vl, fpmr);
    return g;
  }
  void kvm_run(CpuId cpu, ContextId guest) { run(cpu, [&](Cycles t) { return agent->kvm_run(cpu, t, guest); }); }
  void entry(CpuId cpu) { run(cpu, [&](Cycles t) { return agent->vm_entry(cpu, t); }); }
  void exit_guest(CpuId cpu) { run(cpu, [&](Cycles t) { return agent->vm_exit(cpu, t); }); }
  void kvm_return(CpuId cpu) { run(cpu, [&](Cycles t) { return agent->kvm_return(cpu, t); }); }
  std::uint64_t violations(ViolationKind k) const {
    std::uint64_t n = 0;
    for (const Violation& v : checker->violations()) n += v.kind == k;
    return n;
  }

  Context& ctx(ContextId id) { return agent->ctx(id); }
  CpuState& cpu(CpuId id) { return agent->cpu(id); }
  template <typename E>
  std::uint64_t total(E s) const {
    return stats.get(s);
  }
  std::uint64_t lost() const { return violations(ViolationKind::kLost); }
};

inline std::unique_ptr<Policy> mainline() { return find_policy("sve-discard")->make(); }

}  // namespace fpusim::arm64::testing

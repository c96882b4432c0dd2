// arm64 behind the architecture interface (models/core/arch.h): its names,
// stat group and causes, and Arm64Run, which turns a scenario into an Agent
// under a Policy and hands it each event.
#include <nlohmann/json.hpp>

#include "models/arm64/bugs.h"
#include "models/arm64/events.h"
#include "models/arm64/policies/kvm_lazy.h"
#include "models/arm64/policies/no_fp.h"
#include "models/arm64/policy.h"
#include "models/arm64/presets.h"
#include "models/core/arch.h"
#include "models/core/dispatch.h"
#include "sim/input/presets.h"

namespace fpusim::arm64 {

namespace {

const PolicyInfo& info_of(const PolicyDesc& p) {
  const PolicyInfo* info = find_policy(p.registered().name);
  if (info != &p.registered()) panic("policy " + p.name + " is not one of arm64's");
  return *info;
}


class Arm64Run final : public ArchAgent {
 public:
  Arm64Run(const Scenario& s, const PolicyInfo& info, std::uint32_t bug_bits, Stats& stats, Checker& checker,
           const std::unordered_map<std::string, ContextId>& ids)
      : policy_(machine_of(s).fpsimd ? info.make() : make_no_fp_policy()),
        agent_(machine_of(s), costs_of(s), *policy_, stats, checker) {
    for (const auto& c : s.contexts) {
      if (agent_.add_context(c.name, c.kind) != ids.at(c.name)) {
        panic("arm64: context " + c.name + " numbered apart from the scenario's name table");
      }
    }
    agent_.set_bugs(bug_bits);
    threads_.assign(s.contexts.size(), kNoContext);
    const auto& vms = vms_of(s);
    if (!vms.empty()) {
      if (!info.make_kvm) {
        throw InputError{s.file, "/vms",
                         "policy " + info.name + " models the arm64 host only; a scenario with VMs needs a KVM "
                         "policy (fpusim list policies: kvm-arm64-*)"};
      }
      kvm_ = machine_of(s).fpsimd ? info.make_kvm(bug_bits) : make_no_fp_kvm();
      if (machine_of(s).kvm_mode == KvmMode::kProtected) {
        if (!kvm_->runs_protected()) {
          throw InputError{s.file, "/vms",
                           "machine " + machine_of(s).name + " runs KVM in protected mode (kvm_mode \"protected\"), "
                           "which policy " + info.name + " does not model: pKVM's own FP handling came with "
                           "b5b9955617bc (v6.10), under kvm-arm64-2023 and kvm-arm64-2025"};
        }
        if (machine_of(s).fpsimd) kvm_ = make_protected_kvm(std::move(kvm_));
      }
      agent_.set_kvm(kvm_.get());
    }
    for (size_t i = 0; i < vms.size(); ++i) {
      const VmDecl& d = vms[i];
      if (d.sve && !kvm_->sve_vcpus()) {
        throw InputError{s.file, "/vms/" + std::to_string(i) + "/sve",
                         "false under policy " + info.name + ": its KVM has no vCPU SVE (b43b5dd9, v5.2)"};
      }
      if (d.fpmr.value_or(false) && !kvm_->guest_fpmr()) {
        throw InputError{s.file, "/vms/" + std::to_string(i) + "/fpmr",
                         "false under policy " + info.name + ": its KVM has no guest FPMR (ef3be86021c3, v6.12)"};
      }
      // KVM's default: the host's FPMR (ID_AA64PFR2_EL1 from the sanitised
      // host value), which userspace may clear.
      const bool fpmr = d.fpmr.value_or(machine_of(s).fpmr && kvm_->guest_fpmr());
      for (const VcpuDecl& vd : d.vcpus) {
        const ContextId guest = ids.at(vd.name), thread = ids.at(vd.thread);
        agent_.add_vcpu(vd.name, thread, guest, d.sve, d.sve_vl, fpmr);
        threads_[guest] = thread;
      }
    }
  }
  void start() { agent_.start(); }

  Cycles handle(CpuId cpu, Cycles t, const Event& e) override {
    agent_.before_event(cpu, t);
    const Cycles cost = dispatch(cpu, t, e);
    agent_.after_event(cpu, t + cost + e.dur);
    return cost;
  }
  ContextBase& context(ContextId id) override { return agent_.ctx(id); }
  CpuView cpu_view(CpuId cpu) const override { return agent_.cpu_view(cpu); }
  void add_observer(Observer* o) override { agent_.add_observer(o); }
  // arm64 has no features a task must request before first use.
  Cycles request_dynamic_features(CpuId, Cycles) override { return 0; }
  std::vector<ContextId> runner_threads() const override { return threads_; }
  // The policy and KVM scheme objects keep no state of their own: the
  // agent's key is the run's.
  void state_key(StateKey& k) const override { agent_.state_key(k); }
  Arm64Run(const Arm64Run& o, Stats& stats, Checker& checker)
      : policy_(o.policy_), kvm_(o.kvm_), agent_(o.agent_, stats, checker), threads_(o.threads_) {}
  std::unique_ptr<ArchAgent> clone(Stats& stats, Checker& checker) const override {
    return std::make_unique<Arm64Run>(*this, stats, checker);
  }

 private:
  Cycles dispatch(CpuId cpu, Cycles t, const Event& e) {
    Agent& a = agent_;
    Cycles cost = 0;
    if (dispatch_core_event(a, cpu, t, e, &cost)) return cost;
    switch (static_cast<unsigned>(e.kind)) {
      case static_cast<unsigned>(ev::kSveSetVl): return a.sve_set_vl(cpu, t, static_cast<unsigned>(e.arg));
      case static_cast<unsigned>(ev::kSmeSetVl): return a.sme_set_vl(cpu, t, static_cast<unsigned>(e.arg));
      case static_cast<unsigned>(ev::kZaDisable): return a.za_disable(cpu, t, e.ctx);
      case static_cast<unsigned>(ev::kSsveWrite): return a.ssve_write(cpu, t, e.ctx, e.write);
      case static_cast<unsigned>(ev::kKvmRun): return a.kvm_run(cpu, t, e.ctx);
      case static_cast<unsigned>(ev::kVmEntry): return a.vm_entry(cpu, t);
      case static_cast<unsigned>(ev::kVmExit): return a.vm_exit(cpu, t);
      case static_cast<unsigned>(ev::kKvmReturn): return a.kvm_return(cpu, t);
      case static_cast<unsigned>(ev::kSmstart):
      case static_cast<unsigned>(ev::kSmstop):
        return a.sme_mode(cpu, t, e.kind == ev::kSmstart, e.sub & ev::kSmBit, e.sub & ev::kZaBit);
    }
    panic("arm64: event kind " + std::to_string(static_cast<unsigned>(e.kind)) + " has no handler");
  }
  // Shared by clones: policies and KVM schemes keep no state.
  std::shared_ptr<Policy> policy_;
  std::shared_ptr<KvmScheme> kvm_;
  Agent agent_;
  std::vector<ContextId> threads_;  // per context: a vCPU's thread, else kNoContext
};

class Arm64Arch final : public Arch {
 public:
  std::string_view name() const override { return "arm64"; }

  std::shared_ptr<MachineBase> load_machine(const nlohmann::json& doc, const std::string& file) const override {
    return std::make_shared<Machine>(arm64::load_machine(doc, file));
  }
  std::shared_ptr<const CostsBase> load_costs(const nlohmann::json& doc, const std::string& file) const override {
    return std::make_shared<CostModel>(arm64::load_costs(doc, file));
  }
  void load_scenario_part(const JsonIn& in, Scenario& s, std::map<std::string, size_t>& names,
                          const std::string& file) const override {
    load_vms(in, s, names, file);
  }
  // No dynamically enabled features: a key no workload can carry.
  std::string_view dynamic_permission_key() const override { return ""; }
  ComponentMask components_from_json(const JsonIn& arr) const override {
    ComponentMask m = 0;
    for (size_t i = 0; i < arr.size(); ++i) {
      JsonIn e = arr.at(i);
      const std::string n = e.as_string();
      bool found = false;
      for (const ComponentName& c : event_syntax().components()) {
        if (c.name == n) m |= c.mask, found = true;
      }
      if (!found) e.fail(std::string(event_syntax().components_hint()));
    }
    return m;
  }
  void add_names(const Scenario& s, std::unordered_map<std::string, ContextId>& ids) const override {
    fpusim::add_vm_names<VmDecl>(s, ids);
  }
  void print_layout(std::ostream& os, const MachineBase& m) const override {
    arm64::print_layout(os, static_cast<const Machine&>(m));
  }

  std::string component_name(unsigned i) const override { return arm64::component_name(i); }
  std::string components_string(ComponentMask m) const override { return mask_to_names(m); }
  // The default vector length's sizes; a task at another VL gets its own
  // (Checker::set_sizes).
  std::array<std::uint32_t, kMaxComponents> component_bytes(const Scenario& s) const override {
    const Machine& m = machine_of(s);
    auto b = arm64::component_bytes(m.layout(m.default_vl, m.default_svl, false));
    if (!m.sve) b[kSveZ] = b[kSveP] = b[kSveFfr] = 0;
    if (!m.fpsimd) b[kFpsimd] = 0;
    return b;
  }

  const std::vector<CauseInfo>& causes() const override { return cause_table(); }
  std::vector<const StatGroup*> stat_groups() const override { return {&stat_group(), &kvm_stat_group()}; }
  std::vector<std::pair<std::string_view, StatId>> trap_kinds() const override {
    return {{"sve_acc", stat_id(AStat::traps_sve_acc)},
            {"sme_acc", stat_id(AStat::traps_sme_acc)},
            {"guest_fp", stat_id(AStat::traps_guest_fp)}};
  }
  // Agent::cpu_view() fills them in this order.
  const std::vector<ControlInfo>& controls() const override {
    static const std::vector<ControlInfo> c = {{"CPACR_EL1.SMEN", "SMEN", "cpacr_smen", 1},
                                               {"CPACR_EL1.ZEN", "ZEN", "cpacr_zen", 1},
                                               {"ZCR_EL1 VL", "VL", "zcr_vl", 16},
                                               {"guest FP/SVE open (CPTR_EL2)", "GFP", "guest_fp_open", 1}};
    return c;
  }

  std::string machine_brief(const Scenario& s) const override {
    const Machine& m = machine_of(s);
    if (!m.fpsimd) return "no FP/AdvSIMD";
    return m.sve ? std::string(m.sve2 ? "SVE2" : "SVE") + " VL " + std::to_string(m.default_vl) : "FPSIMD";
  }
  void report_sections(nlohmann::json& j, const Scenario& s, const PolicyDesc&) const override {
    const Machine& m = machine_of(s);
    const auto b = arm64::component_bytes(m.default_vl);
    j["machine"]["derived"] = {{"sve", m.sve},
                               {"sve2", m.sve2},
                               {"sve_vector_lengths", m.sve_vls},
                               {"default_vl", m.default_vl},
                               {"fpsimd_bytes", b[kFpsimd]},
                               {"sve_state_bytes", m.sve ? b[kSveZ] + b[kSveP] + b[kSveFfr] : 0},
                               {"sme", m.sme},
                               {"sme2", m.sme2},
                               {"sme_fa64", m.fa64},
                               {"fpmr", m.fpmr},
                               {"sme_vector_lengths", m.sme_vls},
                               {"default_svl", m.default_svl},
                               {"za_bytes", arm64::component_bytes(m.layout(m.default_vl, m.default_svl, false))[kZa]},
                               {"kvm_mode", std::string(kvm_mode_name(m.kvm_mode))}};
    if (vms_of(s).empty()) return;
    nlohmann::json vms = nlohmann::json::array();
    for (const VmDecl& v : vms_of(s)) {
      nlohmann::json vcpus = nlohmann::json::array();
      for (const VcpuDecl& c : v.vcpus) vcpus.push_back({{"name", c.name}, {"thread", c.thread}});
      nlohmann::json vm = {{"name", v.name}, {"sve", v.sve}, {"sve_vl", v.sve_vl}, {"vcpus", vcpus}};
      if (v.fpmr) vm["fpmr"] = *v.fpmr;
      vms.push_back(vm);
    }
    j["vms"] = vms;
  }
  std::string trap_detail(const Stats& st) const override {
    std::string d = "(SVE access " + std::to_string(st.get(AStat::traps_sve_acc));
    if (st.get(AStat::traps_sme_acc)) d += ", SME access " + std::to_string(st.get(AStat::traps_sme_acc));
    if (st.get(AStat::traps_guest_fp)) d += ", guest FP to EL2 " + std::to_string(st.get(AStat::traps_guest_fp));
    return d + ")";
  }
  void summary_rows(SummaryTable& t, const Scenario& s, const PolicyDesc&, const Stats& st) const override {
    t.row("SVE discards (syscall)", st.get(AStat::sve_discards));
    t.text("SVE saves / restores",
           with_commas(st.get(AStat::sve_saves)) + " / " + with_commas(st.get(AStat::sve_restores)));
    t.row("CPACR_EL1 ZEN/SMEN writes", st.get(AStat::cpacr_writes));
    t.row("ZCR_EL1 writes", st.get(AStat::zcr_writes));
    t.row("VL changes", st.get(AStat::vl_changes));
    if (st.get(AStat::sve_acc_warnings)) t.row("do_sve/sme_acc WARNs", st.get(AStat::sve_acc_warnings));
    if (machine_of(s).sme) {
      t.row("SME access traps", st.get(AStat::traps_sme_acc));
      t.row("streaming mode exits", st.get(AStat::streaming_exits));
      t.row("SMCR_EL1 writes", st.get(AStat::smcr_writes));
    }
    if (vms_of(s).empty()) return;
    t.row("KVM_RUN", st.get(AStat::kvm_runs));
    t.text("vcpu load / put", with_commas(st.get(AStat::vcpu_loads)) + " / " + with_commas(st.get(AStat::vcpu_puts)));
    t.text("VM entries / exits", with_commas(st.get(AStat::vm_entries)) + " / " + with_commas(st.get(AStat::vm_exits)));
    t.text("hyp host saves / restores",
           with_commas(st.get(AStat::hyp_host_saves)) + " / " + with_commas(st.get(AStat::hyp_host_restores)));
    t.text("guest loads / saves", with_commas(st.get(AStat::guest_loads)) + " / " + with_commas(st.get(AStat::guest_saves)));
    t.row("host flushed at vcpu load", st.get(AStat::host_flushes_at_load));
  }
  std::vector<CompareRow> compare_rows(const Scenario& s, bool tail) const override {
    if (tail) {
      if (vms_of(s).empty()) return {};
      return {{"KVM_RUN", {"kvm_runs"}},
              {"VM exits", {"vm_exits"}},
              {"hyp host saves", {"hyp_host_saves"}},
              {"guest loads", {"guest_loads"}},
              {"guest saves", {"guest_saves"}},
              {"host flushed at load", {"host_flushes_at_load"}}};
    }
    return {{"  SVE access", {"traps_sve_acc"}},
            {"  SME access", {"traps_sme_acc"}},
            {"  guest FP to EL2", {"traps_guest_fp"}},
            {"SVE discards", {"sve_discards"}},
            {"CPACR_EL1 EL0 writes", {"cpacr_writes"}}};
  }

  const EventSyntax& event_syntax() const override { return arm64::event_syntax(); }
  std::uint32_t barrier_kinds() const override { return ev::kBarriers; }

  const std::vector<BugDesc>& bugs() const override { return arm64::bugs(); }
  const PolicyDesc* find_policy(std::string_view name) const override { return arm64::find_policy(name); }
  std::string policy_names() const override { return arm64::policy_names(); }
  std::vector<const PolicyDesc*> policies() const override {
    std::vector<const PolicyDesc*> out;
    for (const PolicyInfo& p : policy_registry()) out.push_back(&p);
    return out;
  }
  // Plugins cannot add arm64 policies yet (only x86 has a plugin header, models/x86/plugin.h).
  std::string check_plugin_policy(const fpusim::PluginPolicy& p) const override {
    return "policy \"" + p.desc().name + "\": plugins cannot add arm64 policies in this build";
  }
  void add_plugin_policy(std::unique_ptr<fpusim::PluginPolicy>) const override {
    panic("arm64: add_plugin_policy without a successful check_plugin_policy");
  }
  // Uses of FPSIMD, SVE and FPMR, a second vector length, an NT_ARM_SVE write;
  // with SME: SMSTART and SMSTOP, uses of ZA, the ZA regset's "no data"
  // write and NT_ARM_SSVE writes; with vCPUs: the run loop, the vCPUs with
  // SVE where the machine and the policy's KVM have it.
  ExploreParts explore_parts(const MachineBase& mb, const PolicyDesc& policy, unsigned vcpus) const override {
    const Machine& m = static_cast<const Machine&>(mb);
    ExploreParts p;
    p.costs = "arm64-neoverse";
    p.uses = {R"(["fpsimd"])"};
    if (m.sve) {
      p.uses.push_back(R"(["sve"])");
      p.task_letters.push_back(R"({"ev": "state_write", "write": ["sve"]})");
      if (m.sve_vls.size() > 1 && m.sve_vls.front() != m.default_vl) {
        p.letters.push_back(R"({"ev": "sve_set_vl", "vl": )" + std::to_string(m.sve_vls.front()) + "}");
        p.letters.push_back(R"({"ev": "sve_set_vl", "vl": )" + std::to_string(m.default_vl) + "}");
      }
    }
    if (m.fpmr) p.uses.push_back(R"(["fpmr"])");
    if (m.sme) {
      p.uses.push_back(R"(["za"])");
      p.letters.push_back(R"({"ev": "smstart"})");
      p.letters.push_back(R"({"ev": "smstart", "za": true, "sm": false})");
      p.letters.push_back(R"({"ev": "smstop"})");
      // ptrace: the ZA regset's "no data" write, NT_ARM_SSVE in either format.
      p.task_letters.push_back(R"({"ev": "za_disable"})");
      p.task_letters.push_back(R"({"ev": "ssve_write", "write": ["fpsimd"]})");
      p.task_letters.push_back(R"({"ev": "ssve_write", "write": ["sve"]})");
      if (m.sme_vls.size() > 1 && m.sme_vls.front() != m.default_svl) {
        p.letters.push_back(R"({"ev": "sme_set_vl", "vl": )" + std::to_string(m.sme_vls.front()) + "}");
        p.letters.push_back(R"({"ev": "sme_set_vl", "vl": )" + std::to_string(m.default_svl) + "}");
      }
    }
    if (vcpus == 0) return p;
    const PolicyInfo& info = info_of(policy);
    const bool sve = m.sve && info.make_kvm && info.make_kvm(0)->sve_vcpus();
    add_explore_vm(p, vcpus, "irq", sve ? R"("sve": true)" : "");
    return p;
  }

  std::unique_ptr<ArchAgent> make_agent(const Scenario& s, const PolicyDesc& policy, Stats& stats, Checker& checker,
                                        const std::unordered_map<std::string, ContextId>& ids,
                                        const std::vector<Observer*>& observers) const override {
    auto run = std::make_unique<Arm64Run>(s, info_of(policy), fpusim::bug_bits(*this, policy), stats, checker, ids);
    for (Observer* o : observers) run->add_observer(o);
    run->start();
    return run;
  }
};

const Arm64Arch arm64_arch;
const bool registered = (register_arch(&arm64_arch), true);

}  // namespace

}  // namespace fpusim::arm64

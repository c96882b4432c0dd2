// x86 behind the architecture interface (models/core/arch.h): its names,
// stat groups and causes, and X86Run, which turns a scenario into an Agent
// under a Policy and hands it each event.
#include <algorithm>
#include <cinttypes>
#include <cstdio>

#include <nlohmann/json.hpp>

#include "models/core/arch.h"
#include "models/core/dispatch.h"
#include "models/x86/trace_import.h"
#include "models/x86/events.h"
#include "models/x86/policy.h"
#include "models/x86/xstate.h"
#include "sim/input/event.h"
#include "models/x86/presets.h"
#include "sim/input/presets.h"

namespace fpusim::x86 {

namespace {

// The x86 policy behind a PolicyDesc the shared code hands back: one of the
// registry's (from find_policy), never another architecture's, under any
// bugs of the run.
const PolicyInfo& info_of(const PolicyDesc& p) {
  const PolicyInfo* info = find_policy(p.registered().name);
  if (info != &p.registered()) panic("policy " + p.name + " is not one of x86_64's");
  return *info;
}


class X86Run final : public ArchAgent {
 public:
  // `ids`: name_table(s), whose context ids are s.contexts' indices, the
  // order the agent numbers them in.
  X86Run(const Scenario& s, const PolicyInfo& info, std::uint32_t bug_bits, Stats& stats, Checker& checker,
         const std::unordered_map<std::string, ContextId>& ids)
      : policy_(info.make()), agent_(machine_of(s), costs_of(s), *policy_, stats, checker) {
    agent_.set_bugs(bug_bits);
    agent_.reserve_contexts(s.contexts.size());
    std::unordered_map<std::string, std::uint32_t> processes;
    for (const auto& c : s.contexts) {
      auto it = processes.find(c.process);
      if (it == processes.end()) it = processes.emplace(c.process, agent_.add_process(c.process)).first;
      if (agent_.add_context(c.name, c.kind, it->second) != ids.at(c.name)) {
        panic("x86: context " + c.name + " numbered apart from the scenario's name table");
      }
    }
    agent_.set_kvm(*info.kvm);
    threads_.assign(s.contexts.size(), kNoContext);
    for (const VmDecl& d : vms_of(s)) {
      Vm vm;
      vm.name = d.name;
      vm.process = processes.at(d.process);
      vm.confidential = d.confidential;
      vm.amx_alloc = d.amx_alloc;
      vm.supported_xcr0 = d.features;
      vm.xfd = d.xfd;
      const std::uint32_t vm_id = agent_.add_vm(std::move(vm));
      for (const VcpuDecl& vd : d.vcpus) {
        const ContextId guest = ids.at(vd.name), thread = ids.at(vd.thread);
        agent_.add_vcpu(vm_id, thread, guest);
        threads_[guest] = thread;
      }
    }
  }

  // After the observers are attached: the agent's start() and the VMs that
  // exist when the trace starts.
  void start(const Scenario& s) {
    agent_.start();
    const auto& vms = vms_of(s);
    for (std::uint32_t i = 0; i < vms.size(); ++i) {
      if (!vms[i].created) continue;
      try {
        agent_.create_vm_at_start(i);
      } catch (const SemanticError& e) {
        throw InputError{s.file, "/vms/" + std::to_string(i), e.message};
      }
    }
  }

  Cycles handle(CpuId cpu, Cycles t, const Event& e) override {
    agent_.before_event(cpu, t);
    const Cycles cost = dispatch(cpu, t, e);
    agent_.after_event(cpu, t + cost + e.dur);
    return cost;
  }
  ContextBase& context(ContextId id) override { return agent_.ctx(id); }
  CpuView cpu_view(CpuId cpu) const override { return agent_.cpu_view(cpu); }
  void add_observer(Observer* o) override { agent_.add_observer(o); }
  // arch_prctl(ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA): AMX.
  Cycles request_dynamic_features(CpuId cpu, Cycles t) override {
    agent_.before_event(cpu, t);
    const Cycles cost = agent_.xcomp_perm(cpu, t, bit(kXtileData));
    agent_.after_event(cpu, t + cost);
    return cost;
  }
  std::vector<ContextId> runner_threads() const override { return threads_; }
  // The policy and KVM scheme objects keep no state of their own: the
  // agent's key is the run's.
  void state_key(StateKey& k) const override { agent_.state_key(k); }
  X86Run(const X86Run& o, Stats& stats, Checker& checker)
      : policy_(o.policy_), agent_(o.agent_, stats, checker), threads_(o.threads_) {}
  std::unique_ptr<ArchAgent> clone(Stats& stats, Checker& checker) const override {
    return std::make_unique<X86Run>(*this, stats, checker);
  }

 private:
  Cycles dispatch(CpuId cpu, Cycles t, const Event& e) {
    Agent& a = agent_;
    Cycles cost = 0;
    if (dispatch_core_event(a, cpu, t, e, &cost)) return cost;
    switch (static_cast<unsigned>(e.kind)) {
      case static_cast<unsigned>(ev::kXcompPerm): return a.xcomp_perm(cpu, t, e.write);
      case static_cast<unsigned>(ev::kXcompGuestPerm): return a.xcomp_guest_perm(cpu, t, e.write);
      case static_cast<unsigned>(ev::kVmCreate): return a.vm_create(cpu, t, static_cast<std::uint32_t>(e.arg));
      case static_cast<unsigned>(ev::kVmDestroy): return a.vm_destroy(cpu, t, static_cast<std::uint32_t>(e.arg));
      case static_cast<unsigned>(ev::kKvmRun): return a.kvm_run(cpu, t, a.ctx(e.ctx).guest_of);
      case static_cast<unsigned>(ev::kVmEntry): return a.vm_entry(cpu, t);
      case static_cast<unsigned>(ev::kVmExit): return a.vm_exit(cpu, t, static_cast<VmExitReason>(e.sub));
      case static_cast<unsigned>(ev::kKvmReturn): return a.kvm_return(cpu, t);
      case static_cast<unsigned>(ev::kGuestWrmsr): return a.guest_wrmsr(cpu, t, static_cast<GuestMsr>(e.sub), e.write);
      case static_cast<unsigned>(ev::kGuestRdmsr): return a.guest_rdmsr(cpu, t, static_cast<GuestMsr>(e.sub));
      case static_cast<unsigned>(ev::kGuestXsetbv):
        return a.guest_xsetbv(cpu, t, static_cast<std::uint32_t>(e.arg), e.write);
      case static_cast<unsigned>(ev::kGuestCr4): return a.guest_cr4(cpu, t, e.sub != 0);
      case static_cast<unsigned>(ev::kVcpuSaveState):
        return a.vcpu_save_state(cpu, t, a.ctx(e.ctx).guest_of, static_cast<std::uint32_t>(e.arg));
      case static_cast<unsigned>(ev::kVcpuLoadState):
        return a.vcpu_load_state(cpu, t, a.ctx(e.ctx).guest_of, static_cast<std::uint32_t>(e.arg));
      case static_cast<unsigned>(ev::kKvmSetXsave): return a.kvm_set_xsave(cpu, t, a.ctx(e.ctx).guest_of, e.arg, e.write);
    }
    panic("x86: event kind " + std::to_string(static_cast<unsigned>(e.kind)) + " has no handler");
  }
  std::shared_ptr<Policy> policy_;  // shared by clones: a policy keeps no state
  Agent agent_;
  std::vector<ContextId> threads_;
};

class X86Arch final : public Arch {
 public:
  std::string_view name() const override { return "x86_64"; }

  std::shared_ptr<MachineBase> load_machine(const nlohmann::json& doc, const std::string& file) const override {
    return std::make_shared<Machine>(x86::load_machine(doc, file));
  }
  std::shared_ptr<const CostsBase> load_costs(const nlohmann::json& doc, const std::string& file) const override {
    return std::make_shared<CostModel>(x86::load_costs(doc, file));
  }
  void load_scenario_part(const JsonIn& in, Scenario& s, std::map<std::string, size_t>& names,
                          const std::string& file) const override {
    load_vms(in, s, names, file);
  }
  ComponentMask components_from_json(const JsonIn& names) const override { return read_components(names); }
  // arch_prctl(ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA) at the task's start.
  std::string_view dynamic_permission_key() const override { return "amx_permission"; }
  void add_names(const Scenario& s, std::unordered_map<std::string, ContextId>& ids) const override {
    fpusim::add_vm_names<VmDecl>(s, ids);
  }
  void print_layout(std::ostream& os, const MachineBase& m) const override {
    x86::print_layout(os, static_cast<const Machine&>(m));
  }

  std::string component_name(unsigned i) const override { return x86::component_name(i); }
  std::string components_string(ComponentMask m) const override { return mask_to_names(m); }
  std::array<std::uint32_t, kMaxComponents> component_bytes(const Scenario& s) const override {
    std::array<std::uint32_t, kMaxComponents> b{};
    const Machine& m = machine_of(s);
    for (unsigned i = 0; i < kNumXfeatures; ++i) {
      if ((m.xcr0 | m.xss) & bit(i)) b[i] = component_size(m.cpuid, i);
    }
    return b;
  }

  const std::vector<CauseInfo>& causes() const override { return cause_table(); }
  std::vector<const StatGroup*> stat_groups() const override { return {&host_stat_group(), &kvm_stat_group()}; }
  std::vector<std::pair<std::string_view, StatId>> trap_kinds() const override {
    return {{"nm_ts", stat_id(XStat::traps_nm_ts)},
            {"nm_xfd", stat_id(XStat::traps_nm_xfd)},
            {"ud", stat_id(XStat::traps_ud)}};
  }
  // Agent::cpu_view() fills them in this order.
  const std::vector<ControlInfo>& controls() const override {
    static const std::vector<ControlInfo> c = {{"CR0.TS", "TS", "cr0_ts", 1}, {"IA32_XFD", "XFD", "xfd", 64}};
    return c;
  }

  void report_sections(nlohmann::json& j, const Scenario& s, const PolicyDesc& policy) const override {
    using Json = nlohmann::json;
    auto config_json = [](const FpuStateConfig& c) {
      return Json{{"max_features", mask_to_names(c.max_features)},
                  {"default_features", mask_to_names(c.default_features)},
                  {"max_size", c.max_size},
                  {"default_size", c.default_size}};
    };
    auto hex = [](std::uint64_t v) {
      char b[32];
      std::snprintf(b, sizeof b, "0x%" PRIx64, v);
      return std::string(b);
    };
    const Machine& mm = machine_of(s);
    j["machine"]["derived"] = {{"save_instruction", std::string(save_insn_name(mm.save_insn))},
                               {"restore_instruction", std::string(restore_insn_name(mm.restore_insn()))},
                               {"xcr0", hex(mm.xcr0)},
                               {"xss", hex(mm.xss)},
                               {"dynamic_features", mask_to_names(mm.dynamic)},
                               {"fpu_kernel_cfg", config_json(mm.cfg.kernel)},
                               {"fpu_user_cfg", config_json(mm.cfg.user)},
                               {"fpu_guest_cfg", config_json(mm.cfg.guest)}};
    if (vms_of(s).empty()) return;
    // Which KVM behaviour ran, and per VM how its guest got AMX room.
    Json vms = Json::array();
    for (const VmDecl& v : vms_of(s)) {
      Json vcpus = Json::array();
      for (const VcpuDecl& c : v.vcpus) vcpus.push_back({{"name", c.name}, {"thread", c.thread}});
      vms.push_back({{"name", v.name},
                     {"process", v.process},
                     {"guest_features", mask_to_names(v.features)},
                     {"xfd", v.xfd},
                     {"confidential", v.confidential},
                     {"amx_alloc", std::string(amx_alloc_name(v.amx_alloc))},
                     {"vcpus", vcpus}});
    }
    j["kvm"] = {{"mode", std::string(info_of(policy).kvm->name())}, {"vms", vms}};
  }

  std::string machine_brief(const Scenario& s) const override {
    return std::string(save_insn_name(machine_of(s).save_insn));
  }

  std::string trap_detail(const Stats& st) const override {
    return "(#NM TS " + std::to_string(st.get(XStat::traps_nm_ts)) + ", #NM XFD " +
           std::to_string(st.get(XStat::traps_nm_xfd)) + ", #UD " + std::to_string(st.get(XStat::traps_ud)) +
           ", SIGILL " + std::to_string(st.get(XStat::sigill)) + ")";
  }

  void summary_rows(SummaryTable& t, const Scenario& s, const PolicyDesc& policy, const Stats& st) const override {
    t.row("XFD MSR writes", st.get(XStat::xfd_writes));
    t.row("CR0.TS writes", st.get(XStat::cr0_ts_sets) + st.get(XStat::cr0_ts_clears));
    t.row("fpstate reallocations", st.get(XStat::fpstate_reallocs));
    if (vms_of(s).empty()) return;
    std::string kvm = "KVM: " + std::string(info_of(policy).kvm->name());
    for (const VmDecl& v : vms_of(s)) {
      kvm += "; " + v.name + (v.confidential ? " (confidential)" : "");
      if (v.features & machine_of(s).dynamic) kvm += " guest AMX room at " + std::string(amx_alloc_name(v.amx_alloc));
    }
    t.line(kvm);
    t.row("KVM_RUNs", st.get(XStat::kvm_runs));
    t.text("guest FPU loads / puts",
           with_commas(st.get(XStat::kvm_fpu_loads)) + " / " + with_commas(st.get(XStat::kvm_fpu_unloads)));
    t.row("VM exits", st.get(XStat::vm_exits));
    t.text("  FPU-caused", with_commas(st.get(XStat::fpu_vm_exits)),
           "(guest #NM " + std::to_string(st.get(XStat::guest_nm_injected)) + ", #GP " +
               std::to_string(st.get(XStat::guest_gp)) + ", #UD " + std::to_string(st.get(XStat::guest_ud)) + ")");
  }

  std::vector<CompareRow> compare_rows(const Scenario& s, bool tail) const override {
    if (!tail) {
      return {{"  #NM CR0.TS", {"traps_nm_ts"}},
              {"  #NM XFD", {"traps_nm_xfd"}},
              {"CR0.TS writes", {"cr0_ts_sets", "cr0_ts_clears"}},
              {"XFD writes", {"xfd_writes"}}};
    }
    if (vms_of(s).empty()) return {};
    return {{"KVM_RUNs", {"kvm_runs"}},           {"guest FPU loads", {"kvm_fpu_loads"}},
            {"guest FPU puts", {"kvm_fpu_unloads"}}, {"VM exits", {"vm_exits"}},
            {"  FPU-caused", {"fpu_vm_exits"}},    {"guest #NM", {"guest_nm_injected"}}};
  }

  const EventSyntax& event_syntax() const override { return x86::event_syntax(); }
  std::uint32_t barrier_kinds() const override { return ev::kBarriers; }

  const std::vector<BugDesc>& bugs() const override { return x86::bugs(); }
  const PolicyDesc* find_policy(std::string_view name) const override { return x86::find_policy(name); }
  std::string policy_names() const override { return x86::policy_names(); }
  std::vector<const PolicyDesc*> policies() const override {
    std::vector<const PolicyDesc*> out;
    for (const PolicyInfo& p : x86::policies()) out.push_back(&p);
    return out;
  }
  std::string check_plugin_policy(const fpusim::PluginPolicy& p) const override {
    // By its declared architecture, not by RTTI across the plugin boundary.
    if (p.arch() != name()) return "policy \"" + p.desc().name + "\" is not an x86_64 policy";
    const PolicyInfo* info = &static_cast<const PluginPolicy&>(p).info;
    if (info->name.empty() || !info->make || !info->kvm) {
      return "a policy needs a name, a factory (make) and a KVM behaviour (kvm)";
    }
    if (x86::find_policy(info->name)) {
      return "policy \"" + info->name + "\" is already registered (built in or by an earlier plugin)";
    }
    return "";
  }
  // Plugin policies are listed after every built-in one (order keys below
  // 1000), in the order added.
  void add_plugin_policy(std::unique_ptr<fpusim::PluginPolicy> p) const override {
    static int next_order = 1000;
    policy_registry().add(next_order++, std::move(static_cast<PluginPolicy&>(*p).info));
  }
  // Uses of SSE and AVX (every static user feature behaves alike in the
  // model), and with AMX: the permission, a tile-data write and
  // TILERELEASE; with vCPUs: the run loop, and with AMX the guest's XFD.
  ExploreParts explore_parts(const MachineBase& mb, const PolicyDesc&, unsigned vcpus) const override {
    const Machine& m = static_cast<const Machine&>(mb);
    ExploreParts p;
    p.costs = "intel-like";
    p.uses = {R"(["sse", "ymm"])"};
    const bool amx = m.dynamic & bit(kXtileData);
    if (amx) {
      p.uses.push_back(R"(["xtiledata"])");
      p.letters.push_back(R"({"ev": "xcomp_perm", "features": ["xtiledata"]})");
      p.letters.push_back(R"({"ev": "use", "release": ["xtiledata"]})");
    }
    if (vcpus == 0) return p;
    add_explore_vm(p, vcpus, "io");
    if (amx) {
      // An MSR exit: KVM handles the guest's intercepted WRMSR IA32_XFD in
      // the kernel before the next entry (guest_wrmsr after it).
      p.letters.push_back(R"({"ev": "vm_exit", "reason": "msr"})");
      p.letters.push_back(R"({"ev": "guest_wrmsr", "msr": "xfd", "value": ["xtiledata"]})");
      p.letters.push_back(R"({"ev": "guest_wrmsr", "msr": "xfd", "value": []})");
      p.letters.push_back(R"({"ev": "guest_rdmsr", "msr": "xfd_err"})");
    }
    return p;
  }

  const trace_import::TraceImporter* trace_importer() const override { return &x86::trace_importer(); }

  std::unique_ptr<ArchAgent> make_agent(const Scenario& s, const PolicyDesc& policy, Stats& stats, Checker& checker,
                                        const std::unordered_map<std::string, ContextId>& ids,
                                        const std::vector<Observer*>& observers) const override {
    auto run = std::make_unique<X86Run>(s, info_of(policy), fpusim::bug_bits(*this, policy), stats, checker, ids);
    for (Observer* o : observers) run->add_observer(o);
    run->start(s);
    return run;
  }
};

const X86Arch x86_arch;
const bool registered = (register_arch(&x86_arch), true);

}  // namespace

}  // namespace fpusim::x86

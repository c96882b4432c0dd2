#include "models/arm64/agent.h"

#include "models/arm64/policy.h"
#include "models/core/event_checks.h"
#include "models/core/round.h"
#include "models/core/use.h"

namespace fpusim::arm64 {

namespace {
// FPSR and FPCR: saved with the FPSIMD state in either format (they stay
// in uw.fpsimd_state, §7.3).
constexpr std::uint64_t kFpsrFpcrBytes = 8;
}  // namespace

std::string component_name(unsigned i) {
  static const char* const names[kNumComponents] = {"fpsimd", "sve_z", "sve_p", "sve_ffr", "za", "zt0", "fpmr"};
  return i < kNumComponents ? names[i] : "component" + std::to_string(i);
}

std::string mask_to_names(ComponentMask m) {
  std::string s;
  for (unsigned i : bits(m)) s += (s.empty() ? "" : "|") + component_name(i);
  return s.empty() ? "none" : s;
}

std::array<std::uint32_t, kMaxComponents> component_bytes(const VecLayout& l) {
  std::array<std::uint32_t, kMaxComponents> b{};
  const unsigned vl = l.streaming ? l.svl : l.vl;
  b[kFpsimd] = 32 * 16 + kFpsrFpcrBytes;
  b[kSveZ] = 32 * vl / 8;
  b[kSveP] = 16 * vl / 64;
  b[kSveFfr] = l.streaming && !l.fa64 ? 0 : vl / 64;
  b[kZa] = (l.svl / 8) * (l.svl / 8);   // ZA_SIG_REGS_SIZE: SVL/8 rows of SVL/8 bytes
  b[kZt0] = l.svl && l.sme2 ? 64 : 0;   // ZT_SIG_REG_BYTES
  b[kFpmr] = l.fpmr ? 8 : 0;
  return b;
}

const std::vector<ScalarCostInfo>& scalar_costs() {
  static const std::vector<ScalarCostInfo> c = {
#define FPUSIM_ARM64_COST_INFO(field, doc) {#field, doc, &CostModel::field},
      FPUSIM_ARM64_SCALAR_COSTS(FPUSIM_ARM64_COST_INFO)
#undef FPUSIM_ARM64_COST_INFO
  };
  return c;
}

Agent::Agent(const Machine& machine, const CostModel& cost, Policy& policy, Stats& stats, Checker& checker)
    : machine_(machine), cost_(cost), policy_(policy), stats_(&stats), checker_(&checker), cpus_(machine.cpus) {}

std::shared_ptr<const ComponentSizes> Agent::sizes_for(const VecLayout& l) {
  auto& s = sizes_[l];
  if (!s) s = std::make_shared<const ComponentSizes>(component_bytes(l));
  return s;
}

void Agent::add_vcpu(std::string name, ContextId thread, ContextId guest, bool sve, unsigned vl, bool fpmr) {
  Vcpu v;
  v.fpmr = fpmr;
  v.name = std::move(name);
  v.thread = thread;
  v.guest = guest;
  v.sve = sve;
  v.vl = vl;
  if (vcpu_of_guest_.size() < contexts_.size()) vcpu_of_guest_.resize(contexts_.size(), kNoVcpu);
  vcpu_of_guest_[guest] = static_cast<std::uint32_t>(vcpus_.size());
  // The guest's buffers: vcpu->arch.ctxt.fp_regs and, with SVE, sve_state
  // sized for its maximum VL.
  set_vl(contexts_[guest], sve ? vl : 0);
  vcpus_.push_back(std::move(v));
}

ContextId Agent::add_context(std::string name, ContextKind kind) {
  Context c;
  c.name = std::move(name);
  c.id = static_cast<ContextId>(contexts_.size());
  c.kind = kind;
  c.svl = machine_.sme ? machine_.default_svl : 0;
  contexts_.push_back(std::move(c));
  set_vl(contexts_.back(), machine_.default_vl);
  return contexts_.back().id;
}

void Agent::start() {
  if (stats_->per_context.size() < contexts_.size()) stats_->per_context.resize(contexts_.size());
  for (CpuState& cs : cpus_) cs.zcr_vl = machine_.default_vl, cs.smcr_vl = machine_.sme ? machine_.default_svl : 0;
  for (Context& c : contexts_) policy_.init_context(*this, c);
  pending_ = 0;
}

std::string Agent::context_name(ContextId id) const {
  if (id == kNoContext) return "nobody";
  if (id == kKernelContext) return "the kernel";
  return contexts_[id].name;
}

void Agent::set_vl(Context& ctx, unsigned vl) {
  ctx.vl = vl;
  relayout(ctx);
}

void Agent::relayout(Context& ctx) {
  ctx.sizes = sizes_for(machine_.layout(ctx.vl, ctx.svl, ctx.svcr_sm));
  checker_->set_sizes(ctx.id, ctx.sizes);
}

Cycles Agent::finish() {
  if (pending_ == 0) return 0;
  const auto c = static_cast<Cycles>(round_nearest(pending_));
  pending_ = 0;
  return c;
}

void Agent::charge(CpuId cpu, ContextId ctx, Stat category, double cycles, std::string_view op, Cause cause,
                   std::uint64_t bytes, ComponentMask comps) {
  const auto c = static_cast<Cycles>(round_nearest(cycles));
  if (!observers_.empty()) {
    const OpRecord rec{now(), cpu, ctx, op, static_cast<CauseId>(cause), c,
                       bytes, comps, category};
    for (Observer* o : observers_) o->on_operation(rec);
  }
  pending_ += static_cast<double>(c);
  const ContextId who = ctx == kKernelContext ? kNoContext : ctx;
  stats_->add(Stat::fpu_cycles, who, c);
  stats_->add(category, who, c);
  stats_->cause(cause).cycles += c;
}

void Agent::account(bool save, CpuId cpu, Context& c, Cause cause, bool sve, ComponentMask comps,
                    std::string_view op, const ComponentSizes* sizes) {
  const ComponentSizes& sz = sizes ? *sizes : *c.sizes;
  // The bytes the instructions move: every component of the format (SVE
  // saves and loads write all of Z, P and FFR, zero or not), FPMR when it
  // moves with them; ZA and ZT0 (sme_save_state / sme_load_state) alone.
  const std::uint64_t fpmr = (comps & kMaskFpmr) ? sz[kFpmr] : 0;
  const std::uint64_t bytes = comps == kMaskZa ? sz.of(kMaskZa)
                              : sve ? sz.of(kMaskSve) + kFpsrFpcrBytes + fpmr
                                    : sz[kFpsimd] + fpmr;
  stats_->add(save ? Stat::saves : Stat::restores, c.id, 1);
  stats_->add(save ? Stat::bytes_saved : Stat::bytes_restored, c.id, bytes);
  if (sve) stats_->add(save ? AStat::sve_saves : AStat::sve_restores, c.id, 1);
  auto& pc = stats_->cause(cause);
  (save ? pc.saves : pc.restores) += 1;
  for (unsigned i : bits(comps)) {
    auto& s = stats_->per_component[i];
    (save ? s.saves : s.restores) += 1;
    (save ? s.bytes_saved : s.bytes_restored) += sz[i];
  }
  const double cycles = save ? cost_.save(sve, bytes) : cost_.restore(sve, bytes);
  charge(cpu, c.id, save ? Stat::save_cycles : Stat::restore_cycles, cycles, op, cause, bytes, comps);
}

void Agent::save_user_state(CpuId cpu, Cause cause) {
  CpuState& cs = cpus_[cpu];
  const Context* cur = current(cpu);
  // "if (test_thread_flag(TIF_FOREIGN_FPSTATE)) return;" (kernel threads
  // and idle never clear it).
  if (!cur || cur->foreign || cs.last == kNoContext) return;
  Context& owner = contexts_[cs.last];
  // The format: last->to_save, or for a task binding current's TIF_SVE
  // (before v6.2 always current's TIF_SVE, which KVM set for a vCPU).
  bool sve = cs.to_save == ToSave::kSve ||
             (cs.to_save == ToSave::kCurrent && policy_.save_sve_for_current(*cur));
  const ComponentMask fpmr = machine_.fpmr ? kMaskFpmr : 0;
  // "if (system_supports_fpmr()) *(last->fpmr) = read_sysreg_s(SYS_FPMR);"
  owner.image.copy_from(cs.rf.regs, fpmr);
  if (machine_.sme) kernel_sme_access(cpu, owner.id, "fpsimd_save_user_state(): MRS SVCR");
  if (machine_.sme && owner.kind != ContextKind::kGuest) {
    // "*svcr = read_sysreg_s(SYS_SVCR); if (*svcr & SVCR_ZA_MASK)
    // sme_save_state(last->sme_state, system_supports_sme2()); if (*svcr &
    // SVCR_SM_MASK) { save_sve_regs = true; save_ffr = system_supports_fa64();
    // vl = last->sme_vl; }"
    owner.svcr_sm = cs.sm;
    owner.svcr_za = cs.za;
    if (cs.za) {
      owner.image.copy_from(cs.rf.regs, kMaskZa);
      account(true, cpu, owner, cause, true, kMaskZa, "sme_save");
    }
    if (cs.sm) sve = true;
  }
  if (sve) {
    // sve_save_state() into last->sve_state, FPSR/FPCR into last->st.
    owner.image.copy_from(cs.rf.regs, kMaskVec);
    owner.sve_buf.copy_from(cs.rf.regs, kMaskVec);
    owner.fp_type = FpType::kSve;
    if (owner.kind == ContextKind::kGuest) stats_->add(AStat::guest_saves, owner.id, 1);
    account(true, cpu, owner, cause, true, kMaskVec | fpmr, "sve_save");
  } else {
    // fpsimd_save_state(last->st): V0-V31 only; the SVE buffer is not
    // written, so whatever the Z upper bits, P and FFR held is dropped.
    owner.image.copy_from(cs.rf.regs, kMaskFpsimd);
    owner.image.set_init(kMaskSve);
    owner.fp_type = FpType::kFpsimd;
    if (owner.kind == ContextKind::kGuest) stats_->add(AStat::guest_saves, owner.id, 1);
    account(true, cpu, owner, cause, false, kMaskFpsimd | fpmr, "fpsimd_save");
  }
}

void Agent::load(CpuId cpu, Context& c, Cause cause) {
  CpuState& cs = cpus_[cpu];
  const ComponentMask fpmr = machine_.fpmr ? kMaskFpmr : 0;
  // "write_sysreg_s(current->thread.uw.fpmr, SYS_FPMR)": after the SVCR
  // write since e5fa85fce08b (v6.15); before it (the bug, v6.9 .. v6.14) an
  // SVCR write that changes PSTATE.SM then resets the FPMR just loaded.
  const bool fpmr_before_svcr = has(bugs_, Bug::kFpmrBeforeSvcr);
  if (fpmr_before_svcr) cs.rf.regs.copy_from(c.image, fpmr);
  if (machine_.sme) {
    kernel_sme_access(cpu, c.id, "task_fpsimd_load(): MSR SVCR");
    // "if (test_thread_flag(TIF_SME)) sme_set_vq(...); write_sysreg_s(
    // current->thread.svcr, SYS_SVCR); if (thread_za_enabled(...))
    // sme_load_state(...)".
    if (c.tif_sme) set_smcr(cpu, c.svl, cause);
    // The SVCR write: a change of PSTATE.SM resets the vector registers and
    // FPMR (sm_reset_mask()); without one, an FPSIMD-format load leaves P
    // and FFR as the last streaming task had them (f916dd32a943's bug).
    if (cs.sm != c.svcr_sm) cs.rf.regs.set_init(sm_reset_mask());
    cs.sm = c.svcr_sm;
    cs.za = c.svcr_za;
    if (cs.za) {
      cs.rf.regs.copy_from(c.image, kMaskZa);
      account(false, cpu, c, cause, true, kMaskZa, "sme_load");
    }
  }
  if (!fpmr_before_svcr) cs.rf.regs.copy_from(c.image, fpmr);
  // The format is thread.fp_type (v6.2+). Before v6.2 the kernel tested
  // TIF_SVE here; the model keeps the two equal whenever a task is loaded
  // (a save records the format TIF_SVE chose, a conversion changes both,
  // and KVM's TIF_SVE for a vCPU binding is given back before the VMM
  // thread can return to user), so one rule serves both.
  if (c.fp_type == FpType::kSve) {
    // task_fpsimd_load(), FP_STATE_SVE: TIF_SVE set unless in streaming
    // mode, ZCR_EL1 for the task's VL, sve_load_state() (at the SVL in
    // streaming mode).
    if (!c.svcr_sm) {
      c.tif_sve = true;
      set_zcr(cpu, c.vl, cause);
    }
    cs.rf.regs.copy_from(c.image, kMaskVec);
    account(false, cpu, c, cause, true, kMaskVec | fpmr, "sve_load");
  } else {
    // FP_STATE_FPSIMD: TIF_SVE cleared, fpsimd_load_state(). Writes to V
    // registers zero the Z bits above 128 (Arm ARM, SVE: AdvSIMD writes to a
    // V register clear the upper bits of the Z register); P and FFR keep
    // what they held, under the ZEN trap.
    c.tif_sve = false;
    cs.rf.regs.copy_from(c.image, kMaskFpsimd);
    cs.rf.regs.set_init(bit(kSveZ));
    account(false, cpu, c, cause, false, kMaskFpsimd | fpmr, "fpsimd_load");
  }
  cs.rf.modified = 0;
}

void Agent::bind(CpuId cpu, Context& c, Cause cause) {
  CpuState& cs = cpus_[cpu];
  cs.last = c.id;
  cs.to_save = ToSave::kCurrent;
  c.fpsimd_cpu = cpu;
  if (machine_.sme) set_smen_el0(cpu, c.tif_sme, cause);
  if (machine_.sve) set_zen_el0(cpu, c.tif_sve, cause);
}

void Agent::flush_cpu_state(CpuId cpu) {
  cpus_[cpu].last = kNoContext;
  // "if (system_supports_sme()) sme_smstop();": the state was saved or is
  // nobody's.
  if (machine_.sme) {
    kernel_sme_access(cpu, current(cpu) ? current(cpu)->id : kNoContext, "fpsimd_flush_cpu_state(): SMSTOP");
    smstop_live(cpu, true, true, nullptr);
  }
  if (Context* cur = current(cpu)) cur->foreign = true;
}

void Agent::kernel_sme_access(CpuId cpu, ContextId whose, const char* what) {
  CpuState& cs = cpus_[cpu];
  // A kernel from before SME support (v5.19) has no SME accesses.
  if (kvm_ && !kvm_->sme_aware()) return;
  if (cs.smen_el1 && !cs.smen_el1_unsynchronised) {
    cs.kernel_trap_reported = false;
    return;
  }
  if (cs.kernel_trap_reported) return;
  cs.kernel_trap_reported = true;
  checker_->record_violation(
      {ViolationKind::kKernelTrap, now(), cpu, whose, kNoContext, kMaskZa,
       std::string(what) + " with CPACR_EL1.SMEN " +
           (cs.smen_el1 ? "enabled but not yet synchronised (no ISB)" : "disabled") +
           " for the kernel: an SME access trap in the kernel"});
}

void Agent::smstop_live(CpuId cpu, bool sm, bool za, Context* owner) {
  CpuState& cs = cpus_[cpu];
  if (sm && cs.sm) {
    cs.sm = false;
    cs.rf.regs.set_init(sm_reset_mask());
    cs.rf.modified |= sm_reset_mask();
    if (owner) {
      owner->truth.set_init(sm_reset_mask());
      owner->svcr_sm = false;
      relayout(*owner);
    }
  }
  if (za && cs.za) {
    cs.za = false;
    cs.rf.regs.set_init(kMaskZa);
    cs.rf.modified |= kMaskZa;
    if (owner) {
      owner->truth.set_init(kMaskZa);
      owner->svcr_za = false;
    }
  }
}

template <typename T>
void Agent::write_control(CpuId cpu, T& reg, T value, AStat counter, double cycles, std::string_view op,
                          Cause cause) {
  if (reg == value) return;
  reg = value;
  stats_->add(counter);
  charge(cpu, kNoContext, Stat::control_cycles, cycles, op, cause);
}

void Agent::set_smen_el0(CpuId cpu, bool on, Cause cause) {
  write_control(cpu, cpus_[cpu].smen_el0, on, AStat::cpacr_writes, cost_.cpacr_write,
                on ? "sme_user_enable" : "sme_user_disable", cause);
}

void Agent::set_smcr(CpuId cpu, unsigned svl, Cause cause) {
  write_control(cpu, cpus_[cpu].smcr_vl, svl, AStat::smcr_writes, cost_.smcr_write, "smcr_write", cause);
}

void Agent::set_zen_el0(CpuId cpu, bool on, Cause cause) {
  write_control(cpu, cpus_[cpu].zen_el0, on, AStat::cpacr_writes, cost_.cpacr_write,
                on ? "sve_user_enable" : "sve_user_disable", cause);
}

void Agent::set_zcr(CpuId cpu, unsigned vl, Cause cause) {
  write_control(cpu, cpus_[cpu].zcr_vl, vl, AStat::zcr_writes, cost_.zcr_write, "zcr_write", cause);
}

void Agent::sve_flush_live(CpuId cpu, Cause cause) {
  CpuState& cs = cpus_[cpu];
  cs.rf.regs.set_init(kMaskSve);
  cs.rf.modified |= kMaskSve;
  stats_->add(AStat::sve_flushes);
  charge(cpu, cs.current, Stat::other_cycles, cost_.sve_flush_live, "sve_flush_live", cause, 0, kMaskSve);
}

void Agent::convert(Context& c, FpType to) {
  if (c.fp_type == to) return;
  // fpsimd_to_sve(): the V registers into the low bits of a zeroed SVE
  // image; sve_to_fpsimd(): the low bits back out, the rest dropped.
  c.image.set_init(kMaskSve);
  c.fp_type = to;
  stats_->add(AStat::sve_conversions, c.id, 1);
}

void Agent::take_trap(CpuId cpu, Context& c, Cause cause, bool sme) {
  stats_->add(Stat::traps, c.id, 1);
  stats_->add(sme ? AStat::traps_sme_acc : AStat::traps_sve_acc, c.id, 1);
  ++cpus_[cpu].traps;
  stats_->cause(cause).traps += 1;
  charge(cpu, c.id, Stat::trap_cycles, sme ? cost_.sme_acc_trap : cost_.sve_acc_trap,
         sme ? "sme_acc_trap" : "sve_acc_trap", cause, 0, sme ? kMaskZa : kMaskSve);
}

void Agent::check_current(CpuId cpu, const char* what, bool need_user_mode) {
  const Context* c = current(cpu);
  // Inside KVM_RUN first: the thread is in kernel mode there.
  if (can_act(c, false) && c->vcpu != kNoVcpu) {
    throw SemanticError{std::string(what) + " by " + c->name + " inside KVM_RUN of vCPU " + vcpus_[c->vcpu].name +
                        " (a kvm_return event first)"};
  }
  if (!can_act(c, need_user_mode)) refuse_current(c, cpu, what, need_user_mode);
}

void Agent::after_event(CpuId cpu, Cycles t) {
  const CpuState& cs = cpus_[cpu];
  ContextId user = kNoContext;
  // EL0 SVE traps while CPACR_EL1.ZEN's EL0 bit is clear (in streaming
  // mode: SMEN's), SME while SMEN's is; FP/AdvSIMD never traps for EL0
  // (FPEN stays enabled: the state is loaded before ERET). ZA and ZT0 are
  // out of reach while PSTATE.ZA is 0 too: their instructions trap, and
  // SMSTART ZA zeroes them before any can read them.
  ComponentMask armed = 0;
  if (cs.sm ? !cs.smen_el0 : (machine_.sve && !cs.zen_el0)) armed |= kMaskSve;
  if (machine_.sme && (!cs.smen_el0 || !cs.za)) armed |= kMaskZa;
  if (cs.current != kNoContext) {
    const Context& c = contexts_[cs.current];
    if (c.vcpu != kNoVcpu && vcpus_[c.vcpu].in_guest) {
      // The guest runs: its FP/SVE accesses trap to EL2 unless opened.
      const Vcpu& v = vcpus_[c.vcpu];
      user = v.guest;
      armed = !cs.guest_fp_open ? kMaskVec : v.sve ? 0 : kMaskSve;
      // A vCPU has no SME (KVM has no SME guests): CPTR_EL2.TSM / SMEN traps
      // it (__activate_cptr_traps()). FPMR is out of the guest's reach
      // unless the VM has it (HCRX_EL2.EnFPM, c9150a8ad9cd), and then an FP
      // register like FPCR, behind the FP trap. Host ZA and ZT0, and FPMR
      // for a VM without it, left in the registers are out of reach.
      armed |= kMaskZa | (v.fpmr && cs.guest_fp_open ? 0 : kMaskFpmr);
    } else if (c.in_user && c.is_user()) {
      user = cs.current;
    }
  }
  checker_->update(
      cpu, t, user, user == kNoContext ? nullptr : &contexts_[user].truth, cs.rf.regs, armed, [this](ContextId id) { return context_name(id); },
      [](ComponentMask m) { return mask_to_names(m); });
  // A task in EL0 owns SVE access when it has TIF_SVE (the kernel then
  // tracks and saves its SVE state) and SME access when it has TIF_SME:
  // CPACR_EL1.ZEN / SMEN's EL0 bits must say so (fpsimd_bind_task_to_cpu());
  // in streaming mode SVE is SME's.
  ComponentMask enabled_unowned = 0, trapped_owned = 0;
  if (user != kNoContext && contexts_[user].kind == ContextKind::kUser) {
    const Context& c = contexts_[user];
    if (machine_.sve && !cs.sm) {
      if (cs.zen_el0 && !c.tif_sve) enabled_unowned |= kMaskSve;
      if (!cs.zen_el0 && c.tif_sve) trapped_owned |= kMaskSve;
    }
    if (machine_.sme) {
      if (cs.smen_el0 && !c.tif_sme) enabled_unowned |= kMaskZa;
      if (!cs.smen_el0 && c.tif_sme) trapped_owned |= kMaskZa;
    }
  }
  checker_->check_trap_config(t, cpu, user, enabled_unowned, trapped_owned,
                             [this](ContextId id) { return context_name(id); });
  if (!observers_.empty()) {
    const CpuView view = cpu_view(cpu);
    for (Observer* o : observers_) o->on_cpu_state(cpu, t, view);
  }
}

CpuView Agent::cpu_view(CpuId cpu) const {
  const CpuState& cs = cpus_[cpu];
  CpuView v;
  v.current = cs.current;
  v.owner = cs.last;
  const Context* owner = cs.last == kNoContext ? nullptr : &contexts_[cs.last];
  const Context* cur = cs.current == kNoContext ? nullptr : &contexts_[cs.current];
  const Context* sizer = owner ? owner : cur;
  v.live_bytes = sizer ? sizer->sizes->of(cs.rf.regs.present) : ComponentSizes(component_bytes(machine_.default_vl)).of(cs.rf.regs.present);
  v.traps = cs.traps;
  // In the order of Arm64Arch::controls(): the EL0 enable bits (1 = EL0
  // access allowed, 0 = it traps).
  v.controls[0] = cs.smen_el0;
  v.controls[1] = cs.zen_el0;
  v.controls[2] = cs.zcr_vl;
  v.controls[3] = cs.guest_fp_open;
  return v;
}

// ---------------------------------------------------------------- events

Cycles Agent::context_switch(CpuId cpu, Cycles t, ContextId next_id) {
  event_time_ = t;
  CpuState& cs = cpus_[cpu];
  Context* prev = current(cpu);
  Context* next = next_id == kNoContext ? nullptr : &contexts_[next_id];
  if (next) check_switch_target(*next);
  stats_->add(Stat::context_switches);
  // kvm_sched_out() -> kvm_arch_vcpu_put() before __switch_to().
  if (prev && prev->vcpu != kNoVcpu) {
    Vcpu& v = vcpus_[prev->vcpu];
    if (v.in_guest) {
      throw SemanticError{"switch away from " + prev->name + " while vCPU " + v.name +
                          " runs the guest (a vm_exit event first)"};
    }
    put_vcpu(cpu, v);
  }
  policy_.thread_switch(*this, cpu, prev, next);
  if (prev) {
    prev->running_on = kNoCpu;
    prev->switched_out_at = t + static_cast<Cycles>(pending_);
  }
  cs.current = next_id;
  for (Observer* o : observers_) {
    o->on_switch(cpu, t, prev ? prev->id : kNoContext, next_id, static_cast<Cycles>(pending_));
  }
  if (next) {
    next->running_on = cpu;
    // kvm_sched_in() -> kvm_arch_vcpu_load() after __switch_to().
    if (next->vcpu != kNoVcpu) load_vcpu(cpu, vcpus_[next->vcpu]);
    if (next->is_user() && next->in_user && !next->exited) policy_.return_to_user(*this, cpu, *next);
  }
  return finish();
}

Cycles Agent::use(CpuId cpu, Cycles t, ComponentMask write, ComponentMask read, ComponentMask release) {
  event_time_ = t;
  if (const Context* th = current(cpu); th && th->vcpu != kNoVcpu && vcpus_[th->vcpu].in_guest) {
    guest_use(cpu, t, vcpus_[th->vcpu], write, read, release);
    return finish();
  }
  check_current(cpu, "FP/SIMD use", true);
  Context& c = *current(cpu);
  if (!machine_.fpsimd) {
    throw SemanticError{"FP/SIMD use by " + c.name + " on machine " + machine_.name +
                        ", which has no FP/AdvSIMD (the instruction is undefined: SIGILL)"};
  }
  CpuState& cs = cpus_[cpu];
  const ComponentMask touched = write | read | release;
  if ((touched & kMaskSve) && !machine_.sve && !cs.sm) {
    throw SemanticError{"SVE use (" + mask_to_names(touched & kMaskSve) + ") by " + c.name + " on machine " +
                        machine_.name + ", which has no SVE"};
  }
  if ((touched & kMaskFpmr) && !machine_.fpmr) {
    throw SemanticError{"FPMR use by " + c.name + " on machine " + machine_.name + ", which has no FEAT_FPMR"};
  }
  if (touched & kMaskZa) {
    if (!machine_.sme) throw SemanticError{"ZA use by " + c.name + " on machine " + machine_.name + ", which has no SME"};
    if ((touched & bit(kZt0)) && !machine_.sme2) {
      throw SemanticError{"ZT0 use by " + c.name + " on machine " + machine_.name + ", which has no SME2"};
    }
    if (!cs.za) {
      throw SemanticError{"ZA use by " + c.name + " with PSTATE.ZA clear (an smstart event with \"za\" first)"};
    }
  }
  if ((touched & bit(kSveFfr)) && cs.sm && !machine_.fa64) {
    throw SemanticError{"FFR use by " + c.name + " in streaming mode on machine " + machine_.name +
                        ", which has no FEAT_SME_FA64"};
  }
  // Streaming SVE and ZA are SME: CPACR_EL1.SMEN decides (do_sme_acc).
  if ((cs.sm && (touched & kMaskSve) && !cs.smen_el0) || ((touched & kMaskZa) && !cs.smen_el0)) {
    take_trap(cpu, c, Cause::sme_trap, true);
    policy_.sme_acc(*this, cpu, c);
    policy_.return_to_user(*this, cpu, c);
    if (!cs.smen_el0) panic("arm64: SME still trapped after do_sme_acc() for " + c.name);
  }
  if ((touched & kMaskSve) && !cs.sm && !cs.zen_el0) {
    // ESR_ELx.EC = SVE: the instruction is re-executed after do_sve_acc().
    take_trap(cpu, c, Cause::sve_trap);
    policy_.sve_acc(*this, cpu, c);
    // The handler returns to EL0 through the usual exit path.
    policy_.return_to_user(*this, cpu, c);
    if (!cs.zen_el0) panic("arm64: SVE still trapped after do_sve_acc() for " + c.name);
  }
  checked_use(
      *checker_, t + static_cast<Cycles>(pending_), cpu, c, cs.rf, write, read, release,
      [this](ContextId id) { return context_name(id); }, [](ComponentMask m) { return mask_to_names(m); });
  return finish();
}

Cycles Agent::syscall(CpuId cpu, Cycles t) {
  event_time_ = t;
  check_current(cpu, "syscall", true);
  Context& c = *current(cpu);
  c.in_user = false;
  policy_.syscall_enter(*this, cpu, c);
  return finish();
}

Cycles Agent::return_to_user(CpuId cpu, Cycles t) {
  event_time_ = t;
  check_current(cpu, "return_to_user", false);
  Context& c = *current(cpu);
  if (c.in_user) throw SemanticError{"return_to_user by " + c.name + ", which is already in user mode"};
  c.in_user = true;
  policy_.return_to_user(*this, cpu, c);
  return finish();
}

void Agent::kernel_neon_section(CpuId cpu, Context* cur, bool in_interrupt, ComponentMask clobbers) {
  (void)in_interrupt;  // may_use_simd(): true in task and softirq context; sections never nest here
  stats_->add(Stat::kernel_fpu_sections);
  policy_.kernel_neon_begin(*this, cpu, cur);
  // The section's own NEON work: kernel data in V0-V31. Kernel-mode NEON
  // cannot use SVE; its AdvSIMD writes clear the Z upper bits.
  CpuState& cs = cpus_[cpu];
  const ComponentMask clob = (clobbers ? clobbers : kMaskFpsimd) & kMaskFpsimd;
  for (unsigned i : bits(clob)) cs.rf.regs.tok[i] = Token{kKernelContext, 0};
  cs.rf.regs.present |= clob;
  cs.rf.regs.set_init(bit(kSveZ));
  cs.rf.modified |= clob | bit(kSveZ);
  policy_.kernel_neon_end(*this, cpu, cur);
}

Cycles Agent::kernel_fpu(CpuId cpu, Cycles t, KernelFpuContext where, ComponentMask clobbers) {
  event_time_ = t;
  Context* cur = current(cpu);
  if (cur && cur->vcpu != kNoVcpu && vcpus_[cur->vcpu].in_guest) {
    throw SemanticError{"kernel_fpu on CPU " + std::to_string(cpu) + " while vCPU " + vcpus_[cur->vcpu].name +
                        " runs the guest (an interrupt exits the guest: a vm_exit event first)"};
  }
  if (where == KernelFpuContext::kHardirq || !machine_.fpsimd) {
    // may_use_simd() is false in hardirq context and without FP/AdvSIMD
    // ("!system_supports_fpsimd()"): the caller falls back.
    stats_->add(Stat::kernel_fpu_fallbacks);
    return finish();
  }
  if (where == KernelFpuContext::kTask && cur && cur->is_user() && cur->in_user) {
    throw SemanticError{"kernel_fpu in task context while " + cur->name +
                        " is in user mode (a syscall event must come first, or use \"in\": \"softirq\")"};
  }
  const bool interrupted_user = cur && cur->is_user() && cur->in_user;
  kernel_neon_section(cpu, cur, where != KernelFpuContext::kTask, clobbers);
  // Back to EL0 through the exit path: fpsimd_restore_current_state().
  if (interrupted_user) policy_.return_to_user(*this, cpu, *cur);
  return finish();
}

Cycles Agent::irq(CpuId cpu, Cycles t, bool kneon, ComponentMask clobbers) {
  event_time_ = t;
  Context* cur = current(cpu);
  if (cur && cur->vcpu != kNoVcpu && vcpus_[cur->vcpu].in_guest) {
    throw SemanticError{"irq on CPU " + std::to_string(cpu) + " while vCPU " + vcpus_[cur->vcpu].name +
                        " runs the guest (an interrupt exits the guest: a vm_exit event first)"};
  }
  const bool from_user = cur && cur->is_user() && cur->in_user;
  // An interrupt's kernel-mode NEON runs in the softirq it raises
  // (may_use_simd() is false without FP/AdvSIMD: the fallback).
  if (kneon && !machine_.fpsimd) stats_->add(Stat::kernel_fpu_fallbacks);
  if (kneon && machine_.fpsimd) kernel_neon_section(cpu, cur, true, clobbers);
  if (from_user) policy_.return_to_user(*this, cpu, *cur);
  return finish();
}

Cycles Agent::signal(CpuId cpu, Cycles t, std::uint8_t fault) {
  event_time_ = t;
  check_current(cpu, "signal delivery", false);
  if (fault) refuse_fault("signal delivery");
  Context& c = *current(cpu);
  stats_->add(Stat::signal_frames, c.id, 1);
  c.sigframes.push_back(policy_.signal_deliver(*this, cpu, c));
  c.in_user = true;
  policy_.return_to_user(*this, cpu, c);
  return finish();
}

Cycles Agent::sigreturn(CpuId cpu, Cycles t, std::uint8_t fault) {
  event_time_ = t;
  check_current(cpu, "sigreturn", false);
  if (fault) refuse_fault("sigreturn");
  Context& c = *current(cpu);
  // rt_sigreturn is a syscall: el0_svc() discards the SVE state first.
  if (c.in_user) policy_.syscall_enter(*this, cpu, c);
  if (c.sigframes.empty()) throw SemanticError{"sigreturn by " + c.name + " with no signal frame pending"};
  const StateImage frame = c.sigframes.back();
  c.sigframes.pop_back();
  policy_.sigreturn(*this, cpu, c, frame);
  c.in_user = true;
  policy_.return_to_user(*this, cpu, c);
  return finish();
}

Cycles Agent::fork(CpuId cpu, Cycles t, ContextId child_id) {
  event_time_ = t;
  check_current(cpu, "fork", false);
  Context& parent = *current(cpu);
  // clone is a syscall: el0_svc() discards the SVE state first.
  if (parent.in_user) policy_.syscall_enter(*this, cpu, parent);
  Context& child = contexts_[child_id];
  check_fork_child(parent, child);
  child.in_user = true;
  stats_->add(Stat::forks, child.id, 1);
  policy_.fork(*this, cpu, parent, child);
  return finish();
}

// arm64 saves the FP state to memory before it writes a signal frame and
// reads a frame into memory before it loads it (fpsimd_signal_preserve_
// current_state(), restore_fpsimd_context()): a fault on the frame never
// meets live registers, and one that fails is a SIGSEGV the trace shows.
void Agent::refuse_fault(const char* what) const {
  throw SemanticError{std::string(what) + " with \"fault\": modelled for x86_64 (whose kernels access the frame "
                      "with the registers live); on arm64 a frame fault never touches the registers"};
}

Cycles Agent::exec(CpuId cpu, Cycles t, bool to_user) {
  event_time_ = t;
  check_current(cpu, "exec", false);
  Context& c = *current(cpu);
  // execve is a syscall: el0_svc() discards the SVE state first.
  if (c.in_user) policy_.syscall_enter(*this, cpu, c);
  c.sigframes.clear();
  c.frame_info.clear();
  policy_.exec(*this, cpu, c);
  c.in_user = to_user;
  if (to_user) policy_.return_to_user(*this, cpu, c);
  return finish();
}

Cycles Agent::exit(CpuId cpu, Cycles t) {
  event_time_ = t;
  check_current(cpu, "exit", false);
  Context& c = *current(cpu);
  policy_.exit(*this, cpu, c);
  c.exited = true;
  c.in_user = false;
  return finish();
}

// The target of a ptrace regset access (`what`): a user task, not a vCPU
// thread inside KVM_RUN.
Context& Agent::tracee(ContextId target, const char* what) {
  Context& tc = contexts_[target];
  if (!tc.is_user()) throw SemanticError{std::string(what) + " of " + tc.name + ", which is not a user task"};
  if (tc.vcpu != kNoVcpu) {
    throw SemanticError{std::string(what) + " of " + tc.name + ", which is inside KVM_RUN (a tracee must be stopped)"};
  }
  return tc;
}

Cycles Agent::state_read(CpuId cpu, Cycles t, ContextId target) {
  event_time_ = t;
  Context& tc = tracee(target, "state read");
  check_tracee_stopped(tc, cpu, "state read", false);
  policy_.state_read(*this, cpu, tc);
  return finish();
}

Cycles Agent::state_write(CpuId cpu, Cycles t, ContextId target, ComponentMask write, bool invalid_header) {
  event_time_ = t;
  if (invalid_header) {
    throw SemanticError{"state write with \"invalid_header\": an x86 XSAVE header; arm64's regsets have none"};
  }
  Context& tc = tracee(target, "state write");
  if (!machine_.fpsimd) throw SemanticError{"state write of " + tc.name + " on machine " + machine_.name + ", which has no FP/AdvSIMD"};
  if ((write & bit(kZa)) && !machine_.sme) {
    throw SemanticError{"state write of ZA (NT_ARM_ZA) on machine " + machine_.name + ", which has no SME"};
  }
  if ((write & bit(kZt0)) && !machine_.sme2) {
    throw SemanticError{"state write of ZT0 (NT_ARM_ZT) on machine " + machine_.name + ", which has no SME2"};
  }
  if ((write & kMaskFpmr) && !machine_.fpmr) {
    throw SemanticError{"state write of FPMR (NT_ARM_FPMR) on machine " + machine_.name + ", which has no FPMR"};
  }
  check_tracee_stopped(tc, cpu, "state write", true);
  if ((write & kMaskSve) && !machine_.sve) {
    throw SemanticError{"state write of SVE state on machine " + machine_.name + ", which has no SVE"};
  }
  // NT_ARM_SVE data is at the VL, also for a tracee it takes out of
  // streaming mode.
  write_regset(cpu, tc, write, *sizes_for(machine_.layout(tc.vl, tc.svl, false)), false);
  return finish();
}

Cycles Agent::ssve_write(CpuId cpu, Cycles t, ContextId target, ComponentMask write) {
  event_time_ = t;
  Context& tc = tracee(target, "ssve_write");
  if (!machine_.sme) throw SemanticError{"ssve_write (NT_ARM_SSVE) on machine " + machine_.name + ", which has no SME"};
  check_tracee_stopped(tc, cpu, "ssve_write", true);
  // f916dd32a943 (v6.16): "if (fpsimd && type == ARM64_VEC_SME) return
  // -EINVAL": streaming-mode state must come in the SVE format; only the
  // fpsimd_flush_task_state(target) that v6.16 does first has happened.
  // Before it (the bug) the FPSIMD format was taken.
  if (write == kMaskFpsimd && !has(bugs_, Bug::kSsveFpsimdPayload)) {
    charge(cpu, tc.id, Stat::other_cycles, 0, "ssve_write_refused", Cause::state_access, 0, write);
    flush_task_state(tc);
    return finish();
  }
  // The regset carries FFR's bytes in either case, but without
  // FEAT_SME_FA64 streaming mode has no FFR: the load ignores them
  // (task_fpsimd_load(): "restore_ffr = system_supports_fa64()").
  if (!machine_.fa64) write &= ~bit(kSveFfr);
  write_regset(cpu, tc, write, *sizes_for(machine_.layout(tc.vl, tc.svl, true)), true);
  return finish();
}

// The regset copy of a ptrace write: new values into the target's buffers,
// then the policy's rules for the regset (fpr_set(), sve_set_common(),
// za_set(), zt_set(), fpmr_set()).
void Agent::write_regset(CpuId cpu, Context& tc, ComponentMask write, const ComponentSizes& sizes, bool streaming) {
  for (unsigned i : bits(write)) {
    const Token tok{tc.id, tc.next_version++};
    tc.truth.tok[i] = tok;
    tc.image.tok[i] = tok;
  }
  tc.truth.present |= write;
  tc.image.present |= write;
  charge(cpu, tc.id, Stat::other_cycles, cost_.memcpy(sizes.of(write)), "regset_copy", Cause::state_access,
         sizes.of(write), write);
  policy_.state_written(*this, tc, write, streaming);
}

// ptrace(PTRACE_SETREGSET, NT_ARM_ZA) with the header only (za_set()).
Cycles Agent::za_disable(CpuId cpu, Cycles t, ContextId target) {
  event_time_ = t;
  Context& tc = tracee(target, "za_disable");
  if (!machine_.sme) throw SemanticError{"za_disable (NT_ARM_ZA) on machine " + machine_.name + ", which has no SME"};
  check_tracee_stopped(tc, cpu, "za_disable", true);
  policy_.za_disabled(*this, tc);
  return finish();
}

Cycles Agent::sve_set_vl(CpuId cpu, Cycles t, unsigned vl) {
  event_time_ = t;
  check_current(cpu, "prctl(PR_SVE_SET_VL)", false);
  Context& c = *current(cpu);
  if (c.in_user) {
    throw SemanticError{"prctl(PR_SVE_SET_VL) by " + c.name + " in user mode (a syscall event must come first)"};
  }
  if (!machine_.sve) throw SemanticError{"prctl(PR_SVE_SET_VL) on machine " + machine_.name + ", which has no SVE"};
  // vec_set_vector_length() -> find_supported_vector_length(): the largest
  // supported length not above the request (128 bits is always supported).
  unsigned chosen = machine_.sve_vls.front();
  for (unsigned v : machine_.sve_vls) {
    if (v <= vl) chosen = v;
  }
  policy_.set_vl(*this, cpu, c, chosen);
  return finish();
}

Cycles Agent::sme_set_vl(CpuId cpu, Cycles t, unsigned vl) {
  event_time_ = t;
  check_current(cpu, "prctl(PR_SME_SET_VL)", false);
  Context& c = *current(cpu);
  if (c.in_user) {
    throw SemanticError{"prctl(PR_SME_SET_VL) by " + c.name + " in user mode (a syscall event must come first)"};
  }
  if (!machine_.sme) throw SemanticError{"prctl(PR_SME_SET_VL) on machine " + machine_.name + ", which has no SME"};
  // find_supported_vector_length(ARM64_VEC_SME): the largest supported
  // streaming length not above the request, else the smallest.
  unsigned chosen = machine_.sme_vls.front();
  for (unsigned v : machine_.sme_vls) {
    if (v <= vl) chosen = v;
  }
  policy_.set_svl(*this, cpu, c, chosen);
  return finish();
}

}  // namespace fpusim::arm64

namespace fpusim::arm64 {

// ---------------------------------------------------------------- KVM

void Agent::bind_state(CpuId cpu, Context& guest, ToSave to_save) {
  CpuState& cs = cpus_[cpu];
  cs.last = guest.id;
  cs.to_save = to_save;
}

void Agent::hyp_save_host(CpuId cpu, Vcpu& v, Context& thread, bool sve) {
  CpuState& cs = cpus_[cpu];
  if (sve) {
    thread.image.copy_from(cs.rf.regs, kMaskVec);
    thread.fp_type = FpType::kSve;
  } else {
    thread.image.copy_from(cs.rf.regs, kMaskFpsimd);
    thread.image.set_init(kMaskSve);
    thread.fp_type = FpType::kFpsimd;
  }
  const ComponentMask fpmr = v.fpmr ? kMaskFpmr : 0;
  thread.image.copy_from(cs.rf.regs, fpmr);
  stats_->add(AStat::hyp_host_saves, thread.id, 1);
  account(true, cpu, thread, Cause::guest_trap, sve, (sve ? kMaskVec : kMaskFpsimd) | fpmr,
          sve ? "hyp_sve_save_host" : "hyp_fpsimd_save_host");
}

void Agent::hyp_load_guest(CpuId cpu, Vcpu& v) {
  CpuState& cs = cpus_[cpu];
  Context& g = contexts_[v.guest];
  if (v.sve) {
    // ZCR_EL2 := the vCPU's maximum VQ - 1, then __sve_restore_state() from
    // vcpu->arch.sve_state, whatever the vCPU's fp_type.
    set_zcr(cpu, v.vl, Cause::guest_trap);
    cs.rf.regs.copy_from(g.sve_buf, kMaskVec);
  } else {
    cs.rf.regs.copy_from(g.image, kMaskFpsimd);
    cs.rf.regs.set_init(bit(kSveZ));  // V writes clear the Z upper bits
  }
  // "if (kvm_has_fpmr(kern_hyp_va(vcpu->kvm))) write_sysreg_s(__vcpu_sys_reg(
  // vcpu, FPMR), SYS_FPMR);" (ef3be86021c3); else the host's stays, out of
  // the guest's reach (HCRX_EL2.EnFPM clear).
  const ComponentMask fpmr = v.fpmr ? kMaskFpmr : 0;
  cs.rf.regs.copy_from(g.image, fpmr);
  cs.rf.modified = 0;
  stats_->add(AStat::guest_loads, g.id, 1);
  account(false, cpu, g, Cause::guest_trap, v.sve, (v.sve ? kMaskVec : kMaskFpsimd) | fpmr,
          v.sve ? "hyp_sve_load_guest" : "hyp_fpsimd_load_guest");
}

// pKVM saves and restores the host's SVE state at the largest VL all CPUs
// share, kvm_host_sve_max_vl (a9f41588a902): its byte counts; FPSIMD alone
// has no VL.
const ComponentSizes* Agent::host_max_vl_sizes(bool sve) {
  if (!sve) return nullptr;
  return sizes_for(machine_.layout(machine_.sve_vls.back(), machine_.sme ? machine_.default_svl : 0, false)).get();
}

void Agent::hyp_switch_to_guest(CpuId cpu, Vcpu& v, bool sve) {
  CpuState& cs = cpus_[cpu];
  Context& thread = contexts_[v.thread];
  // 2017: __fpsimd_save_state(&host_ctxt->gp_regs.fp_regs); pKVM:
  // kvm_hyp_save_fpsimd_host() into host_data, with SVE __hyp_sve_save_host()
  // at the host's maximum VL (ZCR_EL1 kept in sve_state->zcr_el1), and FPMR
  // when the VM has it. Whatever the registers hold is restored as it was.
  const ComponentMask mask = (sve ? kMaskVec : kMaskFpsimd) | (v.fpmr ? kMaskFpmr : 0);
  cs.hyp_host.copy_from(cs.rf.regs, mask);
  cs.hyp_host_zcr_vl = cs.zcr_vl;
  stats_->add(AStat::hyp_host_saves, thread.id, 1);
  account(true, cpu, thread, Cause::guest_trap, sve, mask, sve ? "hyp_sve_save_host" : "hyp_fpsimd_save_host",
          host_max_vl_sizes(sve));
  hyp_load_guest(cpu, v);
  cs.hyp_guest_live = true;
}

void Agent::hyp_switch_to_host(CpuId cpu, Vcpu& v, bool sve) {
  CpuState& cs = cpus_[cpu];
  Context& g = contexts_[v.guest];
  Context& thread = contexts_[v.thread];
  // 2017: __fpsimd_save_state(&guest_ctxt->gp_regs.fp_regs) then
  // __fpsimd_restore_state(&host_ctxt->gp_regs.fp_regs). pKVM,
  // fpsimd_sve_sync(): the guest's registers into the vCPU
  // (__hyp_sve_save_guest() for an SVE vCPU, at its maximum VL), its FPMR,
  // then the host's back (__hyp_sve_restore_host(), ZCR_EL1 restored).
  if (v.sve) {
    g.image.copy_from(cs.rf.regs, kMaskVec);
    g.sve_buf.copy_from(cs.rf.regs, kMaskVec);
    g.fp_type = FpType::kSve;
  } else {
    g.image.copy_from(cs.rf.regs, kMaskFpsimd);
    g.fp_type = FpType::kFpsimd;
  }
  const ComponentMask gfpmr = v.fpmr ? kMaskFpmr : 0;
  g.image.copy_from(cs.rf.regs, gfpmr);
  stats_->add(AStat::guest_saves, g.id, 1);
  account(true, cpu, g, Cause::vm_exit, v.sve, (v.sve ? kMaskVec : kMaskFpsimd) | gfpmr,
          v.sve ? "hyp_sve_save_guest" : "hyp_fpsimd_save_guest");
  const ComponentMask mask = (sve ? kMaskVec : kMaskFpsimd) | gfpmr;
  cs.rf.regs.copy_from(cs.hyp_host, mask);
  if (!sve) cs.rf.regs.set_init(bit(kSveZ));
  if (sve) set_zcr(cpu, cs.hyp_host_zcr_vl, Cause::vm_exit);
  stats_->add(AStat::hyp_host_restores, thread.id, 1);
  account(false, cpu, thread, Cause::vm_exit, sve, mask, sve ? "hyp_sve_restore_host" : "hyp_fpsimd_restore_host",
          host_max_vl_sizes(sve));
  cs.hyp_guest_live = false;
}

void Agent::take_guest_trap(CpuId cpu, Vcpu& v) {
  stats_->add(Stat::traps, v.guest, 1);
  stats_->add(AStat::traps_guest_fp, v.guest, 1);
  ++cpus_[cpu].traps;
  stats_->cause(Cause::guest_trap).traps += 1;
  charge(cpu, v.guest, Stat::trap_cycles, cost_.hyp_fp_trap, "guest_fp_trap", Cause::guest_trap, 0,
         v.sve ? kMaskVec : kMaskFpsimd);
}

Vcpu& Agent::running_vcpu(CpuId cpu, const char* what, bool in_guest) {
  const Context* c = current(cpu);
  if (!c || c->vcpu == kNoVcpu) {
    throw SemanticError{std::string(what) + " on CPU " + std::to_string(cpu) + ", where no thread is inside KVM_RUN"};
  }
  Vcpu& v = vcpus_[c->vcpu];
  if (v.in_guest != in_guest) {
    throw SemanticError{std::string(what) + " of vCPU " + v.name +
                        (in_guest ? ", which is not running the guest (a vm_entry event first)"
                                  : ", which is running the guest (a vm_exit event first)")};
  }
  return v;
}

void Agent::load_vcpu(CpuId cpu, Vcpu& v) {
  stats_->add(AStat::vcpu_loads, v.guest, 1);
  v.loaded = true;
  kvm_->vcpu_load(*this, cpu, v, contexts_[v.thread]);
}

void Agent::put_vcpu(CpuId cpu, Vcpu& v) {
  stats_->add(AStat::vcpu_puts, v.guest, 1);
  kvm_->vcpu_put(*this, cpu, v, contexts_[v.thread]);
  v.loaded = false;
}

void Agent::guest_use(CpuId cpu, Cycles t, Vcpu& v, ComponentMask write, ComponentMask read, ComponentMask release) {
  CpuState& cs = cpus_[cpu];
  Context& g = contexts_[v.guest];
  const ComponentMask touched = write | read | release;
  if (!machine_.fpsimd) {
    throw SemanticError{"FP/SIMD use by the guest of vCPU " + v.name + " on machine " + machine_.name +
                        ", which has no FP/AdvSIMD (the guest gets an UNDEF)"};
  }
  if ((touched & kMaskSve) && !v.sve) {
    throw SemanticError{"SVE use by the guest of vCPU " + v.name +
                        ", which has no SVE (the guest would get an UNDEF: declare the VM with \"sve\": true)"};
  }
  if (touched & kMaskZa) {
    throw SemanticError{"SME use by the guest of vCPU " + v.name +
                        ": guest SME is not modelled (KVM has no SME guests: CPTR_EL2.TSM, the guest gets an UNDEF)"};
  }
  if ((touched & kMaskFpmr) && !v.fpmr) {
    throw SemanticError{"FPMR use by the guest of vCPU " + v.name +
                        ", whose VM has no FPMR (HCRX_EL2.EnFPM clear: an UNDEF; FPMR needs a FEAT_FPMR machine and "
                        "a KVM policy of v6.12 on, ef3be86021c3)"};
  }
  if (!cs.guest_fp_open) {
    // ESR_EL2.EC = FP_ASIMD or SVE: the instruction is retried after the
    // hypervisor's handler.
    take_guest_trap(cpu, v);
    kvm_->guest_trap(*this, cpu, v, contexts_[v.thread]);
    // Every scheme's handler ends with the guest's traps open for the rest
    // of this entry (CPTR_EL2.TFP/TZ cleared, CPACR FPEN/ZEN set).
    cs.guest_fp_open = true;
  }
  checked_use(
      *checker_, t + static_cast<Cycles>(pending_), cpu, g, cs.rf, write, read, release,
      [this](ContextId id) { return context_name(id); }, [](ComponentMask m) { return mask_to_names(m); });
}

Cycles Agent::kvm_run(CpuId cpu, Cycles t, ContextId guest) {
  event_time_ = t;
  if (!kvm_) panic("arm64: KVM_RUN without a KVM scheme (the scenario's VMs were not refused)");
  const std::uint32_t vid = guest < vcpu_of_guest_.size() ? vcpu_of_guest_[guest] : kNoVcpu;
  if (vid == kNoVcpu) panic("arm64: kvm_run names context " + context_name(guest) + ", which is not a vCPU");
  Vcpu& v = vcpus_[vid];
  Context* th = current(cpu);
  if (th && th->vcpu != kNoVcpu) {
    throw SemanticError{"KVM_RUN of vCPU " + v.name + " by " + th->name + ", which is already inside KVM_RUN of " +
                        vcpus_[th->vcpu].name};
  }
  check_current(cpu, "KVM_RUN", false);
  Context& thread = *th;
  if (thread.id != v.thread) {
    throw SemanticError{"KVM_RUN of vCPU " + v.name + " by " + thread.name + "; its thread is " +
                        contexts_[v.thread].name};
  }
  // The ioctl is a syscall (el0_svc: fp_user_discard()); a preceding
  // syscall event may stand for its entry.
  if (thread.in_user) {
    thread.in_user = false;
    policy_.syscall_enter(*this, cpu, thread);
  }
  stats_->add(AStat::kvm_runs, v.guest, 1);
  thread.vcpu = vid;
  v.in_run = true;
  // kvm_arch_vcpu_ioctl_run() -> vcpu_load() -> kvm_arch_vcpu_load().
  load_vcpu(cpu, v);
  return finish();
}

Cycles Agent::vm_entry(CpuId cpu, Cycles t) {
  event_time_ = t;
  Vcpu& v = running_vcpu(cpu, "vm_entry", false);
  Context& thread = contexts_[v.thread];
  stats_->add(AStat::vm_entries, v.guest, 1);
  kvm_->ctxflush(*this, cpu, v, thread);
  cpus_[cpu].guest_fp_open = !kvm_->guest_fp_trapped(*this, cpu, v);
  v.in_guest = true;
  for (Observer* o : observers_) o->on_guest(cpu, now(), v.guest, true);
  return finish();
}

Cycles Agent::vm_exit(CpuId cpu, Cycles t) {
  event_time_ = t;
  Vcpu& v = running_vcpu(cpu, "vm_exit", true);
  Context& thread = contexts_[v.thread];
  stats_->add(AStat::vm_exits, v.guest, 1);
  for (Observer* o : observers_) o->on_guest(cpu, event_time_, v.guest, false);
  kvm_->exit(*this, cpu, v, thread);
  cpus_[cpu].guest_fp_open = false;
  v.in_guest = false;
  kvm_->ctxsync(*this, cpu, v, thread);
  return finish();
}

Cycles Agent::kvm_return(CpuId cpu, Cycles t) {
  event_time_ = t;
  Vcpu& v = running_vcpu(cpu, "kvm_return", false);
  Context& thread = contexts_[v.thread];
  // vcpu_put() -> kvm_arch_vcpu_put(), then the ioctl returns to user.
  put_vcpu(cpu, v);
  v.in_run = false;
  thread.vcpu = kNoVcpu;
  thread.in_user = true;
  policy_.return_to_user(*this, cpu, thread);
  return finish();
}

}  // namespace fpusim::arm64

namespace fpusim::arm64 {

Cycles Agent::sme_mode(CpuId cpu, Cycles t, bool start, bool sm, bool za) {
  event_time_ = t;
  check_current(cpu, start ? "smstart" : "smstop", true);
  Context& c = *current(cpu);
  CpuState& cs = cpus_[cpu];
  if (!machine_.sme) throw SemanticError{"SME instruction by " + c.name + " on machine " + machine_.name + ", which has no SME"};
  if (kvm_ && !kvm_->sme_aware()) {
    throw SemanticError{"SME instruction by " + c.name + ": this policy's kernel predates SME support (v5.19)"};
  }
  // MSR SVCR* is an SME instruction: it traps while SMEN is off for EL0.
  if (!cs.smen_el0) {
    take_trap(cpu, c, Cause::sme_trap, true);
    policy_.sme_acc(*this, cpu, c);
    policy_.return_to_user(*this, cpu, c);
    if (!cs.smen_el0) panic("arm64: SME still trapped after do_sme_acc() for " + c.name);
  }
  if (start) {
    // SMSTART SM: the vector registers (and FPMR) are zeroed on entry to
    // streaming mode; SMSTART ZA: ZA (and ZT0) zeroed. Either does nothing
    // when the bit is already set.
    if (sm && !cs.sm) {
      cs.sm = true;
      c.svcr_sm = true;
      cs.rf.regs.set_init(sm_reset_mask());
      c.truth.set_init(sm_reset_mask());
      cs.rf.modified |= sm_reset_mask();
      relayout(c);
    }
    if (za && !cs.za) {
      cs.za = true;
      c.svcr_za = true;
      cs.rf.regs.set_init(kMaskZa);
      c.truth.set_init(kMaskZa);
      cs.rf.modified |= kMaskZa;
    }
  } else {
    smstop_live(cpu, sm, za, &c);
  }
  return finish();
}

}  // namespace fpusim::arm64

#include "models/x86/agent.h"

#include <cmath>

#include "models/core/round.h"
#include "models/core/use.h"
#include "models/x86/policy.h"

namespace fpusim::x86 {

namespace {
// kernel_fpu_begin_mask(KFPU_387 | KFPU_MXCSR) users (crypto, RAID) clobber
// at most these user components by default.
constexpr ComponentMask kDefaultKernelClobber = bit(kX87) | bit(kSSE) | bit(kYMM);
}  // namespace

Agent::Agent(const Machine& machine, const CostModel& cost, Policy& policy, Stats& stats, Checker& checker)
    : machine_(machine), cost_(cost), policy_(policy), stats_(&stats), checker_(&checker),
      cpus_(machine.cpus) {
  for (unsigned i = 0; i < kMaxComponents && i < kNumXfeatures; ++i) {
    if (machine_.cfg.kernel.max_features & bit(i)) comp_bytes_[i] = component_size(machine_.cpuid, i);
  }
  mask_bytes_ = MaskBytes(comp_bytes_);
  processes_.reserve(16);
}

std::uint32_t Agent::add_process(std::string name) {
  processes_.push_back(Process{std::move(name), 0});
  return static_cast<std::uint32_t>(processes_.size() - 1);
}

ContextId Agent::add_context(std::string name, ContextKind kind, std::uint32_t process) {
  Context c;
  c.name = std::move(name);
  c.id = static_cast<ContextId>(contexts_.size());
  c.kind = kind;
  c.process = process;
  reset_fpstate(c);
  contexts_.push_back(std::move(c));
  stats_->per_context.emplace_back();
  return contexts_.back().id;
}

void Agent::start() {
  for (CpuId c = 0; c < cpus_.size(); ++c) {
    CpuState& cs = cpus_[c];
    cs.trap.xcr0 = machine_.xcr0;
    // fpu__init_cpu_xstate(): IA32_XFD starts as init_fpstate.xfd.
    cs.trap.xfd = machine_.dynamic;
    cs.xfd_cache = machine_.dynamic;
    policy_.init_cpu(*this, c);
  }
  for (Context& c : contexts_) policy_.init_context(*this, c);
  pending_ = 0;
}

std::string Agent::context_name(ContextId id) const {
  if (id == kNoContext) return "nobody";
  if (id == kKernelContext) return "the kernel";
  return contexts_[id].name;
}

void Agent::reset_fpstate(Context& c) {
  // fpstate_reset(): embedded buffer of fpu_kernel_cfg.default_size with the
  // default features; xfd = init_fpstate.xfd (dynamic features armed).
  Fpstate& f = c.fpstate;
  f.id = next_fpstate_id_++;
  f.xfeatures = machine_.cfg.kernel.default_features;
  f.xfd = machine_.dynamic;
  f.size = machine_.cfg.kernel.default_size;
  f.user_size = machine_.cfg.user.default_size;
  f.image = StateImage{};
  f.header_invalid = false;
}

void Agent::charge(CpuId cpu, ContextId ctx, Stat category, double cycles, std::string_view op, Cause cause,
                   std::uint64_t bytes, ComponentMask comps) {
  const auto c = static_cast<Cycles>(round_nearest(cycles));
  if (!observers_.empty()) {
    const OpRecord rec{now(), cpu, ctx, op, static_cast<CauseId>(cause), c, bytes, comps, category};
    for (Observer* o : observers_) o->on_operation(rec);
  }
  pending_ += static_cast<double>(c);
  const ContextId who = (ctx == kKernelContext) ? kNoContext : ctx;
  stats_->add(Stat::fpu_cycles, who, c);
  stats_->add(category, who, c);
  stats_->per_cause[static_cast<size_t>(cause)].cycles += c;
}

void Agent::account_save_restore(bool save, CpuId cpu, ContextId ctx, Cause cause, Cycles cycles,
                                 std::uint64_t bytes, ComponentMask comps, std::string_view op) {
  stats_->add(save ? Stat::saves : Stat::restores, ctx, 1);
  stats_->add(save ? Stat::bytes_saved : Stat::bytes_restored, ctx, bytes);
  auto& pc = stats_->per_cause[static_cast<size_t>(cause)];
  (save ? pc.saves : pc.restores) += 1;
  for (unsigned i : bits(comps)) {
    auto& s = stats_->per_component[i];
    if (save) {
      s.saves += 1;
      s.bytes_saved += comp_bytes_[i];
    } else {
      s.restores += 1;
      s.bytes_restored += comp_bytes_[i];
    }
  }
  charge(cpu, ctx, save ? Stat::save_cycles : Stat::restore_cycles, static_cast<double>(cycles), op, cause,
         bytes, comps);
}

ComponentMask Agent::written_by_save(const CpuState& cs, const Fpstate& fps, ComponentMask mask) const {
  const StateImage& regs = cs.rf.regs;
  // XSAVE with XFD[i] = 1 writes component i as init (XSTATE_BV[i] = 0).
  const ComponentMask live = regs.present & ~cs.trap.xfd & mask;
  switch (machine_.save_insn) {
    case SaveInsn::kFxsave:
    case SaveInsn::kXsave:
      return mask & ~cs.trap.xfd;  // no optimisation: every requested component
    case SaveInsn::kXsavec:
      return live;  // init optimisation only
    case SaveInsn::kXsaveopt:
    case SaveInsn::kXsaves:
      // Init and modified optimisations: a component unchanged since the
      // XRSTOR that loaded it from this very buffer is not written again.
      if (cs.rf.restored_from == fps.id) return live & cs.rf.modified;
      return live;
    case SaveInsn::kCount: break;
  }
  return live;
}

void Agent::save(CpuId cpu, Context& task, Cause cause, ComponentMask only) {
  CpuState& cs = cpus_[cpu];
  Context& c = storage(task);
  Fpstate& f = c.fpstate;
  const ComponentMask mask =
      f.xfeatures & (machine_.xcr0 | machine_.xss) & only & ~cs.kept;
  const ComponentMask written = written_by_save(cs, f, mask);
  // XSTATE_BV[i] = XINUSE[i] for every requested component (0 under XFD).
  // A confidential guest's registers were scrubbed by the firmware at VM
  // exit: what is saved here is init, harmlessly.
  const ComponentMask bv = cs.rf.regs.present & mask & ~cs.trap.xfd;
  f.image.present = (f.image.present & ~mask) | bv;
  for (unsigned i : bits(bv)) f.image.tok[i] = cs.rf.regs.tok[i];
  const std::uint64_t bytes = (machine_.save_insn == SaveInsn::kFxsave)
                                  ? kLegacyAreaSize
                                  : kXsaveHeaderSize + bytes_of(written);
  account_save_restore(true, cpu, c.id, cause, cost_.save(machine_.save_insn, bytes), bytes, written, "save");
}

void Agent::xfd_update_state(CpuId cpu, const Fpstate& fps, Cause cause) {
  // xfd_update_state() (arch/x86/kernel/fpu/xstate.h): only when the CPU has
  // dynamic features, and only when the per-CPU cache differs.
  if (!machine_.dynamic) return;
  CpuState& cs = cpus_[cpu];
  const ComponentMask xfd =
      fps.xfd | ((cs.kept && contexts_[cs.keeper].fpstate.id != fps.id) ? cs.kept : ComponentMask{0});
  if (cs.xfd_cache == xfd) {
    stats_->add(XStat::xfd_writes_avoided);
    return;
  }
  cs.xfd_cache = xfd;
  cs.trap.xfd = xfd;
  stats_->add(XStat::xfd_writes);
  charge(cpu, kNoContext, Stat::control_cycles, cost_.wrmsr_xfd, "wrmsr_xfd", cause, 0, xfd);
}

void Agent::restore(CpuId cpu, Context& c, ComponentMask mask, Cause cause) {
  xfd_update_state(cpu, storage(c).fpstate, cause);
  xrstor(cpu, c, mask, cause);
}

void Agent::xrstor(CpuId cpu, Context& task, ComponentMask mask, Cause cause) {
  CpuState& cs = cpus_[cpu];
  Context& c = storage(task);
  Fpstate& f = c.fpstate;
  const ComponentMask rfbm = mask & (machine_.xcr0 | machine_.xss) & ~cs.kept;
  if (f.header_invalid) {
    // XRSTOR of a header with reserved bits set takes #GP in the kernel; the
    // v4.x copy_kernel_to_xregs() WARNed and ignored it, and the registers
    // kept what they held (ptrace07's "FPU registers take on the values from
    // other tasks"; fixed by 814fb7bb7db5, which refuses such a write).
    checker_->record_violation({ViolationKind::kKernelTrap, now(), cpu, c.id,
                               kNoContext, rfbm,
                               "XRSTOR from " + context_name(c.id) +
                                   "'s buffer, whose XSAVE header sets reserved bits: #GP in the kernel"});
    account_save_restore(false, cpu, c.id, cause, cost_.restore(machine_.restore_insn(), kXsaveHeaderSize),
                         kXsaveHeaderSize, 0, "restore_gp");
    return;
  }
  const ComponentMask loaded = rfbm & f.image.present;
  // XRSTOR of a component whose XSTATE_BV bit is set while IA32_XFD arms it
  // raises #NM in the kernel (SDM 13.14): the WARN in
  // exc_device_not_available() that b45f72177594 fixed for KVM guests, a
  // trap the kernel takes on its own state access (kernel_trap). The model
  // counts it and goes on as if the XRSTOR had loaded the buffer.
  if (const ComponentMask armed = loaded & cs.trap.xfd) {
    stats_->add(XStat::kernel_xrstor_nm, c.id, 1);
    checker_->record_violation({ViolationKind::kKernelTrap, now(), cpu, c.id,
                               kNoContext, armed,
                               "XRSTOR of " + mask_to_names(armed) + " from " + context_name(c.id) +
                                   "'s buffer with XSTATE_BV set while IA32_XFD arms it: #NM in the kernel"});
  }
  cs.rf.regs.copy_from(f.image, rfbm);
  cs.rf.modified &= ~rfbm;
  cs.rf.restored_from = f.id;
  const std::uint64_t bytes = kXsaveHeaderSize + bytes_of(loaded);
  account_save_restore(false, cpu, c.id, cause, cost_.restore(machine_.restore_insn(), bytes), bytes, loaded,
                       "restore");
}

// The user features a signal frame carries back: every one the frame holds,
// PKRU included (restore_fpregs_from_user(): XRSTOR of the frame's
// xfeatures, init for the rest of xfeatures_mask_uabi()).
ComponentMask Agent::sigframe_mask(const Context& c) const {
  return c.fpstate.xfeatures & machine_.user_features();
}

void Agent::xsave_to_sigframe(CpuId cpu, Context& c) {
  const ComponentMask mask = c.fpstate.xfeatures & machine_.user_features();
  // The frame is the task's to read: the registers must hold its state,
  // checked as a use of everything the frame carries.
  checker_->check_use(
      now(), cpu, c.id, c.truth, cpus_[cpu].rf.regs, mask,
      [this](ContextId id) { return context_name(id); }, [](ComponentMask m) { return mask_to_names(m); },
      "registers saved into the signal frame");
  StateImage frame;
  frame.copy_from(cpus_[cpu].rf.regs, mask);
  c.sigframes.push_back(frame);
  const std::uint64_t bytes = c.fpstate.user_size;
  account_save_restore(true, cpu, c.id, Cause::signal, cost_.save(SaveInsn::kXsave, bytes), bytes, mask,
                       "sigframe_xsave");
}

void Agent::xrstor_from_sigframe(CpuId cpu, Context& c, const StateImage& frame, bool faulted) {
  CpuState& cs = cpus_[cpu];
  const ComponentMask mask = sigframe_mask(c);
  cs.rf.regs.copy_from(frame, mask);
  cs.rf.modified |= mask;
  cs.rf.restored_from = 0;  // a user buffer, not the task's fpstate
  if (!faulted) c.truth.copy_from(frame, mask);
  const ComponentMask loaded = frame.present & mask;
  const std::uint64_t bytes = kXsaveHeaderSize + bytes_of(loaded);
  account_save_restore(false, cpu, c.id, Cause::signal, cost_.restore(RestoreInsn::kXrstor, bytes), bytes, loaded,
                       "sigframe_xrstor");
}

void Agent::restore_init(CpuId cpu, ComponentMask mask, Cause cause) {
  CpuState& cs = cpus_[cpu];
  const ComponentMask rfbm = mask & (machine_.xcr0 | machine_.xss);
  cs.rf.regs.set_init(rfbm);
  cs.rf.modified &= ~rfbm;
  cs.rf.restored_from = 0;  // init_fpstate: no task buffer
  stats_->add(Stat::init_restores);
  const std::uint64_t bytes = kXsaveHeaderSize;
  account_save_restore(false, cpu, cs.current, cause, cost_.restore(machine_.restore_insn(), bytes), bytes, 0,
                       "restore_init");
}

void Agent::pkru_load(CpuId cpu, const Context& ctx, Cause cause) {
  if (!(machine_.xcr0 & bit(kPKRU))) return;
  CpuState& cs = cpus_[cpu];
  // Two contexts that never wrote PKRU both hold the default value.
  const bool want_live = ctx.truth.present & bit(kPKRU);
  const bool reg_live = cs.rf.regs.present & bit(kPKRU);
  const bool same = want_live ? (reg_live && cs.rf.regs.tok[kPKRU] == ctx.truth.tok[kPKRU]) : !reg_live;
  if (same) return;
  if (want_live) {
    cs.rf.regs.present |= bit(kPKRU);
    cs.rf.regs.tok[kPKRU] = ctx.truth.tok[kPKRU];
  } else {
    cs.rf.regs.present &= ~bit(kPKRU);
  }
  cs.rf.modified |= bit(kPKRU);
  stats_->add(XStat::pkru_writes);
  charge(cpu, ctx.id, Stat::control_cycles, cost_.wrpkru, "wrpkru", cause, 8, bit(kPKRU));
}

void Agent::set_ts(CpuId cpu, bool ts, Cause cause) {
  CpuState& cs = cpus_[cpu];
  if (cs.trap.cr0_ts == ts) return;
  cs.trap.cr0_ts = ts;
  stats_->add(ts ? XStat::cr0_ts_sets : XStat::cr0_ts_clears);
  charge(cpu, kNoContext, Stat::control_cycles, ts ? cost_.stts : cost_.clts, ts ? "stts" : "clts", cause);
}

void Agent::charge_memcpy(CpuId cpu, ContextId ctx, std::uint64_t bytes, Cause cause) {
  charge(cpu, ctx, Stat::other_cycles, static_cast<double>(cost_.memcpy(bytes)), "memcpy", cause, bytes);
}

void Agent::save_into_child(CpuId cpu, Context& child) {
  CpuState& cs = cpus_[cpu];
  StateImage img;
  img.present = cs.rf.regs.present & child.fpstate.xfeatures;
  for (unsigned i : bits(img.present)) img.tok[i] = Token{child.id, child.next_version++};
  const std::uint64_t restored_from = cs.rf.restored_from;
  cs.rf.restored_from = 0;  // a different buffer: no modified optimisation
  save(cpu, child, Cause::fork);
  cs.rf.restored_from = restored_from;
  child.fpstate.image = img;
  child.truth = img;
}

void Agent::take_trap(CpuId cpu, ContextId ctx, XStat kind, Cause cause, std::string_view op, ComponentMask comps) {
  stats_->add(Stat::traps, ctx, 1);
  stats_->add(kind, ctx, 1);
  ++cpus_[cpu].traps;
  stats_->per_cause[static_cast<size_t>(cause)].traps += 1;
  charge(cpu, ctx, Stat::trap_cycles, cost_.nm_trap, op, cause, 0, comps);
}

void Agent::after_event(CpuId cpu, Cycles t) {
  const CpuState& cs = cpus_[cpu];
  ContextId user = kNoContext;
  if (cs.current != kNoContext && contexts_[cs.current].in_user && contexts_[cs.current].is_user()) {
    user = cs.current;
  } else if (const Vcpu* v = guest_running(cpu)) {
    user = v->guest;  // the guest runs with whatever traps are armed
  }
  ComponentMask armed = cs.trap.cr0_ts ? machine_.user_features() : (cs.trap.xfd & machine_.user_features());
  checker_->update(
      cpu, t, user, user == kNoContext ? nullptr : &contexts_[user].truth, cs.rf.regs, armed,
      [this](ContextId id) { return context_name(id); }, [](ComponentMask m) { return mask_to_names(m); });
  // A task in user mode may reach a dynamic feature (AMX) only if its
  // fpstate has room for it: IA32_XFD must arm every one it lacks
  // (xfd_update_state() with the task's fpstate->xfd before it returns).
  // Trapped-though-owned is no x86 rule: lazy schemes trap owned state.
  if (machine_.dynamic && user != kNoContext && contexts_[user].is_user()) {
    const ComponentMask unowned = machine_.dynamic & ~cs.trap.xfd & ~contexts_[user].fpstate.xfeatures;
    checker_->check_trap_config(t, cpu, user, unowned, 0, [this](ContextId id) { return context_name(id); });
  }
  if (!observers_.empty()) {
    const CpuView view = cpu_view(cpu);
    for (Observer* o : observers_) o->on_cpu_state(cpu, t, view);
  }
}

CpuView Agent::cpu_view(CpuId cpu) const {
  const CpuState& cs = cpus_[cpu];
  CpuView v;
  v.current = cs.current;
  v.owner = cs.owner_ctx;
  v.live_bytes = bytes_of(cs.rf.regs.present);
  v.traps = cs.traps;
  // In the order of X86Arch::controls() (models/x86/arch.cpp).
  v.controls[0] = cs.trap.cr0_ts;
  v.controls[1] = cs.trap.xfd;
  return v;
}

// ---------------------------------------------------------------- events

Cycles Agent::context_switch(CpuId cpu, Cycles t, ContextId next_id) {
  event_time_ = t;
  CpuState& cs = cpus_[cpu];
  Context* prev = current(cpu);
  Context* next = next_id == kNoContext ? nullptr : &contexts_[next_id];
  if (next) check_switch_target(*next);
  if (prev && prev->vcpu != kNoVcpu) {
    Vcpu& v = vcpus_[prev->vcpu];
    if (v.in_guest) {
      throw SemanticError{"switch away from " + prev->name + " while its vCPU " + v.name +
                          " runs the guest (a vm_exit event must come first)"};
    }
    // kvm_sched_out() -> kvm_arch_vcpu_put(): v4.x put the guest FPU there.
    if (!kvm_->guest_fpu_per_run()) {
      if (v.fpu_loaded) {
        put_guest_fpu(cpu, *prev, v);
      } else {
        v.fpu_counter = 0;
      }
    }
  }
  stats_->add(Stat::context_switches);
  policy_.switch_fpu(*this, cpu, prev, next);
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
    // A task resumes in the mode it was switched out in; one preempted in
    // user mode goes straight back to user space.
    if (next->is_user() && next->in_user && !next->exited) policy_.return_to_user(*this, cpu, *next);
  }
  return finish();
}

Cycles Agent::use(CpuId cpu, Cycles t, ComponentMask write, ComponentMask read, ComponentMask release) {
  event_time_ = t;
  if (Context* cur = current(cpu); cur && cur->vcpu != kNoVcpu && vcpus_[cur->vcpu].in_guest) {
    guest_use(cpu, vcpus_[cur->vcpu], write, read, release);
    return finish();
  }
  check_current(cpu, "FP/SIMD use", true);
  Context& c = *current(cpu);
  CpuState& cs = cpus_[cpu];
  const ComponentMask touched = write | read | release;
  // Each trap is handled and the instruction re-executed; a correct kernel
  // needs at most one of each kind.
  for (int handled = 0;; ++handled) {
    const TrapDecision d = cs.trap.check(touched);
    if (d.kind == TrapKind::kNone) break;
    if (handled == 4) panic("trap still pending after its handler ran");
    if (d.kind == TrapKind::kUd) {
      take_trap(cpu, c.id, XStat::traps_ud, Cause::nm_trap, "ud_trap", d.ud_bits);
      stats_->add(XStat::sigill, c.id, 1);
      charge(cpu, c.id, Stat::other_cycles, cost_.sigill, "sigill", Cause::nm_trap);
      return finish();
    }
    if (d.kind == TrapKind::kNmXfd) {
      // exc_device_not_available() -> handle_xfd_event() (traps.c): read and
      // clear IA32_XFD_ERR, then xfd_enable_feature() under the permission
      // check; -EPERM -> SIGILL.
      cs.trap.xfd_err = d.xfd_err;
      take_trap(cpu, c.id, XStat::traps_nm_xfd, Cause::nm_trap, "nm_xfd_trap", d.xfd_err);
      charge(cpu, c.id, Stat::control_cycles, cost_.rdmsr_xfd_err + cost_.wrmsr_xfd_err, "xfd_err", Cause::nm_trap);
      cs.trap.xfd_err = 0;
      if (policy_.xfd_nm(*this, cpu, c, d.xfd_err)) continue;
      const ComponentMask want = d.xfd_err & machine_.dynamic;
      if ((process_of(c).perm & want) != want || !want) {
        stats_->add(XStat::sigill, c.id, 1);
        charge(cpu, c.id, Stat::other_cycles, cost_.sigill, "sigill", Cause::nm_trap, 0, d.xfd_err);
        return finish();
      }
      // fpstate_realloc(): the live registers are the truth (the task was
      // executing in user mode); a larger vzalloc'ed buffer replaces the old
      // one and XFD is cleared for the feature.
      policy_.load_user_regs(*this, cpu, c, Cause::xfd_realloc);
      Fpstate& f = c.fpstate;
      const std::uint32_t old_size = f.size;
      f.id = next_fpstate_id_++;
      f.xfeatures |= want;
      f.xfd &= ~want;
      f.size = buffer_size(machine_.cpuid, f.xfeatures, machine_.compacted());
      f.user_size = standard_size(machine_.cpuid, f.xfeatures);
      f.image = StateImage{};
      stats_->add(XStat::fpstate_reallocs, c.id, 1);
      stats_->add(XStat::fpstate_bytes_grown, c.id, f.size - old_size);
      charge(cpu, c.id, Stat::other_cycles, cost_.fpstate_realloc, "fpstate_realloc", Cause::xfd_realloc,
             f.size, want);
      xfd_update_state(cpu, f, Cause::xfd_realloc);
      continue;
    }
    // CR0.TS: the lazy-restore #NM (fpu__restore / math_state_restore).
    take_trap(cpu, c.id, XStat::traps_nm_ts, Cause::nm_trap, "nm_ts_trap");
    policy_.nm_ts_trap(*this, cpu, c);
  }

  // VZEROUPPER / TILERELEASE (release): back to init (XINUSE[i] = 0).
  checked_use(
      *checker_, t + static_cast<Cycles>(pending_), cpu, c, cs.rf, write, read, release,
      [this](ContextId id) { return context_name(id); }, [](ComponentMask m) { return mask_to_names(m); });
  return finish();
}

Cycles Agent::syscall(CpuId cpu, Cycles t) {
  event_time_ = t;
  check_current(cpu, "syscall", true);
  current(cpu)->in_user = false;
  return finish();
}

Cycles Agent::return_to_user(CpuId cpu, Cycles t) {
  event_time_ = t;
  check_current(cpu, "return_to_user", false);
  Context& c = *current(cpu);
  if (c.in_user) throw SemanticError{"return_to_user by " + c.name + ", which is already in user mode"};
  check_not_pending(c, "return_to_user");
  c.in_user = true;
  policy_.return_to_user(*this, cpu, c);
  return finish();
}

void Agent::kernel_fpu_section(CpuId cpu, Context* cur, bool in_interrupt, bool interrupted_user,
                               ComponentMask clobbers) {
  // v4.x: a loaded guest FPU sits inside __kernel_fpu_begin() (in_kernel_fpu
  // set), so irq_fpu_usable() refuses (kernel_fpu_disabled()).
  const bool guest_fpu_held = cur && cur->vcpu != kNoVcpu && vcpus_[cur->vcpu].fpu_loaded;
  if (guest_fpu_held || !policy_.kernel_fpu_usable(*this, cpu, cur, in_interrupt, interrupted_user)) {
    stats_->add(Stat::kernel_fpu_fallbacks);
    return;
  }
  stats_->add(Stat::kernel_fpu_sections);
  policy_.kernel_fpu_begin(*this, cpu, cur);
  charge(cpu, kNoContext, Stat::control_cycles, cost_.fninit, "fninit", Cause::kernel_fpu);
  // The section's own SIMD work overwrites these registers with kernel data.
  CpuState& cs = cpus_[cpu];
  const ComponentMask clob = (clobbers ? clobbers : kDefaultKernelClobber) & machine_.xcr0;
  for (unsigned i : bits(clob)) cs.rf.regs.tok[i] = Token{kKernelContext, 0};
  cs.rf.regs.present |= clob;
  cs.rf.modified |= clob;
  policy_.kernel_fpu_end(*this, cpu, cur);
}

Cycles Agent::kernel_fpu(CpuId cpu, Cycles t, KernelFpuContext where, ComponentMask clobbers) {
  event_time_ = t;
  Context* cur = current(cpu);
  if (cur && cur->vcpu != kNoVcpu && vcpus_[cur->vcpu].in_guest) {
    if (where == KernelFpuContext::kTask) {
      throw SemanticError{"kernel_fpu in task context while " + cur->name + " runs its guest (vm_exit first)"};
    }
    // An interrupt in the guest: VM exit (EXTERNAL_INTERRUPT), the handler
    // runs in the host with interrupts enabled, then VM entry again.
    Vcpu& v = vcpus_[cur->vcpu];
    exit_guest(cpu, *cur, v);
    kernel_fpu_section(cpu, cur, true, false, clobbers);
    enter_guest(cpu, *cur, v);
    return finish();
  }
  if (where == KernelFpuContext::kTask && cur && cur->is_user() && cur->in_user) {
    throw SemanticError{"kernel_fpu in task context while " + cur->name +
                        " is in user mode (a syscall event must come first, or use \"in\": \"softirq\")"};
  }
  const bool interrupted_user = cur && cur->is_user() && cur->in_user;
  const bool in_interrupt = where != KernelFpuContext::kTask;
  kernel_fpu_section(cpu, cur, in_interrupt, interrupted_user, clobbers);
  // An interrupt that hit user mode goes back there through
  // irqentry_exit_to_user_mode() -> exit_to_user_mode_prepare(), which
  // reloads the registers kernel_fpu_begin() took (deferred policy).
  if (in_interrupt && interrupted_user) policy_.return_to_user(*this, cpu, *cur);
  return finish();
}

Cycles Agent::irq(CpuId cpu, Cycles t, bool kfpu, ComponentMask clobbers) {
  event_time_ = t;
  Context* cur = current(cpu);
  if (cur && cur->vcpu != kNoVcpu && vcpus_[cur->vcpu].in_guest) {
    Vcpu& v = vcpus_[cur->vcpu];
    exit_guest(cpu, *cur, v);
    if (kfpu) kernel_fpu_section(cpu, cur, true, false, clobbers);
    enter_guest(cpu, *cur, v);
    return finish();
  }
  const bool from_user = cur && cur->is_user() && cur->in_user;
  if (kfpu) kernel_fpu_section(cpu, cur, true, from_user, clobbers);
  // The interrupt returns to user space through the same exit path.
  if (from_user) policy_.return_to_user(*this, cpu, *cur);
  return finish();
}

void Agent::refuse_pending(const Context& c, const char* what) const {
  if (c.vcpu != kNoVcpu) {
    throw SemanticError{std::string(what) + " by " + c.name + ", which is inside KVM_RUN (vCPU " +
                        vcpus_[c.vcpu].name + "): a kvm_return event must come first"};
  }
  const bool sig = c.pending == Context::Pending::kSignal;
  throw SemanticError{std::string(what) + " by " + c.name + ", whose " + (sig ? "signal delivery" : "sigreturn") +
                      " faulted and waits in the kernel: its next " + (sig ? "signal" : "sigreturn") +
                      " event retries it first"};
}

Cycles Agent::signal(CpuId cpu, Cycles t, std::uint8_t fault) {
  event_time_ = t;
  check_current(cpu, "signal delivery", false);
  Context& c = *current(cpu);
  if (c.pending == Context::Pending::kSigreturn || c.vcpu != kNoVcpu) refuse_pending(c, "signal delivery");
  const bool retry = c.pending == Context::Pending::kSignal;
  if (!retry) stats_->add(Stat::signal_frames, c.id, 1);
  if (fault == kFaultRetry) {
    // copy_fpstate_to_sigframe()'s XSAVE into the frame faulted: the task
    // faults the page in (and may be preempted) before it retries.
    if (!retry) c.owner_seen = cpus_[cpu].owner_ctx;
    policy_.signal_frame_fault(*this, cpu, c, retry);
    c.pending = Context::Pending::kSignal;
    c.in_user = false;
    return finish();
  }
  c.pending = Context::Pending::kNone;
  policy_.signal_deliver(*this, cpu, c, retry);
  c.in_user = true;  // the handler runs in user mode
  return finish();
}

Cycles Agent::sigreturn(CpuId cpu, Cycles t, std::uint8_t fault) {
  event_time_ = t;
  check_current(cpu, "sigreturn", false);
  Context& c = *current(cpu);
  if (c.pending == Context::Pending::kSignal || c.vcpu != kNoVcpu) refuse_pending(c, "sigreturn");
  if (c.sigframes.empty()) throw SemanticError{"sigreturn by " + c.name + " with no signal frame pending"};
  StateImage frame = c.sigframes.back();
  if (fault == kFaultRetry) {
    policy_.sigreturn_fault(*this, cpu, c, frame);
    c.pending = Context::Pending::kSigreturn;
    c.in_user = false;
    return finish();
  }
  c.sigframes.pop_back();
  c.pending = Context::Pending::kNone;
  if (fault == kFaultFatal) {
    // The restore fails; what the task has next (its SIGSEGV handler, a
    // core dump) is the init state: every failure path resets it since
    // efa165504943, the model's rule whatever the policy does. The task
    // stays in the kernel with SIGSEGV pending (a signal or exit event).
    policy_.sigreturn_failed(*this, cpu, c);
    c.truth.set_init(machine_.user_features());
    c.in_user = false;
    return finish();
  }
  policy_.sigreturn(*this, cpu, c, frame);
  c.in_user = true;
  return finish();
}

Cycles Agent::fork(CpuId cpu, Cycles t, ContextId child_id) {
  event_time_ = t;
  check_current(cpu, "fork", false);
  Context& parent = *current(cpu);
  Context& child = contexts_[child_id];
  check_not_pending(parent, "fork");
  check_fork_child(parent, child);
  // fpu_clone(): perms are inherited from the group leader for a new
  // process; a thread shares the leader's.
  if (child.process != parent.process) processes_[child.process].perm = process_of(parent).perm;
  reset_fpstate(child);
  child.need_fpu_load = true;
  child.last_cpu = kNoCpu;
  child.in_user = true;
  stats_->add(Stat::forks, child.id, 1);
  policy_.fork(*this, cpu, parent, child);
  return finish();
}

Cycles Agent::exec(CpuId cpu, Cycles t, bool to_user) {
  event_time_ = t;
  check_current(cpu, "exec", false);
  Context& c = *current(cpu);
  check_not_pending(c, "exec");
  // fpu_flush_thread(): back to the default buffer and default permissions.
  process_of(c).perm = 0;
  c.sigframes.clear();
  policy_.exec(*this, cpu, c);
  c.in_user = to_user;
  if (to_user) policy_.return_to_user(*this, cpu, c);
  return finish();
}

Cycles Agent::exit(CpuId cpu, Cycles t) {
  event_time_ = t;
  check_current(cpu, "exit", false);
  Context& c = *current(cpu);
  if (c.vcpu != kNoVcpu) refuse_pending(c, "exit");  // a task killed in a faulted retry may exit
  policy_.exit(*this, cpu, c);
  c.exited = true;
  c.in_user = false;
  return finish();
}

Cycles Agent::xcomp_perm(CpuId cpu, Cycles t, ComponentMask features) {
  event_time_ = t;
  check_current(cpu, "arch_prctl(ARCH_REQ_XCOMP_PERM)", false);
  Context& c = *current(cpu);
  check_not_pending(c, "arch_prctl(ARCH_REQ_XCOMP_PERM)");
  // xstate_request_perm(): only dynamic user features need (and accept) a
  // request; XTILECFG comes with XTILEDATA.
  const ComponentMask dynamic = machine_.dynamic & machine_.user_features();
  if (features & ~(dynamic | machine_.cfg.user.default_features)) {
    throw SemanticError{"arch_prctl(ARCH_REQ_XCOMP_PERM) for " + mask_to_names(features) +
                        ": this machine's dynamic user features are " + mask_to_names(dynamic)};
  }
  process_of(c).perm |= features & dynamic;
  return finish();
}

Cycles Agent::state_read(CpuId cpu, Cycles t, ContextId target) {
  event_time_ = t;
  Context& tc = contexts_[target];
  if (tc.vcpu != kNoVcpu) {
    throw SemanticError{"state read of " + tc.name + ", which is inside KVM_RUN (a tracee must be stopped)"};
  }
  if (tc.pending != Context::Pending::kNone) {
    throw SemanticError{"state read of " + tc.name + ", which is in the kernel retrying a faulted " +
                        (tc.pending == Context::Pending::kSignal ? "signal delivery" : "sigreturn") +
                        " (a tracee must be stopped)"};
  }
  // fpu_sync_fpstate(): a coredump or regset read of the current task saves
  // its live registers; a stopped tracee's state is already in memory.
  if (tc.running_on == cpu && cpus_[cpu].current == target && policy_.regs_live(*this, tc)) {
    save(cpu, tc, Cause::state_access);
  } else {
    check_tracee_stopped(tc, cpu, "state read", false);
    policy_.sync_fpstate(*this, cpu, tc);
  }
  return finish();
}

Cycles Agent::state_write(CpuId cpu, Cycles t, ContextId target, ComponentMask write, bool invalid_header) {
  event_time_ = t;
  Context& tc = contexts_[target];
  if (tc.vcpu != kNoVcpu) {
    throw SemanticError{"state write of " + tc.name + ", which is inside KVM_RUN (a tracee must be stopped)"};
  }
  if (tc.pending != Context::Pending::kNone) {
    throw SemanticError{"state write of " + tc.name + ", which is in the kernel retrying a faulted " +
                        (tc.pending == Context::Pending::kSignal ? "signal delivery" : "sigreturn") +
                        " (a tracee must be stopped)"};
  }
  check_tracee_stopped(tc, cpu, "state write", true);
  if (write & ~tc.fpstate.xfeatures) {
    throw SemanticError{"state write of " + mask_to_names(write & ~tc.fpstate.xfeatures) + " into " + tc.name +
                        "'s buffer, which is not sized for them"};
  }
  // A header with reserved bits set: a compacted (XSAVES) buffer gets a
  // header the kernel builds (copy_user_to_xstate()); a standard one took
  // the tracer's verbatim until 814fb7bb7db5 made xstateregs_set() refuse
  // it (-EINVAL: nothing is written).
  if (invalid_header && !machine_.compacted() && !bug(Bug::kBogusXcompBv)) return finish();
  // A write the kernel takes replaces the header: invalid only if this one
  // is (and the buffer is in the standard format).
  storage(tc).fpstate.header_invalid = invalid_header && !machine_.compacted();
  policy_.sync_fpstate(*this, cpu, tc);
  // The tracer writes new values into the buffer (copy_uabi_to_xstate()).
  for (unsigned i : bits(write)) {
    const Token tok{tc.id, tc.next_version++};
    tc.truth.tok[i] = tok;
    tc.fpstate.image.tok[i] = tok;
  }
  tc.truth.present |= write;
  tc.fpstate.image.present |= write;
  charge_memcpy(cpu, tc.id, kXsaveHeaderSize + bytes_of(write), Cause::state_access);
  policy_.state_written(*this, tc);
  return finish();
}

}  // namespace fpusim::x86

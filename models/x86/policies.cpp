// The x86 policies. Two mechanisms cover the four named policies:
//
//  * DeferredPolicy: Linux >= 5.2 (5f409e20b794 "x86/fpu: Defer FPU state
//    load until return to userspace"), current form 730faa15a069 (v6.16):
//    save at switch-out when TIF_NEED_FPU_LOAD is clear, restore at return to
//    user unless fpregs_state_valid().
//  * Linux4Policy: Linux v4.2 .. v5.1, arch/x86/include/asm/fpu/internal.h
//    switch_fpu_prepare()/switch_fpu_finish() and arch/x86/kernel/fpu/core.c.
//    One mechanism whose `preload` rule names the policy:
//      eager         use_eager_fpu(): always preload (v4.6 .. v5.1 default,
//                    58122bf1d856), CR0.TS never set;
//      lazy          eagerfpu=off without the counter heuristic: never
//                    preload, CR0.TS set at switch, restore in the #NM handler;
//      lazy-preload  eagerfpu=off as shipped (<= v4.5): preload when
//                    fpu->counter > 5 (an unsigned char that wraps at 256).
#include "models/x86/policy.h"

#include <algorithm>

namespace fpusim::x86 {

PolicyInfo xfd_lazy_amx_policy_info();  // policy_xfd_lazy_amx.cpp

namespace {

// fpu__clear_user_states() / copy_init_fpstate_to_fpregs(): the user part of
// the init image.
ComponentMask user_mask(const Agent& a) { return a.machine().user_features(); }

// Signal frame image: the user components of what `src` holds, as seen by
// `ctx` (copy_fpstate_to_sigframe()).
StateImage frame_from(const StateImage& src, ComponentMask mask) {
  StateImage f;
  f.copy_from(src, mask);
  return f;
}

class DeferredPolicy final : public Policy {
 public:
  void init_cpu(Agent& a, CpuId cpu) override { a.cpu(cpu).trap.cr0_ts = false; }
  // fpu_flush_thread() at exec: TIF_NEED_FPU_LOAD set, init image.
  void init_context(Agent&, Context& ctx) override {
    ctx.need_fpu_load = true;
    ctx.last_cpu = kNoCpu;
  }

  void switch_fpu(Agent& a, CpuId cpu, Context* prev, Context* next) override {
    // switch_fpu() (arch/x86/include/asm/fpu/sched.h): save prev's live
    // registers, leave fpu_fpregs_owner_ctx naming prev.
    if (prev && prev->is_user() && !prev->need_fpu_load) {
      prev->need_fpu_load = true;
      a.save(cpu, *prev, Cause::context_switch);
      prev->last_cpu = cpu;
    }
    if (next) {
      // switch_fpu_finish() (v5.2 .. v6.15) set TIF_NEED_FPU_LOAD on next;
      // v6.16 relies on it being set already. Same state either way.
      next->need_fpu_load = true;
      // x86_pkru_load() in __switch_to(): PKRU is switched eagerly, from
      // the thread's pkru value, not through XRSTOR (v5.14+).
      if (next->is_user()) a.pkru_load(cpu, *next, Cause::context_switch);
    } else {
      // fpu_idle_fpregs() (arch_cpu_idle_enter(), v5.17+): a CPU going idle
      // with AMX tiles in use (XGETBV(1)) releases them so that deep
      // C-states are not blocked, and forgets the owner; the owner reloads
      // on its next return to user.
      CpuState& cs = a.cpu(cpu);
      if (cs.rf.regs.present & bit(kXtileData)) {
        a.charge(cpu, kNoContext, Stat::control_cycles, a.cost().xgetbv1, "xgetbv1_tilerelease",
                 Cause::context_switch, 0, kMaskAmx);
        cs.rf.regs.present &= ~kMaskAmx;
        cs.rf.modified |= kMaskAmx;
        a.set_owner(cpu, kNoContext);
      }
    }
  }

  void return_to_user(Agent& a, CpuId cpu, Context& ctx) override {
    load_user_regs(a, cpu, ctx, Cause::return_to_user);
  }

  // fpregs_restore_userregs() (arch/x86/kernel/fpu/context.h).
  void load_user_regs(Agent& a, CpuId cpu, Context& ctx, Cause cause) override {
    if (!ctx.need_fpu_load) return;
    if (!a.fpregs_state_valid(ctx, cpu)) {
      a.restore(cpu, ctx, restore_mask(a), cause);
      a.set_owner(cpu, ctx.id);
      ctx.last_cpu = cpu;
    } else {
      a.stats().add(Stat::restores_skipped, ctx.id, 1);
    }
    ctx.need_fpu_load = false;
  }

  void nm_ts_trap(Agent&, CpuId, Context& ctx) override {
    panic("CR0.TS #NM for " + ctx.name + " under the deferred policy, which never sets CR0.TS");
  }

  // irq_fpu_usable() (v5.2+): usable unless nested in another kernel FPU
  // section or in NMI; sections here never nest.
  bool kernel_fpu_usable(Agent&, CpuId, Context*, bool, bool) override { return true; }

  // kernel_fpu_begin_mask() (core.c): save the user registers if live, then
  // invalidate unconditionally. kernel_fpu_end() restores nothing.
  void kernel_fpu_begin(Agent& a, CpuId cpu, Context* cur) override {
    if (cur && cur->is_user() && !cur->need_fpu_load) {
      cur->need_fpu_load = true;
      a.save(cpu, *cur, Cause::kernel_fpu);
    }
    a.set_owner(cpu, kNoContext);  // __cpu_invalidate_fpregs_state()
  }
  void kernel_fpu_end(Agent&, CpuId, Context*) override {}

  bool regs_live(const Agent&, const Context& ctx) const override { return !ctx.need_fpu_load; }

  // copy_fpstate_to_sigframe() + fpu__clear_user_states() (signal.c, core.c).
  void signal_deliver(Agent& a, CpuId cpu, Context& ctx) override {
    load_user_regs(a, cpu, ctx, Cause::signal);
    a.xsave_to_sigframe(cpu, ctx);
    // The handler starts with init user state, live in the registers, and
    // the default PKRU (restore_fpregs_from_init_fpstate() ->
    // pkru_write_default(), a WRPKRU only if the value differs).
    a.restore_init(cpu, user_mask(a) & ~bit(kPKRU), Cause::signal);
    a.set_truth_init(ctx, user_mask(a));
    a.pkru_load(cpu, ctx, Cause::signal);
    a.set_owner(cpu, ctx.id);  // fpregs_mark_activate()
    ctx.last_cpu = cpu;
    ctx.need_fpu_load = false;
  }

  // __fpu_restore_sig() fast path, restore_fpregs_from_user(): XRSTOR
  // straight from the user frame.
  void sigreturn(Agent& a, CpuId cpu, Context& ctx, const StateImage& frame) override {
    // "Ensure that XFD is up to date" before the XRSTOR: the registers may
    // have been another task's (TIF_NEED_FPU_LOAD set), with its XFD value.
    a.xfd_update_state(cpu, ctx.fpstate, Cause::signal);
    a.xrstor_from_sigframe(cpu, ctx, frame);
    // "Restore supervisor states": with TIF_NEED_FPU_LOAD set the registers
    // are not current's, and the supervisor part comes from the kernel
    // buffer (os_xrstor_supervisor()).
    const ComponentMask supervisor = ctx.fpstate.xfeatures & a.machine().xss;
    if (ctx.need_fpu_load && supervisor) a.xrstor(cpu, ctx, supervisor, Cause::signal);
    a.set_owner(cpu, ctx.id);  // fpregs_mark_activate()
    ctx.last_cpu = cpu;
    ctx.need_fpu_load = false;
  }

  // fpu_clone(): make the parent's registers live, XSAVE them into the
  // child's default-size buffer; dynamic features are not inherited.
  void fork(Agent& a, CpuId cpu, Context& parent, Context& child) override {
    load_user_regs(a, cpu, parent, Cause::fork);
    a.save_into_child(cpu, child);
  }

  // fpu_flush_thread(): default buffer, init contents, invalidated.
  // flush_thread(): fpu_flush_thread(), then pkru_flush_thread() loads the
  // default PKRU right away.
  void exec(Agent& a, CpuId cpu, Context& ctx) override {
    a.reset_fpstate(ctx);
    ctx.last_cpu = kNoCpu;
    ctx.need_fpu_load = true;
    ctx.truth.set_init(~ComponentMask{0});
    a.pkru_load(cpu, ctx, Cause::exec);
  }

  // fpu__drop(): forget the registers if this CPU's owner is ctx.
  void exit(Agent& a, CpuId cpu, Context& ctx) override {
    if (a.cpu(cpu).owner_ctx == ctx.id) a.set_owner(cpu, kNoContext);
  }

  // __fpu_invalidate_fpregs_state() after the buffer was modified.
  void state_written(Agent&, Context& ctx) override { ctx.last_cpu = kNoCpu; }

  bool use_eager_fpu() const override { return true; }

  void mark_active(Agent& a, CpuId cpu, Context& ctx) override {
    a.set_owner(cpu, ctx.id);
    ctx.last_cpu = cpu;
    ctx.need_fpu_load = false;
  }

  // XFEATURE_MASK_FPSTATE: everything but PKRU.
  ComponentMask restore_mask(const Agent& a) const override { return a.machine().restore_mask(); }
};

enum class Preload : std::uint8_t { kAlways, kNever, kCounter };

class Linux4Policy final : public Policy {
 public:
  explicit Linux4Policy(Preload p) : preload_(p) {}

  bool eager() const { return preload_ == Preload::kAlways; }

  // fpu__init_cpu(): lazy mode boots with CR0.TS set.
  void init_cpu(Agent& a, CpuId cpu) override { a.cpu(cpu).trap.cr0_ts = !eager(); }
  // fpu__clear() at exec: eager mode activates the state (the task's
  // registers are loaded at its first switch-in); lazy mode drops it, so the
  // first use traps.
  void init_context(Agent&, Context& ctx) override {
    ctx.fpstate_active = eager() && ctx.is_user();
    ctx.fpregs_active = false;
    ctx.counter = 0;
    ctx.last_cpu = kNoCpu;
  }

  // __fpregs_activate_hw() / __fpregs_deactivate_hw(): CR0.TS only in lazy mode.
  void activate_hw(Agent& a, CpuId cpu, Cause cause) {
    if (!eager()) a.set_ts(cpu, false, cause);
  }
  void deactivate_hw(Agent& a, CpuId cpu, Cause cause) {
    if (!eager()) a.set_ts(cpu, true, cause);
  }
  // fpregs_activate(): CLTS, fpregs_active = 1, owner = fpu.
  void fpregs_activate(Agent& a, CpuId cpu, Context& ctx, Cause cause) {
    activate_hw(a, cpu, cause);
    ctx.fpregs_active = true;
    a.set_owner(cpu, ctx.id);
  }
  void fpregs_deactivate(Agent& a, CpuId cpu, Context& ctx, Cause cause) {
    ctx.fpregs_active = false;
    a.set_owner(cpu, kNoContext);
    deactivate_hw(a, cpu, cause);
  }
  // fpu__activate_curr(): first use initialises the buffer.
  void activate_curr(Context& ctx) {
    if (!ctx.fpstate_active) {
      ctx.fpstate.image = StateImage{};
      ctx.fpstate_active = true;
    }
  }

  void switch_fpu(Agent& a, CpuId cpu, Context* old_fpu, Context* new_fpu) override {
    const Cause cause = Cause::context_switch;
    // switch_fpu_prepare(): "If the task has used the math, pre-load the FPU
    // on xsave processors or if the past 5 consecutive context-switches used
    // math." Idle and kernel threads never preload (fpstate_active = 0).
    bool preload = new_fpu && new_fpu->is_user() && new_fpu->fpstate_active &&
                   (preload_ == Preload::kAlways || (preload_ == Preload::kCounter && new_fpu->counter > 5));
    if (old_fpu && old_fpu->fpregs_active) {
      a.save(cpu, *old_fpu, cause);
      old_fpu->last_cpu = cpu;
      old_fpu->fpregs_active = false;  // "But leave fpu_fpregs_owner_ctx!"
      if (preload) {
        ++new_fpu->counter;
        new_fpu->fpregs_active = true;  // __fpregs_activate(): TS stays clear
        a.set_owner(cpu, new_fpu->id);
      } else {
        deactivate_hw(a, cpu, cause);
      }
    } else {
      if (old_fpu) {
        old_fpu->counter = 0;
        old_fpu->last_cpu = kNoCpu;
      }
      if (preload) {
        ++new_fpu->counter;
        // fpu_want_lazy_restore(): the CPU still holds new's registers.
        if (a.cpu(cpu).owner_ctx == new_fpu->id && new_fpu->last_cpu == cpu) {
          preload = false;
          a.stats().add(Stat::restores_skipped, new_fpu->id, 1);
        }
        fpregs_activate(a, cpu, *new_fpu, cause);
      }
    }
    // switch_fpu_finish().
    if (preload) a.restore(cpu, *new_fpu, restore_mask(a), cause);
  }

  void return_to_user(Agent&, CpuId, Context&) override {}

  // do_device_not_available() -> fpu__restore().
  void nm_ts_trap(Agent& a, CpuId cpu, Context& ctx) override {
    activate_curr(ctx);
    fpregs_activate(a, cpu, ctx, Cause::nm_trap);
    a.restore(cpu, ctx, restore_mask(a), Cause::nm_trap);
    ++ctx.counter;
  }

  // irq_fpu_usable(): !in_interrupt() || interrupted_user_mode() ||
  // interrupted_kernel_fpu_idle(); the last is true in eager mode, and in
  // lazy mode only when current's registers are not live and CR0.TS is set.
  bool kernel_fpu_usable(Agent& a, CpuId cpu, Context* cur, bool in_interrupt, bool interrupted_user) override {
    if (!in_interrupt || interrupted_user || eager()) return true;
    return !(cur && cur->fpregs_active) && a.cpu(cpu).trap.cr0_ts;
  }

  // __kernel_fpu_begin(): save current's live registers (the owner pointer
  // stays), or forget the owner and CLTS.
  void kernel_fpu_begin(Agent& a, CpuId cpu, Context* cur) override {
    if (cur && cur->fpregs_active) {
      a.save(cpu, *cur, Cause::kernel_fpu);
    } else {
      a.set_owner(cpu, kNoContext);
      activate_hw(a, cpu, Cause::kernel_fpu);
    }
  }
  // __kernel_fpu_end(): reload current's registers, or set CR0.TS again.
  void kernel_fpu_end(Agent& a, CpuId cpu, Context* cur) override {
    if (cur && cur->fpregs_active) {
      a.restore(cpu, *cur, restore_mask(a), Cause::kernel_fpu);
    } else {
      deactivate_hw(a, cpu, Cause::kernel_fpu);
    }
  }

  bool regs_live(const Agent&, const Context& ctx) const override { return ctx.fpregs_active; }

  // What the kernel does when it needs the registers live (fpu__save with
  // TS set takes the #NM and reloads, as the fpu__copy comment says).
  void load_user_regs(Agent& a, CpuId cpu, Context& ctx, Cause cause) override {
    if (ctx.fpregs_active) return;
    activate_curr(ctx);
    fpregs_activate(a, cpu, ctx, cause);
    a.restore(cpu, ctx, restore_mask(a), cause);
    ++ctx.counter;
  }

  // copy_fpstate_to_sigframe() (v4.x signal.c): XSAVE the live registers to
  // the frame, or copy the kernel buffer; then fpu__clear().
  void signal_deliver(Agent& a, CpuId cpu, Context& ctx) override {
    const ComponentMask mask = ctx.fpstate.xfeatures & user_mask(a);
    if (ctx.fpregs_active) {
      a.xsave_to_sigframe(cpu, ctx);
    } else {
      ctx.sigframes.push_back(ctx.fpstate_active ? frame_from(ctx.fpstate.image, mask) : StateImage{});
      a.charge_memcpy(cpu, ctx.id, ctx.fpstate.user_size, Cause::signal);
    }
    fpu_clear(a, cpu, ctx, Cause::signal);
  }

  // fpu__clear(): lazy mode drops the state (re-initialised on the next
  // #NM); eager mode loads the init image.
  void fpu_clear(Agent& a, CpuId cpu, Context& ctx, Cause cause) {
    a.set_truth_init(ctx, ~ComponentMask{0});
    if (!eager()) {
      fpu_drop(a, cpu, ctx, cause);
      ctx.fpstate.image = StateImage{};
      return;
    }
    if (!ctx.fpstate_active) {
      activate_curr(ctx);
      fpregs_activate(a, cpu, ctx, cause);  // user_fpu_begin()
    }
    a.restore_init(cpu, a.machine().cfg.kernel.max_features, cause);
  }

  // fpu__drop().
  void fpu_drop(Agent& a, CpuId cpu, Context& ctx, Cause cause) {
    ctx.counter = 0;
    if (ctx.fpregs_active) fpregs_deactivate(a, cpu, ctx, cause);
    ctx.fpstate_active = false;
  }

  // __fpu__restore_sig() (v4.x), 64-bit frame: fpu__activate_curr(), then
  // user_fpu_begin() (fpregs_activate() if not active: CLTS in lazy mode)
  // and copy_user_to_fpregs_zeroing(): XRSTOR straight from the user frame,
  // the features the frame lacks from init_fpstate. The registers are live
  // and active afterwards, so the next use does not trap; the kernel buffer
  // is left stale. (fpu__drop() + copy into the buffer + fpu__restore() is
  // the ia32 fxstate path only.)
  void sigreturn(Agent& a, CpuId cpu, Context& ctx, const StateImage& frame) override {
    activate_curr(ctx);
    if (!ctx.fpregs_active) fpregs_activate(a, cpu, ctx, Cause::signal);
    a.xrstor_from_sigframe(cpu, ctx, frame);
  }

  // fpu__copy(): XSAVE the current registers into the child's buffer; with
  // CR0.TS set that XSAVE takes the #NM, which loads the parent first.
  void fork(Agent& a, CpuId cpu, Context& parent, Context& child) override {
    child.counter = 0;
    child.fpregs_active = false;
    child.last_cpu = kNoCpu;
    child.fpstate_active = parent.fpstate_active;
    if (!parent.fpstate_active) return;
    if (!parent.fpregs_active) {
      a.take_trap(cpu, parent.id, Stat::traps_nm_ts, Cause::fork, "nm_ts_trap");
      load_user_regs(a, cpu, parent, Cause::fork);
    }
    a.save_into_child(cpu, child);
  }

  void exec(Agent& a, CpuId cpu, Context& ctx) override {
    a.reset_fpstate(ctx);
    fpu_clear(a, cpu, ctx, Cause::exec);
  }

  void exit(Agent& a, CpuId cpu, Context& ctx) override { fpu_drop(a, cpu, ctx, Cause::exec); }

  // fpu__activate_fpstate_write(): invalidate any lazy state.
  void state_written(Agent&, Context& ctx) override {
    ctx.last_cpu = kNoCpu;
    ctx.fpstate_active = true;
  }

  bool use_eager_fpu() const override { return eager(); }

  void mark_active(Agent& a, CpuId cpu, Context& ctx) override {
    activate_curr(ctx);
    fpregs_activate(a, cpu, ctx, Cause::kvm_run);
    ctx.last_cpu = cpu;
  }

  // v4.x restored every feature, PKRU included.
  ComponentMask restore_mask(const Agent& a) const override { return a.machine().cfg.kernel.max_features; }

 private:
  Preload preload_;
};

std::vector<PolicyInfo> make_registry() {
  std::vector<PolicyInfo> r;
  auto deferred = [] { return std::unique_ptr<Policy>(new DeferredPolicy()); };
  auto linux4 = [](Preload p) { return [p] { return std::unique_ptr<Policy>(new Linux4Policy(p)); }; };
  r.push_back({"deferred", "Linux >= 5.2 (5f409e20b794; 730faa15a069 in v6.16)",
               "save at switch-out when the registers are live, restore on return to user space unless the CPU "
               "still holds the task's registers (fpregs_state_valid); guests: kvm-eager",
               deferred, KvmMode::kEager});
  r.push_back({"eager", "Linux 4.6 .. 5.1 (58122bf1d856 made eagerfpu=on the default)",
               "save the previous task and restore the next one at every switch, skipping the restore when the "
               "CPU still holds it (fpu_want_lazy_restore); CR0.TS never set; guests: kvm-eager",
               linux4(Preload::kAlways), KvmMode::kEager});
  r.push_back({"lazy", "Linux <= 4.5 with eagerfpu=off, without the preload heuristic",
               "save at switch-out only if the task used the FPU in its slice, set CR0.TS, restore in the #NM "
               "handler on first use; guests: kvm-lazy-legacy",
               linux4(Preload::kNever), KvmMode::kLazyLegacy});
  r.push_back({"lazy-preload", "Linux <= 4.5 with eagerfpu=off (switch_fpu_prepare counter > 5)",
               "lazy, plus preload at switch for tasks that used the FPU in more than 5 consecutive slices "
               "(fpu->counter, an unsigned char that wraps at 256); guests: kvm-lazy-legacy",
               linux4(Preload::kCounter), KvmMode::kLazyLegacy});
  r.push_back(xfd_lazy_amx_policy_info());
  r.push_back({"kvm-eager", "Linux >= 4.15 (f775b13eedee), today fpu_swap_kvm_fpstate(); host: deferred",
               "guest FPU loaded at KVM_RUN entry and put at its return to user space, once per ioctl; "
               "in between the guest fpstate is the thread's, saved and restored like a task's",
               deferred, KvmMode::kEager});
  r.push_back({"kvm-eager-v5.2", "Linux 5.2 .. 5.5 (before c9aef3b85f42); host: deferred",
               "kvm-eager as the deferred-load series first shipped it: the guest FPU load and put XSAVE the "
               "registers without checking TIF_NEED_FPU_LOAD (bugzilla 206215: corrupted VMM/guest FP state)",
               deferred, KvmMode::kEagerV52});
  r.push_back({"kvm-eager-v6.18", "Linux 5.17 .. 6.18 (before b45f72177594); host: deferred",
               "kvm-eager without clearing XSTATE_BV for components the guest's XFD disables: a guest XFD write "
               "racing a softirq's save, or KVM_SET_XSAVE, can make the next XRSTOR take #NM in the kernel",
               deferred, KvmMode::kEagerV618});
  r.push_back({"kvm-lazy-legacy", "Linux <= 4.10 (removed by bd7e5b0899a4); host: lazy-preload",
               "the guest FPU is loaded at VM entry while active and put at vcpu_put (KVM_RUN return, "
               "preemption); a guest that used it in fewer than 5 consecutive loads is deactivated and runs "
               "with CR0.TS forced and #NM intercepted until its next FP use",
               linux4(Preload::kCounter), KvmMode::kLazyLegacy});
  // Every combination that existed, spelled HOST+KVM.
  struct Host {
    const char* name;
    std::function<std::unique_ptr<Policy>()> make;
    bool eager_kvm, lazy_kvm;
  };
  const Host hosts[] = {{"deferred", deferred, true, false},
                        {"eager", linux4(Preload::kAlways), true, true},
                        {"lazy", linux4(Preload::kNever), false, true},
                        {"lazy-preload", linux4(Preload::kCounter), false, true}};
  for (const Host& h : hosts) {
    if (h.eager_kvm) {
      r.push_back({std::string(h.name) + "+kvm-eager", "",
                   "host policy " + std::string(h.name) + " with guests under kvm-eager",
                   h.make, KvmMode::kEager, true});
    }
    if (h.lazy_kvm) {
      r.push_back({std::string(h.name) + "+kvm-lazy-legacy", "",
                   "host policy " + std::string(h.name) + " with guests under kvm-lazy-legacy", h.make,
                   KvmMode::kLazyLegacy, true});
    }
  }
  return r;
}

}  // namespace

const std::vector<PolicyInfo>& policies() {
  static const std::vector<PolicyInfo> registry = make_registry();
  return registry;
}

const PolicyInfo* find_policy(std::string_view name) {
  for (const auto& p : policies()) {
    if (p.name == name) return &p;
  }
  return nullptr;
}

// For messages: the base names (HOST+KVM spellings are accepted too).
std::string policy_names() {
  std::string s;
  for (const auto& p : policies()) {
    if (p.composite) continue;
    if (!s.empty()) s += ", ";
    s += p.name;
  }
  return s + " (or HOST+KVM, e.g. eager+kvm-lazy-legacy)";
}

}  // namespace fpusim::x86

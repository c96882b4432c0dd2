// The Linux 4 policies: v4.2 .. v5.1, arch/x86/include/asm/fpu/internal.h
// switch_fpu_prepare()/switch_fpu_finish() and arch/x86/kernel/fpu/core.c.
// One mechanism whose `preload` rule names the policy:
//   eager         use_eager_fpu(): always preload (v4.6 .. v5.1 default,
//                 58122bf1d856), CR0.TS never set;
//   lazy          eagerfpu=off without the counter heuristic: never
//                 preload, CR0.TS set at switch, restore in the #NM handler;
//   lazy-preload  eagerfpu=off as shipped (<= v4.5): preload when
//                 fpu->counter > 5 (an unsigned char that wraps at 256).
#include "models/x86/policies/hosts.h"

namespace fpusim::x86 {

namespace {

// Signal frame image: the user components of what `src` holds, as seen by
// `ctx` (copy_fpstate_to_sigframe()).
StateImage frame_from(const StateImage& src, ComponentMask mask) {
  StateImage f;
  f.copy_from(src, mask);
  return f;
}

class Linux4Policy final : public Policy {
 public:
  explicit Linux4Policy(Preload p) : preload_(p) {}

  bool eager() const { return preload_ == Preload::kAlways; }

  // fpu__init_cpu(): lazy mode boots with CR0.TS set.
  void init_cpu(Agent& a, CpuId cpu) override {
    // eager without 58122bf1d856 (v4.6: "Default eagerfpu=on on all CPUs"):
    // eagerfpu=auto (304bceda6a18, v3.7), eager only if the kernel uses
    // XSAVEOPT (fpu__init_system_ctx_switch(): "if (cpu_has_xsaveopt &&
    // eagerfpu != DISABLE) eagerfpu = ENABLE"), else lazy with the
    // fpu_counter preload, as eagerfpu=off chose. XSAVEC and XSAVES imply
    // XSAVEOPT.
    if (preload_ == Preload::kAlways && a.bug(Bug::kLazyByDefault) &&
        (a.machine().save_insn == SaveInsn::kXsave || a.machine().save_insn == SaveInsn::kFxsave)) {
      preload_ = Preload::kCounter;
    }
    a.cpu(cpu).trap.cr0_ts = !eager();
  }
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
  // fpu__activate_curr(): fpstate_init() of an inactive state, whose header
  // it writes anew.
  void activate_curr(Context& ctx) {
    if (!ctx.fpstate_active) {
      ctx.fpstate.image = StateImage{};
      ctx.fpstate.header_invalid = false;
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
  void signal_deliver(Agent& a, CpuId cpu, Context& ctx, bool /*retry*/) override {
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
      ctx.fpstate.header_invalid = false;  // fpstate_init() at the next fpu__activate_curr()
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
  // __fpu__restore_sig() failed: fpu__clear() (unless the bug that
  // efa165504943 fixed returned first).
  void sigreturn_failed(Agent& a, CpuId cpu, Context& ctx) override {
    if (a.bug(Bug::kNoResetOnRestoreFailure)) return;
    fpu_clear(a, cpu, ctx, Cause::signal);
  }

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
      a.take_trap(cpu, parent.id, XStat::traps_nm_ts, Cause::fork, "nm_ts_trap");
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

}  // namespace

std::unique_ptr<Policy> make_linux4_policy(Preload p) { return std::make_unique<Linux4Policy>(p); }

namespace {
std::function<std::unique_ptr<Policy>()> linux4(Preload p) {
  return [p] { return make_linux4_policy(p); };
}
}  // namespace

FPUSIM_REGISTER_POLICY(110, PolicyInfo{{
    "eager", "Linux 4.6 .. 5.1 (58122bf1d856 made eagerfpu=on the default)",
    "save the previous task and restore the next one at every switch, skipping the restore when the "
    "CPU still holds it (fpu_want_lazy_restore); CR0.TS never set; guests: kvm-eager"},
    linux4(Preload::kAlways), &kvm_eager()})
FPUSIM_REGISTER_POLICY(120, PolicyInfo{{
    "lazy", "Linux <= 4.5 with eagerfpu=off, without the preload heuristic",
    "save at switch-out only if the task used the FPU in its slice, set CR0.TS, restore in the #NM "
    "handler on first use; guests: kvm-lazy-legacy"},
    linux4(Preload::kNever), &kvm_lazy_legacy()})
FPUSIM_REGISTER_POLICY(130, PolicyInfo{{
    "lazy-preload", "Linux <= 4.5 with eagerfpu=off (switch_fpu_prepare counter > 5)",
    "lazy, plus preload at switch for tasks that used the FPU in more than 5 consecutive slices "
    "(fpu->counter, an unsigned char that wraps at 256); guests: kvm-lazy-legacy"},
    linux4(Preload::kCounter), &kvm_lazy_legacy()})

// HOST+KVM spellings: the KVM generations that ran on each mechanism. Eager
// hosts (v4.6 .. v5.1) met kvm-lazy-legacy until v4.10 and kvm-eager from
// v4.15; lazy hosts (<= v4.5) predate kvm-eager.
FPUSIM_REGISTER_POLICY(310, composite_policy("eager", linux4(Preload::kAlways), kvm_eager()))
FPUSIM_REGISTER_POLICY(311, composite_policy("eager", linux4(Preload::kAlways), kvm_lazy_legacy()))
FPUSIM_REGISTER_POLICY(320, composite_policy("lazy", linux4(Preload::kNever), kvm_lazy_legacy()))
FPUSIM_REGISTER_POLICY(330, composite_policy("lazy-preload", linux4(Preload::kCounter), kvm_lazy_legacy()))

}  // namespace fpusim::x86

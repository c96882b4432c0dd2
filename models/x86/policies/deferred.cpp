// The deferred policy: Linux >= 5.2 (5f409e20b794 "x86/fpu: Defer FPU state
// load until return to userspace"), current form 730faa15a069 (v6.16): save
// at switch-out when TIF_NEED_FPU_LOAD is clear, restore at return to user
// unless fpregs_state_valid(). Its guests run under kvm-eager.
#include "models/x86/policies/hosts.h"

namespace fpusim::x86 {

namespace {

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
  void signal_deliver(Agent& a, CpuId cpu, Context& ctx, bool retry) override {
    load_for_sigframe(a, cpu, ctx, retry);
    a.xsave_to_sigframe(cpu, ctx);
    clear_user_states(a, cpu, ctx);
  }

  // An attempt of copy_fpstate_to_sigframe() whose XSAVE into the frame
  // faults, under pagefault_disable(); the task faults the page in and
  // retries.
  void signal_frame_fault(Agent& a, CpuId cpu, Context& ctx, bool retry) override {
    load_for_sigframe(a, cpu, ctx, retry);
  }

  // copy_fpstate_to_sigframe()'s "if (test_thread_flag(TIF_NEED_FPU_LOAD))
  // fpregs_restore_userregs()" at each pass of its retry loop. v5.2 ..
  // v5.4.1 built with GCC 9: fpregs_state_valid() read fpu_fpregs_owner_ctx
  // with this_cpu_read_stable(), hoisted out of the loop, so on every retry
  // the owner seen at the first attempt decides (59c4bd853abc).
  void load_for_sigframe(Agent& a, CpuId cpu, Context& ctx, bool retry) {
    if (retry && a.bug(Bug::kCachedOwnerCtx) && ctx.need_fpu_load && ctx.owner_seen == ctx.id &&
        ctx.last_cpu == cpu) {
      a.stats().add(Stat::restores_skipped, ctx.id, 1);
      ctx.need_fpu_load = false;
    }
    load_user_regs(a, cpu, ctx, Cause::signal);
  }

  // fpu__clear_user_states(): init user state, live in the registers, and
  // the default PKRU (restore_fpregs_from_init_fpstate() ->
  // pkru_write_default(), a WRPKRU only if the value differs). Since
  // 388eff894d6b IA32_XFD is first made current's (xfd_update_state()): the
  // registers may have been another task's or a guest's, with XFD clear.
  void clear_user_states(Agent& a, CpuId cpu, Context& ctx) {
    if (!a.bug(Bug::kXfdNotSyncedOnClear)) a.xfd_update_state(cpu, ctx.fpstate, Cause::signal);
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

  // restore_fpregs_from_user() whose XRSTOR faulted: "the microcode might
  // have modified the FPU registers nevertheless. If the FPU registers do
  // not belong to current, then invalidate the FPU register state" (d8778e393afa;
  // first bbc55341b9c6), so that the task whose registers they were, still
  // the CPU's owner, reloads them. The task retries after faulting the page in.
  void sigreturn_fault(Agent& a, CpuId cpu, Context& ctx, const StateImage& frame) override {
    a.xfd_update_state(cpu, ctx.fpstate, Cause::signal);
    a.xrstor_from_sigframe(cpu, ctx, frame, /*faulted=*/true);
    if (ctx.need_fpu_load && !a.bug(Bug::kRegsActiveAfterFailedLoad)) a.set_owner(cpu, kNoContext);
  }

  // __fpu_restore_sig() failed (access_ok() on the frame): fpu__restore_sig()
  // resets the user state; before efa165504943 this failure returned first.
  void sigreturn_failed(Agent& a, CpuId cpu, Context& ctx) override {
    if (a.bug(Bug::kNoResetOnRestoreFailure)) return;
    clear_user_states(a, cpu, ctx);
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
    if (a.bug(Bug::kExecDropsOwnerOnly)) {
      // v5.14 .. v6.5 fpu_reset_fpregs(): fpu__drop() -> fpregs_deactivate()
      // forgets this CPU's owner, not the task's last CPU.
      a.set_owner(cpu, kNoContext);
    } else {
      ctx.last_cpu = kNoCpu;  // __fpu_invalidate_fpregs_state() (1f69383b203e)
    }
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

}  // namespace

std::unique_ptr<Policy> make_deferred_policy() { return std::make_unique<DeferredPolicy>(); }

FPUSIM_REGISTER_POLICY(100, PolicyInfo{{
    "deferred", "Linux >= 5.2 (5f409e20b794; 730faa15a069 in v6.16)",
    "save at switch-out when the registers are live, restore on return to user space unless the CPU "
    "still holds the task's registers (fpregs_state_valid); guests: kvm-eager"},
    make_deferred_policy, &kvm_eager()})

// HOST+KVM spellings: the KVM generations that ran on this host mechanism.
FPUSIM_REGISTER_POLICY(300, composite_policy("deferred", make_deferred_policy, kvm_eager()))

}  // namespace fpusim::x86

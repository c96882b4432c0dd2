// xfd-lazy-amx: a research policy, not a Linux kernel. Everything but AMX
// tile data is switched exactly as under `deferred` (Linux >= 5.2); the
// deferred policy itself does that work: this policy wraps the registered
// "deferred" policy and only decides where the 8 KiB of XTILEDATA
// (XFEATURE 18) live.
//
// Rules, with the kernel function each mirrors or departs from:
//  * switch-out (switch_fpu(), asm/fpu/sched.h): a task whose tiles are in
//    use (XGETBV(1), as fpu_idle_fpregs() reads XINUSE) is saved without
//    them: the CPU becomes their keeper, the owner's buffer keeps stale
//    tiles. Departs from switch_fpu(), which XSAVES the whole fpstate.
//  * every XSAVE/XRSTOR on a keeping CPU leaves XTILEDATA out of its RFBM
//    (Agent::keep_in_registers), and every xfd_update_state() there keeps
//    IA32_XFD[18] armed unless it installs the owner's fpstate
//    (the agent, for what it keeps). So the next task's return to user arms XFD in
//    restore_fpregs_from_fpstate()'s xfd_update_state(), as Linux writes XFD
//    today, and its first tile instruction raises #NM.
//  * owner returns to the same CPU untouched (fpregs_restore_userregs()):
//    its XRSTOR skips the tiles, which are still its own in the registers,
//    and xfd_update_state() disarms XFD; nothing is read for the tiles.
//  * #NM with IA32_XFD_ERR[18] by another task (handle_xfd_event(), traps.c):
//    write the owner's tiles back to its buffer (WRMSR XFD = 0 so the XSAVES
//    writes them, XSAVES of XTILEDATA alone), then load the trapping task's
//    own tiles and re-execute. A task without a tile buffer yet falls
//    through to handle_xfd_event()'s permission check and fpstate_realloc().
//  * migration: a keeper CPU must write the tiles back before their owner
//    runs elsewhere. Modelled as a synchronous IPI from the CPU switching the
//    owner in, at that switch-in (smp_call_function_single(wait=1) style):
//    the XSAVES runs on the old CPU, its cycles delay the new CPU. fpusim has
//    no IPI cost parameter; nm_trap (an exception round trip) stands in for
//    the interrupt, a lower bound. The old CPU's own delay is not modelled.
//  * paths that need the whole state: idle (fpu_idle_fpregs() TILERELEASEs),
//    a vCPU thread's switch-in (fpu_swap_kvm_fpstate() XRSTORs a whole guest
//    fpstate), signal delivery/sigreturn/fork by a task that is not the owner
//    (they XSAVE or XRSTOR user features wholesale), ptrace/coredump
//    (fpu_sync_fpstate(): Policy::sync_fpstate) write the tiles back first.
//    exec and exit of the owner drop them (fpu_flush_thread(), fpu__drop():
//    the state is dead). The owner's own signal/sigreturn/fork need nothing:
//    its tiles are in the registers, which is where those paths read them.
//  * vCPU threads never keep tiles (their fpstate may be the guest's).
//
// Not modelled: a real kernel would need room for the partial saves (an
// XSAVES with XTILEDATA alone writes a compacted image of its own; e.g. a
// separate 8 KiB tile area per task), and its partial XRSTORS change
// XRSTOR_INFO for components they did not load, which the XSAVES modified
// optimisation relies on; fpusim's images are per component, so only byte
// counts could be affected.
//
// Exposure (the checker's LazyFP window): kept tiles sit in the registers
// under an armed IA32_XFD while other tasks run in user mode. The checker
// treats an armed XFD bit like CR0.TS, and nothing fpusim relies on documents
// that XFD #NM is raised before a transient read of the tile registers, so on
// a machine marked lazyfp_vulnerable (the Sapphire Rapids preset) each such
// window is an exposed violation. That is this policy's price, not a checker
// artefact.
#include <memory>
#include <vector>

#include "models/x86/plugin.h"

namespace fpusim::x86 {

namespace {

constexpr ComponentMask kTiles = bit(kXtileData);

class XfdLazyAmxPolicy final : public Policy {
 public:
  explicit XfdLazyAmxPolicy(std::unique_ptr<Policy> deferred) : deferred_(std::move(deferred)) {}

  void init_cpu(Agent& a, CpuId cpu) override {
    deferred_->init_cpu(a, cpu);
  }
  void init_context(Agent& a, Context& ctx) override { deferred_->init_context(a, ctx); }

  void switch_fpu(Agent& a, CpuId cpu, Context* prev, Context* next) override {
    // Migration: the owner's tiles are written back on the old CPU before
    // it can run here.
    if (next) {
      const CpuId old = cpu_keeping(a, next->id);
      if (old != kNoCpu && old != cpu) {
        a.charge(old, next->id, Stat::other_cycles, a.cost().nm_trap, "ipi_tile_save", Cause::context_switch, 0,
                 kTiles);
        write_back(a, old, Cause::context_switch);
      }
    }
    // Idle (fpu_idle_fpregs() releases the tiles) and a vCPU thread (KVM_RUN
    // loads a whole guest fpstate) may not find foreign tiles in the
    // registers.
    const bool whole = !next || is_vcpu_thread(a, next->id);
    if (whole && keeper(a, cpu) != kNoContext) write_back(a, cpu, Cause::context_switch);
    if (!whole && keeper(a, cpu) == kNoContext && prev && prev->is_user() && !prev->need_fpu_load &&
        prev->vcpu == kNoVcpu && !prev->fpstate_swapped && (prev->fpstate.xfeatures & kTiles)) {
      // XGETBV(1): are the tiles in use (XINUSE[18])? Init tiles cost the
      // XSAVES nothing, so only live ones are worth keeping.
      a.charge(cpu, prev->id, Stat::control_cycles, a.cost().xgetbv1, "xgetbv1", Cause::context_switch, 0, kTiles);
      if (a.cpu(cpu).rf.regs.present & kTiles) a.keep_in_registers(cpu, prev->id, kTiles);
    }
    // switch_fpu() as deferred does it; its XSAVES now leaves kept tiles out.
    deferred_->switch_fpu(a, cpu, prev, next);
  }

  void return_to_user(Agent& a, CpuId cpu, Context& ctx) override {
    making_live(a, cpu, ctx, [&] { deferred_->return_to_user(a, cpu, ctx); });
    // Invariant: a task in user mode next to kept foreign tiles runs with
    // XFD armed for them.
    if (keeper(a, cpu) != kNoContext && keeper(a, cpu) != ctx.id && !(a.cpu(cpu).trap.xfd & kTiles)) {
      panic("xfd-lazy-amx: " + ctx.name + " returns to user with " + a.ctx(keeper(a, cpu)).name +
            "'s tiles kept and IA32_XFD[18] clear");
    }
  }
  void load_user_regs(Agent& a, CpuId cpu, Context& ctx, Cause cause) override {
    making_live(a, cpu, ctx, [&] { deferred_->load_user_regs(a, cpu, ctx, cause); });
  }
  void mark_active(Agent& a, CpuId cpu, Context& ctx) override {
    making_live(a, cpu, ctx, [&] { deferred_->mark_active(a, cpu, ctx); });
  }

  // handle_xfd_event() for the tile feature, before its permission check.
  bool xfd_nm(Agent& a, CpuId cpu, Context& ctx, ComponentMask err) override {
    if (!(err & kTiles) || keeper(a, cpu) == kNoContext || keeper(a, cpu) == ctx.id) return false;
    const bool has_buffer = ctx.fpstate.xfeatures & kTiles;
    // Without permission it ends in SIGILL: the owner's tiles can stay.
    if (!has_buffer && !(a.process_of(ctx).perm & kTiles)) return false;
    write_back(a, cpu, Cause::nm_trap);  // also loads ctx's own tiles
    return has_buffer;  // else: fpstate_realloc() as on any first use
  }

  void sync_fpstate(Agent& a, CpuId cpu, Context& ctx) override {
    const CpuId where = cpu_keeping(a, ctx.id);
    if (where == kNoCpu) return;
    if (where != cpu) {
      a.charge(where, ctx.id, Stat::other_cycles, a.cost().nm_trap, "ipi_tile_save", Cause::state_access, 0,
               kTiles);
    }
    write_back(a, where, Cause::state_access);
    deferred_->sync_fpstate(a, cpu, ctx);
  }

  void signal_deliver(Agent& a, CpuId cpu, Context& ctx, bool retry) override {
    write_back_foreign(a, cpu, ctx, Cause::signal);
    making_live(a, cpu, ctx, [&] { deferred_->signal_deliver(a, cpu, ctx, retry); });
  }
  void signal_frame_fault(Agent& a, CpuId cpu, Context& ctx, bool retry) override {
    write_back_foreign(a, cpu, ctx, Cause::signal);
    making_live(a, cpu, ctx, [&] { deferred_->signal_frame_fault(a, cpu, ctx, retry); });
  }
  void sigreturn(Agent& a, CpuId cpu, Context& ctx, const StateImage& frame) override {
    write_back_foreign(a, cpu, ctx, Cause::signal);
    making_live(a, cpu, ctx, [&] { deferred_->sigreturn(a, cpu, ctx, frame); });
  }
  void sigreturn_fault(Agent& a, CpuId cpu, Context& ctx, const StateImage& frame) override {
    write_back_foreign(a, cpu, ctx, Cause::signal);
    deferred_->sigreturn_fault(a, cpu, ctx, frame);
  }
  void sigreturn_failed(Agent& a, CpuId cpu, Context& ctx) override {
    write_back_foreign(a, cpu, ctx, Cause::signal);
    making_live(a, cpu, ctx, [&] { deferred_->sigreturn_failed(a, cpu, ctx); });
  }
  void fork(Agent& a, CpuId cpu, Context& parent, Context& child) override {
    write_back_foreign(a, cpu, parent, Cause::fork);
    making_live(a, cpu, parent, [&] { deferred_->fork(a, cpu, parent, child); });
  }
  // fpu_flush_thread() / fpu__drop(): the owner's tiles die with its state.
  void exec(Agent& a, CpuId cpu, Context& ctx) override {
    if (keeper(a, cpu) == ctx.id) a.keep_in_registers(cpu, kNoContext, 0);
    deferred_->exec(a, cpu, ctx);
  }
  void exit(Agent& a, CpuId cpu, Context& ctx) override {
    if (keeper(a, cpu) == ctx.id) a.keep_in_registers(cpu, kNoContext, 0);
    deferred_->exit(a, cpu, ctx);
  }

  // Unchanged: kernel_fpu_begin_mask() users never touch AMX (KFPU_387 |
  // KFPU_MXCSR), and the XSAVES of current leaves kept tiles out.
  void nm_ts_trap(Agent& a, CpuId cpu, Context& ctx) override { deferred_->nm_ts_trap(a, cpu, ctx); }
  bool kernel_fpu_usable(Agent& a, CpuId cpu, Context* cur, bool in_interrupt, bool interrupted_user) override {
    return deferred_->kernel_fpu_usable(a, cpu, cur, in_interrupt, interrupted_user);
  }
  void kernel_fpu_begin(Agent& a, CpuId cpu, Context* cur) override { deferred_->kernel_fpu_begin(a, cpu, cur); }
  void kernel_fpu_end(Agent& a, CpuId cpu, Context* cur) override { deferred_->kernel_fpu_end(a, cpu, cur); }
  bool regs_live(const Agent& a, const Context& ctx) const override { return deferred_->regs_live(a, ctx); }
  void state_written(Agent& a, Context& ctx) override { deferred_->state_written(a, ctx); }
  bool use_eager_fpu() const override { return deferred_->use_eager_fpu(); }
  ComponentMask restore_mask(const Agent& a) const override { return deferred_->restore_mask(a); }

 private:
  // Runs a deferred path that may make ctx's registers live on cpu (XRSTOR
  // or the fpregs_state_valid() fast path). If ctx owns the kept tiles they
  // are simply its live state again.
  template <typename F>
  void making_live(Agent& a, CpuId cpu, Context& ctx, F&& path) {
    const bool fast = ctx.need_fpu_load && a.fpregs_state_valid(ctx, cpu);
    path();
    if (keeper(a, cpu) != ctx.id || ctx.need_fpu_load) return;
    a.keep_in_registers(cpu, kNoContext, 0);
    // The fast path issued no XRSTOR and so no xfd_update_state(); the XFD
    // a later task armed for the tiles comes off here.
    if (fast) a.xfd_update_state(cpu, ctx.fpstate, Cause::return_to_user);
  }

  // Signal frames, sigreturn and fork XSAVE/XRSTOR user features wholesale:
  // tiles kept for another task are written back first.
  void write_back_foreign(Agent& a, CpuId cpu, const Context& ctx, Cause cause) {
    if (keeper(a, cpu) != kNoContext && keeper(a, cpu) != ctx.id) write_back(a, cpu, cause);
  }

  // The save switch_fpu() skipped: XSAVES of XTILEDATA alone into the
  // owner's buffer on the keeping CPU, with IA32_XFD[18] clear (an XSAVES
  // under XFD writes the component as init). Then the CPU's current task,
  // if its registers are live, gets its own tiles (init if it has none),
  // and the XFD value its fpstate wants, as deferred would have left them.
  void write_back(Agent& a, CpuId cpu, Cause cause) {
    Context& owner = a.ctx(keeper(a, cpu));
    a.keep_in_registers(cpu, kNoContext, 0);
    a.xfd_update_state(cpu, owner.fpstate, cause);
    a.save(cpu, owner, cause, kTiles);
    Context* cur = a.current(cpu);
    if (cur && cur->is_user() && !cur->need_fpu_load) a.restore(cpu, *cur, kTiles, cause);
  }

  // Whose unsaved tiles `cpu`'s registers keep (kNoContext: none); the
  // agent records it (Agent::keep_in_registers).
  static ContextId keeper(const Agent& a, CpuId cpu) { return a.cpu(cpu).keeper; }
  static CpuId cpu_keeping(const Agent& a, ContextId id) {
    for (CpuId c = 0; c < a.machine().cpus; ++c) {
      if (keeper(a, c) == id) return c;
    }
    return kNoCpu;
  }

  static bool is_vcpu_thread(const Agent& a, ContextId id) {
    for (size_t vm = 0; vm < a.num_vms(); ++vm) {
      for (std::uint32_t v : a.vm(static_cast<std::uint32_t>(vm)).vcpus) {
        if (a.vcpu(v).thread == id) return true;
      }
    }
    return false;
  }

  std::unique_ptr<Policy> deferred_;
};

}  // namespace

}  // namespace fpusim::x86

// The plugin's entry point (models/plugin.h, models/x86/plugin.h): one policy.
FPUSIM_PLUGIN(registrar) {
  using namespace fpusim::x86;
  add_policy(registrar, PolicyInfo{{
    "xfd-lazy-amx", "research policy, not in Linux; host: deferred for everything but AMX tiles",
    "deferred, except that AMX tile data (XTILEDATA) is not saved at switch-out: it stays in the registers "
    "with IA32_XFD[18] armed for other tasks, is written back when another task's tile use takes #NM, when "
    "its owner runs on another CPU (IPI), at idle, at a vCPU thread's switch-in, for another task's signal, "
    "sigreturn or fork, and for ptrace, and needs no "
    "restore when the owner returns to the same CPU untouched; the kept tiles are exposed under XFD "
    "(a LazyFP window on lazyfp_vulnerable machines); guests: kvm-eager"},
    [] { return std::unique_ptr<Policy>(new XfdLazyAmxPolicy(make_deferred_policy())); }, &kvm_eager()});
}

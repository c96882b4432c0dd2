// The arm64 host policy "sve-discard" (Linux v5.13 .. v6.1); every rule names
// the fpsimd.c function it comes from (reference/linux-fpu-semantics.md §4,
// §5; fpsimd.c of torvalds/linux).
#include "models/arm64/policies/sve_discard.h"

namespace fpusim::arm64 {

// A task as exec leaves it (fpsimd_flush_thread()): FPSIMD format, zeroed,
// TIF_FOREIGN_FPSTATE set, no CPU.
void SveDiscardPolicy::init_context(Agent& a, Context& ctx) {
  a.flush_task_state(ctx);
  ctx.tif_sve = false;
  ctx.fp_type = FpType::kFpsimd;
}

// fpsimd_thread_switch(next): save current's live user state
// (fpsimd_save_user_state(); nothing if its TIF_FOREIGN_FPSTATE is set), the
// binding stays; next's TIF_FOREIGN_FPSTATE := !(fpsimd_last_state.st ==
// &next->thread.uw.fpsimd_state && next->thread.fpsimd_cpu == cpu).
void SveDiscardPolicy::thread_switch(Agent& a, CpuId cpu, Context* prev, Context* next) {
  if (prev) a.save_user_state(cpu, Cause::context_switch);
  if (next) {
    const bool valid = a.cpu(cpu).last == next->id && next->fpsimd_cpu == cpu;
    next->foreign = !valid;
    if (valid && next->is_user() && next->in_user) a.stats().add(Stat::restores_skipped, next->id, 1);
  }
}

// fpsimd_restore_current_state(): if test_and_clear(TIF_FOREIGN_FPSTATE):
// task_fpsimd_load() + fpsimd_bind_task_to_cpu().
void SveDiscardPolicy::return_to_user(Agent& a, CpuId cpu, Context& ctx) {
  if (!ctx.foreign) return;
  ctx.foreign = false;
  a.load(cpu, ctx, Cause::return_to_user);
  a.bind(cpu, ctx, Cause::return_to_user);
}

// el0_svc() -> fp_user_discard() -> sve_user_discard(): clear TIF_SVE and
// sve_user_disable(); the SVE-only bits are no longer the task's (the ABI
// makes them unknown after a syscall), so the next save keeps only FPSIMD
// and the next SVE instruction traps again.
//
// The streaming-mode exit is "if (system_supports_sme()) sme_smstop_sm();",
// of the live PSTATE.SM whatever TIF_SME says (found by fpusim explore: the
// model once required TIF_SME, which a task in streaming mode has anyway
// since b7c510d04904 sets it on NT_ARM_SSVE writes).
void SveDiscardPolicy::exit_streaming_at_syscall(Agent& a, CpuId cpu, Context& ctx) {
  if (!a.machine().sme || ctx.foreign || a.cpu(cpu).last != ctx.id || !a.cpu(cpu).sm) return;
  a.stats().add(AStat::streaming_exits, ctx.id, 1);
  a.smstop_live(cpu, true, false, &ctx);
}

void SveDiscardPolicy::syscall_enter(Agent& a, CpuId cpu, Context& ctx) {
  exit_streaming_at_syscall(a, cpu, ctx);
  if (!a.machine().sve) return;
  if (ctx.tif_sve) a.stats().add(AStat::sve_discards, ctx.id, 1);
  ctx.tif_sve = false;
  ctx.truth.set_init(kMaskSve);
  a.set_zen_el0(cpu, false, Cause::syscall);
}

// do_sve_acc(): sve_alloc(), set TIF_SVE, sve_init_regs(): state live ->
// sve_set_vq() + sve_flush_live() + fpsimd_bind_task_to_cpu() (EL0 SVE on);
// else fpsimd_to_sve() in memory only (v5.13 .. v6.1; the task's
// TIF_FOREIGN_FPSTATE is already set, so the next return loads it).
void SveDiscardPolicy::sve_acc(Agent& a, CpuId cpu, Context& ctx) {
  // "if (test_and_set_thread_flag(TIF_SVE)) WARN_ON(1); /* SVE access
  // shouldn't have trapped */": the trap configuration was wrong for the
  // task (b3eb56b6); the kernel warns and re-initialises the live SVE bits.
  if (ctx.tif_sve) a.stats().add(AStat::sve_acc_warnings, ctx.id, 1);
  ctx.tif_sve = true;
  if (!ctx.foreign) {
    a.set_zcr(cpu, ctx.vl, Cause::sve_trap);
    a.sve_flush_live(cpu, Cause::sve_trap);
    ctx.fp_type = FpType::kSve;
    a.bind(cpu, ctx, Cause::sve_trap);
  } else {
    a.convert(ctx, FpType::kSve);
  }
  // The task's own SVE-only bits are already zero in its truth (no TIF_SVE:
  // never used, or dropped by a syscall, a VL change or a frame without
  // SVE), so the zeros the flush leaves are checked, not assumed.
}

// do_sme_acc(): "if (test_and_set_thread_flag(TIF_SME)) WARN_ON(1);" (SME
// state allocated: sme_alloc, sve_alloc), then, state live:
// sme_set_vq() + fpsimd_bind_task_to_cpu() (EL0 SME on); else
// fpsimd_flush_task_state() and the next return loads and binds.
void SveDiscardPolicy::sme_acc(Agent& a, CpuId cpu, Context& ctx) {
  if (ctx.tif_sme) a.stats().add(AStat::sve_acc_warnings, ctx.id, 1);
  ctx.tif_sme = true;
  if (!ctx.foreign) {
    a.set_smcr(cpu, ctx.svl, Cause::sme_trap);
    a.bind(cpu, ctx, Cause::sme_trap);
  } else {
    a.flush_task_state(ctx);
  }
}

// kernel_neon_begin(): save current's live user state (fpsimd_save_user_state)
// then fpsimd_flush_cpu_state(): the registers are nobody's, current's
// TIF_FOREIGN_FPSTATE set.
void SveDiscardPolicy::kernel_neon_begin(Agent& a, CpuId cpu, Context* cur) {
  // A live bound state is saved: current's own, or a vCPU's that KVM bound
  // on the VMM thread (e6b673b7).
  if (cur && cur->is_user() && !cur->foreign && a.cpu(cpu).last != kNoContext) {
    a.stats().add(AStat::kernel_neon_saves, a.cpu(cpu).last, 1);
  }
  a.save_user_state(cpu, Cause::kernel_neon);
  a.flush_cpu_state(cpu);
}

// kernel_neon_end(): nothing is restored; the user state comes back at the
// return to user (fpsimd_restore_current_state()).
void SveDiscardPolicy::kernel_neon_end(Agent&, CpuId, Context*) {}

// setup_sigframe() -> preserve_fpsimd_context() / preserve_sve_context():
// fpsimd_signal_preserve_current_state() saves the live state; the frame
// holds FPSIMD, and SVE when TIF_SVE. The handler keeps the registers.
StateImage SveDiscardPolicy::signal_deliver(Agent& a, CpuId cpu, Context& ctx) {
  preserve_current_state(a, cpu, Cause::signal);
  StateImage frame;
  // setup_sigframe(): an SVE record when TIF_SVE or streaming mode
  // (SVE_SIG_FLAG_SM), a ZA record (and ZT0 with SME2) when PSTATE.ZA, and
  // FPMR (fpmr_context) with FEAT_FPMR.
  const bool sve = ctx.tif_sve || ctx.svcr_sm;
  const ComponentMask mask = (sve ? kMaskVec : kMaskFpsimd) | (ctx.svcr_za ? kMaskZa : 0) |
                             (a.machine().fpmr ? kMaskFpmr : 0);
  frame.copy_from(ctx.image, mask);
  Context::FrameInfo info;
  info.sve = sve;
  info.sm = ctx.svcr_sm;
  info.za = ctx.svcr_za;
  info.truth.copy_from(ctx.truth, mask);
  ctx.frame_info.push_back(std::move(info));
  const std::uint64_t bytes = ctx.sizes->of(mask);
  a.charge(cpu, ctx.id, Stat::other_cycles, a.cost().memcpy(bytes), "sigframe_copy", Cause::signal, bytes, mask);
  // setup_return() (v5.19 .. v6.15): the handler runs with streaming mode and
  // ZA off ("svcr &= ~(SVCR_ZA_MASK | SVCR_SM_MASK); sme_smstop()"); a
  // streaming task's saved V registers are zeroed (fp_type FPSIMD). The
  // SMSTOP acts on the live registers: it resets FPMR only when the state is
  // live (v6.16's task_smstop_sm() zeroes the saved FPMR as well).
  if (a.machine().sme && (ctx.svcr_sm || ctx.svcr_za)) {
    if (ctx.svcr_sm) {
      a.stats().add(AStat::streaming_exits, ctx.id, 1);
      ctx.image.set_init(kMaskVec);
      ctx.fp_type = FpType::kFpsimd;
    }
    const bool live = !ctx.foreign && a.cpu(cpu).last == ctx.id;
    if (live) {
      a.smstop_live(cpu, true, true, &ctx);
    } else {
      if (ctx.svcr_sm) ctx.truth.set_init(kMaskVec);
      if (ctx.svcr_za) ctx.truth.set_init(kMaskZa);
      ctx.svcr_sm = ctx.svcr_za = false;
      a.relayout(ctx);
    }
  }
  return frame;
}

// restore_sigframe() -> restore_fpsimd_context() / restore_sve_fpsimd_context():
// fpsimd_flush_task_state(), the frame into the buffers (TIF_SVE when it
// holds SVE state), then fpsimd_update_current_state(): task_fpsimd_load() +
// fpsimd_bind_task_to_cpu(), TIF_FOREIGN_FPSTATE cleared.
void SveDiscardPolicy::sigreturn(Agent& a, CpuId cpu, Context& ctx, const StateImage& frame) {
  if (ctx.frame_info.empty()) panic("arm64: sigreturn of " + ctx.name + " without the frame's record");
  const Context::FrameInfo info = ctx.frame_info.back();
  ctx.frame_info.pop_back();
  a.flush_task_state(ctx);
  // restore_sigframe(): TIF_SVE again when the frame has an SVE record
  // (restore_sve_fpsimd_context()), whatever its register values.
  // restore_sve_fpsimd_context(): SVE_SIG_FLAG_SM sets SVCR.SM (TIF_SVE
  // only without it); restore_za_context(): SVCR.ZA and ZA's contents.
  const bool sve = info.sve;
  const ComponentMask mask = (sve ? kMaskVec : kMaskFpsimd) | (info.za ? kMaskZa : 0) |
                             (a.machine().fpmr ? kMaskFpmr : 0);
  ctx.svcr_sm = info.sm;
  ctx.svcr_za = info.za;
  a.relayout(ctx);
  ctx.image = StateImage{};
  ctx.image.copy_from(frame, mask);
  ctx.fp_type = sve ? FpType::kSve : FpType::kFpsimd;
  ctx.tif_sve = sve && !info.sm;
  ctx.truth.set_init(kMaskVec | kMaskZa | kMaskFpmr);
  ctx.truth.copy_from(info.truth, mask);
  const std::uint64_t bytes = ctx.sizes->of(mask);
  a.charge(cpu, ctx.id, Stat::other_cycles, a.cost().memcpy(bytes), "sigframe_copy", Cause::signal, bytes);
  a.load(cpu, ctx, Cause::signal);
  a.bind(cpu, ctx, Cause::signal);
  ctx.foreign = false;
}

// arch_dup_task_struct(): fpsimd_preserve_current_state(), then the child
// copies the thread struct without the SVE buffer (sve_state = NULL,
// TIF_SVE cleared); copy_thread(): fpsimd_flush_task_state(child). The
// child keeps the parent's VL. Its copy of V0-V31 is its own data.
void SveDiscardPolicy::fork(Agent& a, CpuId cpu, Context& parent, Context& child) {
  preserve_current_state(a, cpu, Cause::fork);
  a.set_vl(child, parent.vl);
  child.image = StateImage{};
  child.truth = StateImage{};
  // The copy is the child's own data from now on, as the parent's latest
  // V0-V31 (its truth). A copy of anything else (a stale buffer) becomes a
  // different version, so the child's first use finds it lost.
  const bool want = parent.truth.present & kMaskFpsimd;
  const bool have = parent.image.present & kMaskFpsimd;
  const bool same = want == have && (!want || parent.image.tok[kFpsimd] == parent.truth.tok[kFpsimd]);
  if (want) {
    child.truth.present = kMaskFpsimd;
    child.truth.tok[kFpsimd] = Token{child.id, child.next_version++};
  }
  if (have) {
    child.image.present = kMaskFpsimd;
    child.image.tok[kFpsimd] = same ? child.truth.tok[kFpsimd] : Token{child.id, child.next_version++};
  }
  child.fp_type = FpType::kFpsimd;
  child.tif_sve = false;
  // FPMR is copied with the thread struct; ZA (and ZT0) when the parent has
  // PSTATE.ZA (copy_thread_za(): kmemdup of sme_state, TIF_SME, SVCR.ZA;
  // before it, arch_dup_task_struct()). Streaming mode was left at the
  // syscall.
  child.svl = parent.svl;
  child.svcr_sm = false;
  child.svcr_za = parent.svcr_za;
  child.tif_sme = parent.svcr_za;
  a.relayout(child);
  ComponentMask copied = kMaskFpsimd;
  if (a.machine().fpmr) copied |= kMaskFpmr;
  if (parent.svcr_za) copied |= kMaskZa;
  for (unsigned i : bits(copied & ~kMaskFpsimd)) {
    const bool w = parent.truth.present & bit(i), h = parent.image.present & bit(i);
    const bool eq = w == h && (!w || parent.image.tok[i] == parent.truth.tok[i]);
    if (w) {
      child.truth.present |= bit(i);
      child.truth.tok[i] = Token{child.id, child.next_version++};
    }
    if (h) {
      child.image.present |= bit(i);
      child.image.tok[i] = eq && w ? child.truth.tok[i] : Token{child.id, child.next_version++};
    }
  }
  a.flush_task_state(child);
  const std::uint64_t bytes = child.sizes->of(copied);
  a.charge(cpu, child.id, Stat::other_cycles, a.cost().memcpy(bytes), "fork_copy", Cause::fork, bytes, copied);
}

// fpsimd_flush_thread(): fpsimd_flush_task_state(), uw.fpsimd_state zeroed,
// TIF_SVE cleared, sve_state freed, the VL reset to the default (vl_onexec
// is not modelled), fp_type FPSIMD.
void SveDiscardPolicy::exec(Agent& a, CpuId, Context& ctx) {
  a.flush_task_state(ctx);
  ctx.image = StateImage{};
  ctx.tif_sve = false;
  ctx.fp_type = FpType::kFpsimd;
  ctx.truth.set_init(kMaskVec | kMaskZa | kMaskFpmr);
  // TIF_SME cleared, "current->thread.svcr = 0", the SME VL reset; FPMR 0.
  ctx.tif_sme = false;
  ctx.svcr_sm = ctx.svcr_za = false;
  if (a.machine().sme) ctx.svl = a.machine().default_svl;
  if (ctx.vl != a.machine().default_vl) a.set_vl(ctx, a.machine().default_vl);
  else a.relayout(ctx);
}

// do_exit(): nothing in fpsimd.c; the binding is left as it is and the final
// switch-out saves the live state like any other (fpsimd_thread_switch()).
void SveDiscardPolicy::exit(Agent&, CpuId, Context&) {}

// fpr_get() / sve_get(): "if (target == current) fpsimd_preserve_current_state()";
// a stopped tracee's state is already in memory.
void SveDiscardPolicy::state_read(Agent& a, CpuId cpu, Context& target) {
  if (a.cpu(cpu).current == target.id) preserve_current_state(a, cpu, Cause::state_access);
}

// ptrace writes (ptrace.c, v6.8 .. v6.15; Mark Rutland's rework of
// sve_set_common() in v6.16 changed the partial-write rules).
// - za_set() with data and zt_set(): with ZA off, sme_alloc(target, true)
//   zeroes ZA and ZT0 before the one written is copied in (before
//   b7c510d04904, v6.8, a ZA write zeroed ZT0 with ZA on too); then
//   "target->thread.svcr |= SVCR_ZA_MASK" and TIF_SME set. fpmr_set():
//   target->thread.uw.fpmr.
// - fpr_set() (NT_PRFPREG, fpsimd alone): with TIF_SVE or streaming mode,
//   sve_sync_from_fpsimd_zeropad(): the SVE state becomes the new V
//   registers with everything else zero.
// - sve_set_common() (NT_ARM_SVE for SVE components, NT_ARM_SSVE always):
//   see sve_regset_written().
// Then fpsimd_flush_task_state(target): loaded again before it next runs.
void SveDiscardPolicy::state_written(Agent& a, Context& target, ComponentMask written, bool streaming) {
  if (written & kMaskZa) {
    if (!target.svcr_za) {
      const ComponentMask zeroed = kMaskZa & ~written;
      target.image.set_init(zeroed);
      target.truth.set_init(zeroed);
    }
    target.svcr_za = true;
    target.tif_sme = true;
  }
  const ComponentMask vec = written & kMaskVec;
  if (streaming || (vec & kMaskSve)) {
    sve_regset_written(a, target, vec, streaming);
  } else if (vec && (target.tif_sve || target.svcr_sm)) {
    target.image.set_init(kMaskSve);
    target.truth.set_init(kMaskSve);
  }
  a.flush_task_state(target);
}

// sve_set_common(target, type), the header's VL the target's own:
// - "Enter/exit streaming mode": SVCR.SM set for NT_ARM_SSVE, with
//   "sme_alloc(target, false); set_tsk_thread_flag(target, TIF_SME);"
//   (b7c510d04904, v6.8: ZA kept, EL0 SME enabled); cleared for NT_ARM_SVE
//   (with SME). A change reallocates the SVE storage zeroed
//   (sve_alloc(target, true)), so state saved in SVE format is gone.
// - FPSIMD format (SVE_PT_REGS_FPSIMD; NT_ARM_SSVE here only with the bug
//   f916dd32a943 fixed, Agent::ssve_write()): __fpr_set(), TIF_SVE cleared,
//   fp_type FPSIMD; the load in streaming mode writes V0-V31 only, over
//   vector registers zeroed if its SVCR write changed PSTATE.SM, and over
//   the previous streaming task's if it did not (the bug).
// - SVE format: sve_alloc(target, true) zeroes the SVE storage again and
//   fpsimd_sync_to_sve() copies V0-V31 in only without TIF_SVE and outside
//   streaming mode, so what the data does not cover is zero (V0-V31 kept
//   only then); fp_type SVE, and TIF_SVE set for NT_ARM_SVE only ("Only
//   enable SVE if we are configuring normal SVE").
void SveDiscardPolicy::sve_regset_written(Agent& a, Context& target, ComponentMask vec, bool streaming) {
  if (streaming) target.tif_sme = true;
  if (a.machine().sme && target.svcr_sm != streaming) {
    target.svcr_sm = streaming;
    if (target.fp_type == FpType::kSve) {
      target.image.set_init(kMaskVec & ~vec);
      target.truth.set_init(kMaskVec & ~vec);
    }
    target.sve_buf.set_init(kMaskVec);
    a.relayout(target);
  }
  if (vec == kMaskFpsimd) {
    target.tif_sve = false;
    target.fp_type = FpType::kFpsimd;
    target.image.set_init(kMaskSve);
    target.truth.set_init(kMaskSve);
    return;
  }
  // (A task taken out of streaming mode without TIF_SVE gets its older
  // uw.fpsimd_state V registers back from fpsimd_sync_to_sve() where the
  // data does not cover them; the model zeroes them, a difference only for
  // partial writes, which v6.16 made consistent.)
  ComponentMask zeroed = kMaskSve & ~vec;
  if (target.tif_sve || target.svcr_sm) zeroed |= kMaskFpsimd & ~vec;
  if (target.fp_type != FpType::kSve) {
    // fpsimd_to_sve() of the saved state, then the data over it.
    const StateImage data = target.image;
    a.convert(target, FpType::kSve);
    target.image.copy_from(data, vec & kMaskSve);
  }
  target.image.set_init(zeroed);
  target.truth.set_init(zeroed);
  target.sve_buf.copy_from(target.image, kMaskVec);
  if (!streaming) target.tif_sve = true;
}

// za_set() with the header only, v6.8 .. v6.15 (b7c510d04904: "Only flush
// the storage if PSTATE.ZA was not already set"):
// sme_alloc(target, !thread_za_enabled()) then, as there is no data,
// "target->thread.svcr &= ~SVCR_ZA_MASK"; TIF_SME is left as it is; then
// fpsimd_flush_task_state(target). ZA and ZT0 are gone (PSTATE.ZA off: the
// next SMSTART ZA zeroes them); the header's SVL is the target's own here.
void SveDiscardPolicy::za_disabled(Agent& a, Context& target) {
  target.image.set_init(kMaskZa);
  target.truth.set_init(kMaskZa);
  target.svcr_za = false;
  a.flush_task_state(target);
}

// vec_set_vector_length(): unchanged VL -> nothing; else
// fpsimd_save_user_state() (current), fpsimd_flush_task_state(), and if
// test_and_clear(TIF_SVE): sve_to_fpsimd(), fp_type FPSIMD; the new VL.
void SveDiscardPolicy::set_vl(Agent& a, CpuId cpu, Context& ctx, unsigned vl) {
  if (vl == ctx.vl) return;
  a.save_user_state(cpu, Cause::set_vl);
  a.flush_task_state(ctx);
  if (ctx.tif_sve) {
    ctx.tif_sve = false;
    a.convert(ctx, FpType::kFpsimd);
  } else if (ctx.fp_type == FpType::kSve) {
    a.convert(ctx, FpType::kFpsimd);
  }
  ctx.truth.set_init(kMaskSve);
  a.stats().add(AStat::vl_changes, ctx.id, 1);
  a.set_vl(ctx, vl);
}

// vec_set_vector_length(ARM64_VEC_SME), v6.1 .. v6.15 (d4d5be94a878,
// c9bb40b7f786; b87c8c4aca11 changed it in v6.16): unchanged SVL -> nothing;
// else fpsimd_save_user_state() (current), fpsimd_flush_task_state(); with
// TIF_SVE or PSTATE.SM, sve_to_fpsimd() (V0-V31 kept from the Z registers,
// the rest dropped), fp_type FPSIMD; then "task->thread.svcr &=
// ~(SVCR_SM_MASK | SVCR_ZA_MASK)" and TIF_SME cleared: the task leaves
// streaming mode and its ZA and ZT0 are discarded (sme_free()); FPMR stays.
void SveDiscardPolicy::set_svl(Agent& a, CpuId cpu, Context& ctx, unsigned svl) {
  if (svl == ctx.svl) return;
  a.save_user_state(cpu, Cause::set_vl);
  a.flush_task_state(ctx);
  if (ctx.tif_sve || ctx.svcr_sm || ctx.fp_type == FpType::kSve) {
    ctx.tif_sve = false;
    a.convert(ctx, FpType::kFpsimd);
  }
  ctx.truth.set_init(kMaskSve | kMaskZa);
  ctx.image.set_init(kMaskZa);
  ctx.svcr_sm = ctx.svcr_za = false;
  ctx.tif_sme = false;
  a.stats().add(AStat::vl_changes, ctx.id, 1);
  ctx.svl = svl;
  a.relayout(ctx);
}

std::unique_ptr<Policy> make_sve_discard_policy() { return std::make_unique<SveDiscardPolicy>(); }

FPUSIM_REGISTER_ARM64_POLICY(
    100, PolicyInfo{{"sve-discard",
                     "Linux v5.13 .. v6.1 (TIF_FOREIGN_FPSTATE 005f78cd8849, v3.16; sve_init_regs() v5.13; "
                     "sve_user_discard() until 8c845e273104, v6.2)",
                     "arm64: save at switch-out when the registers are live, load on return to user unless "
                     "fpsimd_last_state and fpsimd_cpu still name the task; SVE enabled by a first-use trap and "
                     "discarded at every syscall"},
                    make_sve_discard_policy, nullptr})

}  // namespace fpusim::arm64

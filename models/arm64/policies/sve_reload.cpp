// The arm64 host policy "sve-reload" (Linux v4.15 .. v5.12): as sve-discard,
// but the SVE first-use trap does not convert the live registers. From SVE's
// arrival (v4.15) until cccb78ce89c4 ("arm64/sve: Rework SVE access trap to
// convert state in registers", v5.13) do_sve_acc() saved the task's FPSIMD
// state, dropped the registers, converted the saved state to SVE format in
// memory and let the return to user load it back:
//   fpsimd_save(); fpsimd_flush_task_state(current); fpsimd_to_sve(current);
//   if (test_and_set_thread_flag(TIF_SVE)) WARN_ON(1);
// (v5.2 .. v5.12; v4.15's task_fpsimd_save() and set_thread_flag(
// TIF_FOREIGN_FPSTATE) did the same). Every first SVE use after a syscall
// costs a save and a load.
#include "models/arm64/policies/sve_reload.h"

namespace fpusim::arm64 {

void SveReloadPolicy::sve_acc(Agent& a, CpuId cpu, Context& ctx) {
  // fpsimd_save(): with TIF_SVE clear, as it should be, the live registers
  // are saved in FPSIMD format (nothing when they are not the task's).
  a.save_user_state(cpu, Cause::sve_trap);
  a.flush_task_state(ctx);
  if (ctx.tif_sve) {
    // The trap configuration was wrong for the task (b3eb56b6): the save
    // stored the SVE format, and fpsimd_to_sve() then copies the V
    // registers of uw.fpsimd_state, which that save did not write, over
    // the low 128 bits of each Z: V0-V31 are replaced by stale values.
    a.stats().add(AStat::sve_acc_warnings, ctx.id, 1);
    if (ctx.fp_type == FpType::kSve) ctx.image.set_init(kMaskFpsimd);
  }
  a.convert(ctx, FpType::kSve);
  ctx.tif_sve = true;
}

std::unique_ptr<Policy> make_sve_reload_policy() { return std::make_unique<SveReloadPolicy>(); }

FPUSIM_REGISTER_ARM64_POLICY(
    90, PolicyInfo{{"sve-reload",
                    "Linux v4.15 .. v5.12 (do_sve_acc() of bc0ee4760364 \"arm64/sve: Core task context handling\", v4.15, until cccb78ce89c4 reworked it in v5.13)",
                    "arm64: as sve-discard, but SVE's first-use trap saves the live FPSIMD state, converts it to "
                    "SVE format in memory and reloads it at the return to user (a save and a load per first use)"},
                   make_sve_reload_policy, nullptr})

}  // namespace fpusim::arm64

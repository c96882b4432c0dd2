// The arm64 host policy "sve-keep" (Linux v6.2 .. v6.15): as sve-discard,
// but a syscall keeps SVE enabled (8c845e273104 "arm64/sve: Leave SVE
// enabled on syscall if we don't context switch"): fp_user_discard() zeroes
// the live Z upper bits, P and FFR (sve_flush_live()) and leaves TIF_SVE
// and EL0 access set; a save while current is in a syscall stores only the
// FPSIMD format ("!in_syscall(current_pt_regs())" in
// fpsimd_save_user_state(), until 978ca4ac0d8e in v6.16), after which the
// next load clears TIF_SVE (task_fpsimd_load(), FP_STATE_FPSIMD).
#include "models/arm64/policies/sve_keep.h"

namespace fpusim::arm64 {

void SveKeepPolicy::syscall_enter(Agent& a, CpuId cpu, Context& ctx) {
  exit_streaming_at_syscall(a, cpu, ctx);
  if (!a.machine().sve || !ctx.tif_sve) return;
  // The ABI makes the SVE-only bits zero after a syscall: the task's truth
  // follows, and the registers are flushed when they hold its state.
  ctx.truth.set_init(kMaskSve);
  if (!ctx.foreign && a.cpu(cpu).last == ctx.id) a.sve_flush_live(cpu, Cause::syscall);
}

std::unique_ptr<Policy> make_sve_keep_policy() { return std::make_unique<SveKeepPolicy>(); }

FPUSIM_REGISTER_ARM64_POLICY(
    110, PolicyInfo{{"sve-keep",
                     "Linux v6.2 .. v6.15 (8c845e273104: SVE left enabled across syscalls, v6.2; fp_type "
                     "baa85152 and to_save deeb8f9a, v6.2; in-syscall saves in FPSIMD format until 978ca4ac0d8e, "
                     "v6.16)",
                     "arm64: as sve-discard, but a syscall zeroes the live SVE-only bits and keeps TIF_SVE and EL0 "
                     "SVE access; a save during a syscall stores FPSIMD only and the next load turns SVE off"},
                    make_sve_keep_policy, nullptr})

}  // namespace fpusim::arm64

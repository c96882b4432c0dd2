// The arm64 bug corpus: the bugs of KVM arm64's FP handling (seed 002) and
// of the host's ptrace code, each with its fix, the kernels that had it, what
// it broke and the scenario in traces/bugs/ that shows it. LazyKvm's era
// flags take the KVM ones (kvm_lazy.h), the agent the others.
#include "models/arm64/bugs.h"

namespace fpusim::arm64 {

const std::vector<BugDesc>& bugs() {
  static const std::vector<BugDesc> all = {
      numbered(Bug::kTifSveBeforeSave,
          {"2955bcc8c309", "KVM: arm64: Avoid mistaken attempts to save SVE state for vcpus",
           "v4.18-rc (Fixes e6b673b741ea; fixed before v4.18)",
           "kvm_arch_vcpu_put_fp() gave the VMM thread its TIF_SVE back before fpsimd_save(), so the vCPU's "
           "registers were saved in the host's format; in its v5.2+ form an SVE vCPU saved as FPSIMD is reloaded "
           "by hyp from its stale SVE buffer and loses its vector state",
           "lost", "traces/bugs/arm64_kvm_2955bcc8c309.json", {"kvm-arm64-lazy-2018"},
           "kvm-arm64-lazy-2018-bug-2955bcc8"}),
      numbered(Bug::kPutRebindsCurrentOnly,
          {"b3eb56b629d1", "KVM: arm64/sve: Fix SVE trap restoration for non-current tasks",
           "v4.18-rc (Fixes e6b673b741ea; fixed before v4.18)",
           "when the guest had not used FP, kvm_arch_vcpu_put_fp() re-established the EL0 SVE trap for current "
           "only; another task whose state was still bound returned to EL0 with the CPACR_EL1 the VHE exit path "
           "reset, trapped on SVE it owned and lost it",
           "lost, trap_config", "traces/bugs/arm64_kvm_b3eb56b629d1.json", {"kvm-arm64-lazy-2018"},
           "kvm-arm64-lazy-2018-bug-b3eb56b6"}),
      numbered(Bug::kSveFlagKeptAcrossLoads,
          {"d52d165d67c5", "KVM: arm64: Always start with clearing SVE flag on load",
           "v5.17, v5.18 (8383741ab2e7 lost the clearing; in those kernels without host SME)",
           "HOST_SVE_ENABLED was set at vcpu_load and never cleared: once a task with SVE was bound at a load, "
           "every later vcpu_put on VHE enabled EL0 SVE for the VMM thread, which ran SVE without TIF_SVE: "
           "another task's P and FFR leaked to it and its own SVE state was lost at its next save",
           "leaked, lost, trap_config, foreign_regs", "traces/bugs/arm64_kvm_d52d165d67c5.json", {"kvm-arm64-2022"},
           "kvm-arm64-2022-bug-d52d165d"}),
      numbered(Bug::kSmeFlagKeptAcrossLoads,
          {"039f49c4cafb", "KVM: arm64: Always start with clearing SME flag on load",
           "the v5.19 merge window (Fixes 861262ab8627; never in a release)",
           "HOST_SME_ENABLED was set at vcpu_load and never cleared: once a task with SME was bound at a load, "
           "every later vcpu_put on VHE enabled EL0 SME for the VMM thread, which had no TIF_SME and no SME state "
           "storage",
           "trap_config", "traces/bugs/arm64_kvm_039f49c4cafb.json", {"kvm-arm64-2022"}, "kvm-arm64-2022-bug-039f49c4"}),
      numbered(Bug::kNoIsbAfterSmen,
          {"59d78a2ec0e9", "KVM: arm64: Synchronize SMEN on vcpu schedule out", "v5.19 .. v6.1 (in kvm-arm64-2022 itself)",
           "kvm_arch_vcpu_put_fp() re-enabled SME for the kernel and read SVCR before an ISB made the write take "
           "effect: the read trapped in the kernel",
           "kernel_trap", "traces/bugs/arm64_kvm_59d78a2ec0e9.json", {"kvm-arm64-2023"}, ""}),
      numbered(Bug::kHostStateKeptAtLoad,
          {"fbc7e61195e2", "KVM: arm64: Unconditionally save+flush host FPSIMD/SVE/SME state",
           "v6.2 .. v6.13 (in kvm-arm64-2023 itself)",
           "fpsimd_kvm_prepare() dropped a VMM thread's TIF_SVE at vcpu_load while its SVE state was live and "
           "KVM saved only its FPSIMD part: the host task's SVE state was lost; and with FEAT_FPMR, for a VM "
           "without FPMR, the vCPU binding saved the VMM's FPMR into the vCPU and the VMM reloaded a stale one",
           "lost, trap_config", "traces/bugs/arm64_kvm_fbc7e61195e2.json", {"kvm-arm64-2025"}, ""}),
      numbered(Bug::kSsveFpsimdPayload,
          {"f916dd32a943", "arm64/fpsimd: ptrace: Mandate SVE payload for streaming-mode state",
           "v6.2 .. v6.15 (since a0136be443d5 loads by fp_type; before it a streaming task was loaded in SVE "
           "format; SME could not be built from 81235ae0c846, v6.12-rc7 and stable, until v6.16)",
           "an NT_ARM_SSVE write in the FPSIMD format put the stopped task in streaming mode with its state in "
           "FPSIMD format; a restore that found the CPU still in streaming mode (from the task before) wrote only "
           "V0-V31 (fpsimd_load_state()), and the task ran with the previous task's streaming predicates (and FFR "
           "with FEAT_SME_FA64)",
           "leaked, foreign_regs", "traces/bugs/arm64_ptrace_f916dd32a943.json", {"sve-keep"}, ""}),
      numbered(Bug::kFpmrBeforeSvcr,
          {"e5fa85fce08b", "arm64/fpsimd: Don't corrupt FPMR when streaming mode changes",
           "v6.9 .. v6.14 (203f2b95a882's task_fpsimd_load(); fixed in v6.15 and stable; with SME buildable "
           "only up to v6.11, 81235ae0c846)",
           "task_fpsimd_load() wrote the task's FPMR before SVCR; an SVCR write that changed PSTATE.SM, which "
           "resets FPMR to zero, then wiped it: a task restored after a streaming-mode task (or into streaming "
           "mode) returned to user space with FPMR zero",
           "lost", "traces/bugs/arm64_fpmr_e5fa85fce08b.json",
           {"sve-keep", "kvm-arm64-2023"}, ""}),
  };
  return all;
}

}  // namespace fpusim::arm64

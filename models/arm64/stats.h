// The arm64 statistics group (after the core group, models/core/stats.h) and
// the causes of saves, restores and traps. Counted by models/arm64/agent.cpp.
#pragma once

#include <vector>

#include "models/core/stats.h"

namespace fpusim::arm64 {

#define FPUSIM_ARM64_STATS(X)                                                                            \
  X(traps_sve_acc, "count", "SVE access traps taken at EL0 with TIF_SVE clear (do_sve_acc)")             \
  X(traps_sme_acc, "count", "SME access traps taken at EL0 with TIF_SME clear (do_sme_acc): SMSTART, ZA or streaming SVE") \
  X(sve_discards, "count", "syscalls that discarded a task's SVE state (sve_user_discard: TIF_SVE cleared)") \
  X(sve_conversions, "count", "FPSIMD <-> SVE format conversions of a task's saved state (fpsimd_to_sve, sve_to_fpsimd)") \
  X(sve_saves, "count", "saves in SVE format (sve_save_state: Z, P, FFR at the task's VL)")              \
  X(sve_restores, "count", "restores in SVE format (sve_load_state)")                                     \
  X(sve_flushes, "count", "sve_flush_live(): Z upper bits, P and FFR zeroed in the registers")           \
  X(cpacr_writes, "count", "CPACR_EL1.ZEN / SMEN EL0 changes (sve_user_enable/disable, sme_user_enable/disable)") \
  X(zcr_writes, "count", "ZCR_EL1 writes for a new vector length (sve_set_vq)")                           \
  X(smcr_writes, "count", "SMCR_EL1 writes for a new streaming vector length (sme_set_vq)")               \
  X(streaming_exits, "count", "streaming mode left by the kernel for a task (syscall entry, signal delivery: sme_smstop_sm)") \
  X(vl_changes, "count", "prctl(PR_SVE_SET_VL) calls that changed the task's vector length")              \
  X(kernel_neon_saves, "count", "live states (a task's, or a vCPU's bound by KVM) saved by kernel_neon_begin")                                 \
  X(sve_acc_warnings, "count", "do_sve_acc() with TIF_SVE (or do_sme_acc() with TIF_SME) already set: WARN \"SVE access shouldn't have trapped\" (the live SVE bits re-initialised)")

#define FPUSIM_ARM64_KVM_STATS(X)                                                                        \
  X(kvm_runs, "count", "KVM_RUN ioctls (the vCPU thread enters the run loop)")                            \
  X(vcpu_loads, "count", "kvm_arch_vcpu_load_fp(): at KVM_RUN and at every sched-in inside it")           \
  X(vcpu_puts, "count", "kvm_arch_vcpu_put_fp(): at the end of KVM_RUN and at every sched-out inside it") \
  X(vm_entries, "count", "guest entries")                                                                  \
  X(vm_exits, "count", "guest exits (all reasons)")                                                        \
  X(traps_guest_fp, "count", "guest FP/SIMD or SVE accesses trapped to EL2 (kvm_hyp_handle_fpsimd)")      \
  X(hyp_host_saves, "count", "host register state saved by the hypervisor at a guest FP trap (FP_HOST / HOST_OWNED; the 2017 per-CPU host context)") \
  X(hyp_host_restores, "count", "host register state restored by the hypervisor at guest exit (2017 scheme)") \
  X(guest_loads, "count", "guest FP state loaded into the registers by the hypervisor")                     \
  X(guest_saves, "count", "guest FP state saved back to the vCPU (at exit in 2017; by the host's lazy save through fpsimd_bind_state_to_cpu() since e6b673b7)") \
  X(host_flushes_at_load, "count", "host state saved and flushed at vcpu load (fbc7e61195e2) or SME/SVE forced (861262ab)") \
  X(fp_owner_dropped, "count", "kvm_arch_vcpu_ctxflush_fp() found TIF_FOREIGN_FPSTATE: the registers were taken since the last exit") \
  X(zen_restores, "count", "CPACR_EL1.ZEN EL0 restored by kvm_arch_vcpu_put_fp() (VHE: the hypervisor reset CPACR_EL1 at exit)")

enum class AStat : StatId {
  kBefore_ = kNumCoreStats - 1,
#define FPUSIM_ARM64_STAT_ENUM(name, unit, doc) name,
  FPUSIM_ARM64_STATS(FPUSIM_ARM64_STAT_ENUM) FPUSIM_ARM64_KVM_STATS(FPUSIM_ARM64_STAT_ENUM)
#undef FPUSIM_ARM64_STAT_ENUM
      kEnd_
};

const StatGroup& stat_group();      // "arm64"
const StatGroup& kvm_stat_group();  // "arm64_kvm"

#define FPUSIM_ARM64_CAUSES(X)                                                                \
  X(context_switch, "fpsimd_thread_switch at a context switch")                               \
  X(return_to_user, "fpsimd_restore_current_state on return to user space")                  \
  X(sve_trap, "do_sve_acc: the SVE first-use trap")                                           \
  X(sme_trap, "do_sme_acc: the SME first-use trap")                                           \
  X(syscall, "sve_user_discard at syscall entry")                                             \
  X(kernel_neon, "kernel_neon_begin / kernel_neon_end")                                        \
  X(signal, "signal frame setup and sigreturn (preserve_fpsimd_context, restore_sigframe)")   \
  X(fork, "arch_dup_task_struct at fork/clone")                                               \
  X(exec, "fpsimd_flush_thread at exec")                                                      \
  X(state_access, "ptrace regset access to a task's state (fpr_get/set, sve_get/set)")        \
  X(set_vl, "prctl(PR_SVE_SET_VL): vec_set_vector_length")                                     \
  X(vcpu_load, "kvm_arch_vcpu_load_fp / run-loop entry (kvm_fpsimd_flush_cpu_state before e6b673b7)") \
  X(guest_trap, "kvm_hyp_handle_fpsimd: a guest FP/SVE access trapped to EL2")                  \
  X(vm_exit, "the hypervisor's guest exit path (__deactivate_traps; the 2017 eager switch back)") \
  X(vcpu_put, "kvm_arch_vcpu_put_fp at the end of KVM_RUN or a sched-out inside it")

enum class Cause : CauseId {
#define FPUSIM_ARM64_CAUSE_ENUM(name, doc) name,
  FPUSIM_ARM64_CAUSES(FPUSIM_ARM64_CAUSE_ENUM)
#undef FPUSIM_ARM64_CAUSE_ENUM
      kCount
};
const std::vector<CauseInfo>& cause_table();

}  // namespace fpusim::arm64

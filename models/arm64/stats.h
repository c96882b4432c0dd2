// The arm64 statistics group (after the core group, models/core/stats.h) and
// the causes of saves, restores and traps. Counted by models/arm64/agent.cpp.
#pragma once

#include <vector>

#include "models/core/stats.h"

namespace fpusim::arm64 {

#define FPUSIM_ARM64_STATS(X)                                                                            \
  X(traps_sve_acc, "count", "SVE access traps taken at EL0 with TIF_SVE clear (do_sve_acc)")             \
  X(sve_discards, "count", "syscalls that discarded a task's SVE state (sve_user_discard: TIF_SVE cleared)") \
  X(sve_conversions, "count", "FPSIMD <-> SVE format conversions of a task's saved state (fpsimd_to_sve, sve_to_fpsimd)") \
  X(sve_saves, "count", "saves in SVE format (sve_save_state: Z, P, FFR at the task's VL)")              \
  X(sve_restores, "count", "restores in SVE format (sve_load_state)")                                     \
  X(sve_flushes, "count", "sve_flush_live(): Z upper bits, P and FFR zeroed in the registers")           \
  X(cpacr_writes, "count", "CPACR_EL1.ZEN EL0 changes (sve_user_enable / sve_user_disable)")             \
  X(zcr_writes, "count", "ZCR_EL1 writes for a new vector length (sve_set_vq)")                           \
  X(vl_changes, "count", "prctl(PR_SVE_SET_VL) calls that changed the task's vector length")              \
  X(kernel_neon_saves, "count", "user states saved by kernel_neon_begin")

enum class AStat : StatId {
  kBefore_ = kNumCoreStats - 1,
#define FPUSIM_ARM64_STAT_ENUM(name, unit, doc) name,
  FPUSIM_ARM64_STATS(FPUSIM_ARM64_STAT_ENUM)
#undef FPUSIM_ARM64_STAT_ENUM
      kEnd_
};

const StatGroup& stat_group();  // "arm64"

#define FPUSIM_ARM64_CAUSES(X)                                                                \
  X(context_switch, "fpsimd_thread_switch at a context switch")                               \
  X(return_to_user, "fpsimd_restore_current_state on return to user space")                  \
  X(sve_trap, "do_sve_acc: the SVE first-use trap")                                           \
  X(syscall, "sve_user_discard at syscall entry")                                             \
  X(kernel_neon, "kernel_neon_begin / kernel_neon_end")                                        \
  X(signal, "signal frame setup and sigreturn (preserve_fpsimd_context, restore_sigframe)")   \
  X(fork, "arch_dup_task_struct at fork/clone")                                               \
  X(exec, "fpsimd_flush_thread at exec")                                                      \
  X(state_access, "ptrace regset access to a task's state (fpr_get/set, sve_get/set)")        \
  X(set_vl, "prctl(PR_SVE_SET_VL): vec_set_vector_length")

enum class Cause : CauseId {
#define FPUSIM_ARM64_CAUSE_ENUM(name, doc) name,
  FPUSIM_ARM64_CAUSES(FPUSIM_ARM64_CAUSE_ENUM)
#undef FPUSIM_ARM64_CAUSE_ENUM
      kCount
};
const std::vector<CauseInfo>& cause_table();

}  // namespace fpusim::arm64

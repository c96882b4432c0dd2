// The arm64 host policy of Linux v6.2 .. v6.15 (sve_keep.cpp), declared for
// the KVM policies built on it.
#pragma once

#include "models/arm64/policies/sve_discard.h"

namespace fpusim::arm64 {

class SveKeepPolicy : public SveDiscardPolicy {
 public:
  void syscall_enter(Agent& a, CpuId cpu, Context& ctx) override;
  // fpsimd_save_user_state() (v6.2 .. v6.15): "test_thread_flag(TIF_SVE) &&
  // !in_syscall(current_pt_regs())"; a task in kernel mode here is in a
  // syscall (or an exception entry that is one, such as KVM_RUN).
  bool save_sve_for_current(const Context& current) const override { return current.tif_sve && current.in_user; }
};

std::unique_ptr<Policy> make_sve_keep_policy();

}  // namespace fpusim::arm64

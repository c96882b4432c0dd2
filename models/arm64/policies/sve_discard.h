// The arm64 host policy of Linux v5.13 .. v6.1: deferred FPSIMD restore
// (TIF_FOREIGN_FPSTATE, 005f78cd8849, v3.16), SVE first use converting the
// live registers (sve_init_regs(), v5.13) and SVE state discarded at every
// syscall (sve_user_discard(), until 8c845e273104 in v6.2). Declared here so
// that tests can derive deliberately broken variants from it.
#pragma once

#include "models/arm64/policy.h"

namespace fpusim::arm64 {

class SveDiscardPolicy : public Policy {
 public:
  void init_context(Agent& a, Context& ctx) override;
  void thread_switch(Agent& a, CpuId cpu, Context* prev, Context* next) override;
  void return_to_user(Agent& a, CpuId cpu, Context& ctx) override;
  void syscall_enter(Agent& a, CpuId cpu, Context& ctx) override;
  void sve_acc(Agent& a, CpuId cpu, Context& ctx) override;
  void sme_acc(Agent& a, CpuId cpu, Context& ctx) override;
  void kernel_neon_begin(Agent& a, CpuId cpu, Context* cur) override;
  void kernel_neon_end(Agent& a, CpuId cpu, Context* cur) override;
  StateImage signal_deliver(Agent& a, CpuId cpu, Context& ctx) override;
  void sigreturn(Agent& a, CpuId cpu, Context& ctx, const StateImage& frame) override;
  void fork(Agent& a, CpuId cpu, Context& parent, Context& child) override;
  void exec(Agent& a, CpuId cpu, Context& ctx) override;
  void exit(Agent& a, CpuId cpu, Context& ctx) override;
  void state_read(Agent& a, CpuId cpu, Context& target) override;
  void state_written(Agent& a, Context& target, ComponentMask written, bool streaming) override;
  void za_disabled(Agent& a, Context& target) override;
  void set_vl(Agent& a, CpuId cpu, Context& ctx, unsigned vl) override;
  void set_svl(Agent& a, CpuId cpu, Context& ctx, unsigned svl) override;
  // fpsimd_save() (v4.15 .. v6.1): "if (test_thread_flag(TIF_SVE))".
  bool save_sve_for_current(const Context& current) const override { return current.tif_sve; }

 protected:
  // fpsimd_preserve_current_state(): save current's live state.
  void preserve_current_state(Agent& a, CpuId cpu, Cause cause) { a.save_user_state(cpu, cause); }
  // fp_user_discard()'s first step since 8bd7f91c03d0 (v5.19): "if SME is
  // active then exit streaming mode" (sme_smstop_sm()); ZA is kept.
  void exit_streaming_at_syscall(Agent& a, CpuId cpu, Context& ctx);
  // sve_set_common(): NT_ARM_SVE / NT_ARM_SSVE data (`vec`, fpsimd alone
  // for the FPSIMD format) written into the target's buffers.
  void sve_regset_written(Agent& a, Context& target, ComponentMask vec, bool streaming);
};

std::unique_ptr<Policy> make_sve_discard_policy();

}  // namespace fpusim::arm64

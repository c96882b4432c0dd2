// An arm64 save/restore policy: the kernel rules that decide every save,
// load and trap (arch/arm64/kernel/fpsimd.c of one kernel generation).
// Policies register themselves by name in the arm64 registry
// (models/core/registry.h), from their own files in models/arm64/policies/.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "models/arm64/agent.h"
#include "models/core/arch.h"
#include "models/core/registry.h"

namespace fpusim::arm64 {

class Policy {
 public:
  virtual ~Policy() = default;
  // A context that exists when the trace starts, as exec leaves a task.
  virtual void init_context(Agent& a, Context& ctx) = 0;
  // fpsimd_thread_switch(next), from __switch_to(): prev or next may be
  // null (idle).
  virtual void thread_switch(Agent& a, CpuId cpu, Context* prev, Context* next) = 0;
  // fpsimd_restore_current_state() on the way back to EL0.
  virtual void return_to_user(Agent& a, CpuId cpu, Context& ctx) = 0;
  // At syscall entry (el0_svc: fp_user_discard()).
  virtual void syscall_enter(Agent& a, CpuId cpu, Context& ctx) = 0;
  // do_sve_acc(): an EL0 SVE instruction trapped (TIF_SVE clear).
  virtual void sve_acc(Agent& a, CpuId cpu, Context& ctx) = 0;
  // do_sme_acc(): an EL0 SME instruction (or streaming SVE) trapped.
  virtual void sme_acc(Agent& a, CpuId cpu, Context& ctx) = 0;
  // kernel_neon_begin() / kernel_neon_end(); `cur` may be null (idle) or a
  // kernel thread.
  virtual void kernel_neon_begin(Agent& a, CpuId cpu, Context* cur) = 0;
  virtual void kernel_neon_end(Agent& a, CpuId cpu, Context* cur) = 0;
  // Signal frame setup (the frame's image is returned) and sigreturn.
  virtual StateImage signal_deliver(Agent& a, CpuId cpu, Context& ctx) = 0;
  virtual void sigreturn(Agent& a, CpuId cpu, Context& ctx, const StateImage& frame) = 0;
  virtual void fork(Agent& a, CpuId cpu, Context& parent, Context& child) = 0;
  virtual void exec(Agent& a, CpuId cpu, Context& ctx) = 0;
  virtual void exit(Agent& a, CpuId cpu, Context& ctx) = 0;
  // ptrace: make the target's saved state current (fpsimd_preserve_current_state
  // when it is current), and after new values were written into it.
  virtual void state_read(Agent& a, CpuId cpu, Context& target) = 0;
  // `streaming`: the NT_ARM_SSVE regset (else NT_ARM_SVE for SVE
  // components, NT_PRFPREG for fpsimd alone, NT_ARM_ZA / ZT / FPMR).
  virtual void state_written(Agent& a, Context& target, ComponentMask written, bool streaming) = 0;
  // za_set() without register data: the tracee's ZA disabled.
  virtual void za_disabled(Agent& a, Context& target) = 0;
  // prctl(PR_SVE_SET_VL): vec_set_vector_length() for current.
  virtual void set_vl(Agent& a, CpuId cpu, Context& ctx, unsigned vl) = 0;
  // vec_set_vector_length(ARM64_VEC_SME): the task's streaming VL becomes
  // `svl` (prctl(PR_SME_SET_VL) by the task itself).
  virtual void set_svl(Agent& a, CpuId cpu, Context& ctx, unsigned svl) = 0;
  // fpsimd_save_user_state() of a binding with to_save CURRENT: whether it
  // stores the SVE format, decided by current (whatever state is bound).
  virtual bool save_sve_for_current(const Context& current) const = 0;
};

struct PolicyInfo : PolicyDesc {
  std::function<std::unique_ptr<Policy>()> make;
  // The KVM scheme of the era, with the run's bugs (bits of Bug,
  // models/arm64/bugs.h); null for a policy of the host alone.
  std::function<std::unique_ptr<KvmScheme>(std::uint32_t bugs)> make_kvm;
};

Registry<PolicyInfo>& policy_registry();
#define FPUSIM_REGISTER_ARM64_POLICY(order, ...) \
  FPUSIM_REGISTER(::fpusim::arm64::policy_registry(), order, __VA_ARGS__)

const PolicyInfo* find_policy(std::string_view name);
std::string policy_names();

}  // namespace fpusim::arm64

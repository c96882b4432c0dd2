// A Linux task's FPU state as the x86 agent keeps it (struct fpu, struct
// fpstate, the thread flags), plus the checker's ground truth.
#pragma once

#include <string>
#include <vector>

#include "models/core/types.h"
#include "models/core/context.h"
#include "models/core/register_file.h"

namespace fpusim::x86 {

using fpusim::ContextKind;

// struct fpstate (arch/x86/include/asm/fpu/types.h): one buffer allocation.
struct Fpstate {
  std::uint64_t id = 0;           // unique per allocation: XRSTOR_INFO compares addresses
  ComponentMask xfeatures = 0;    // sized for, and the XSAVE request mask
  ComponentMask xfd = 0;          // IA32_XFD value while this fpstate is active
  std::uint32_t size = 0;         // kernel buffer size (compacted with XSAVES)
  std::uint32_t user_size = 0;    // UABI (standard) size of its user features
  StateImage image;               // contents: XSTATE_BV and per-component tokens
  // The header has reserved bits set (a ptrace write the kernel did not
  // validate, the 814fb7bb7db5 bug): XRSTOR from it takes #GP. XSAVE and
  // XSAVEOPT write XSTATE_BV only (SDM 13.7), so saves keep the bad
  // XCOMP_BV; a new buffer, fpstate_init() or a valid write replaces it.
  bool header_invalid = false;
};

struct Process {
  std::string name;
  ComponentMask perm = 0;  // fpu->perm.__state_perm of the group leader
  // fpu->guest_perm of the group leader (ARCH_REQ_XCOMP_GUEST_PERM); locked
  // by the first guest fpstate allocation (fpu_init_guest_permissions()).
  ComponentMask guest_perm = 0;
  bool guest_perm_locked = false;
};

constexpr std::uint32_t kNoVcpu = ~std::uint32_t{0};

// The shared part (ContextBase: identity, where it runs, the checker's
// truth) and the x86 kernel's bookkeeping.
struct Context : ContextBase {
  std::uint32_t process = 0;

  Fpstate fpstate;

  // Current kernels (v5.2+): TIF_NEED_FPU_LOAD and fpu->last_cpu.
  bool need_fpu_load = true;
  CpuId last_cpu = kNoCpu;
  // v4.x kernels: fpu->fpregs_active, fpu->fpstate_active, fpu->counter.
  bool fpregs_active = false;
  bool fpstate_active = false;
  std::uint8_t counter = 0;

  // A vCPU thread inside KVM_RUN: the vCPU it runs (kvm.h); with kvm-eager
  // its fpu->fpstate is then the guest fpstate (fpu_swap_kvm_fpstate()).
  std::uint32_t vcpu = kNoVcpu;
  bool fpstate_swapped = false;
  // kGuest: the vCPU this state belongs to.
  std::uint32_t guest_of = kNoVcpu;

  // A signal delivery or sigreturn whose access to the user's frame faulted
  // ("fault": "retry"): the context's next event of that kind retries it;
  // until then it stays in the kernel.
  enum class Pending : std::uint8_t { kNone, kSignal, kSigreturn };
  Pending pending = Pending::kNone;
  // The CPU's register owner as copy_fpstate_to_sigframe() read it at its
  // first attempt (what the 59c4bd853abc bug kept across the retry).
  ContextId owner_seen = kNoContext;
};

}  // namespace fpusim::x86

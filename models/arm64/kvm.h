// KVM on arm64 as the host agent sees it: vCPUs and the schemes by which
// KVM has shared the FP/SIMD registers between a vCPU and its host thread
// (arch/arm64/kvm/fpsimd.c, arch/arm64/kvm/hyp/include/hyp/switch.h; seed
// 002 is the history of the first). Plain data and the scheme interface;
// the primitives are the Agent's (agent.h), each era's rules are in
// models/arm64/policies/kvm_*.cpp.
//
// As on x86 (models/x86/kvm.h), a vCPU is a host thread (a user Context, the
// VMM's vCPU thread) plus a guest state that is a Context of kind kGuest of
// its own, so that the checker tells guest data from the thread's.
#pragma once

#include <cstdint>
#include <string>

#include "models/core/types.h"

namespace fpusim::arm64 {

class Agent;
struct Context;

// Who KVM thinks the registers belong to while a vCPU is loaded: the
// vCPU flags KVM_ARM64_FP_HOST / KVM_ARM64_FP_ENABLED (e6b673b7), the
// tristate vcpu->arch.fp_state (f8077b0d), later host_data's fp_owner.
enum class FpOwner : std::uint8_t {
  kFree,        // nothing KVM must preserve is live (both flags clear)
  kHostOwned,   // live host (VMM thread) state, saved by hyp at the guest's first FP trap
  kGuestOwned,  // the vCPU's state is live and the guest's FP traps are open
};

struct Vcpu {
  std::string name;
  ContextId thread = kNoContext;  // the host thread that issues KVM_RUN
  ContextId guest = kNoContext;   // the guest FP state's context
  bool sve = false;               // vcpu_has_sve()
  unsigned vl = 0;                // vcpu->arch.sve_max_vl, bits (0 without SVE)
  bool fpmr = false;              // kvm_has_fpmr(): the VM has FEAT_FPMR (HCRX_EL2.EnFPM set)

  bool in_run = false;    // inside the KVM_RUN ioctl
  bool in_guest = false;  // between a guest entry and its exit
  bool loaded = false;    // between kvm_arch_vcpu_load_fp() and _put_fp()
  FpOwner fp_owner = FpOwner::kFree;
  // KVM_ARM64_HOST_SVE_IN_USE (e6b673b7 .. 8383741a): the thread had
  // TIF_SVE at vcpu load.
  bool host_sve_in_use = false;
  // KVM_ARM64_HOST_SVE_ENABLED (b3eb56b6 .. v6.13): CPACR_EL1.ZEN_EL0EN was
  // set at vcpu load, for kvm_arch_vcpu_put_fp() to restore on VHE.
  bool host_sve_enabled = false;
  // KVM_ARM64_HOST_SME_ENABLED (861262ab .. v6.13): CPACR_EL1.SMEN_EL0EN at
  // vcpu load.
  bool host_sme_enabled = false;
};

// One era's rules. Each hook is the kernel function it names; the agent
// calls them at the matching points of the run loop:
//   KVM_RUN: [syscall entry] vcpu_load, then per entry: ctxflush, (guest
//   traps), exit, ctxsync; at the end vcpu_put and the return to user.
//   A sched-out inside KVM_RUN: vcpu_put before fpsimd_thread_switch(); a
//   sched-in: vcpu_load after it (preempt notifiers, kvm_sched_out/in).
class KvmScheme {
 public:
  virtual ~KvmScheme() = default;
  // Whether vCPUs may have SVE (b43b5dd9, v5.2: "KVM: arm64/sve: Context
  // switch the SVE registers").
  virtual bool sve_vcpus() const = 0;
  // Whether the host may use SME (KVM handles host SME state since
  // 861262ab, v5.19; before, such a kernel had no SME).
  virtual bool sme_aware() const = 0;
  // Whether a VM may have FPMR (v6.12: ef3be86021c3 "KVM: arm64: Add
  // save/restore support for FPMR", with c9150a8ad9cd (HCRX_EL2.EnFPM) and
  // 13c7a51eeb74, which exposes ID_AA64PFR2_EL1.FPMR by default when the
  // host has it).
  virtual bool guest_fpmr() const { return false; }
  // Whether the era's KVM can run under kvm-arm.mode=protected with pKVM's
  // own FP handling (b5b9955617bc, v6.10, "KVM: arm64: Eagerly restore host
  // fpsimd/sve state in pKVM"): then ProtectedKvm (kvm_lazy.h) wraps it.
  virtual bool runs_protected() const { return false; }
  // kvm_arch_vcpu_load_fp().
  virtual void vcpu_load(Agent& a, CpuId cpu, Vcpu& v, Context& thread) = 0;
  // kvm_arch_vcpu_ctxflush_fp() and what the run loop does to the FP state
  // just before each guest entry, IRQs off.
  virtual void ctxflush(Agent& a, CpuId cpu, Vcpu& v, Context& thread) = 0;
  // Whether the guest's FP/SVE accesses trap to EL2 at entry
  // (__activate_cptr_traps / __activate_traps: TFP, TZ or FPEN, ZEN).
  virtual bool guest_fp_trapped(const Agent& a, CpuId cpu, const Vcpu& v) const = 0;
  // kvm_hyp_handle_fpsimd() (the 2017 __hyp_switch_fpsimd): the guest's
  // first FP/SVE access since the traps were closed.
  virtual void guest_trap(Agent& a, CpuId cpu, Vcpu& v, Context& thread) = 0;
  // The hypervisor's exit path (__deactivate_traps; the 2017 eager switch).
  virtual void exit(Agent& a, CpuId cpu, Vcpu& v, Context& thread) = 0;
  // kvm_arch_vcpu_ctxsync_fp(), after each exit, IRQs still off.
  virtual void ctxsync(Agent& a, CpuId cpu, Vcpu& v, Context& thread) = 0;
  // kvm_arch_vcpu_put_fp().
  virtual void vcpu_put(Agent& a, CpuId cpu, Vcpu& v, Context& thread) = 0;
};

}  // namespace fpusim::arm64

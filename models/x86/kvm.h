// KVM on x86 as the host agent sees it: VMs, their vCPUs and each vCPU's
// guest FPU (struct fpu_guest, arch/x86/include/asm/fpu/types.h, plus the
// companions in struct kvm_vcpu_arch). Plain data; the behaviour is in
// agent_kvm.cpp, and what differs between KVM generations in
// kvm_behaviour.h.
//
// A vCPU is a host thread (an ordinary user Context, e.g. a QEMU vCPU
// thread) plus a guest FPU state. The guest state is a Context of kind
// kGuest of its own, so that the checker's tokens tell guest data from the
// thread's user data: the guest context holds the guest fpstate and the
// guest's ground truth; the thread's struct fpu (owner_ctx, last_cpu,
// TIF_NEED_FPU_LOAD) is the thread Context's, as in the kernel, where
// fpu_swap_kvm_fpstate() points the thread's fpu->fpstate at the guest
// fpstate for the whole KVM_RUN.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "models/core/types.h"
#include "models/core/register_file.h"

namespace fpusim::x86 {

// When a guest's dynamic features (AMX tile data) get room in its fpstate.
enum class AmxAlloc : std::uint8_t {
  // Merged kernels (v5.17+): at KVM_SET_CPUID2, when the guest CPUID
  // advertises them (kvm_set_cpuid() -> fpu_enable_guest_xfd_features()).
  kSetCpuid,
  // The 2021 design discussed in seed 003 (Paolo Bonzini's proposal for the
  // KVM_EXIT_FPU_REALLOC RFC), never merged: a KVM-owned XFD layer keeps the
  // features disabled until the guest's first use; that #NM exits to KVM,
  // which grows the buffer, drops its XFD bits and retries the instruction.
  kFirstUse,
};
std::string_view amx_alloc_name(AmxAlloc a);

enum class GuestMsr : std::uint8_t { kXfd, kXfdErr };
std::string_view guest_msr_name(GuestMsr m);

// VM exit reasons the model distinguishes (kvm_exit's "reason").
#define FPUSIM_VM_EXIT_REASONS(X)                        \
  X(external_interrupt, "EXTERNAL_INTERRUPT")            \
  X(hlt, "HLT")                                          \
  X(io, "IO_INSTRUCTION")                                \
  X(mmio, "EPT_VIOLATION / NPF (MMIO)")                  \
  X(msr, "MSR_READ / MSR_WRITE")                         \
  X(xsetbv, "XSETBV")                                    \
  X(nm, "EXCEPTION_NMI, vector 7 (#NM)")                 \
  X(other, "any other exit handled like the above")

enum class VmExitReason : std::uint8_t {
#define FPUSIM_EXIT_ENUM(name, doc) name,
  FPUSIM_VM_EXIT_REASONS(FPUSIM_EXIT_ENUM)
#undef FPUSIM_EXIT_ENUM
      kCount
};
std::string_view vm_exit_reason_name(VmExitReason r);
bool vm_exit_reason_by_name(std::string_view name, VmExitReason* out);

// A named KVM_GET_XSAVE2 + KVM_GET_MSRS (XFD, XFD_ERR) + KVM_GET_XCRS
// result the VMM keeps (selftests' vcpu_save_state()).
struct VcpuSnapshot {
  StateImage image;           // the UABI XSAVE image
  ComponentMask xfd = 0;
  ComponentMask xfd_err = 0;
  ComponentMask xcr0 = 0;
};

struct Vcpu {
  std::string name;
  std::uint32_t vm = 0;
  ContextId thread = kNoContext;  // the host thread that issues KVM_RUN
  ContextId guest = kNoContext;   // the guest FPU state's context
  bool exists = false;            // created and not destroyed

  // Where the thread is.
  bool in_run = false;     // inside the KVM_RUN ioctl
  bool in_guest = false;   // between VM entry and VM exit
  bool msr_exit_pending = false;  // a vm_exit with reason msr whose handler has not run

  // Guest architectural state KVM keeps.
  ComponentMask xcr0 = 0;               // vcpu->arch.xcr0
  bool osxsave = true;                  // guest CR4.OSXSAVE
  ComponentMask xfd_err = 0;            // guest_fpu.xfd_err
  bool xfd_no_write_intercept = false;  // vcpu->arch.xfd_no_write_intercept
  ComponentMask kvm_xfd = 0;            // kFirstUse only: KVM's own XFD layer
  ComponentMask guest_xfd_msr = 0;      // kFirstUse only: vcpu->arch.xfd (the guest's value)

  // kvm-lazy-legacy (v4.x): vcpu->guest_fpu_loaded, vcpu->fpu_active,
  // vcpu->fpu_counter, a pending KVM_REQ_DEACTIVATE_FPU.
  bool fpu_loaded = false;
  bool fpu_active = false;
  std::uint8_t fpu_counter = 0;
  bool deactivate_pending = false;
  bool host_regs_were_active = false;  // __kernel_fpu_begin() found them live
  bool host_ts = false;                // the host's CR0.TS while the guest runs

  // Guest components whose content is undefined (disabled through XFD since
  // the guest last wrote them), for the checker.
  ComponentMask undefined = 0;

  // Confidential guests: what the firmware (TDX module / SEV-ES VMSA) holds
  // while the vCPU is outside the guest; the host never sees it.
  StateImage firmware;

  // Ground truth of what the guest wrote to the MSRs KVM virtualises (what a
  // guest RDMSR must return), for the checker.
  ComponentMask truth_xfd = 0;
  ComponentMask truth_xfd_err = 0;

  std::map<std::uint32_t, VcpuSnapshot> snapshots;  // by slot number
};

struct Vm {
  std::string name;
  std::uint32_t process = 0;
  bool confidential = false;        // SEV-ES/SNP, TDX: is_confidential
  AmxAlloc amx_alloc = AmxAlloc::kSetCpuid;
  ComponentMask supported_xcr0 = 0; // guest CPUID 0xD.0 EDX:EAX (guest_supported_xcr0)
  bool xfd = false;                 // guest CPUID.(EAX=0xD,ECX=1):EAX[4] XFD
  bool exists = false;
  std::vector<std::uint32_t> vcpus;
};

}  // namespace fpusim::x86

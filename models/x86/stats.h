// The x86 statistics groups (after the core group, models/core/stats.h):
// the Linux x86 host's traps and control-register writes, and KVM's.
// Counted by models/x86/agent*.cpp.
#pragma once

#include "models/core/stats.h"

namespace fpusim::x86 {

#define FPUSIM_X86_HOST_STATS(X)                                                                   \
  X(traps_nm_ts, "count", "#NM from CR0.TS (lazy first use in a time slice)")                      \
  X(traps_nm_xfd, "count", "#NM from IA32_XFD (first use of a dynamic feature such as AMX tiles)") \
  X(traps_ud, "count", "#UD: a component not enabled in XCR0")                                     \
  X(sigill, "count", "SIGILL delivered: dynamic feature used without arch_prctl permission")       \
  X(fpstate_reallocs, "count", "fpstate reallocations to a larger buffer (fpstate_realloc)")      \
  X(fpstate_bytes_grown, "bytes", "bytes added to kernel fpstate buffers by reallocation")        \
  X(xfd_writes, "count", "WRMSR IA32_XFD (xfd_update_state when the per-CPU cache differs)")      \
  X(xfd_writes_avoided, "count", "xfd_update_state calls that found the per-CPU XFD cache equal") \
  X(cr0_ts_sets, "count", "CR0.TS set (stts)")                                                     \
  X(cr0_ts_clears, "count", "CR0.TS cleared (clts)")                                               \
  X(pkru_writes, "count", "WRPKRU on context switch")

#define FPUSIM_X86_KVM_STATS(X)                                                                    \
  X(kvm_runs, "count", "KVM_RUN ioctls (vCPU thread enters the run loop)")                       \
  X(kvm_fpu_loads, "count", "guest FPU loads (kvm_load_guest_fpu: the kvm_fpu load tracepoint)")  \
  X(kvm_fpu_unloads, "count", "guest FPU puts (kvm_put_guest_fpu: the kvm_fpu unload tracepoint)") \
  X(vm_entries, "count", "VM entries")                                                             \
  X(vm_exits, "count", "VM exits (all reasons)")                                                   \
  X(fpu_vm_exits, "count", "VM exits caused by FPU virtualisation: intercepted #NM, IA32_XFD / IA32_XFD_ERR accesses, XSETBV") \
  X(guest_nm_injected, "count", "#NM exceptions the guest receives (re-injected after an intercept, or delivered directly)") \
  X(guest_gp, "count", "#GP injected into a guest (an XSETBV that __kvm_set_xcr() refuses)")                     \
  X(guest_ud, "count", "#UD in a guest (XSETBV with CR4.OSXSAVE clear, a component not in the guest's XCR0)") \
  X(xfd_passthrough, "count", "vCPUs that stopped intercepting guest IA32_XFD writes (first non-zero write)") \
  X(xfd_syncs, "count", "RDMSR IA32_XFD at VM exit while XFD is passed through (fpu_sync_guest_vmexit_xfd_state)") \
  X(vm_creates, "count", "VMs created (each vCPU gets a fresh guest fpstate)")                    \
  X(kernel_xrstor_nm, "count", "XRSTOR of a component with XSTATE_BV set while IA32_XFD arms it: #NM in the kernel (the bug b45f72177594 fixed)")

// Ids follow the core group's, host group then KVM group.
enum class XStat : StatId {
  kBefore_ = kNumCoreStats - 1,
#define FPUSIM_X86_STAT_ENUM(name, unit, doc) name,
  FPUSIM_X86_HOST_STATS(FPUSIM_X86_STAT_ENUM) FPUSIM_X86_KVM_STATS(FPUSIM_X86_STAT_ENUM)
#undef FPUSIM_X86_STAT_ENUM
      kEnd_
};

const StatGroup& host_stat_group();  // "x86"
const StatGroup& kvm_stat_group();   // "x86_kvm"

// Why a save, restore or trap happened on x86 (Arch::causes()).
#define FPUSIM_X86_CAUSES(X)                                                  \
  X(context_switch, "switch_fpu / switch_fpu_prepare at a context switch")    \
  X(return_to_user, "fpregs_restore_userregs on return to user space")        \
  X(nm_trap, "#NM handler (CR0.TS lazy restore or XFD first use)")            \
  X(kernel_fpu, "kernel_fpu_begin / kernel_fpu_end")                          \
  X(signal, "signal frame setup and sigreturn")                               \
  X(fork, "fpu_clone at fork/clone")                                          \
  X(exec, "exec (fpu_flush_thread) and exit (fpu__drop)")                     \
  X(xfd_realloc, "fpstate_realloc after an XFD first-use #NM")                \
  X(state_access, "ptrace / coredump access to a task's state (fpu_sync_fpstate)") \
  X(kvm_run, "guest FPU load and put around KVM_RUN (fpu_swap_kvm_fpstate, kvm_load/put_guest_fpu)") \
  X(vm_entry, "switch_fpu_return before VM entry, and the guest XCR0/PKRU/XFD_ERR switch around it") \
  X(vm_exit, "FPU-virtualisation VM exits: #NM intercept, XFD MSRs, XSETBV, guest first use") \
  X(kvm_state, "KVM_GET/SET_XSAVE and VM creation (the VMM's copies of guest state)")

enum class Cause : CauseId {
#define FPUSIM_CAUSE_ENUM(name, doc) name,
  FPUSIM_X86_CAUSES(FPUSIM_CAUSE_ENUM)
#undef FPUSIM_CAUSE_ENUM
      kCount
};
const std::vector<CauseInfo>& cause_table();

}  // namespace fpusim::x86

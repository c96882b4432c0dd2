// The x86 bug corpus: each bug with its fix, the kernels that had it, what it
// broke and the scenario in traces/bugs/ that shows it. The code it changed
// tests Agent::bug() where the kernel rule lives (grep for its enumerator).
#include "models/x86/bugs.h"

namespace fpusim::x86 {

namespace {

// The policies that run the code of the deferred-load era (v5.2+); the KVM
// bugs' aliases name kvm-eager.
const std::vector<std::string> kDeferred = {"kvm-eager", "deferred", "deferred+kvm-eager"};

}  // namespace

const std::vector<BugDesc>& bugs() {
  static const std::vector<BugDesc> all = {
      numbered(Bug::kLazyByDefault,
          {"58122bf1d856", "x86/fpu: Default eagerfpu=on on all CPUs",
           "Linux 3.7 .. 4.5 by default on a kernel without XSAVEOPT (an older CPU, or booted noxsaveopt: "
           "eagerfpu=auto was lazy there), and with eagerfpu=off until v4.9; CVE-2018-3665 (LazyFP)",
           "a switched-out task's registers stay loaded behind CR0.TS until the next task's first FP use; a CPU that "
           "speculates past #NM (Intel Core) lets the next task read them: AES keys and other FP data disclosed "
           "across processes. On a machine whose kernel uses XSAVEOPT the bug changes nothing (eager anyway)",
           "exposed (on machines with lazyfp_vulnerable)", "traces/bugs/lazyfp_58122bf1d856.json",
           {"eager", "eager+kvm-eager", "eager+kvm-lazy-legacy"}, ""}),
      numbered(Bug::kKvmIgnoresNeedFpuLoad,
          {"c9aef3b85f42", "KVM: x86: Handle TIF_NEED_FPU_LOAD in kvm_{load,put}_guest_fpu()",
           "Linux 5.2 .. 5.5 (Fixes 5f409e20b794)",
           "a kernel_fpu_begin() between KVM_RUN's entry and the guest FPU load (a softirq) made the registers the "
           "kernel's scratch data, which kvm_load_guest_fpu() saved as the VMM's FP state: the VMM and the guest "
           "ran with corrupted registers (bugzilla 206215, Prime95 failures)",
           "leaked, foreign_regs", "traces/bugs/kvm_load_c9aef3b85f42.json", kDeferred, "kvm-eager-v5.2"}),
      numbered(Bug::kCachedOwnerCtx,
          {"59c4bd853abc", "x86/fpu: Don't cache access to fpu_fpregs_owner_ctx", "Linux 5.2 .. 5.4.1 (Fixes 5f409e20b794)",
           "copy_fpstate_to_sigframe() retries after a fault on the signal frame; built with GCC 9 its check of the "
           "CPU's register owner reused the value read before the task was preempted, skipped the reload and saved "
           "another task's registers into the signal frame, which sigreturn then loaded (bugzilla 205663, found "
           "by the Go runtime)",
           "leaked", "traces/bugs/sigframe_retry_59c4bd853abc.json", kDeferred, ""}),
      numbered(Bug::kRegsActiveAfterFailedLoad,
          {"bbc55341b9c6", "x86/fpu: Deactivate FPU state after failure during state load",
           "Linux 5.2 .. 5.5, and again about v5.7 (98265c17efa9) .. v5.13-rc6 (re-fixed by d8778e393afa)",
           "an XRSTOR from a sigreturn frame that faults has already changed the registers; without invalidating "
           "them the CPU's register owner still named the task whose state they held before, which, switched back "
           "in, skipped its restore and ran with the other task's partly restored state",
           "leaked, foreign_regs", "traces/bugs/sigreturn_fault_bbc55341b9c6.json", kDeferred, ""}),
      numbered(Bug::kNoResetOnRestoreFailure,
          {"efa165504943", "x86/fpu: Reset state for all signal restore failures",
           "Linux 3.8 (72a671ced66d) .. 5.13-rc6",
           "a sigreturn whose frame fails access_ok() returned without resetting the FP state, unlike every other "
           "restore failure: the task went on (into its SIGSEGV handler or core dump) with the handler's "
           "registers instead of the init state",
           "lost", "traces/bugs/sigreturn_fatal_efa165504943.json",
           {"deferred", "eager", "lazy", "lazy-preload", "kvm-eager", "kvm-lazy-legacy", "deferred+kvm-eager",
            "eager+kvm-eager", "eager+kvm-lazy-legacy", "lazy+kvm-lazy-legacy", "lazy-preload+kvm-lazy-legacy"},
           ""}),
      numbered(Bug::kExecDropsOwnerOnly,
          {"1f69383b203e", "x86/fpu: Invalidate FPU state correctly on exec()", "Linux 5.14 .. 6.5 (Fixes 33344368cb08)",
           "exec cleared the register owner of the CPU it ran on instead of the task's last CPU; a task preempted "
           "during exec and moved back to a CPU that still named it owner skipped the reload, and the new program "
           "started with the old program's registers",
           "lost", "traces/bugs/exec_1f69383b203e.json", kDeferred, ""}),
      numbered(Bug::kXstateBvUnderXfd,
          {"b45f72177594", "x86/fpu: Clear XSTATE_BV[i] in guest XSAVE state whenever XFD[i]=1",
           "Linux 5.17 .. 6.18 (Fixes 820a6ee944e7)",
           "a guest XFD write racing a softirq's save, or KVM_SET_XSAVE, left tile data marked in use in a guest "
           "buffer whose XFD disables it; the next XRSTOR took #NM in the kernel (a host WARN or panic)",
           "kernel_trap", "traces/bugs/kvm_xfd_nm_race_b45f72177594.json", kDeferred, "kvm-eager-v6.18"}),
      numbered(Bug::kBogusXcompBv,
          {"814fb7bb7db5", "x86/fpu: Don't let userspace set bogus xcomp_bv",
           "Linux <= 4.13 on kernels using the standard XSAVE format (no XSAVES, or noxsaves); CVE-2017-15537",
           "ptrace(PTRACE_SETREGSET, NT_X86_XSTATE) took a header with reserved xcomp_bv bits verbatim; the XRSTOR "
           "at the task's next switch-in took #GP, which the kernel WARNed about and ignored, and the task ran with "
           "the registers of the task before it (LTP ptrace07)",
           "kernel_trap, leaked, foreign_regs", "traces/bugs/ptrace_xcomp_bv_814fb7bb7db5.json",
           {"eager", "lazy", "lazy-preload", "kvm-lazy-legacy", "eager+kvm-eager", "eager+kvm-lazy-legacy",
            "lazy+kvm-lazy-legacy", "lazy-preload+kvm-lazy-legacy"},
           ""}),
      numbered(Bug::kXfdNotSyncedOnClear,
          {"388eff894d6b", "x86/fpu: Ensure XFD state on signal delivery",
           "Linux 5.16 .. 6.17 (Fixes 672365477ae8; the fix in v6.18, backported to stable); found by fpusim explore",
           "fpu__clear_user_states() (signal delivery, a failed sigreturn) reset the user state in the registers "
           "without xfd_update_state(): a task without AMX permission that was preempted in the kernel by an AMX "
           "task, or by a vCPU thread in KVM_RUN, returned to user space with IA32_XFD clear and could use AMX "
           "tiles it has no buffer for, instead of taking #NM",
           "trap_config", "traces/bugs/signal_xfd_388eff894d6b.json", kDeferred, ""}),
  };
  return all;
}

}  // namespace fpusim::x86

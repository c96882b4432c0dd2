// The KVM variants: how each generation of KVM manages the guest FPU
// (KvmBehaviour, models/x86/kvm_behaviour.h), and the `kvm-*` policies that
// name one with its era's host policy.
#include "models/x86/policies/hosts.h"

namespace fpusim::x86 {

namespace {

// Linux >= 4.15 (f775b13eedee "x86,kvm: move qemu/guest FPU switching out to
// vcpu_run"); today fpu_swap_kvm_fpstate() from kvm_load_guest_fpu() /
// kvm_put_guest_fpu(): the guest FPU is loaded at KVM_RUN entry and put at
// its return to user space, once per ioctl.
class KvmEager : public KvmBehaviour {
 public:
  std::string_view name() const override { return "kvm-eager"; }
  std::string_view kernels() const override { return "Linux >= 4.15"; }
  bool guest_fpu_per_run() const override { return true; }
  bool deactivates_idle_guest_fpu() const override { return false; }
  bool saves_ignoring_need_fpu_load() const override { return false; }
  bool clears_xstate_bv_under_xfd() const override { return true; }
  bool has_guest_amx() const override { return true; }
  bool has_confidential_guests() const override { return true; }
};

// Linux 5.2 .. 5.5: kvm-eager, but kvm_load_guest_fpu() / kvm_put_guest_fpu()
// XSAVEd the registers without checking TIF_NEED_FPU_LOAD, so a
// kernel_fpu_begin() between the ioctl entry and the load made the VMM's
// saved state the kernel's scratch data (fixed by c9aef3b85f42, Jan 2020;
// reference §6.9). Kept to show the checker catching it.
class KvmEagerV52 final : public KvmEager {
 public:
  std::string_view name() const override { return "kvm-eager-v5.2"; }
  std::string_view kernels() const override { return "Linux 5.2 .. 5.5"; }
  bool saves_ignoring_need_fpu_load() const override { return true; }
};

// Linux 5.17 .. 6.18: kvm-eager without b45f72177594 ("x86/fpu: Clear
// XSTATE_BV[i] in guest XSAVE state whenever XFD[i]=1", v6.19-rc): a guest
// XFD write or KVM_SET_XSAVE leaves XSTATE_BV[i] set in the guest buffer,
// and the next XRSTOR takes #NM in the kernel (reference §6.8, S13).
class KvmEagerV618 final : public KvmEager {
 public:
  std::string_view name() const override { return "kvm-eager-v6.18"; }
  std::string_view kernels() const override { return "Linux 5.17 .. 6.18"; }
  bool clears_xstate_bv_under_xfd() const override { return false; }
};

// Linux <= 4.10 (removed by bd7e5b0899a4 "KVM: x86: remove code for lazy
// FPU handling", v4.11): the guest FPU is loaded at VM entry while
// fpu_active and put at vcpu_put (KVM_RUN return and preemption); a guest
// that used it in fewer than 5 consecutive loads is deactivated
// (KVM_REQ_DEACTIVATE_FPU, vcpu->fpu_counter) and then runs with CR0.TS
// forced and #NM intercepted until its next FP use (vmx_fpu_activate). A
// new vCPU starts active (vmx_vcpu_reset() -> vmx_fpu_activate()). It
// predates guest AMX (v5.17), SEV-ES (v5.11) and TDX.
class KvmLazyLegacy final : public KvmBehaviour {
 public:
  std::string_view name() const override { return "kvm-lazy-legacy"; }
  std::string_view kernels() const override { return "Linux <= 4.10"; }
  bool guest_fpu_per_run() const override { return false; }
  bool deactivates_idle_guest_fpu() const override { return true; }
  bool saves_ignoring_need_fpu_load() const override { return false; }
  bool clears_xstate_bv_under_xfd() const override { return true; }
  bool has_guest_amx() const override { return false; }
  bool has_confidential_guests() const override { return false; }
};

}  // namespace

// Function-local statics: the policy registrations of other files take
// their addresses during static initialisation.
const KvmBehaviour& kvm_eager() {
  static const KvmEager k;
  return k;
}
const KvmBehaviour& kvm_eager_v52() {
  static const KvmEagerV52 k;
  return k;
}
const KvmBehaviour& kvm_eager_v618() {
  static const KvmEagerV618 k;
  return k;
}
const KvmBehaviour& kvm_lazy_legacy() {
  static const KvmLazyLegacy k;
  return k;
}

FPUSIM_REGISTER_POLICY(200, PolicyInfo{
    "kvm-eager", "Linux >= 4.15 (f775b13eedee), today fpu_swap_kvm_fpstate(); host: deferred",
    "guest FPU loaded at KVM_RUN entry and put at its return to user space, once per ioctl; "
    "in between the guest fpstate is the thread's, saved and restored like a task's",
    make_deferred_policy, &kvm_eager()})
FPUSIM_REGISTER_POLICY(210, PolicyInfo{
    "kvm-eager-v5.2", "Linux 5.2 .. 5.5 (before c9aef3b85f42); host: deferred",
    "kvm-eager as the deferred-load series first shipped it: the guest FPU load and put XSAVE the "
    "registers without checking TIF_NEED_FPU_LOAD (bugzilla 206215: corrupted VMM/guest FP state)",
    make_deferred_policy, &kvm_eager_v52()})
FPUSIM_REGISTER_POLICY(220, PolicyInfo{
    "kvm-eager-v6.18", "Linux 5.17 .. 6.18 (before b45f72177594); host: deferred",
    "kvm-eager without clearing XSTATE_BV for components the guest's XFD disables: a guest XFD write "
    "racing a softirq's save, or KVM_SET_XSAVE, can make the next XRSTOR take #NM in the kernel",
    make_deferred_policy, &kvm_eager_v618()})
FPUSIM_REGISTER_POLICY(230, PolicyInfo{
    "kvm-lazy-legacy", "Linux <= 4.10 (removed by bd7e5b0899a4); host: lazy-preload",
    "the guest FPU is loaded at VM entry while active and put at vcpu_put (KVM_RUN return, "
    "preemption); a guest that used it in fewer than 5 consecutive loads is deactivated and runs "
    "with CR0.TS forced and #NM intercepted until its next FP use",
    [] { return make_linux4_policy(Preload::kCounter); }, &kvm_lazy_legacy()})

}  // namespace fpusim::x86

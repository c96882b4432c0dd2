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
class KvmEager final : public KvmBehaviour {
 public:
  std::string_view name() const override { return "kvm-eager"; }
  std::string_view kernels() const override { return "Linux >= 4.15"; }
  bool guest_fpu_per_run() const override { return true; }
  bool deactivates_idle_guest_fpu() const override { return false; }
  bool has_guest_amx() const override { return true; }
  bool has_confidential_guests() const override { return true; }
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
const KvmBehaviour& kvm_lazy_legacy() {
  static const KvmLazyLegacy k;
  return k;
}

FPUSIM_REGISTER_POLICY(200, PolicyInfo{{
    "kvm-eager", "Linux >= 4.15 (f775b13eedee), today fpu_swap_kvm_fpstate(); host: deferred",
    "guest FPU loaded at KVM_RUN entry and put at its return to user space, once per ioctl; "
    "in between the guest fpstate is the thread's, saved and restored like a task's"},
    make_deferred_policy, &kvm_eager()})
FPUSIM_REGISTER_POLICY(230, PolicyInfo{{
    "kvm-lazy-legacy", "Linux <= 4.10 (removed by bd7e5b0899a4); host: lazy-preload",
    "the guest FPU is loaded at VM entry while active and put at vcpu_put (KVM_RUN return, "
    "preemption); a guest that used it in fewer than 5 consecutive loads is deactivated and runs "
    "with CR0.TS forced and #NM intercepted until its next FP use"},
    [] { return make_linux4_policy(Preload::kCounter); }, &kvm_lazy_legacy()})

}  // namespace fpusim::x86

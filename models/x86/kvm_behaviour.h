// How one generation of KVM manages the guest FPU: the `kvm-*` half of a
// policy name. The agent (agent.cpp, agent_kvm.cpp) asks these predicates at
// each place where KVM versions differ; one object per variant, each in
// models/x86/policies/kvm.cpp with its kernel versions and commits. The
// bugs of a generation are the corpus's (models/x86/bugs.h), not variants.
#pragma once

#include <string_view>

namespace fpusim::x86 {

class KvmBehaviour {
 public:
  virtual ~KvmBehaviour() = default;

  // The name reports print ("kvm": {"mode": ...} and "KVM: ...").
  virtual std::string_view name() const = 0;
  // The Linux versions, as messages cite them ("Linux <= 4.10").
  virtual std::string_view kernels() const = 0;

  // f775b13eedee (v4.15, "x86,kvm: move qemu/guest FPU switching out to
  // vcpu_run"), today fpu_swap_kvm_fpstate(): the guest fpstate becomes the
  // thread's at KVM_RUN entry (kvm_load_guest_fpu()) and is put back at its
  // return (kvm_put_guest_fpu()), once per ioctl; VM entry only reloads it
  // if TIF_NEED_FPU_LOAD. False: the v4.x kvm_load_guest_fpu() at VM entry
  // (__kernel_fpu_begin() then XRSTOR of the guest image) and
  // kvm_put_guest_fpu() at vcpu_put (KVM_RUN return and kvm_sched_out()).
  virtual bool guest_fpu_per_run() const = 0;

  // v4.x (vcpu->fpu_active, vcpu->fpu_counter, KVM_REQ_DEACTIVATE_FPU): a
  // guest that used its FPU in fewer than 5 consecutive loads is deactivated
  // and runs with CR0.TS forced and #NM intercepted until vmx_fpu_activate().
  virtual bool deactivates_idle_guest_fpu() const = 0;

  // Guest AMX (v5.17) and confidential guests (SEV-ES v5.11, TDX): a VM
  // using them under a KVM that predates them is a scenario mistake.
  virtual bool has_guest_amx() const = 0;
  virtual bool has_confidential_guests() const = 0;
};

// The variants (models/x86/policies/kvm.cpp); each lives for the program.
const KvmBehaviour& kvm_eager();
const KvmBehaviour& kvm_lazy_legacy();

}  // namespace fpusim::x86

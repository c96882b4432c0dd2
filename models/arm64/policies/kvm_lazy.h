// KVM arm64's FP schemes: the 2017 eager switch in the hypervisor, and the
// lazy scheme of e6b673b7 ("KVM: arm64: Optimise FPSIMD handling to reduce
// guest/host thrashing", v4.18) with what each later era changed, as flags
// of one scheme so that an era, and a bug, is one difference
// (kvm_eras.cpp registers them as policies).
#pragma once

#include <functional>
#include <memory>

#include "models/arm64/agent.h"
#include "models/arm64/bugs.h"
#include "models/arm64/kvm.h"

namespace fpusim::arm64 {

// Before e6b673b7 (v4.15 .. v4.17): the hypervisor switches the FP
// registers itself. Every guest entry traps the guest's FP (CPTR_EL2.TFP);
// the first guest FP use saves the host registers into the per-CPU host
// context and loads the guest's (__fpsimd_guest_restore); the exit saves the
// guest's and restores the host's if the guest used FP
// (__kvm_vcpu_run: "if (fp_enabled) { __fpsimd_save_state(guest);
// __fpsimd_restore_state(host); }"). Host SVE state cannot survive that
// (V writes clear the Z upper bits), so the run loop unbinds a task with
// SVE before each entry (kvm_fpsimd_flush_cpu_state() ->
// sve_flush_cpu_state(), removed by 21cdd7fd76e3).
class EagerKvm2017 final : public KvmScheme {
 public:
  bool sve_vcpus() const override { return false; }
  bool sme_aware() const override { return false; }
  void vcpu_load(Agent&, CpuId, Vcpu&, Context&) override {}
  void ctxflush(Agent& a, CpuId cpu, Vcpu& v, Context& thread) override;
  bool guest_fp_trapped(const Agent&, CpuId, const Vcpu&) const override { return true; }
  void guest_trap(Agent& a, CpuId cpu, Vcpu& v, Context& thread) override;
  void exit(Agent& a, CpuId cpu, Vcpu& v, Context& thread) override;
  void ctxsync(Agent&, CpuId, Vcpu&, Context&) override {}
  void vcpu_put(Agent&, CpuId, Vcpu&, Context&) override {}
};

// What differs between the eras of the lazy scheme (each flag names the
// commit that set or cleared it).
struct LazyEra {
  // KVM_ARM64_HOST_SVE_IN_USE: TIF_SVE recorded at load, host SVE saved by
  // hyp (85acda3b) and TIF_SVE given back at put; dropped by 8383741a
  // (v5.17) on the grounds that KVM_RUN, a syscall, leaves no host SVE.
  bool host_sve_in_use = false;
  // KVM_ARM64_HOST_SVE_ENABLED recorded at load and restored into
  // CPACR_EL1.ZEN_EL0EN at put on VHE (b3eb56b6). false: the e6b673b7
  // original, whose put re-bound current instead (the b3eb56b6 bug).
  bool restore_zen_from_load = true;
  // The flag is cleared at every load before being set (b3eb56b6 did;
  // 8383741a lost it, d52d165d put it back). false: the d52d165d bug.
  bool clear_zen_flag_at_load = true;
  // put_fp gives current its TIF_SVE back before the save instead of after
  // it (the 2955bcc8 bug): the save then uses the host's format for the
  // vCPU's registers.
  bool tif_sve_before_save = false;
  // v6.2 (deeb8f9a, 62021cc3): the vCPU is bound with an explicit to_save
  // and TIF_SVE is left alone; fpsimd_kvm_prepare() (93ae6b01) drops a
  // host task's TIF_SVE at load, converting its saved state only.
  bool explicit_to_save = false;
  // fbc7e61195e2 (v6.14): load saves and flushes the host state (FREE),
  // hyp never saves host state, put restores no CPACR bits, and the VHE
  // exit path leaves ZEN enabled (__deactivate_cptr_traps_vhe()).
  bool flush_host_at_load = false;
  // 861262ab (v5.19): host SME. At vcpu load, live streaming mode or ZA
  // makes KVM save and flush the host state at once (FREE), and
  // HOST_SME_ENABLED records CPACR_EL1.SMEN_EL0EN for vcpu_put on VHE, as
  // for SVE (039f49c4 clears it first). false: a kernel without SME.
  bool sme_host = false;
  // kvm_arch_vcpu_put_fp() re-enables SMEN and synchronises (isb(),
  // 59d78a2e, v6.2) before the save reads SVCR. false: v5.19 .. v6.1.
  bool isb_after_smen = true;
  // The VHE exit path leaves SME enabled for the host kernel (EL2):
  // kvm_get_reset_cptr_el2() "if (cpus_have_final_cap(ARM64_SME)) val |=
  // CPACR_EL1_SMEN_EL1EN" (there by v6.6). false: CPACR_EL1_DEFAULT (FPEN,
  // ZEN_EL1EN), the host's own SME accesses trap until vcpu_put.
  bool exit_enables_smen_el1 = false;
  // HOST_SME_ENABLED cleared at every load before being set (039f49c4).
  // false: the 039f49c4 bug, copied from the SVE code of d52d165d's.
  bool clear_sme_flag_at_load = true;
  // ef3be86021c3 (v6.12): guest FPMR. The VM's FPMR is loaded by hyp at the
  // guest's FP trap and saved through the vCPU binding (fp_state.fpmr); hyp
  // saves the host's FPMR with its FP state, but only for a VM that has
  // FPMR ("if (kvm_has_fpmr(kern_hyp_va(vcpu->kvm)))").
  bool guest_fpmr = false;
  // b5b9955617bc (v6.10): under kvm-arm.mode=protected the hypervisor saves
  // the host's FP state into its own memory at the guest's first FP trap of
  // each run and restores it, after saving the guest's, at every exit after
  // one (fpsimd_sve_flush() / fpsimd_sve_sync()).
  bool pkvm = false;
};

class LazyKvm final : public KvmScheme {
 public:
  explicit LazyKvm(LazyEra era) : era_(era) {}
  bool sve_vcpus() const override { return true; }
  bool sme_aware() const override { return era_.sme_host; }
  bool guest_fpmr() const override { return era_.guest_fpmr; }
  bool runs_protected() const override { return era_.pkvm; }
  void vcpu_load(Agent& a, CpuId cpu, Vcpu& v, Context& thread) override;
  void ctxflush(Agent& a, CpuId cpu, Vcpu& v, Context& thread) override;
  bool guest_fp_trapped(const Agent&, CpuId, const Vcpu& v) const override {
    return v.fp_owner != FpOwner::kGuestOwned;
  }
  void guest_trap(Agent& a, CpuId cpu, Vcpu& v, Context& thread) override;
  void exit(Agent& a, CpuId cpu, Vcpu& v, Context& thread) override;
  void ctxsync(Agent& a, CpuId cpu, Vcpu& v, Context& thread) override;
  void vcpu_put(Agent& a, CpuId cpu, Vcpu& v, Context& thread) override;

 private:
  LazyEra era_;
};

// KVM under kvm-arm.mode=protected (pKVM, b5b9955617bc, v6.10): the host
// side is the era's scheme (vcpu_load, ctxflush, ctxsync, vcpu_put; the
// host's fp_owner, its own copy under pKVM, never becomes GUEST_OWNED, so
// nothing is bound), the hypervisor side pKVM's: fpsimd_sve_flush() makes
// hyp's fp_owner HOST_OWNED before every run, so each run's first guest FP
// use traps, and hyp saves and restores the host's registers itself.
class ProtectedKvm final : public KvmScheme {
 public:
  explicit ProtectedKvm(std::shared_ptr<KvmScheme> host) : host_(std::move(host)) {}
  bool sve_vcpus() const override { return host_->sve_vcpus(); }
  bool sme_aware() const override { return host_->sme_aware(); }
  bool guest_fpmr() const override { return host_->guest_fpmr(); }
  bool runs_protected() const override { return true; }
  void vcpu_load(Agent& a, CpuId cpu, Vcpu& v, Context& thread) override { host_->vcpu_load(a, cpu, v, thread); }
  void ctxflush(Agent& a, CpuId cpu, Vcpu& v, Context& thread) override { host_->ctxflush(a, cpu, v, thread); }
  bool guest_fp_trapped(const Agent&, CpuId, const Vcpu&) const override { return true; }
  void guest_trap(Agent& a, CpuId cpu, Vcpu& v, Context& thread) override;
  void exit(Agent& a, CpuId cpu, Vcpu& v, Context& thread) override;
  void ctxsync(Agent& a, CpuId cpu, Vcpu& v, Context& thread) override { host_->ctxsync(a, cpu, v, thread); }
  void vcpu_put(Agent& a, CpuId cpu, Vcpu& v, Context& thread) override { host_->vcpu_put(a, cpu, v, thread); }

 private:
  std::shared_ptr<KvmScheme> host_;
};
inline std::shared_ptr<KvmScheme> make_protected_kvm(std::shared_ptr<KvmScheme> host) {
  return std::make_shared<ProtectedKvm>(std::move(host));
}

// `era` with the bugs of the run (bits of Bug): each reverts the flag its
// fix set.
LazyEra with_bugs(LazyEra era, std::uint32_t bugs);

// A PolicyInfo's make_kvm for an era of the lazy scheme.
inline std::function<std::unique_ptr<KvmScheme>(std::uint32_t)> lazy_kvm(LazyEra era) {
  return [era](std::uint32_t bugs) { return std::make_unique<LazyKvm>(with_bugs(era, bugs)); };
}

}  // namespace fpusim::arm64

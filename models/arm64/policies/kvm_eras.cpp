// The KVM arm64 policies, one per era of arch/arm64/kvm/fpsimd.c (seed 002).
// Each is a host policy (sve_discard.cpp, sve_keep.cpp) with a KVM scheme
// (kvm_lazy.h); the bugs of that history are the corpus's (bugs.cpp), which
// with_bugs() applies to the era they broke.
#include "models/arm64/policies/kvm_lazy.h"
#include "models/arm64/policies/sve_keep.h"
#include "models/arm64/policies/sve_reload.h"

namespace fpusim::arm64 {

namespace {

PolicyInfo kvm_policy(const char* name, const char* kernel, const char* description,
                      std::function<std::unique_ptr<Policy>()> host,
                      std::function<std::unique_ptr<KvmScheme>(std::uint32_t)> kvm) {
  return PolicyInfo{{name, kernel, description}, std::move(host), std::move(kvm)};
}

LazyEra era_2018() {
  LazyEra e;
  e.host_sve_in_use = true;
  return e;
}
LazyEra era_2022() {
  LazyEra e;
  e.sme_host = true;
  e.isb_after_smen = false;  // 59d78a2e came in v6.2
  return e;
}
LazyEra era_2023() {
  LazyEra e = era_2022();
  e.isb_after_smen = true;
  e.exit_enables_smen_el1 = true;  // v6.2 .. v6.4 did not yet (CPACR_EL1_DEFAULT), not modelled
  e.explicit_to_save = true;
  e.guest_fpmr = true;  // the era's v6.12 .. v6.13 (FPMR machines need v6.9 on)
  e.pkvm = true;        // v6.10 .. v6.13 under kvm-arm.mode=protected
  return e;
}
LazyEra era_2025() {
  LazyEra e = era_2023();
  e.flush_host_at_load = true;
  return e;
}

}  // namespace

LazyEra with_bugs(LazyEra e, std::uint32_t bugs) {
  if (has(bugs, Bug::kTifSveBeforeSave)) e.tif_sve_before_save = true;
  if (has(bugs, Bug::kPutRebindsCurrentOnly)) e.restore_zen_from_load = false;
  if (has(bugs, Bug::kSveFlagKeptAcrossLoads)) e.clear_zen_flag_at_load = false;
  if (has(bugs, Bug::kSmeFlagKeptAcrossLoads)) e.clear_sme_flag_at_load = false;
  if (has(bugs, Bug::kNoIsbAfterSmen)) e.isb_after_smen = false;
  if (has(bugs, Bug::kHostStateKeptAtLoad)) e.flush_host_at_load = false;
  return e;
}

FPUSIM_REGISTER_ARM64_POLICY(
    200, kvm_policy("kvm-arm64-eager-2017",
                    "Linux v4.15 .. v4.17 KVM (before e6b673b7); host as sve-reload",
                    "KVM arm64 2017: every guest entry traps the guest's FP to EL2; its first use saves the host "
                    "registers into the per-CPU host context and loads the guest's; every exit after a use saves "
                    "the guest's and restores the host's (__hyp_switch_fpsimd, __kvm_vcpu_run); a task with SVE is "
                    "unbound before each entry (sve_flush_cpu_state)",
                    make_sve_reload_policy, [](std::uint32_t) { return std::make_unique<EagerKvm2017>(); }))

FPUSIM_REGISTER_ARM64_POLICY(
    210, kvm_policy("kvm-arm64-lazy-2018",
                    "Linux v4.18 .. v5.16 KVM (e6b673b7 with 2955bcc8, b3eb56b6, 85acda3b; vCPU SVE b43b5dd9 from "
                    "v5.2); host as sve-reload (v4.15 .. v5.12; v5.13 .. v5.16's host is sve-discard's)",
                    "KVM arm64 2018: the guest's first FP use traps to EL2, which saves the host state into the VMM "
                    "thread (FP_HOST) and loads the guest's; after exit the vCPU state stays bound "
                    "(fpsimd_bind_state_to_cpu) and the host saves it lazily, at the latest at vcpu_put; TIF_SVE "
                    "of the VMM thread steers the format",
                    make_sve_reload_policy, lazy_kvm(era_2018())))

FPUSIM_REGISTER_ARM64_POLICY(
    220, kvm_policy("kvm-arm64-2022",
                    "Linux v5.19 .. v6.1 KVM (d52d165d and 039f49c4, host SME 861262ab; host SVE tracking dropped "
                    "8383741a; the FP_ENABLED / FP_HOST flags became the f8077b0d tristate in v6.0 without a change "
                    "of behaviour); host as sve-discard",
                    "KVM arm64 2022: as 2018 with fp_state FREE / HOST_OWNED / GUEST_OWNED, no host SVE (KVM_RUN "
                    "is a syscall), and CPACR_EL1.ZEN_EL0EN as seen at vcpu_load restored at vcpu_put on VHE",
                    make_sve_discard_policy, lazy_kvm(era_2022())))

FPUSIM_REGISTER_ARM64_POLICY(
    230, kvm_policy("kvm-arm64-2023",
                    "Linux v6.2 .. v6.13 KVM (to_save deeb8f9a / 62021cc3, fpsimd_kvm_prepare 93ae6b01; the era "
                    "fbc7e61195e2 ended; guest FPMR ef3be86021c3 and pKVM's own FP handling b5b9955617bc as of "
                    "the era's end, v6.12 .. v6.13); host as sve-keep",
                    "KVM arm64 2023: as 2022 with an explicit to_save for the vCPU binding; a VMM thread that keeps "
                    "TIF_SVE across KVM_RUN has it cleared at vcpu_load without its EL0 SVE access (the host SVE "
                    "state loss fbc7e61195e2 fixed); a VM's FPMR loaded by hyp and saved through the binding, the "
                    "host's saved by hyp only for a VM with FPMR; under kvm_mode protected, hyp saves the host at "
                    "each run's first guest FP trap and restores it at that run's exit",
                    make_sve_keep_policy, lazy_kvm(era_2023())))

FPUSIM_REGISTER_ARM64_POLICY(
    250, kvm_policy("kvm-arm64-2025",
                    "Linux v6.14, v6.15 KVM (fbc7e61195e2 \"KVM: arm64: Unconditionally save+flush host "
                    "FPSIMD/SVE/SME state\", Feb 2025, and the CPACR_EL1.ZEN/SMEN restore removals); host as sve-keep",
                    "KVM arm64 2025: the host state is saved and flushed at every vcpu_load (eager host side), the "
                    "guest's loaded on its first trapped use and saved lazily through the vCPU binding (lazy guest "
                    "side); hyp never saves host state, except under kvm_mode protected (pKVM), as in 2023",
                    make_sve_keep_policy, lazy_kvm(era_2025())))

}  // namespace fpusim::arm64

// The KVM arm64 policies, one per era of arch/arm64/kvm/fpsimd.c (seed 002),
// and the bugs of that history as variants of the era they broke. Each is
// a host policy (sve_discard.cpp, sve_keep.cpp) with a KVM scheme
// (kvm_lazy.h).
#include "models/arm64/policies/kvm_lazy.h"
#include "models/arm64/policies/sve_keep.h"

namespace fpusim::arm64 {

namespace {

PolicyInfo kvm_policy(const char* name, const char* kernel, const char* description,
                      std::function<std::unique_ptr<Policy>()> host, std::function<std::unique_ptr<KvmScheme>()> kvm) {
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
  return e;
}
LazyEra era_2025() {
  LazyEra e = era_2023();
  e.flush_host_at_load = true;
  return e;
}

}  // namespace

FPUSIM_REGISTER_ARM64_POLICY(
    200, kvm_policy("kvm-arm64-eager-2017",
                    "Linux v4.15 .. v4.17 KVM (before e6b673b7); host as sve-discard (whose SVE first-use trap is "
                    "v5.13's sve_init_regs(); before v5.13 do_sve_acc() saved, converted and reloaded instead)",
                    "KVM arm64 2017: every guest entry traps the guest's FP to EL2; its first use saves the host "
                    "registers into the per-CPU host context and loads the guest's; every exit after a use saves "
                    "the guest's and restores the host's (__hyp_switch_fpsimd, __kvm_vcpu_run); a task with SVE is "
                    "unbound before each entry (sve_flush_cpu_state)",
                    make_sve_discard_policy, [] { return std::make_unique<EagerKvm2017>(); }))

FPUSIM_REGISTER_ARM64_POLICY(
    210, kvm_policy("kvm-arm64-lazy-2018",
                    "Linux v4.18 .. v5.16 KVM (e6b673b7 with 2955bcc8, b3eb56b6, 85acda3b; vCPU SVE b43b5dd9 from "
                    "v5.2); host as sve-discard (v5.13's SVE first-use trap throughout)",
                    "KVM arm64 2018: the guest's first FP use traps to EL2, which saves the host state into the VMM "
                    "thread (FP_HOST) and loads the guest's; after exit the vCPU state stays bound "
                    "(fpsimd_bind_state_to_cpu) and the host saves it lazily, at the latest at vcpu_put; TIF_SVE "
                    "of the VMM thread steers the format",
                    make_sve_discard_policy, lazy_kvm(era_2018())))

FPUSIM_REGISTER_ARM64_POLICY(
    211, kvm_policy("kvm-arm64-lazy-2018-bug-2955bcc8",
                    "kvm-arm64-lazy-2018 without 2955bcc8 (\"KVM: arm64: Avoid mistaken attempts to save SVE state "
                    "for vcpus\", Jun 2018, Fixes e6b673b7)",
                    "BUGGY: kvm_arch_vcpu_put_fp() gives the VMM thread its TIF_SVE back before fpsimd_save(), so "
                    "the vCPU's registers are saved in the host's format. Shown in its v5.2+ form: an SVE vCPU saved "
                    "in FPSIMD format and reloaded by hyp from its stale SVE buffer loses all its vector state (in "
                    "v4.18-rc, where it was fixed, it needed a VMM with TIF_SVE at KVM_RUN, which a syscall rules out)",
                    make_sve_discard_policy, [] {
                      LazyEra e = era_2018();
                      e.tif_sve_before_save = true;
                      return std::make_unique<LazyKvm>(e);
                    }))

FPUSIM_REGISTER_ARM64_POLICY(
    212, kvm_policy("kvm-arm64-lazy-2018-bug-b3eb56b6",
                    "kvm-arm64-lazy-2018 without b3eb56b6 (\"KVM: arm64/sve: Fix SVE trap restoration for "
                    "non-current tasks\", Jun 2018, Fixes e6b673b7)",
                    "BUGGY: when the guest did not use FP, kvm_arch_vcpu_put_fp() re-establishes the EL0 SVE trap "
                    "for current only (fpsimd_bind_task_to_cpu); another task whose state is still bound returns "
                    "to EL0 with the CPACR_EL1 the VHE exit path reset, traps on SVE it owns and loses it",
                    make_sve_discard_policy, [] {
                      LazyEra e = era_2018();
                      e.restore_zen_from_load = false;
                      return std::make_unique<LazyKvm>(e);
                    }))

FPUSIM_REGISTER_ARM64_POLICY(
    220, kvm_policy("kvm-arm64-2022",
                    "Linux v5.19 .. v6.1 KVM (d52d165d and 039f49c4, host SME 861262ab; host SVE tracking dropped "
                    "8383741a; the FP_ENABLED / FP_HOST flags became the f8077b0d tristate in v6.0 without a change "
                    "of behaviour); host as sve-discard",
                    "KVM arm64 2022: as 2018 with fp_state FREE / HOST_OWNED / GUEST_OWNED, no host SVE (KVM_RUN "
                    "is a syscall), and CPACR_EL1.ZEN_EL0EN as seen at vcpu_load restored at vcpu_put on VHE",
                    make_sve_discard_policy, lazy_kvm(era_2022())))

FPUSIM_REGISTER_ARM64_POLICY(
    221, kvm_policy("kvm-arm64-2022-bug-d52d165d",
                    "Linux v5.17, v5.18 KVM: 8383741a without d52d165d (\"KVM: arm64: Always start with clearing "
                    "SVE flag on load\", May 2022)",
                    "BUGGY: HOST_SVE_ENABLED is set at vcpu_load and never cleared, so once a task with SVE was "
                    "bound at a load, every later vcpu_put on VHE enables EL0 SVE for the VMM thread, which then "
                    "runs SVE without TIF_SVE and loses it at its next save",
                    make_sve_discard_policy, [] {
                      LazyEra e = era_2022();
                      e.clear_zen_flag_at_load = false;
                      e.sme_host = false;  // host SME came with 861262ab, v5.19
                      return std::make_unique<LazyKvm>(e);
                    }))

FPUSIM_REGISTER_ARM64_POLICY(
    222, kvm_policy("kvm-arm64-2022-bug-039f49c4",
                    "kvm-arm64-2022 without 039f49c4 (\"KVM: arm64: Always start with clearing SME flag on load\", "
                    "May 2022, Fixes 861262ab; in the v5.19 merge window, never in a release)",
                    "BUGGY: HOST_SME_ENABLED is set at vcpu_load and never cleared, so once a task with SME was bound "
                    "at a load, every later vcpu_put on VHE enables EL0 SME for the VMM thread, which has no TIF_SME "
                    "and no SME state storage",
                    make_sve_discard_policy, [] {
                      LazyEra e = era_2022();
                      e.clear_sme_flag_at_load = false;
                      return std::make_unique<LazyKvm>(e);
                    }))

FPUSIM_REGISTER_ARM64_POLICY(
    230, kvm_policy("kvm-arm64-2023",
                    "Linux v6.2 .. v6.13 KVM (to_save deeb8f9a / 62021cc3, fpsimd_kvm_prepare 93ae6b01; the era "
                    "fbc7e61195e2 ended); host as sve-keep",
                    "KVM arm64 2023: as 2022 with an explicit to_save for the vCPU binding; a VMM thread that keeps "
                    "TIF_SVE across KVM_RUN has it cleared at vcpu_load without its EL0 SVE access (the host SVE "
                    "state loss fbc7e61195e2 fixed)",
                    make_sve_keep_policy, lazy_kvm(era_2023())))

FPUSIM_REGISTER_ARM64_POLICY(
    250, kvm_policy("kvm-arm64-2025",
                    "Linux v6.14, v6.15 KVM (fbc7e61195e2 \"KVM: arm64: Unconditionally save+flush host "
                    "FPSIMD/SVE/SME state\", Feb 2025, and the CPACR_EL1.ZEN/SMEN restore removals); host as sve-keep",
                    "KVM arm64 2025: the host state is saved and flushed at every vcpu_load (eager host side), the "
                    "guest's loaded on its first trapped use and saved lazily through the vCPU binding (lazy guest "
                    "side); hyp never saves host state",
                    make_sve_keep_policy, lazy_kvm(era_2025())))

}  // namespace fpusim::arm64

// KVM on arm64, driven directly: each era's scheme (models/arm64/policies/
// kvm_lazy.h) at the points of the run loop, and the bugs of seed 002's
// history, each named after the commit that fixed it, caught by the checker
// without being told (reference/linux-fpu-semantics.md §5.6, §6.1-6.7).
#include <gtest/gtest.h>

#include "models/arm64/policies/kvm_lazy.h"
#include "models/arm64/policy.h"
#include "tests/unit/arm64_rig.h"

using namespace fpusim;
using namespace fpusim::arm64;
using namespace fpusim::arm64::testing;

namespace {

// qemu (the VMM's vCPU thread) with live V registers, its vCPU, and T, a
// second task, on one Graviton3 CPU (VHE).
struct Kvm {
  Rig r;
  ContextId qemu, T, g;
  explicit Kvm(const std::string& policy, bool sve_vcpu = false, const std::string& machine = "aws-graviton3")
      : r(machine, policy) {
    qemu = r.add("qemu");
    T = r.add("T");
    g = r.vcpu("vcpu0", qemu, sve_vcpu, sve_vcpu ? 256 : 0);
    r.start();
  }
  Vcpu& v() { return r.agent->vcpu(0); }
};

TEST(Arm64Kvm, LazyGuestLoadedAtItsFirstTrapAndBoundAfterExit) {
  Kvm k("kvm-arm64-2022");
  k.r.sw(0, k.qemu);
  k.r.use(0, kV);
  k.r.kvm_run(0, k.g);
  // kvm_arch_vcpu_load_fp(): HOST_OWNED; the VMM's state is live.
  EXPECT_EQ(k.v().fp_owner, FpOwner::kHostOwned);
  k.r.entry(0);
  EXPECT_FALSE(k.r.cpu(0).guest_fp_open);  // TFP set: the guest does not own the registers
  k.r.use(0, kV);                          // the guest's first FP use
  EXPECT_EQ(k.r.total(AStat::traps_guest_fp), 1u);
  EXPECT_EQ(k.r.total(AStat::hyp_host_saves), 1u);  // the VMM's registers into its uw.fpsimd_state
  EXPECT_EQ(k.v().fp_owner, FpOwner::kGuestOwned);
  k.r.exit_guest(0);
  // ctxsync: the vCPU's state bound, the VMM's TIF_FOREIGN_FPSTATE clear.
  EXPECT_EQ(k.r.cpu(0).last, k.g);
  EXPECT_FALSE(k.r.ctx(k.qemu).foreign);
  k.r.entry(0);
  k.r.use(0, 0, kV);  // still open: no second trap
  EXPECT_EQ(k.r.total(AStat::traps_guest_fp), 1u);
  k.r.exit_guest(0);
  k.r.kvm_return(0);
  // put: the guest saved through the binding, the CPU flushed, the VMM
  // reloaded on its way back to user space.
  EXPECT_EQ(k.r.total(AStat::guest_saves), 1u);
  EXPECT_EQ(k.r.cpu(0).last, k.qemu);
  k.r.use(0, 0, kV);
  EXPECT_EQ(k.r.checker->total_violations(), 0u);
}

TEST(Arm64Kvm, Eager2017SwitchesInHypAtEveryEntryAndExit) {
  Kvm k("kvm-arm64-eager-2017");
  k.r.sw(0, k.qemu);
  k.r.use(0, kV);
  k.r.kvm_run(0, k.g);
  for (int i = 0; i < 3; ++i) {
    k.r.entry(0);
    k.r.use(0, kV, kV);
    k.r.exit_guest(0);
    // The host's registers are back after every exit.
    EXPECT_EQ(k.r.cpu(0).rf.regs.tok[kFpsimd].owner, k.qemu);
  }
  EXPECT_EQ(k.r.total(AStat::traps_guest_fp), 3u);
  EXPECT_EQ(k.r.total(AStat::hyp_host_saves), 3u);
  EXPECT_EQ(k.r.total(AStat::hyp_host_restores), 3u);
  EXPECT_EQ(k.r.total(AStat::guest_saves), 3u);
  k.r.kvm_return(0);
  k.r.use(0, 0, kV);
  EXPECT_EQ(k.r.checker->total_violations(), 0u);
}

TEST(Arm64Kvm, Kvm2025SavesAndFlushesTheHostAtLoad) {
  Kvm k("kvm-arm64-2025");
  k.r.sw(0, k.qemu);
  k.r.use(0, kV);
  k.r.kvm_run(0, k.g);
  EXPECT_EQ(k.v().fp_owner, FpOwner::kFree);
  EXPECT_EQ(k.r.cpu(0).last, kNoContext);
  EXPECT_TRUE(k.r.ctx(k.qemu).foreign);
  EXPECT_EQ(k.r.total(Stat::saves), 1u);
  k.r.entry(0);
  k.r.use(0, kV);
  EXPECT_EQ(k.r.total(AStat::hyp_host_saves), 0u);  // hyp never saves host state
  k.r.exit_guest(0);
  k.r.kvm_return(0);
  k.r.use(0, 0, kV);
  EXPECT_EQ(k.r.checker->total_violations(), 0u);
}

TEST(Arm64Kvm, SoftirqNeonSavesTheBoundGuestStateIntoTheVcpu) {
  Kvm k("kvm-arm64-2022");
  k.r.sw(0, k.qemu);
  k.r.kvm_run(0, k.g);
  k.r.entry(0);
  k.r.use(0, kV);
  k.r.exit_guest(0);
  k.r.softirq_neon(0);
  EXPECT_EQ(k.r.total(AStat::kernel_neon_saves), 1u);
  EXPECT_EQ(k.r.total(AStat::guest_saves), 1u);
  EXPECT_EQ(k.r.ctx(k.g).image.tok[kFpsimd].owner, k.g);  // the guest's data, in the vCPU
  k.r.entry(0);  // ctxflush: TIF_FOREIGN_FPSTATE -> FREE
  EXPECT_EQ(k.r.total(AStat::fp_owner_dropped), 1u);
  k.r.use(0, 0, kV);  // traps and reloads the guest's state, not the softirq's
  EXPECT_EQ(k.r.total(AStat::guest_loads), 2u);
  EXPECT_EQ(k.r.checker->total_violations(), 0u);
}

TEST(Arm64Kvm, SchedOutInsideKvmRunPutsAndSchedInLoads) {
  Kvm k("kvm-arm64-2022");
  const ContextId kw = k.r.agent->add_context("kworker", ContextKind::kKthread);
  k.r.stats.per_context.resize(k.r.agent->num_contexts());
  k.r.sw(0, k.qemu);
  k.r.kvm_run(0, k.g);
  k.r.entry(0);
  k.r.use(0, kV);
  EXPECT_THROW(k.r.sw(0, kw), SemanticError);  // not while the guest runs
  k.r.exit_guest(0);
  k.r.sw(0, kw);  // kvm_sched_out -> put_fp: the guest saved and the CPU flushed
  EXPECT_EQ(k.r.total(AStat::vcpu_puts), 1u);
  EXPECT_EQ(k.r.cpu(0).last, kNoContext);
  k.r.sw(0, k.qemu);  // kvm_sched_in -> load_fp
  EXPECT_EQ(k.r.total(AStat::vcpu_loads), 2u);
  k.r.entry(0);
  k.r.use(0, 0, kV);
  EXPECT_EQ(k.r.total(AStat::traps_guest_fp), 2u);
  EXPECT_EQ(k.r.checker->total_violations(), 0u);
}

TEST(Arm64Kvm, RunLoopOrderIsChecked) {
  Kvm k("kvm-arm64-2022");
  k.r.sw(0, k.T);
  EXPECT_THROW(k.r.kvm_run(0, k.g), SemanticError);  // not the vCPU's thread
  k.r.sw(0, k.qemu);
  EXPECT_THROW(k.r.entry(0), SemanticError);  // outside KVM_RUN
  k.r.kvm_run(0, k.g);
  EXPECT_THROW(k.r.kvm_run(0, k.g), SemanticError);
  EXPECT_THROW(k.r.syscall(0), SemanticError);  // inside KVM_RUN
  k.r.entry(0);
  EXPECT_THROW(k.r.softirq_neon(0), SemanticError);  // an interrupt exits the guest first
  EXPECT_THROW(k.r.use(0, kSve), SemanticError);     // the vCPU has no SVE
  EXPECT_THROW(k.r.kvm_return(0), SemanticError);
}

// ---- the bugs, each against its fix ----

// b3eb56b6: T's SVE state is bound while the VMM runs a guest without FP;
// the VHE exit path resets CPACR_EL1 and put restores it for current only.
std::uint64_t b3eb56b6_lost(const std::string& policy) {
  Kvm k(policy);
  k.r.sw(0, k.qemu);
  k.r.kvm_run(0, k.g);
  k.r.sw(0, k.T);
  k.r.use(0, kSve);  // SVE first use: TIF_SVE, EL0 SVE on
  k.r.sw(0, k.qemu);
  k.r.entry(0);
  k.r.exit_guest(0);
  k.r.sw(0, k.T);  // T's registers are still valid: no reload, no rebind
  k.r.use(0, 0, kSve);
  return k.r.lost();
}
TEST(Arm64KvmBug, b3eb56b6_SveTrapRestoredOnlyForCurrent) {
  EXPECT_EQ(b3eb56b6_lost("kvm-arm64-lazy-2018"), 0u);
  // v4.18-rc (sve-reload): the trap handler's fpsimd_to_sve() puts stale V
  // registers over the SVE-format save: V0-V31 lost.
  EXPECT_EQ(b3eb56b6_lost("kvm-arm64-lazy-2018-bug-b3eb56b6"), 1u);
}

// d52d165d: HOST_SVE_ENABLED sticks from an earlier load.
std::uint64_t d52d165d_violations(const std::string& policy) {
  Kvm k(policy);
  k.r.sw(0, k.qemu);
  k.r.kvm_run(0, k.g);
  k.r.sw(0, k.T);
  k.r.use(0, kSve);
  k.r.sw(0, k.qemu);  // load: ZEN_EL0EN set -> flag
  k.r.kvm_return(0);
  k.r.kvm_run(0, k.g);  // load: ZEN_EL0EN clear
  k.r.entry(0);
  k.r.exit_guest(0);
  k.r.kvm_return(0);  // put restores the flag's ZEN_EL0EN
  k.r.use(0, kSve);   // SVE without a trap under the bug
  k.r.sw(0, k.T);
  k.r.sw(0, k.qemu);
  k.r.use(0, 0, kSve);
  return k.r.checker->total_violations();
}
TEST(Arm64KvmBug, d52d165d_SveFlagNotClearedAtLoad) {
  EXPECT_EQ(d52d165d_violations("kvm-arm64-2022"), 0u);
  EXPECT_GT(d52d165d_violations("kvm-arm64-2022-bug-d52d165d"), 0u);
}

// 039f49c4: HOST_SME_ENABLED sticks; the trap-configuration rule sees the
// VMM return to EL0 with SME enabled and no TIF_SME.
std::uint64_t b039f49c4_trap_config(const std::string& policy) {
  Kvm k(policy, false, "arm-fvp-sme2");
  k.r.sw(0, k.qemu);
  k.r.kvm_run(0, k.g);
  k.r.sw(0, k.T);
  k.r.smstart(0, false, true);
  k.r.sw(0, k.qemu);  // load: SMEN_EL0EN set -> flag
  k.r.kvm_return(0);
  k.r.kvm_run(0, k.g);
  k.r.entry(0);
  k.r.exit_guest(0);
  k.r.kvm_return(0);
  return k.r.violations(ViolationKind::kTrapConfig);
}
TEST(Arm64KvmBug, b039f49c4_SmeFlagNotClearedAtLoad) {
  EXPECT_EQ(b039f49c4_trap_config("kvm-arm64-2022"), 0u);
  EXPECT_EQ(b039f49c4_trap_config("kvm-arm64-2022-bug-039f49c4"), 1u);
}

// 59d78a2e: vcpu_put re-enables SMEN and reads SVCR without an ISB between.
std::uint64_t b59d78a2e_kernel_traps(const std::string& policy, bool softirq_after_exit) {
  Kvm k(policy, false, "arm-fvp-sme2");
  k.r.sw(0, k.qemu);
  k.r.kvm_run(0, k.g);
  k.r.entry(0);
  k.r.use(0, kV);
  k.r.exit_guest(0);
  if (softirq_after_exit) k.r.softirq_neon(0);
  k.r.kvm_return(0);
  return k.r.violations(ViolationKind::kKernelTrap);
}
TEST(Arm64KvmBug, b59d78a2e_SmenWithoutIsbBeforeTheSvcrRead) {
  EXPECT_EQ(b59d78a2e_kernel_traps("kvm-arm64-2022", false), 1u);  // v5.19 .. v6.1
  EXPECT_EQ(b59d78a2e_kernel_traps("kvm-arm64-2023", false), 0u);  // the isb()
  EXPECT_EQ(b59d78a2e_kernel_traps("kvm-arm64-2025", false), 0u);
}
TEST(Arm64KvmFinding, SoftirqNeonBetweenExitAndPutWithSmeDisabledForTheKernel) {
  // CPACR_EL1_DEFAULT leaves SME disabled for the host until vcpu_put: the
  // softirq's save reads SVCR (one episode: the put's read is in it too).
  EXPECT_EQ(b59d78a2e_kernel_traps("kvm-arm64-2022", true), 1u);
  EXPECT_EQ(b59d78a2e_kernel_traps("kvm-arm64-2023", true), 0u);
}

// 2955bcc8: TIF_SVE given back before the save of an SVE vCPU.
std::uint64_t b2955bcc8_lost(const std::string& policy) {
  Kvm k(policy, true);
  k.r.sw(0, k.qemu);
  k.r.kvm_run(0, k.g);
  k.r.entry(0);
  k.r.use(0, kSve);
  k.r.exit_guest(0);
  k.r.kvm_return(0);
  k.r.kvm_run(0, k.g);
  k.r.entry(0);
  k.r.use(0, 0, kSve);
  return k.r.lost();
}
TEST(Arm64KvmBug, b2955bcc8_TifSveRestoredBeforeTheVcpuSave) {
  EXPECT_EQ(b2955bcc8_lost("kvm-arm64-lazy-2018"), 0u);
  // Saved in FPSIMD format, reloaded by hyp from the stale SVE buffer: all
  // four components (V0-V31 too).
  EXPECT_EQ(b2955bcc8_lost("kvm-arm64-lazy-2018-bug-2955bcc8"), 4u);
}

// fbc7e61195e2: a VMM thread that keeps SVE across KVM_RUN (v6.2+).
std::uint64_t fbc7e61195e2_lost(const std::string& policy) {
  Kvm k(policy);
  k.r.sw(0, k.qemu);
  k.r.use(0, kSve);
  k.r.kvm_run(0, k.g);
  k.r.entry(0);
  k.r.exit_guest(0);
  k.r.kvm_return(0);
  k.r.use(0, kSve);
  k.r.sw(0, k.T);
  k.r.use(0, kV);
  k.r.sw(0, k.qemu);
  k.r.use(0, 0, kSve);
  return k.r.lost();
}
TEST(Arm64KvmBug, fbc7e61195e2_HostSveLostAcrossKvmRun) {
  EXPECT_EQ(fbc7e61195e2_lost("kvm-arm64-2023"), 3u);
  EXPECT_EQ(fbc7e61195e2_lost("kvm-arm64-2025"), 0u);
}

}  // namespace

namespace {

// qemu and its vCPU on the SME2/FPMR FVP, the VM with or without FPMR.
struct FpmrKvm {
  Rig r;
  ContextId qemu, g;
  std::shared_ptr<KvmScheme> pkvm;  // the era's scheme under pKVM, as Arm64Run wraps it
  FpmrKvm(const std::string& policy, bool vm_fpmr, KvmMode mode = KvmMode::kVhe) : r("arm-fvp-sme2", policy) {
    r.machine.kvm_mode = mode;
    if (mode == KvmMode::kProtected) {
      pkvm = make_protected_kvm(std::move(r.kvm));
      r.agent->set_kvm(pkvm.get());
    }
    qemu = r.add("qemu");
    g = r.vcpu("vcpu0", qemu, false, 0, vm_fpmr);
    r.start();
  }
};

// ef3be86021c3 (v6.12): hyp saves the host's FPMR with its FP state and loads
// the guest's; the guest's is saved through the vCPU binding (fp_state.fpmr).
// The guest reads its own (zero) FPMR first, never the VMM's.
TEST(Arm64KvmFpmr, GuestFpmrLoadedByHypAndSavedThroughTheBinding) {
  for (const char* policy : {"kvm-arm64-2023", "kvm-arm64-2025"}) {
    FpmrKvm k(policy, true);
    k.r.sw(0, k.qemu);
    k.r.use(0, kV | kMaskFpmr);
    k.r.kvm_run(0, k.g);
    k.r.entry(0);
    k.r.use(0, kMaskFpmr, kMaskFpmr);  // reads zero, then writes its own
    k.r.exit_guest(0);
    k.r.entry(0);
    k.r.use(0, 0, kMaskFpmr);
    k.r.exit_guest(0);
    k.r.kvm_return(0);
    k.r.use(0, 0, kV | kMaskFpmr);  // the VMM's own FPMR back
    EXPECT_EQ(k.r.checker->total_violations(), 0u) << policy;
  }
}

// A VM without FPMR (userspace cleared ID_AA64PFR2_EL1.FPMR) under v6.12 ..
// v6.13: hyp saves the host's FPMR only "if (kvm_has_fpmr(vcpu->kvm))", but
// the vCPU binding's save stores the FPMR register (the VMM's value, out of
// the guest's reach) into the vCPU, and the VMM thread reloads its stale
// thread.uw.fpmr: its FPMR is lost. v6.14's fbc7e61195e2 saves the host
// state at vcpu_load, FPMR with it.
TEST(Arm64KvmFpmr, HostFpmrLostAcrossKvmRunForAVmWithoutFpmrBeforeV614) {
  for (const char* policy : {"kvm-arm64-2023", "kvm-arm64-2025"}) {
    FpmrKvm k(policy, false);
    k.r.sw(0, k.qemu);
    k.r.use(0, kV | kMaskFpmr);
    k.r.kvm_run(0, k.g);
    k.r.entry(0);
    k.r.use(0, kV);
    EXPECT_THROW(k.r.use(0, 0, kMaskFpmr), SemanticError);  // the guest has no FPMR
    k.r.exit_guest(0);
    k.r.kvm_return(0);
    k.r.use(0, 0, kMaskFpmr);
    EXPECT_EQ(k.r.violations(ViolationKind::kLost), std::string(policy) == "kvm-arm64-2023" ? 1u : 0u)
        << policy;
  }
}

// pKVM (b5b9955617bc): every run's first guest FP use traps; hyp saves the
// host registers into its own memory and, at that run's exit, saves the
// guest's and restores the host's; the host never binds the vCPU.
TEST(Arm64KvmProtected, HypSavesTheHostAtEachRunAndRestoresItAtEachExit) {
  for (const char* policy : {"kvm-arm64-2023", "kvm-arm64-2025"}) {
    FpmrKvm k(policy, true, KvmMode::kProtected);
    k.r.sw(0, k.qemu);
    k.r.use(0, kV | kMaskFpmr);
    k.r.kvm_run(0, k.g);
    for (int i = 0; i < 3; ++i) {
      k.r.entry(0);
      EXPECT_FALSE(k.r.cpu(0).guest_fp_open) << policy;
      k.r.use(0, kV | kMaskFpmr, i ? kV | kMaskFpmr : 0);
      k.r.exit_guest(0);
      // The host's registers are back and nothing of the guest is bound.
      EXPECT_NE(k.r.cpu(0).last, k.g) << policy;
      EXPECT_NE(k.r.cpu(0).rf.regs.tok[kFpsimd].owner, k.g) << policy;
      EXPECT_NE(k.r.cpu(0).rf.regs.tok[kFpmr].owner, k.g) << policy;
    }
    EXPECT_EQ(k.r.total(AStat::traps_guest_fp), 3u) << policy;
    EXPECT_EQ(k.r.total(AStat::hyp_host_saves), 3u) << policy;
    EXPECT_EQ(k.r.total(AStat::hyp_host_restores), 3u) << policy;
    EXPECT_EQ(k.r.total(AStat::guest_saves), 3u) << policy;
    k.r.kvm_return(0);
    k.r.use(0, 0, kV | kMaskFpmr);
    EXPECT_EQ(k.r.checker->total_violations(), 0u) << policy;
  }
}

}  // namespace

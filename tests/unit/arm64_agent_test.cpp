// The arm64 agent under the sve-discard policy (Linux v5.13 .. v6.1,
// arch/arm64/kernel/fpsimd.c), driven directly, on the Graviton3 preset
// (SVE, VL 128 and 256, default 256). Each expectation names the kernel rule
// (reference/linux-fpu-semantics.md §4, §5). The last tests run a
// deliberately broken policy and check that the checker catches it.
#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "models/arm64/agent.h"
#include "models/arm64/policies/sve_discard.h"
#include "models/arm64/policy.h"
#include "models/arm64/presets.h"
#include "models/core/arch.h"
#include "models/core/checker.h"
#include "sim/input/json_input.h"
#include "tests/unit/arm64_rig.h"

using namespace fpusim;
using namespace fpusim::arm64;
using namespace fpusim::arm64::testing;

namespace {

struct Arm64Test : ::testing::Test {
  Rig r{"aws-graviton3", mainline()};
  ContextId A = 0, B = 0, C = 0;
  void SetUp() override {
    A = r.add("A");
    B = r.add("B");
    C = r.add("C");
    r.start();
  }
};

TEST(Arm64Registry, ArchAndPolicyAreRegistered) {
  const Arch* a = find_arch("arm64");
  ASSERT_NE(a, nullptr);
  ASSERT_NE(a->find_policy("sve-discard"), nullptr);
  EXPECT_EQ(a->find_policy("deferred"), nullptr);  // x86's
  EXPECT_EQ(a->component_name(kSveP), "sve_p");
  EXPECT_EQ(a->components_string(kSve), "fpsimd|sve_z|sve_p|sve_ffr");
}

TEST(Arm64Sizes, ComponentsFollowTheVectorLength) {
  // §7.3: FPSIMD 520; Z 32 x VL/8, P 16 x VL/64, FFR VL/64.
  const auto b128 = component_bytes(128), b256 = component_bytes(256);
  EXPECT_EQ(b128[kFpsimd], 520u);
  EXPECT_EQ(b128[kSveZ] + b128[kSveP] + b128[kSveFfr], 546u);  // SVE_SIG_REGS_SIZE(1)
  EXPECT_EQ(b256[kSveZ], 1024u);
  EXPECT_EQ(b256[kSveP], 64u);
  EXPECT_EQ(b256[kSveFfr], 4u);
}

TEST_F(Arm64Test, FirstSwitchInLoadsAtReturnToUser) {
  // fpsimd_flush_thread() state: TIF_FOREIGN_FPSTATE set, fpsimd_cpu NR_CPUS.
  EXPECT_TRUE(r.ctx(A).foreign);
  EXPECT_EQ(r.ctx(A).fpsimd_cpu, kNoCpu);
  r.sw(0, A);
  // fpsimd_restore_current_state(): task_fpsimd_load() + bind.
  EXPECT_EQ(r.total(Stat::restores), 1u);
  EXPECT_EQ(r.total(Stat::saves), 0u);
  EXPECT_FALSE(r.ctx(A).foreign);
  EXPECT_EQ(r.ctx(A).fpsimd_cpu, 0u);
  EXPECT_EQ(r.cpu(0).last, A);
  EXPECT_FALSE(r.cpu(0).zen_el0);  // no TIF_SVE: EL0 SVE traps
}

TEST_F(Arm64Test, SwitchSavesLiveStateAndLeavesTheBinding) {
  r.sw(0, A);
  r.use(0, kV);
  r.sw(0, B);
  // fpsimd_thread_switch(): fpsimd_save_user_state() for A; fpsimd_last_state
  // still names A; B is not bound here -> TIF_FOREIGN_FPSTATE -> loaded.
  EXPECT_EQ(r.total(Stat::saves), 1u);
  EXPECT_EQ(r.ctx(A).image.present & kV, kV);
  EXPECT_EQ(r.total(Stat::restores), 2u);
  EXPECT_EQ(r.cpu(0).last, B);
  r.use(0, kV);
  r.sw(0, A);
  r.use(0, 0, kV);
  EXPECT_EQ(r.checker->total_violations(), 0u);
}

TEST_F(Arm64Test, SameCpuNothingInBetweenSkipsTheLoad) {
  r.sw(0, A);
  r.use(0, kV);
  r.idle(0);
  r.sw(0, A);
  // last.st == A && A.fpsimd_cpu == 0: TIF_FOREIGN_FPSTATE stays clear.
  EXPECT_FALSE(r.ctx(A).foreign);
  EXPECT_EQ(r.total(Stat::restores), 1u);
  EXPECT_EQ(r.total(Stat::restores_skipped), 1u);
}

TEST_F(Arm64Test, BindingIsCheckedOnBothSides) {
  r.sw(0, A);
  r.use(0, kV);
  r.idle(0);
  r.sw(1, A);  // A now bound to CPU 1 (fpsimd_cpu = 1); CPU 0's last still A
  r.use(1, kV);
  r.idle(1);
  r.sw(0, A);
  // last[0].st == A but A.fpsimd_cpu == 1: stale -> loaded.
  EXPECT_EQ(r.total(Stat::restores_skipped), 0u);
  EXPECT_EQ(r.total(Stat::restores), 3u);
  r.use(0, 0, kV);
  EXPECT_EQ(r.checker->total_violations(), 0u);
}

TEST_F(Arm64Test, SveFirstUseTrapsOnceAndSurvivesSwitches) {
  r.sw(0, A);
  r.use(0, kSve);
  // do_sve_acc(): TIF_SVE, sve_flush_live(), bind -> sve_user_enable().
  EXPECT_EQ(r.total(AStat::traps_sve_acc), 1u);
  EXPECT_EQ(r.total(Stat::traps), 1u);
  EXPECT_TRUE(r.ctx(A).tif_sve);
  EXPECT_TRUE(r.cpu(0).zen_el0);
  r.use(0, kSve, kSve);
  EXPECT_EQ(r.total(AStat::traps_sve_acc), 1u);
  r.sw(0, B);  // SVE-format save of A; B loads FPSIMD, EL0 SVE off
  EXPECT_EQ(r.total(AStat::sve_saves), 1u);
  EXPECT_EQ(r.ctx(A).fp_type, FpType::kSve);
  EXPECT_FALSE(r.cpu(0).zen_el0);
  r.sw(0, A);  // SVE-format load
  EXPECT_EQ(r.total(AStat::sve_restores), 1u);
  EXPECT_TRUE(r.cpu(0).zen_el0);
  r.use(0, 0, kSve);
  EXPECT_EQ(r.checker->total_violations(), 0u);
}

TEST_F(Arm64Test, SyscallDiscardsSveAndTheNextUseTrapsAgain) {
  r.sw(0, A);
  r.use(0, kSve);
  r.syscall(0);
  // sve_user_discard(): TIF_SVE cleared, sve_user_disable(); the task's
  // SVE-only bits are gone (its truth too).
  EXPECT_FALSE(r.ctx(A).tif_sve);
  EXPECT_FALSE(r.cpu(0).zen_el0);
  EXPECT_EQ(r.total(AStat::sve_discards), 1u);
  EXPECT_EQ(r.ctx(A).truth.present & kMaskSve, 0u);
  r.ret(0);
  r.use(0, 0, kSve);  // traps, sve_flush_live(): zeros, as the truth says
  EXPECT_EQ(r.total(AStat::traps_sve_acc), 2u);
  EXPECT_EQ(r.checker->total_violations(), 0u);
  r.sw(0, B);
  EXPECT_EQ(r.total(AStat::sve_saves), 1u);  // TIF_SVE set again by the trap
}

TEST_F(Arm64Test, SyscallWithoutSveUseIsNoDiscard) {
  r.sw(0, A);
  r.use(0, kV);
  r.syscall(0);
  EXPECT_EQ(r.total(AStat::sve_discards), 0u);
}

TEST_F(Arm64Test, KernelNeonInSoftirqSavesUnbindsAndTheReturnLoads) {
  r.sw(0, A);
  r.use(0, kV);
  r.softirq_neon(0);
  // kernel_neon_begin(): save A, fpsimd_flush_cpu_state(); kernel_neon_end()
  // restores nothing; the return to A's EL0 loads it.
  EXPECT_EQ(r.total(Stat::saves), 1u);
  EXPECT_EQ(r.total(AStat::kernel_neon_saves), 1u);
  EXPECT_EQ(r.total(Stat::kernel_fpu_sections), 1u);
  EXPECT_EQ(r.total(Stat::restores), 2u);
  EXPECT_EQ(r.cpu(0).last, A);
  r.use(0, 0, kV);
  EXPECT_EQ(r.checker->total_violations(), 0u);
}

TEST_F(Arm64Test, KernelNeonOnIdleCpuForcesTheNextLoad) {
  r.sw(0, A);
  r.use(0, kV);
  r.idle(0);
  r.softirq_neon(0);
  EXPECT_EQ(r.total(Stat::saves), 1u);  // only the switch-out: idle has TIF_FOREIGN_FPSTATE
  EXPECT_EQ(r.cpu(0).last, kNoContext);
  r.sw(0, A);
  EXPECT_EQ(r.total(Stat::restores_skipped), 0u);
  EXPECT_EQ(r.total(Stat::restores), 2u);
}

TEST_F(Arm64Test, SetVlSavesFlushesAndResizes) {
  r.sw(0, A);
  r.use(0, kSve);
  r.syscall(0);
  r.set_vl(0, 128);
  // vec_set_vector_length(): save, fpsimd_flush_task_state(), new VL.
  EXPECT_EQ(r.ctx(A).vl, 128u);
  EXPECT_EQ(r.ctx(A).sizes->of(bit(kSveZ)), 512u);
  EXPECT_TRUE(r.ctx(A).foreign);
  EXPECT_EQ(r.ctx(A).fpsimd_cpu, kNoCpu);
  EXPECT_EQ(r.total(AStat::vl_changes), 1u);
  r.ret(0);
  r.use(0, kSve, kV);  // the trap programs ZCR_EL1 for 128
  EXPECT_EQ(r.cpu(0).zcr_vl, 128u);
  EXPECT_EQ(r.total(AStat::zcr_writes), 1u);
  EXPECT_EQ(r.checker->total_violations(), 0u);
}

TEST_F(Arm64Test, SetVlRules) {
  r.sw(0, A);
  r.syscall(0);
  r.set_vl(0, 256);  // unchanged: "if (vl == task_get_vl(task, type)) goto out"
  EXPECT_EQ(r.total(AStat::vl_changes), 0u);
  EXPECT_EQ(r.total(Stat::saves), 0u);
  // find_supported_vector_length(): Graviton3 supports 128 and 256, so 512
  // becomes 256 (unchanged: nothing happens) and 384 too.
  r.set_vl(0, 512);
  r.set_vl(0, 384);
  EXPECT_EQ(r.total(AStat::vl_changes), 0u);
  EXPECT_EQ(r.ctx(A).vl, 256u);
  r.ret(0);
  EXPECT_THROW(r.set_vl(0, 128), SemanticError);  // a prctl is a syscall
}

TEST_F(Arm64Test, SignalFrameRoundTrip) {
  r.sw(0, A);
  r.use(0, kSve);
  r.signal(0);
  ASSERT_EQ(r.ctx(A).sigframes.size(), 1u);
  EXPECT_EQ(r.ctx(A).sigframes.back().present & kSve, kSve);  // TIF_SVE: SVE context in the frame
  r.use(0, kV);  // the handler
  r.sigreturn(0);
  // restore_sigframe(): the frame's state, loaded and bound.
  EXPECT_FALSE(r.ctx(A).foreign);
  r.use(0, 0, kSve);
  EXPECT_EQ(r.checker->total_violations(), 0u);
}

TEST_F(Arm64Test, ForkCopiesFpsimdOnlyAndExecResets) {
  r.sw(0, A);
  r.use(0, kSve);
  r.fork(0, C);
  // arch_dup_task_struct(): no SVE buffer, TIF_SVE clear; flushed.
  EXPECT_FALSE(r.ctx(C).tif_sve);
  EXPECT_TRUE(r.ctx(C).foreign);
  EXPECT_EQ(r.ctx(C).truth.present, kV);
  EXPECT_EQ(r.ctx(C).vl, r.ctx(A).vl);
  r.sw(1, C);
  r.use(1, 0, kV);
  EXPECT_EQ(r.checker->total_violations(), 0u);
  r.exec(1);
  // fpsimd_flush_thread(): zeroed, FPSIMD format, default VL.
  EXPECT_EQ(r.ctx(C).truth.present, 0u);
  EXPECT_EQ(r.ctx(C).fp_type, FpType::kFpsimd);
  r.use(1, 0, kV);
  EXPECT_EQ(r.checker->total_violations(), 0u);
}

TEST_F(Arm64Test, PtraceFpsimdWriteZeroPadsAnSveTask) {
  r.sw(0, A);
  r.use(0, kSve);
  r.idle(0);
  r.state_write(1, A, kV);
  // fpr_set() -> sve_sync_from_fpsimd_zeropad(): the SVE-only bits zeroed.
  EXPECT_EQ(r.ctx(A).truth.present & kMaskSve, 0u);
  EXPECT_TRUE(r.ctx(A).foreign);
  r.sw(0, A);
  r.use(0, 0, kSve);
  EXPECT_EQ(r.checker->total_violations(), 0u);
}

// ---- deliberately broken variants: the checker must catch them

// fpsimd_thread_switch() without the save: the outgoing task's registers
// are overwritten by the next task's load and its buffer is stale.
struct NoSaveAtSwitch final : SveDiscardPolicy {
  void thread_switch(Agent& a, CpuId cpu, Context* prev, Context* next) override {
    (void)prev;
    if (next) next->foreign = !(a.cpu(cpu).last == next->id && next->fpsimd_cpu == cpu);
  }
};

TEST(Arm64Broken, SkippingTheSaveAtSwitchOutLosesState) {
  Rig r("arm-neoverse-n2", std::make_unique<NoSaveAtSwitch>(), 1);
  const ContextId A = r.add("A"), B = r.add("B");
  r.start();
  r.sw(0, A);
  r.use(0, kV);
  r.sw(0, B);
  r.use(0, kV);
  r.sw(0, A);
  r.use(0, 0, kV);  // A's V registers come from its never-written buffer
  EXPECT_EQ(r.lost(), 1u);
  EXPECT_EQ(r.total(Stat::violations_lost), 1u);
}

// The first-use trap that forgets TIF_SVE: the SVE state is saved in FPSIMD
// format at switch-out and the Z upper bits, P and FFR are lost.
struct TrapWithoutTifSve final : SveDiscardPolicy {
  void sve_acc(Agent& a, CpuId cpu, Context& ctx) override {
    a.sve_flush_live(cpu, Cause::sve_trap);
    a.set_zen_el0(cpu, true, Cause::sve_trap);
    (void)ctx;
  }
};

TEST(Arm64Broken, ForgettingTifSveLosesTheSveState) {
  Rig r("aws-graviton3", std::make_unique<TrapWithoutTifSve>(), 1);
  const ContextId A = r.add("A"), B = r.add("B");
  r.start();
  r.sw(0, A);
  r.use(0, kSve);
  r.sw(0, B);
  r.sw(0, A);
  r.use(0, 0, kSve);  // traps again (bind disabled EL0 SVE) and finds zeros
  EXPECT_GE(r.lost(), 1u);
}

// restore_sigframe(): a frame with an SVE record gives TIF_SVE back even
// when the SVE registers it holds are all zero (their values do not decide
// the format): the next SVE use does not trap again.
TEST_F(Arm64Test, SigreturnOfAnSveFrameWithZeroRegistersKeepsTifSve) {
  r.sw(0, A);
  r.use(0, 0, bit(kSveP));  // first use: trap, TIF_SVE, zeroed SVE registers
  EXPECT_EQ(r.total(AStat::traps_sve_acc), 1u);
  r.signal(0);
  r.sigreturn(0);
  EXPECT_TRUE(r.ctx(A).tif_sve);
  r.use(0, 0, bit(kSveP));
  EXPECT_EQ(r.total(AStat::traps_sve_acc), 1u);
  EXPECT_EQ(r.lost(), 0u);
}

// fork and sigreturn are syscalls: el0_svc()'s sve_user_discard() runs
// first, so the parent's SVE state is gone and its next SVE use traps.
TEST_F(Arm64Test, ForkIsASyscallThatDiscardsSve) {
  r.sw(0, A);
  r.use(0, kSve);
  EXPECT_EQ(r.total(AStat::traps_sve_acc), 1u);
  r.fork(0, C);
  EXPECT_FALSE(r.ctx(A).tif_sve);
  EXPECT_EQ(r.total(AStat::sve_discards), 1u);
  r.use(0, 0, kSve);  // traps again and finds the zeros the discard left
  EXPECT_EQ(r.total(AStat::traps_sve_acc), 2u);
  EXPECT_EQ(r.lost(), 0u);
}

// A signal frame written without saving the live registers first: the
// frame holds the buffer's stale V0-V31, and sigreturn loads them. The
// truth comes back from delivery time, so the checker finds the loss.
struct SignalWithoutPreserve final : SveDiscardPolicy {
  StateImage signal_deliver(Agent& a, CpuId cpu, Context& ctx) override {
    StateImage frame;
    frame.copy_from(ctx.image, kMaskFpsimd);
    Context::FrameInfo info;
    info.truth.copy_from(ctx.truth, kMaskFpsimd);
    ctx.frame_info.push_back(info);
    (void)a, (void)cpu;
    return frame;
  }
};

TEST(Arm64Broken, ASignalFrameFromAStaleBufferLosesState) {
  Rig r("arm-neoverse-n2", std::make_unique<SignalWithoutPreserve>(), 1);
  const ContextId A = r.add("A");
  r.start();
  r.sw(0, A);
  r.use(0, kV);  // live in the registers only
  r.signal(0);
  r.sigreturn(0);
  r.use(0, 0, kV);
  EXPECT_GE(r.lost(), 1u);
}

// A fork that copies the parent's buffer without preserving its live
// registers first: the child gets a stale copy, found at its first use.
struct ForkWithoutPreserve final : SveDiscardPolicy {
  void fork(Agent& a, CpuId cpu, Context& parent, Context& child) override {
    // The parent's buffer is stale while its registers are live: fork as
    // if they had been saved, but skip the save.
    const bool was_foreign = parent.foreign;
    parent.foreign = true;  // makes preserve_current_state() a no-op
    SveDiscardPolicy::fork(a, cpu, parent, child);
    parent.foreign = was_foreign;
  }
};

TEST(Arm64Broken, AForkFromAStaleBufferLosesTheChildsState) {
  Rig r("arm-neoverse-n2", std::make_unique<ForkWithoutPreserve>(), 2);
  const ContextId A = r.add("A"), C = r.add("C");
  r.start();
  r.sw(0, A);
  r.use(0, kV);  // live in the registers only
  r.syscall(0);
  r.fork(0, C);
  r.sw(1, C);
  r.use(1, 0, kV);
  EXPECT_GE(r.lost(), 1u);
}

}  // namespace

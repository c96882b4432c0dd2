// SME and FPMR on the arm64 host (arm-fvp-sme2: SVE2 VL 512, SME2 with FA64
// at SVL 512, FPMR), driven directly under sve-keep (v6.2+) and
// sve-discard: the first-use trap, streaming mode and ZA, what a switch, a
// syscall, a signal and fork do with them (arch/arm64/kernel/fpsimd.c,
// signal.c, process.c), and a broken policy the checker catches.
#include <gtest/gtest.h>

#include "models/arm64/policies/sve_discard.h"
#include "tests/unit/arm64_rig.h"

using namespace fpusim;
using namespace fpusim::arm64;
using namespace fpusim::arm64::testing;

namespace {

constexpr ComponentMask kZaZt0 = kMaskZa;

struct Sme : ::testing::Test {
  Rig r{"arm-fvp-sme2", "sve-keep", 2};
  ContextId M = 0, N = 0;
  void SetUp() override {
    M = r.add("M");
    N = r.add("N");
    r.start();
  }
};

TEST(Arm64SmeSizes, ZaIsSvlSquaredAndStreamingUsesTheSvl) {
  VecLayout l;
  l.vl = 256;
  l.svl = 512;
  l.sme2 = true;
  l.fpmr = true;
  auto b = component_bytes(l);
  EXPECT_EQ(b[kZa], 4096u);  // (SVL/8)^2
  EXPECT_EQ(b[kZt0], 64u);
  EXPECT_EQ(b[kFpmr], 8u);
  EXPECT_EQ(b[kSveZ], 1024u);  // not streaming: the VL
  l.streaming = true;
  b = component_bytes(l);
  EXPECT_EQ(b[kSveZ], 2048u);  // streaming: the SVL
  EXPECT_EQ(b[kSveFfr], 0u);   // no FFR in streaming mode without FA64
  l.fa64 = true;
  EXPECT_EQ(component_bytes(l)[kSveFfr], 8u);
}

TEST_F(Sme, SmstartTrapsOnceAndZeroesWhatItEnables) {
  r.sw(0, M);
  r.use(0, kV);
  r.smstart(0, true, true);
  // do_sme_acc(): TIF_SME, EL0 SME on; then PSTATE.SM and ZA set.
  EXPECT_EQ(r.total(AStat::traps_sme_acc), 1u);
  EXPECT_TRUE(r.ctx(M).tif_sme);
  EXPECT_TRUE(r.cpu(0).smen_el0);
  EXPECT_TRUE(r.cpu(0).sm && r.cpu(0).za);
  // Entering streaming mode zeroes the vector registers, V included.
  EXPECT_FALSE(r.cpu(0).rf.regs.present & kMaskVec);
  EXPECT_FALSE(r.ctx(M).truth.present & kMaskVec);
  r.use(0, kSve | kZaZt0);
  r.smstop(0, false, true);  // no second trap
  EXPECT_EQ(r.total(AStat::traps_sme_acc), 1u);
  EXPECT_THROW(r.use(0, 0, bit(kZa)), SemanticError);  // ZA is off
}

TEST_F(Sme, SwitchSavesZaAndTheStreamingStateAtTheSvl) {
  r.sw(0, M);
  r.smstart(0, true, true);
  r.use(0, kSve | kZaZt0 | kMaskFpmr);
  r.sw(0, N);
  // sme_save_state(): ZA + ZT0; the SVE format at SVL 512 with FFR (FA64),
  // FPSR/FPCR and FPMR.
  EXPECT_EQ(r.ctx(M).image.tok[kZa].owner, M);
  EXPECT_TRUE(r.ctx(M).svcr_sm && r.ctx(M).svcr_za);
  EXPECT_EQ(r.total(Stat::bytes_saved), 4160u + 2048 + 128 + 8 + 8 + 8);
  r.use(0, kV);
  r.sw(0, M);
  r.use(0, 0, kSve | kZaZt0 | kMaskFpmr);
  EXPECT_EQ(r.checker->total_violations(), 0u);
}

TEST_F(Sme, SyscallLeavesStreamingModeAndKeepsZa) {
  r.sw(0, M);
  r.smstart(0, true, true);
  r.use(0, kSve | kZaZt0);
  r.syscall(0);
  EXPECT_FALSE(r.cpu(0).sm);
  EXPECT_TRUE(r.cpu(0).za);
  EXPECT_EQ(r.total(AStat::streaming_exits), 1u);
  r.ret(0);
  r.use(0, 0, kZaZt0 | kV);  // ZA kept; the vector registers are zero, as the truth says
  EXPECT_EQ(r.checker->total_violations(), 0u);
}

// vec_set_vector_length(ARM64_VEC_SME) before v6.16: V0-V31 and FPMR kept,
// ZA and ZT0 discarded with SVCR.ZA and TIF_SME, the new SVL's sizes.
TEST_F(Sme, SmeSetVlKeepsVAndDiscardsZa) {
  r.sw(0, M);
  r.use(0, kV | kMaskFpmr);
  r.smstart(0, false, true);
  r.use(0, kZaZt0);
  const Token v = r.ctx(M).truth.tok[kFpsimd];
  r.syscall(0);
  r.set_svl(0, 300);  // not a multiple of 128 here: the largest supported below it, 256
  EXPECT_EQ(r.ctx(M).svl, 256u);
  EXPECT_EQ(r.ctx(M).sizes->of(bit(kZa)), 32u * 32u);  // (SVL/8)^2
  EXPECT_FALSE(r.ctx(M).svcr_za || r.ctx(M).svcr_sm || r.ctx(M).tif_sme);
  EXPECT_FALSE(r.ctx(M).truth.present & kZaZt0);
  EXPECT_EQ(r.ctx(M).truth.tok[kFpsimd], v);
  EXPECT_EQ(r.total(AStat::vl_changes), 1u);
  r.set_svl(0, 256);  // unchanged: nothing
  EXPECT_EQ(r.total(AStat::vl_changes), 1u);
  r.ret(0);
  r.use(0, 0, kV | kMaskFpmr);  // kept
  EXPECT_THROW(r.use(0, 0, bit(kZa)), SemanticError);  // ZA is off
  r.smstart(0, false, true);  // TIF_SME was cleared: traps again
  EXPECT_EQ(r.total(AStat::traps_sme_acc), 2u);
  EXPECT_EQ(r.checker->total_violations(), 0u);
}

// za_set() / zt_set() with ZA off: both zeroed, the written one copied in,
// ZA on and TIF_SME; with ZA on, the other one kept.
TEST_F(Sme, PtraceWritesOfZaAndZt0) {
  r.sw(0, M);
  r.smstart(0, false, true);
  r.use(0, kZaZt0);
  const Token za = r.ctx(M).truth.tok[kZa];
  r.sw(0, N);
  r.state_write(0, M, bit(kZt0));  // ZA on: ZA kept
  EXPECT_EQ(r.ctx(M).truth.tok[kZa], za);
  EXPECT_EQ(r.ctx(M).truth.tok[kZt0].owner, M);
  r.sw(0, M);
  r.use(0, 0, kZaZt0);
  r.smstop(0, false, true);
  r.sw(0, N);
  r.state_write(0, M, bit(kZa) | kMaskFpmr);  // ZA off: ZT0 zeroed, ZA on
  EXPECT_TRUE(r.ctx(M).svcr_za && r.ctx(M).tif_sme);
  EXPECT_TRUE(r.ctx(M).truth.present & bit(kZa));
  EXPECT_FALSE(r.ctx(M).truth.present & bit(kZt0));
  r.sw(0, M);
  r.use(0, 0, kZaZt0 | kMaskFpmr);  // the new ZA and FPMR, a zero ZT0
  EXPECT_EQ(r.checker->total_violations(), 0u);
}

// A ZA write leaves the SVE state alone (it once zeroed the SVE-only bits
// of a task with TIF_SVE, as if it were NT_PRFPREG).
TEST_F(Sme, PtraceWriteOfZaKeepsTheSveState) {
  r.sw(0, M);
  r.use(0, kMaskVec);
  const Token z = r.ctx(M).truth.tok[kSveZ];
  r.sw(0, N);
  r.state_write(0, M, bit(kZa));
  EXPECT_EQ(r.ctx(M).truth.tok[kSveZ], z);
  EXPECT_EQ(r.ctx(M).image.tok[kSveZ], z);
  r.sw(0, M);
  r.use(0, 0, kMaskVec | kZaZt0);
  EXPECT_EQ(r.checker->total_violations(), 0u);
}

// NT_ARM_SVE data for a task whose saved state is in FPSIMD format (never
// used SVE): converted, then the data over it; its restore loads what was
// written (found by fpusim explore: the conversion once dropped the data).
TEST_F(Sme, PtraceSveWriteIntoAnFpsimdFormatTask) {
  r.sw(0, N);
  r.state_write(0, M, kMaskVec);
  EXPECT_EQ(r.ctx(M).fp_type, FpType::kSve);
  EXPECT_TRUE(r.ctx(M).tif_sve);
  EXPECT_EQ(r.ctx(M).image.tok[kSveP], r.ctx(M).truth.tok[kSveP]);
  r.sw(0, M);
  r.use(0, 0, kMaskVec);
  EXPECT_EQ(r.checker->total_violations(), 0u);
}

// sve_set_common(ARM64_VEC_SME), SVE format: streaming mode entered, the
// SVE storage zeroed, fp_type SVE, TIF_SME set (b7c510d04904: no trap at
// the next streaming use); NT_ARM_SVE with Z only: streaming mode left, P
// and FFR zero.
TEST_F(Sme, PtraceSsveWriteEntersStreamingModeAndSveWriteLeavesIt) {
  r.sw(0, M);
  r.use(0, kMaskVec);
  r.sw(0, N);
  r.ssve_write(0, M, kMaskFpsimd | bit(kSveZ));
  const Context& m = r.ctx(M);
  EXPECT_TRUE(m.svcr_sm);
  EXPECT_TRUE(m.tif_sme);
  EXPECT_EQ(m.fp_type, FpType::kSve);
  EXPECT_EQ(m.truth.tok[kSveZ].owner, M);
  EXPECT_FALSE(m.truth.present & (bit(kSveP) | bit(kSveFfr)));  // not in the data: zeroed
  EXPECT_EQ((*m.sizes)[kSveZ], 2048u);                             // at the SVL
  const std::uint64_t sme_traps = r.total(AStat::traps_sme_acc);
  r.sw(0, M);
  r.use(0, 0, kMaskVec);  // the written Z, zero P and FFR
  EXPECT_EQ(r.total(AStat::traps_sme_acc), sme_traps);
  r.use(0, kMaskVec);
  r.sw(0, N);
  r.state_write(0, M, kMaskFpsimd | bit(kSveZ));
  EXPECT_FALSE(m.svcr_sm);
  EXPECT_TRUE(m.tif_sve);
  EXPECT_FALSE(m.truth.present & (bit(kSveP) | bit(kSveFfr)));
  r.sw(0, M);
  r.use(0, 0, kMaskVec);
  EXPECT_EQ(r.checker->total_violations(), 0u);
}

// The FPSIMD format is refused since f916dd32a943 (v6.16, -EINVAL): nothing
// changes. With the bug (v5.19 .. v6.15): TIF_SVE cleared, fp_type FPSIMD,
// streaming mode; the restore writes V0-V31 over vector registers the SM
// change zeroed.
TEST_F(Sme, PtraceSsveWriteInTheFpsimdFormat) {
  r.sw(0, M);
  r.use(0, kMaskVec);
  r.sw(0, N);
  const Token v = r.ctx(M).truth.tok[kFpsimd];
  r.ssve_write(0, M, kMaskFpsimd);
  const Context& m = r.ctx(M);
  EXPECT_FALSE(m.svcr_sm);
  EXPECT_EQ(m.truth.tok[kFpsimd], v);
  r.agent->set_bugs(1u << static_cast<unsigned>(Bug::kSsveFpsimdPayload));
  r.ssve_write(0, M, kMaskFpsimd);
  EXPECT_TRUE(m.svcr_sm);
  EXPECT_FALSE(m.tif_sve);
  EXPECT_EQ(m.fp_type, FpType::kFpsimd);
  EXPECT_FALSE(m.truth.present & kMaskSve);
  r.sw(0, M);
  r.use(0, 0, kMaskVec);
  EXPECT_EQ(r.checker->total_violations(), 0u);
}

// The bug's harm (found by fpusim explore): the CPU is still in streaming
// mode from the task before, so the FPSIMD-format restore changes no
// PSTATE.SM and the task gets the other task's predicates and FFR.
TEST(Arm64SmeBug, f916dd32a943_SsveFpsimdPayloadLeaksPredicates) {
  for (bool bug : {false, true}) {
    Rig r{"arm-fvp-sme2", bug ? "sve-keep --bug f916dd32a943" : "sve-keep", 1};
    const ContextId A = r.add("A"), B = r.add("B");
    r.start();
    r.sw(0, A);
    r.smstart(0, true, true);
    r.use(0, kMaskVec);
    r.ssve_write(0, B, kMaskFpsimd);
    r.sw(0, B);
    r.use(0, 0, kMaskVec);
    EXPECT_EQ(r.violations(ViolationKind::kLeaked) > 0, bug);
  }
}

// A change of PSTATE.SM resets FPMR (ResetSVEState()): SMSTART SM and SMSTOP
// SM zero the task's FPMR as they zero its vector registers; a restore that
// changes PSTATE.SM writes FPMR after SVCR (e5fa85fce08b), so FPMR survives.
TEST_F(Sme, StreamingModeChangesResetFpmr) {
  r.sw(0, M);
  r.use(0, kMaskFpmr);
  r.smstart(0, true, false);
  EXPECT_FALSE(r.ctx(M).truth.present & kMaskFpmr);
  r.use(0, kMaskFpmr | kMaskVec);
  r.smstop(0, true, false);
  EXPECT_FALSE(r.ctx(M).truth.present & kMaskFpmr);
  r.use(0, kMaskFpmr);
  r.sw(0, N);
  r.smstart(0, true, false);  // N leaves the CPU in streaming mode
  r.sw(0, M);                 // M's restore leaves it: FPMR written after SVCR
  r.use(0, 0, kMaskFpmr);
  EXPECT_EQ(r.checker->total_violations(), 0u);
}

// Without FEAT_SME_FA64 streaming mode has no FFR: an NT_ARM_SSVE write's
// FFR bytes are not the task's state; NT_PRFPREG into a task in streaming
// mode zero-pads (sve_sync_from_fpsimd_zeropad()).
TEST(Arm64SmePtrace, SsveWithoutFa64AndFprIntoStreamingMode) {
  Rig r{"arm-fvp-sme2", "sve-keep", 1};
  r.machine.fa64 = false;
  const ContextId M = r.add("M"), N = r.add("N");
  r.start();
  r.sw(0, N);
  r.ssve_write(0, M, kMaskVec);
  EXPECT_TRUE(r.ctx(M).svcr_sm);
  EXPECT_FALSE(r.ctx(M).truth.present & bit(kSveFfr));
  EXPECT_EQ(r.ctx(M).truth.tok[kSveP].owner, M);
  r.state_write(0, M, kMaskFpsimd);  // NT_PRFPREG
  EXPECT_TRUE(r.ctx(M).svcr_sm);
  EXPECT_FALSE(r.ctx(M).truth.present & kMaskSve);
  r.sw(0, M);
  r.use(0, 0, kMaskFpsimd | bit(kSveZ) | bit(kSveP));
  EXPECT_EQ(r.checker->total_violations(), 0u);
}

TEST(Arm64SmeRefused, PtraceOfSmeStateNeedsTheFeature) {
  Rig r{"aws-graviton3", "sve-keep", 1};
  const ContextId M = r.add("M"), N = r.add("N");
  r.start();
  r.sw(0, N);
  EXPECT_THROW(r.state_write(0, M, bit(kZa)), SemanticError);
  EXPECT_THROW(r.state_write(0, M, kMaskFpmr), SemanticError);
  EXPECT_THROW(r.ssve_write(0, M, kMaskVec), SemanticError);
  r.syscall(0);
  EXPECT_THROW(r.set_svl(0, 256), SemanticError);
}

TEST_F(Sme, SignalHandlerRunsWithZaOffAndSigreturnGivesItBack) {
  r.sw(0, M);
  r.smstart(0, false, true);
  r.use(0, kZaZt0);
  r.signal(0);
  EXPECT_FALSE(r.cpu(0).za);
  EXPECT_THROW(r.use(0, 0, bit(kZa)), SemanticError);
  r.use(0, kV);
  r.sigreturn(0);
  EXPECT_TRUE(r.cpu(0).za);
  r.use(0, 0, kZaZt0);
  EXPECT_EQ(r.checker->total_violations(), 0u);
}

// A fork that does not copy ZA (the child's sme_state left empty) makes the
// child's ZA read find zeros where its parent's copy belongs.
class NoZaCopyOnFork : public SveDiscardPolicy {
 public:
  void fork(Agent& a, CpuId cpu, Context& parent, Context& child) override {
    SveDiscardPolicy::fork(a, cpu, parent, child);
    child.image.set_init(kMaskZa);
  }
};

std::uint64_t za_fork_lost(std::unique_ptr<Policy> p) {
  Rig r{"arm-fvp-sme2", std::move(p), 2};
  const ContextId P = r.add("P"), C = r.add("C");
  r.start();
  r.sw(0, P);
  r.smstart(0, false, true);
  r.use(0, kZaZt0);
  r.fork(0, C);
  r.sw(1, C);
  r.use(1, 0, kZaZt0);
  return r.lost();
}

TEST(Arm64SmeBroken, AForkThatDropsZaLosesTheChildsCopy) {
  EXPECT_EQ(za_fork_lost(find_policy("sve-discard")->make()), 0u);
  EXPECT_EQ(za_fork_lost(std::make_unique<NoZaCopyOnFork>()), 2u);  // ZA and ZT0
}

}  // namespace

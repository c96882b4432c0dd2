// The Linux v4.x policies (eager, lazy, lazy-preload) driven directly through
// the Agent. Rules: arch/x86/include/asm/fpu/internal.h switch_fpu_prepare()
// / switch_fpu_finish() and arch/x86/kernel/fpu/core.c of v4.2 .. v4.8
// (reference/linux-fpu-semantics.md §3).
#include "tests/unit/agent_fixture.h"

using namespace fpusim;
using namespace fpusim::test;
using x86::KernelFpuContext;

namespace {

constexpr const char* kSpr = "intel-sapphire-rapids";
constexpr const char* kZen3 = "amd-zen3";

struct Linux4Test : ::testing::Test {
  std::unique_ptr<Rig> r;
  ContextId A = 0, B = 0, K = 0;
  void make(const std::string& policy, const std::string& machine = kSpr,
            const std::string& costs = "intel-like") {
    r = make_rig(machine, policy, costs);
    A = r->add("A");
    B = r->add("B");
    K = r->add_kthread("K");
    r->start();
  }
};

// ================================================================ eager

TEST_F(Linux4Test, EagerRestoresAtEverySwitchIn) {
  make("eager");
  EXPECT_FALSE(r->cpu(0).trap.cr0_ts);  // fpu__init_cpu(): eager boots with TS clear
  for (int i = 0; i < 5; ++i) {
    r->sw(0, A);
    r->use(0, kSse | kYmm);
    r->sw(0, B);
    r->use(0, kSse);
  }
  // switch_fpu_prepare(): preload = fpstate_active && use_eager_fpu(); old's
  // registers are live -> save; switch_fpu_finish() restores next.
  EXPECT_EQ(r->total(Stat::restores), 10u);
  EXPECT_EQ(r->cause_restores(Cause::context_switch), 10u);
  EXPECT_EQ(r->total(Stat::saves), 9u);  // every switch-out but the first (idle)
  EXPECT_EQ(r->total(Stat::restores_skipped), 0u);
  // CR0.TS is never set in eager mode (__fpregs_deactivate_hw() is a no-op).
  EXPECT_EQ(r->total(XStat::cr0_ts_sets), 0u);
  EXPECT_EQ(r->total(Stat::traps), 0u);
  EXPECT_FALSE(r->cpu(0).trap.cr0_ts);
  EXPECT_CLEAN(*r);
}

TEST_F(Linux4Test, EagerLazyRestoreHitSkipsReload) {
  make("eager");
  r->sw(0, A);
  r->use(0, kSse);
  r->idle(0);
  EXPECT_EQ(r->cpu(0).owner_ctx, A);  // "But leave fpu_fpregs_owner_ctx!"
  EXPECT_FALSE(r->ctx(A).fpregs_active);
  r->sw(0, A);
  // old (idle) not active -> fpu_want_lazy_restore(): owner == A && last_cpu
  // == cpu -> preload = 0.
  EXPECT_EQ(r->of(A, Stat::restores), 1u);
  EXPECT_EQ(r->of(A, Stat::restores_skipped), 1u);
  EXPECT_TRUE(r->ctx(A).fpregs_active);
  r->read(0, kSse);
  // B in between takes the registers: no hit.
  r->idle(0);
  r->sw(0, B);
  r->idle(0);
  r->sw(0, A);
  EXPECT_EQ(r->of(A, Stat::restores), 2u);
  EXPECT_EQ(r->of(A, Stat::restores_skipped), 1u);
  r->read(0, kSse);
  EXPECT_EQ(r->total(XStat::cr0_ts_sets), 0u);
  EXPECT_CLEAN(*r);
}

TEST_F(Linux4Test, EagerMigrationForcesRestore) {
  make("eager");
  r->sw(0, A);
  r->use(0, kSse);
  r->idle(0);
  r->sw(1, A);
  r->use(1, kSse);
  r->idle(1);
  r->sw(0, A);  // owner(0) == A but last_cpu == 1
  EXPECT_EQ(r->of(A, Stat::restores), 3u);
  EXPECT_EQ(r->of(A, Stat::restores_skipped), 0u);
  r->read(0, kSse);
  EXPECT_CLEAN(*r);
}

TEST_F(Linux4Test, EagerKernelFpuWithLiveRegsSavesAndRestores) {
  make("eager");
  r->sw(0, A);
  r->use(0, kSse | kYmm);
  r->syscall(0);
  r->kfpu(0, KernelFpuContext::kTask);
  // __kernel_fpu_begin(): fpregs_active -> copy_fpregs_to_fpstate();
  // __kernel_fpu_end(): fpregs_active -> copy_kernel_to_fpregs().
  EXPECT_EQ(r->cause_saves(Cause::kernel_fpu), 1u);
  EXPECT_EQ(r->cause_restores(Cause::kernel_fpu), 1u);
  EXPECT_TRUE(r->ctx(A).fpregs_active);
  EXPECT_EQ(r->total(XStat::cr0_ts_sets), 0u);
  r->ret(0);
  r->read(0, kSse | kYmm);
  EXPECT_CLEAN(*r);
}

TEST_F(Linux4Test, EagerKernelThreadFpuInvalidatesOwner) {
  make("eager");
  r->sw(0, A);
  r->use(0, kSse);
  r->sw(0, K);  // A saved
  r->kfpu(0, KernelFpuContext::kTask);
  // __kernel_fpu_begin(), current not active: owner = NULL.
  EXPECT_EQ(r->cpu(0).owner_ctx, kNoContext);
  EXPECT_EQ(r->of(K, Stat::saves), 0u);
  r->sw(0, A);  // no lazy-restore hit: reload
  EXPECT_EQ(r->of(A, Stat::restores), 2u);
  r->read(0, kSse);
  EXPECT_CLEAN(*r);
}

TEST_F(Linux4Test, EagerSignalAndExec) {
  make("eager");
  r->sw(0, A);
  r->use(0, kSse | kYmm);
  r->signal(0);
  // fpu__clear(): eager -> copy_init_fpstate_to_fpregs().
  EXPECT_EQ(r->total(Stat::init_restores), 1u);
  r->read(0, kSse | kYmm);  // handler: init
  r->use(0, kSse);
  r->sigreturn(0);  // __fpu__restore_sig(): copy frame, fpu__restore()
  r->read(0, kSse | kYmm);
  EXPECT_CLEAN(*r);
  r->syscall(0);
  r->exec(0);
  EXPECT_EQ(r->total(Stat::init_restores), 2u);
  r->read(0, kSse | kYmm);
  EXPECT_CLEAN(*r);
}

// ================================================================ lazy

TEST_F(Linux4Test, LazyFirstUseTrapsAndSwitchOutSetsTs) {
  make("lazy");
  EXPECT_TRUE(r->cpu(0).trap.cr0_ts);  // lazy mode boots with CR0.TS set
  r->sw(0, A);
  EXPECT_EQ(r->of(A, Stat::restores), 0u);  // never preloaded
  r->use(0, kSse);
  // #NM -> do_device_not_available() -> fpu__restore(): fpregs_activate()
  // (CLTS, owner = A), restore, counter++.
  EXPECT_EQ(r->of(A, XStat::traps_nm_ts), 1u);
  EXPECT_EQ(r->cause_restores(Cause::nm_trap), 1u);
  EXPECT_EQ(r->total(XStat::cr0_ts_clears), 1u);
  EXPECT_FALSE(r->cpu(0).trap.cr0_ts);
  EXPECT_TRUE(r->ctx(A).fpregs_active);
  EXPECT_EQ(r->cpu(0).owner_ctx, A);
  EXPECT_EQ(r->ctx(A).counter, 1u);
  r->use(0, kSse);  // no second trap in the slice
  EXPECT_EQ(r->of(A, Stat::traps), 1u);
  r->sw(0, B);
  // switch_fpu_prepare(): A's registers live -> save, last_cpu = cpu, leave
  // the owner, no preload -> __fpregs_deactivate_hw() = stts().
  EXPECT_EQ(r->of(A, Stat::saves), 1u);
  EXPECT_EQ(r->ctx(A).last_cpu, 0u);
  EXPECT_FALSE(r->ctx(A).fpregs_active);
  EXPECT_EQ(r->cpu(0).owner_ctx, A);
  EXPECT_TRUE(r->cpu(0).trap.cr0_ts);
  EXPECT_EQ(r->total(XStat::cr0_ts_sets), 1u);
  r->read(0, kSse);  // B traps and gets its own (init) state
  EXPECT_EQ(r->of(B, XStat::traps_nm_ts), 1u);
  EXPECT_EQ(r->cpu(0).owner_ctx, B);
  EXPECT_NO_LOSS_OR_LEAK(*r);
}

TEST_F(Linux4Test, LazySliceWithoutUseSavesNothing) {
  make("lazy");
  r->sw(0, A);
  r->use(0, kSse);
  r->sw(0, B);  // B does not touch the FPU
  EXPECT_EQ(r->total(Stat::saves), 1u);
  r->sw(0, A);
  // old (B) not active: no save; counter = 0, last_cpu = -1.
  EXPECT_EQ(r->total(Stat::saves), 1u);
  EXPECT_EQ(r->ctx(B).counter, 0u);
  EXPECT_EQ(r->ctx(B).last_cpu, kNoCpu);
  // Lazy: TS still set from A's switch-out, and fpu__restore() reloads even
  // though the registers still hold A's state.
  EXPECT_TRUE(r->cpu(0).trap.cr0_ts);
  r->read(0, kSse);
  EXPECT_EQ(r->of(A, XStat::traps_nm_ts), 2u);
  EXPECT_EQ(r->of(A, Stat::restores), 2u);
  EXPECT_NO_LOSS_OR_LEAK(*r);
}

TEST_F(Linux4Test, LazyKernelFpuWithLiveRegs) {
  make("lazy");
  r->sw(0, A);
  r->use(0, kSse);
  r->syscall(0);
  r->kfpu(0, KernelFpuContext::kTask);
  EXPECT_EQ(r->cause_saves(Cause::kernel_fpu), 1u);
  EXPECT_EQ(r->cause_restores(Cause::kernel_fpu), 1u);
  EXPECT_FALSE(r->cpu(0).trap.cr0_ts);
  r->ret(0);
  r->read(0, kSse);
  EXPECT_EQ(r->of(A, Stat::traps), 1u);
  EXPECT_NO_LOSS_OR_LEAK(*r);
}

TEST_F(Linux4Test, LazyKernelFpuRefusedInInterruptOverLiveRegs) {
  make("lazy");
  r->sw(0, A);
  r->use(0, kSse);
  r->syscall(0);
  // irq_fpu_usable(): in interrupt, did not interrupt user mode, and
  // interrupted_kernel_fpu_idle() is false (current's registers are live).
  r->kfpu(0, KernelFpuContext::kSoftirq);
  EXPECT_EQ(r->total(Stat::kernel_fpu_fallbacks), 1u);
  EXPECT_EQ(r->total(Stat::kernel_fpu_sections), 0u);
  // Interrupting user mode is always allowed.
  r->ret(0);
  r->kfpu(0, KernelFpuContext::kSoftirq);
  EXPECT_EQ(r->total(Stat::kernel_fpu_sections), 1u);
  r->read(0, kSse);
  EXPECT_NO_LOSS_OR_LEAK(*r);
}

TEST_F(Linux4Test, LazySignalAndSigreturn) {
  make("lazy");
  r->sw(0, A);
  r->use(0, kSse | kYmm);  // #NM 1
  r->signal(0);
  // copy_fpstate_to_sigframe(): XSAVE of the active registers into the
  // frame; fpu__clear() -> fpu__drop(): fpregs_deactivate() sets CR0.TS.
  EXPECT_EQ(r->cause_saves(Cause::signal), 1u);
  EXPECT_TRUE(r->cpu(0).trap.cr0_ts);
  EXPECT_FALSE(r->ctx(A).fpregs_active);
  EXPECT_FALSE(r->ctx(A).fpstate_active);
  r->read(0, kSse);  // the handler traps (#NM 2) and finds init state
  EXPECT_EQ(r->of(A, XStat::traps_nm_ts), 2u);
  r->use(0, kSse);
  r->sigreturn(0);
  // 64-bit frame: user_fpu_begin() + XRSTOR from the frame: active, TS
  // clear, so the interrupted code's next use does not trap.
  EXPECT_TRUE(r->ctx(A).fpregs_active);
  EXPECT_FALSE(r->cpu(0).trap.cr0_ts);
  EXPECT_EQ(r->cause_restores(Cause::signal), 1u);
  r->read(0, kSse | kYmm);
  EXPECT_EQ(r->of(A, XStat::traps_nm_ts), 2u);
  // A handler that never touches the FPU: the sigreturn still reloads the
  // frame and re-activates.
  r->signal(0);
  r->sigreturn(0);
  r->read(0, kSse | kYmm);
  EXPECT_EQ(r->of(A, XStat::traps_nm_ts), 2u);
  EXPECT_CLEAN(*r);
}

// Runs A (writes SSE) then B on CPU 0 under `policy` and returns the rig
// after B's first use.
std::unique_ptr<Rig> lazy_exposure_run(const std::string& machine, const std::string& costs) {
  auto r = make_rig(machine, "lazy", costs);
  const ContextId a = r->add("A");
  const ContextId b = r->add("B");
  r->start();
  r->sw(0, a);
  r->use(0, kSse);
  r->sw(0, b);  // A's SSE stays in the registers under CR0.TS while B runs
  r->read(0, kSse);
  return r;
}

TEST(LazyExposure, CountedAndAViolationOnLazyFpVulnerableCpus) {
  auto r = lazy_exposure_run(kSpr, "intel-like");
  ASSERT_TRUE(r->machine.lazyfp_vulnerable);
  // The window runs from the end of the switch to B's first use: exactly
  // the workload gap between the two events.
  EXPECT_EQ(r->total(Stat::exposure_windows), 1u);
  EXPECT_EQ(r->total(Stat::exposure_cycles), r->gap);
  EXPECT_EQ(r->total(Stat::exposure_byte_cycles), r->gap * 256u);  // SSE: 256 bytes
  EXPECT_EQ(r->checker.peak_exposed_bytes(), 256u);
  EXPECT_EQ(r->exposed(), 1u);
  EXPECT_EQ(r->of(0, Stat::violations_exposed), 1u);  // attributed to A, whose data it was
  EXPECT_EQ(r->lost(), 0u);
  EXPECT_EQ(r->leaked(), 0u);
}

TEST(LazyExposure, CountedButNoViolationOnAmd) {
  auto r = lazy_exposure_run(kZen3, "amd-zen4");
  ASSERT_FALSE(r->machine.lazyfp_vulnerable);
  EXPECT_EQ(r->total(Stat::exposure_windows), 1u);
  EXPECT_EQ(r->total(Stat::exposure_cycles), r->gap);
  EXPECT_EQ(r->exposed(), 0u);
  EXPECT_EQ(r->checker.total_violations(), 0u) << r->violation_report();
}

TEST(LazyExposure, EagerHasNone) {
  auto r = make_rig(kSpr, "eager");
  const ContextId a = r->add("A");
  const ContextId b = r->add("B");
  r->start();
  r->sw(0, a);
  r->use(0, kSse);
  r->sw(0, b);
  r->read(0, kSse);
  EXPECT_EQ(r->total(Stat::exposure_windows), 0u);
  EXPECT_EQ(r->total(Stat::exposure_cycles), 0u);
  EXPECT_CLEAN(*r);
}

// __kernel_fpu_end() in lazy mode with current not active sets CR0.TS again
// and leaves the kernel's own SIMD data in the registers: the data LazyFP
// leaked (AES round keys). It is exposure of kernel data, not of a context.
TEST_F(Linux4Test, LazyKernelDataExposedAfterKernelFpu) {
  make("lazy");
  r->sw(0, A);  // A not active, TS set
  r->irq(0, true);
  EXPECT_EQ(r->total(Stat::kernel_fpu_sections), 1u);
  EXPECT_TRUE(r->cpu(0).trap.cr0_ts);
  EXPECT_EQ(r->total(Stat::exposure_windows), 1u);
  EXPECT_EQ(r->exposed(), 1u);
  r->read(0, kSse);  // #NM, restore: A sees its own (init) state
  EXPECT_EQ(r->lost(), 0u);
  EXPECT_EQ(r->leaked(), 0u);
}

// ================================================================ lazy-preload

TEST_F(Linux4Test, PreloadAfterSixConsecutiveSlices) {
  make("lazy-preload");
  std::uint64_t windows_after_6 = 0;
  for (int k = 1; k <= 8; ++k) {
    r->sw(0, A);
    const bool preloaded = r->ctx(A).fpregs_active;
    r->use(0, kSse);
    r->sw(0, B);
    r->use(0, kSse);
    // preload = fpstate_active && counter > 5: slices 1..6 trap (each #NM
    // increments the counter), slice 7 on preload at switch.
    if (k <= 6) {
      EXPECT_FALSE(preloaded) << "slice " << k;
      EXPECT_EQ(r->of(A, XStat::traps_nm_ts), static_cast<std::uint64_t>(k)) << "slice " << k;
    } else {
      EXPECT_TRUE(preloaded) << "slice " << k;
      EXPECT_EQ(r->of(A, XStat::traps_nm_ts), 6u) << "slice " << k;
    }
    EXPECT_EQ(r->ctx(A).counter, k) << "slice " << k;
    if (k == 6) windows_after_6 = r->total(Stat::exposure_windows);
  }
  // Once both tasks are preloaded CR0.TS stays clear: no more LazyFP windows.
  EXPECT_GT(windows_after_6, 0u);
  EXPECT_EQ(r->total(Stat::exposure_windows), windows_after_6);
  // Preloaded switches restore at switch time, with TS left clear.
  EXPECT_EQ(r->of(A, Stat::restores), 8u);
  EXPECT_FALSE(r->cpu(0).trap.cr0_ts);
  EXPECT_NO_LOSS_OR_LEAK(*r);
}

TEST_F(Linux4Test, SliceWithoutUseResetsCounter) {
  make("lazy-preload");
  for (int k = 0; k < 3; ++k) {
    r->sw(0, A);
    r->use(0, kSse);
    r->sw(0, B);
    r->use(0, kSse);
  }
  EXPECT_EQ(r->ctx(A).counter, 3u);
  r->sw(0, A);  // a slice without FPU use
  r->sw(0, B);
  // switch_fpu_prepare(), old not active: old->counter = 0.
  EXPECT_EQ(r->ctx(A).counter, 0u);
}

TEST_F(Linux4Test, CounterWrapsAt256BackToLazy) {
  make("lazy-preload");
  std::vector<int> trapped;
  for (int k = 1; k <= 265; ++k) {
    r->sw(0, A);
    if (k == 256) {
      EXPECT_EQ(r->ctx(A).counter, 0u) << "255 + 1 wraps in an unsigned char";
    }
    const auto before = r->of(A, XStat::traps_nm_ts);
    r->use(0, kSse);
    if (r->of(A, XStat::traps_nm_ts) != before) trapped.push_back(k);
    r->sw(0, B);
    r->use(0, kSse);
  }
  // Slices 1..6 trap; 7..256 are preloaded (the 256th increment wraps the
  // counter to 0); 257..262 trap again; 263.. preloaded.
  std::vector<int> expected = {1, 2, 3, 4, 5, 6, 257, 258, 259, 260, 261, 262};
  EXPECT_EQ(trapped, expected);
  EXPECT_NO_LOSS_OR_LEAK(*r);
}

}  // namespace

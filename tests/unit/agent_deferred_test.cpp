// The deferred policy (Linux >= 5.2, 5f409e20b794; switch_fpu() in its
// v6.16 form, 730faa15a069) driven directly through the Agent, on the
// Sapphire Rapids preset (XSAVES, AVX-512, AMX with XFD). Every expected value
// follows from the kernel rules in reference/linux-fpu-semantics.md §2; the
// rule is named next to each assertion.
#include "tests/unit/agent_fixture.h"

using namespace fpusim;
using namespace fpusim::test;
using x86::KernelFpuContext;

namespace {

constexpr const char* kSpr = "intel-sapphire-rapids";

struct DeferredTest : ::testing::Test {
  std::unique_ptr<Rig> r = make_rig(kSpr, "deferred");
  ContextId A = 0, B = 0, K = 0;
  void SetUp() override {
    A = r->add("A");
    B = r->add("B");
    K = r->add_kthread("K");
    r->start();
  }
};

// ---------------------------------------------------------------- switch

TEST_F(DeferredTest, FirstSwitchInRestoresAtReturnToUser) {
  // A context starts as after exec: TIF_NEED_FPU_LOAD set, last_cpu = -1.
  EXPECT_TRUE(r->ctx(A).need_fpu_load);
  EXPECT_EQ(r->ctx(A).last_cpu, kNoCpu);
  r->sw(0, A);
  // switch_fpu(): nothing saved for idle; the switch resumes A in user mode,
  // so exit_to_user_mode -> fpregs_restore_userregs(): !fpregs_state_valid ->
  // XRSTOR, fpregs_activate(), last_cpu = cpu, clear TIF_NEED_FPU_LOAD.
  EXPECT_EQ(r->total(Stat::saves), 0u);
  EXPECT_EQ(r->of(A, Stat::restores), 1u);
  EXPECT_EQ(r->cause_restores(Cause::return_to_user), 1u);
  EXPECT_FALSE(r->ctx(A).need_fpu_load);
  EXPECT_EQ(r->ctx(A).last_cpu, 0u);
  EXPECT_EQ(r->cpu(0).owner_ctx, A);
  EXPECT_FALSE(r->cpu(0).trap.cr0_ts);  // the deferred scheme never uses CR0.TS
}

TEST_F(DeferredTest, SwitchSavesPrevAndLeavesOwner) {
  r->sw(0, A);
  r->use(0, kSse | kYmm);
  r->idle(0);
  // switch_fpu(): prev had TIF_NEED_FPU_LOAD clear -> set it, XSAVES into
  // prev's fpstate, prev->last_cpu = cpu; fpu_fpregs_owner_ctx is NOT changed.
  EXPECT_EQ(r->of(A, Stat::saves), 1u);
  EXPECT_EQ(r->cause_saves(Cause::context_switch), 1u);
  EXPECT_TRUE(r->ctx(A).need_fpu_load);
  EXPECT_EQ(r->ctx(A).last_cpu, 0u);
  EXPECT_EQ(r->cpu(0).owner_ctx, A);
  // The save wrote the components A dirtied into its buffer.
  EXPECT_EQ(r->ctx(A).fpstate.image.present & (kSse | kYmm), kSse | kYmm);
}

TEST_F(DeferredTest, NoSaveWhenPrevAlreadyNeedsLoad) {
  r->sw(0, A);
  r->use(0, kSse);
  r->syscall(0);
  // kernel_fpu_begin_mask(): current's registers are live -> set
  // TIF_NEED_FPU_LOAD and save them.
  r->kfpu(0, KernelFpuContext::kTask);
  EXPECT_EQ(r->of(A, Stat::saves), 1u);
  EXPECT_EQ(r->cause_saves(Cause::kernel_fpu), 1u);
  EXPECT_TRUE(r->ctx(A).need_fpu_load);
  // switch_fpu(): prev has TIF_NEED_FPU_LOAD set -> no save at all.
  r->idle(0);
  EXPECT_EQ(r->of(A, Stat::saves), 1u);
  EXPECT_EQ(r->cause_saves(Cause::context_switch), 0u);
}

TEST_F(DeferredTest, NoRestoreAtSwitchOnlyAtReturnToUser) {
  r->sw(0, A);
  r->use(0, kSse);
  r->syscall(0);
  r->sw(0, B);  // A preempted in the kernel; B resumes in user mode
  r->use(0, kSse);
  const auto restores_before = r->of(A, Stat::restores);
  r->sw(0, A);  // A resumes in kernel mode: zero XRSTORs at switch time
  EXPECT_EQ(r->of(A, Stat::restores), restores_before);
  EXPECT_TRUE(r->ctx(A).need_fpu_load);
  EXPECT_EQ(r->cpu(0).owner_ctx, B);  // B's registers are still there
  r->ret(0);
  // arch_exit_to_user_mode_prepare() -> switch_fpu_return(): owner is B, so
  // !fpregs_state_valid(A) -> restore.
  EXPECT_EQ(r->of(A, Stat::restores), restores_before + 1);
  EXPECT_EQ(r->cpu(0).owner_ctx, A);
  r->read(0, kSse);
  EXPECT_CLEAN(*r);
}

TEST_F(DeferredTest, FpregsStateValidSkipsRestore) {
  r->sw(0, A);
  r->use(0, kSse);
  r->idle(0);
  // fpregs_restore_userregs(): owner == A && last_cpu == 0 -> no XRSTOR.
  r->sw(0, A);
  EXPECT_EQ(r->of(A, Stat::restores), 1u);
  EXPECT_EQ(r->of(A, Stat::restores_skipped), 1u);
  EXPECT_FALSE(r->ctx(A).need_fpu_load);
  r->read(0, kSse);
  // A kernel thread in between does not touch the registers: still valid.
  r->sw(0, K);
  r->sw(0, A);
  EXPECT_EQ(r->of(A, Stat::restores), 1u);
  EXPECT_EQ(r->of(A, Stat::restores_skipped), 2u);
  r->read(0, kSse);
  // Another user task in between takes the registers: restore.
  r->sw(0, B);
  r->sw(0, A);
  EXPECT_EQ(r->of(A, Stat::restores), 2u);
  EXPECT_EQ(r->of(A, Stat::restores_skipped), 2u);
  r->read(0, kSse);
  EXPECT_CLEAN(*r);
}

TEST_F(DeferredTest, MigrationAndBackForcesRestore) {
  r->sw(0, A);
  r->use(0, kSse);
  r->idle(0);
  // On CPU 1: owner_ctx(1) != A -> restore.
  r->sw(1, A);
  EXPECT_EQ(r->of(A, Stat::restores), 2u);
  EXPECT_EQ(r->ctx(A).last_cpu, 1u);
  r->use(1, kSse);  // a newer version, made on CPU 1
  r->idle(1);
  // Back on CPU 0: owner_ctx(0) is still A but last_cpu == 1, so the pair
  // check fails (the reason fpregs_state_valid() has both halves).
  EXPECT_EQ(r->cpu(0).owner_ctx, A);
  r->sw(0, A);
  EXPECT_EQ(r->of(A, Stat::restores), 3u);
  EXPECT_EQ(r->of(A, Stat::restores_skipped), 0u);
  r->read(0, kSse);  // must see the CPU-1 version
  EXPECT_CLEAN(*r);
}

// ---------------------------------------------------------------- kernel FPU

TEST_F(DeferredTest, KernelFpuSavesAndInvalidatesOwner) {
  r->sw(0, A);
  r->use(0, kSse | kYmm);
  r->syscall(0);
  r->kfpu(0, KernelFpuContext::kTask);
  // kernel_fpu_begin_mask(): save + __cpu_invalidate_fpregs_state();
  // kernel_fpu_end() restores nothing.
  EXPECT_EQ(r->of(A, Stat::saves), 1u);
  EXPECT_EQ(r->cpu(0).owner_ctx, kNoContext);
  EXPECT_EQ(r->of(A, Stat::restores), 1u);
  EXPECT_EQ(r->total(Stat::kernel_fpu_sections), 1u);
  r->ret(0);
  // owner_ctx == NULL -> !fpregs_state_valid -> XRSTOR at return to user.
  EXPECT_EQ(r->of(A, Stat::restores), 2u);
  EXPECT_EQ(r->of(A, Stat::restores_skipped), 0u);
  r->read(0, kSse | kYmm);
  EXPECT_CLEAN(*r);
}

TEST_F(DeferredTest, KernelFpuInvalidatesEvenWithoutSave) {
  r->sw(0, A);
  r->use(0, kSse);
  r->idle(0);  // A saved, owner still A
  r->kfpu(0, KernelFpuContext::kTask);  // on the idle task: nothing to save
  EXPECT_EQ(r->of(A, Stat::saves), 1u);
  // __cpu_invalidate_fpregs_state() is unconditional.
  EXPECT_EQ(r->cpu(0).owner_ctx, kNoContext);
  r->sw(0, A);
  EXPECT_EQ(r->of(A, Stat::restores), 2u);
  EXPECT_EQ(r->of(A, Stat::restores_skipped), 0u);
  r->read(0, kSse);
  EXPECT_CLEAN(*r);
}

TEST_F(DeferredTest, SoftirqKernelFpuFromUserRestoresOnTheWayBack) {
  r->sw(0, A);
  r->use(0, kSse | kYmm);
  // A softirq that interrupted user mode runs a kernel FPU section; the
  // interrupt returns to user space through irqentry_exit_to_user_mode() ->
  // exit_to_user_mode_prepare(), which reloads A's registers.
  r->kfpu(0, KernelFpuContext::kSoftirq);
  EXPECT_EQ(r->of(A, Stat::saves), 1u);
  EXPECT_EQ(r->of(A, Stat::restores), 2u);
  EXPECT_FALSE(r->ctx(A).need_fpu_load);
  EXPECT_EQ(r->cpu(0).owner_ctx, A);
  r->read(0, kSse | kYmm);  // not the kernel's data
  EXPECT_EQ(r->leaked(), 0u) << r->violation_report();
  EXPECT_CLEAN(*r);
}

TEST_F(DeferredTest, IrqWithKernelFpuRestoresOnce) {
  r->sw(0, A);
  r->use(0, kSse);
  r->irq(0, true);
  EXPECT_EQ(r->of(A, Stat::saves), 1u);
  EXPECT_EQ(r->of(A, Stat::restores), 2u);  // the first switch-in and the irq exit
  r->read(0, kSse);
  EXPECT_CLEAN(*r);
  // Without kernel FPU use the registers stay valid: nothing happens.
  r->irq(0, false);
  EXPECT_EQ(r->of(A, Stat::restores), 2u);
  EXPECT_EQ(r->of(A, Stat::saves), 1u);
}

TEST_F(DeferredTest, KernelThreadsNeverSave) {
  r->sw(0, A);
  r->use(0, kSse);
  r->sw(0, K);  // A saved
  EXPECT_EQ(r->of(A, Stat::saves), 1u);
  r->kfpu(0, KernelFpuContext::kTask);
  // fpu_clone() gave K TIF_NEED_FPU_LOAD, kernel threads never clear it:
  // neither kernel_fpu_begin() nor switch_fpu() saves for K.
  EXPECT_TRUE(r->ctx(K).need_fpu_load);
  r->sw(0, B);
  r->sw(0, K);
  r->idle(0);
  EXPECT_EQ(r->of(K, Stat::saves), 0u);
  EXPECT_EQ(r->of(K, Stat::restores), 0u);
  EXPECT_TRUE(r->ctx(K).need_fpu_load);
}

// ---------------------------------------------------------------- exec, fork, exit

TEST_F(DeferredTest, ExecResetsToInitAndDefaultBuffer) {
  r->sw(0, A);
  r->perm(0, kTileData);
  r->use(0, kSse | kYmm | kAmx);
  ASSERT_EQ(r->ctx(A).fpstate.size, r->machine.cfg.kernel.max_size);
  r->syscall(0);
  r->exec(0);
  // fpu_flush_thread(): fpstate_reset() (default buffer, default perms) +
  // fpu_reset_fpregs() (init image, last_cpu = -1, TIF_NEED_FPU_LOAD); the
  // exec returns to user, which XRSTORs the init image.
  const x86::Context& a = r->ctx(A);
  EXPECT_EQ(a.fpstate.size, r->machine.cfg.kernel.default_size);
  EXPECT_EQ(a.fpstate.xfeatures, r->machine.cfg.kernel.default_features);
  EXPECT_EQ(a.fpstate.xfd, kTileData);
  EXPECT_EQ(a.fpstate.image.present, 0u);
  EXPECT_EQ(a.last_cpu, 0u);  // set again by the restore on the way out
  EXPECT_FALSE(a.need_fpu_load);
  EXPECT_EQ(r->cpu(0).trap.xfd, kTileData);  // xfd_update_state() re-armed AMX
  r->read(0, kSse | kYmm);  // init, as the new program expects
  EXPECT_CLEAN(*r);
  // Permission was dropped: AMX now gets SIGILL.
  r->use(0, kAmx);
  EXPECT_EQ(r->of(A, XStat::sigill), 1u);
  EXPECT_EQ(r->of(A, XStat::fpstate_reallocs), 1u);  // only the one before exec
}

TEST_F(DeferredTest, ForkChildSeesParentsState) {
  auto rig = make_rig(kSpr, "deferred");
  const ContextId P = rig->add("P");
  const ContextId Ch = rig->add("Child");
  rig->start();
  rig->sw(0, P);
  rig->use(0, kSse | kYmm | kAvx512);
  rig->syscall(0);
  rig->fork(0, Ch);
  // fpu_clone(): last_cpu = -1, TIF_NEED_FPU_LOAD, default buffer; the
  // parent's live registers are XSAVEd into the child's buffer.
  const x86::Context& c = rig->ctx(Ch);
  EXPECT_TRUE(c.need_fpu_load);
  EXPECT_EQ(c.last_cpu, kNoCpu);
  EXPECT_EQ(c.fpstate.size, rig->machine.cfg.kernel.default_size);
  EXPECT_EQ(c.fpstate.image.present & (kSse | kYmm | kAvx512), kSse | kYmm | kAvx512);
  EXPECT_EQ(rig->of(Ch, Stat::forks), 1u);
  EXPECT_EQ(rig->stats.per_cause[static_cast<size_t>(Cause::fork)].saves, 1u);
  rig->sw(1, Ch);
  rig->read(1, kSse | kYmm | kAvx512);  // the child's first use: the copy
  EXPECT_CLEAN(*rig);
  rig->ret(0);
  rig->read(0, kSse | kYmm | kAvx512);  // the parent is unaffected
  EXPECT_CLEAN(*rig);
}

TEST_F(DeferredTest, ForkDoesNotInheritAmxState) {
  auto rig = make_rig(kSpr, "deferred");
  const ContextId P = rig->add("P");
  const ContextId Ch = rig->add("Child");  // a new process
  rig->start();
  rig->sw(0, P);
  rig->perm(0, kTileData);
  rig->use(0, kSse | kAmx);
  ASSERT_EQ(rig->of(P, XStat::fpstate_reallocs), 1u);
  rig->fork(0, Ch);
  // fpu_clone(): dynamic features are caller-saved: the child gets the
  // default buffer, XTILEDATA init and XFD-armed; the permission is
  // inherited by a new process (!CLONE_THREAD).
  const x86::Context& c = rig->ctx(Ch);
  EXPECT_EQ(c.fpstate.xfeatures & kTileData, 0u);
  EXPECT_EQ(c.fpstate.xfd, kTileData);
  EXPECT_EQ(c.fpstate.image.present & kTileData, 0u);
  EXPECT_EQ(c.fpstate.size, rig->machine.cfg.kernel.default_size);
  rig->sw(1, Ch);
  EXPECT_EQ(rig->cpu(1).trap.xfd, kTileData);
  rig->read(1, kSse | kTileData);  // XFD #NM, realloc (permission inherited), tiles init
  EXPECT_EQ(rig->of(Ch, XStat::traps_nm_xfd), 1u);
  EXPECT_EQ(rig->of(Ch, XStat::fpstate_reallocs), 1u);
  EXPECT_EQ(rig->of(Ch, XStat::sigill), 0u);
  EXPECT_CLEAN(*rig);
}

TEST_F(DeferredTest, ExitForgetsOwner) {
  r->sw(0, A);
  r->use(0, kSse);
  r->syscall(0);
  r->exit(0);
  // fpu__drop(): the CPU no longer names A.
  EXPECT_EQ(r->cpu(0).owner_ctx, kNoContext);
  EXPECT_TRUE(r->ctx(A).exited);
  r->sw(0, B);
  r->read(0, kSse);
  EXPECT_CLEAN(*r);
}

// ---------------------------------------------------------------- signals

TEST_F(DeferredTest, SignalHandlerSeesInitAndSigreturnRestores) {
  r->sw(0, A);
  r->use(0, kSse | kYmm | kAvx512);
  r->signal(0);
  // copy_fpstate_to_sigframe() XSAVEs to the frame, fpu__clear_user_states()
  // loads init and fpregs_mark_activate().
  EXPECT_EQ(r->ctx(A).sigframes.size(), 1u);
  EXPECT_EQ(r->total(Stat::signal_frames), 1u);
  EXPECT_FALSE(r->ctx(A).need_fpu_load);
  EXPECT_EQ(r->cpu(0).owner_ctx, A);
  r->read(0, kSse | kYmm);  // the handler sees init state
  EXPECT_CLEAN(*r);
  r->use(0, kSse | kYmm);  // the handler's own work
  r->sigreturn(0);
  EXPECT_TRUE(r->ctx(A).sigframes.empty());
  r->read(0, kSse | kYmm | kAvx512);  // the interrupted code's state is back
  EXPECT_CLEAN(*r);
}

TEST_F(DeferredTest, SignalRoundTripAcrossPreemption) {
  r->sw(0, A);
  r->use(0, kSse);
  r->signal(0);
  r->use(0, kSse);  // handler
  r->sw(0, B);      // handler preempted in user mode
  r->use(0, kSse);
  r->sw(0, A);
  r->read(0, kSse);  // the handler's version
  r->syscall(0);     // rt_sigreturn
  r->sw(0, B);       // preempted inside the syscall
  r->use(0, kSse);
  r->sw(0, A);
  r->sigreturn(0);
  r->read(0, kSse);
  EXPECT_CLEAN(*r);
}

// rt_sigreturn of an AMX task that was preempted in the kernel by a task
// without AMX: restore_fpregs_from_user() calls xfd_update_state() before
// XRSTOR from the frame ("Ensure that XFD is up to date"), so IA32_XFD holds
// the AMX task's value (0) again and its next tile use does not trap.
TEST_F(DeferredTest, SigreturnUpdatesXfd) {
  r->sw(0, A);
  r->perm(0, kTileData);
  r->use(0, kSse | kAmx);
  ASSERT_EQ(r->of(A, XStat::fpstate_reallocs), 1u);
  r->signal(0);
  r->syscall(0);  // rt_sigreturn
  r->sw(0, B);    // B has no AMX: its restore arms XFD[18]
  EXPECT_EQ(r->cpu(0).trap.xfd, kTileData);
  r->sw(0, A);    // back in the kernel, no restore yet
  const auto writes = r->total(XStat::xfd_writes);
  r->sigreturn(0);
  EXPECT_EQ(r->cpu(0).trap.xfd, 0u);
  EXPECT_EQ(r->cpu(0).xfd_cache, 0u);
  EXPECT_EQ(r->total(XStat::xfd_writes), writes + 1);
  r->read(0, kSse | kAmx);
  EXPECT_EQ(r->of(A, XStat::traps_nm_xfd), 1u);  // only the first use ever
  EXPECT_EQ(r->of(A, XStat::fpstate_reallocs), 1u);
  EXPECT_CLEAN(*r);
}

// The fast path also reloads supervisor state from the kernel buffer when
// TIF_NEED_FPU_LOAD is set (os_xrstor_supervisor() in
// restore_fpregs_from_user()): one extra XRSTORS; none when the registers
// were live.
TEST_F(DeferredTest, SigreturnReloadsSupervisorStateOnlyWhenNotLive) {
  ASSERT_NE(r->machine.xss, 0u);
  r->sw(0, A);
  r->use(0, kSse);
  r->signal(0);
  const auto before = r->of(A, Stat::restores);
  r->sigreturn(0);  // registers live: the frame XRSTOR only
  EXPECT_EQ(r->of(A, Stat::restores), before + 1);
  r->signal(0);
  r->syscall(0);
  r->sw(0, B);
  r->sw(0, A);
  const auto before2 = r->of(A, Stat::restores);
  r->sigreturn(0);  // TIF_NEED_FPU_LOAD: frame XRSTOR + XRSTORS of supervisor state
  EXPECT_EQ(r->of(A, Stat::restores), before2 + 2);
  EXPECT_FALSE(r->ctx(A).need_fpu_load);
  EXPECT_EQ(r->cpu(0).owner_ctx, A);
  EXPECT_EQ(r->ctx(A).last_cpu, 0u);
  r->read(0, kSse);
  EXPECT_CLEAN(*r);
}

// ---------------------------------------------------------------- AMX / XFD

TEST_F(DeferredTest, AmxWithoutPermissionGetsSigill) {
  r->sw(0, A);
  r->use(0, kAmx);
  // handle_xfd_event(): XFD_ERR[18] set; __xfd_enable_feature() finds no
  // permission -> -EPERM -> SIGILL; no reallocation.
  EXPECT_EQ(r->of(A, Stat::traps), 1u);
  EXPECT_EQ(r->of(A, XStat::traps_nm_xfd), 1u);
  EXPECT_EQ(r->of(A, XStat::sigill), 1u);
  EXPECT_EQ(r->of(A, XStat::fpstate_reallocs), 0u);
  EXPECT_EQ(r->ctx(A).fpstate.size, r->machine.cfg.kernel.default_size);
  EXPECT_EQ(r->ctx(A).fpstate.xfd, kTileData);
  EXPECT_EQ(r->cpu(0).trap.xfd, kTileData);
  EXPECT_EQ(r->cpu(0).trap.xfd_err, 0u);  // cleared by the handler
  // XTILECFG alone is a default feature: no trap.
  r->use(0, kTileCfg);
  EXPECT_EQ(r->of(A, Stat::traps), 1u);
}

TEST_F(DeferredTest, AmxFirstUseReallocatesOnce) {
  // SPR, XSAVES: fpu_kernel_cfg.default_size = 2560 (compacted, no
  // XTILEDATA), max_size = 10752 (Chang Bae's SPR dmesg, "context size is
  // 10752").
  ASSERT_EQ(r->machine.cfg.kernel.default_size, 2560u);
  ASSERT_EQ(r->machine.cfg.kernel.max_size, 10752u);
  r->sw(0, A);
  r->use(0, kSse);
  r->perm(0, kTileData);
  EXPECT_EQ(r->ctx(A).fpstate.size, 2560u);  // permission alone allocates nothing
  const auto writes = r->total(XStat::xfd_writes);
  r->use(0, kAmx);
  // #NM, XFD_ERR = XTILEDATA -> fpstate_realloc(): larger buffer,
  // xfeatures |= XTILEDATA, xfd &= ~XTILEDATA, xfd_update_state() -> WRMSR.
  EXPECT_EQ(r->of(A, XStat::traps_nm_xfd), 1u);
  EXPECT_EQ(r->of(A, XStat::sigill), 0u);
  EXPECT_EQ(r->of(A, XStat::fpstate_reallocs), 1u);
  EXPECT_EQ(r->of(A, XStat::fpstate_bytes_grown), 10752u - 2560u);
  const x86::Fpstate& f = r->ctx(A).fpstate;
  EXPECT_EQ(f.size, 10752u);
  EXPECT_EQ(f.user_size, 11008u);  // fpu_user_cfg.max_size (UABI)
  EXPECT_NE(f.xfeatures & kTileData, 0u);
  EXPECT_EQ(f.xfd, 0u);
  EXPECT_EQ(r->cpu(0).trap.xfd, 0u);
  EXPECT_EQ(r->cpu(0).xfd_cache, 0u);
  EXPECT_EQ(r->total(XStat::xfd_writes), writes + 1);
  // Second use: no trap.
  r->use(0, kAmx);
  EXPECT_EQ(r->of(A, Stat::traps), 1u);
  EXPECT_EQ(r->of(A, XStat::fpstate_reallocs), 1u);
  // The state from before the reallocation survives a switch out and back.
  r->sw(0, B);
  r->sw(0, A);
  r->read(0, kSse | kAmx);
  EXPECT_EQ(r->of(A, Stat::traps), 1u);
  EXPECT_CLEAN(*r);
}

TEST_F(DeferredTest, PermissionIsPerProcess) {
  auto rig = make_rig(kSpr, "deferred");
  const ContextId T1 = rig->add("T1", x86::ContextKind::kUser, "P");
  const ContextId T2 = rig->add("T2", x86::ContextKind::kUser, "P");
  const ContextId Q = rig->add("Q");
  rig->start();
  rig->sw(0, T1);
  rig->perm(0, kTileData);  // ARCH_REQ_XCOMP_PERM sets group_leader->perm
  rig->sw(1, T2);
  rig->use(1, kAmx);
  EXPECT_EQ(rig->of(T2, XStat::fpstate_reallocs), 1u);
  EXPECT_EQ(rig->of(T2, XStat::sigill), 0u);
  rig->sw(2, Q);
  rig->use(2, kAmx);
  EXPECT_EQ(rig->of(Q, XStat::sigill), 1u);
  EXPECT_EQ(rig->of(Q, XStat::fpstate_reallocs), 0u);
}

TEST_F(DeferredTest, XfdWrittenOnlyWhenValueChanges) {
  auto rig = make_rig(kSpr, "deferred");
  const ContextId X = rig->add("X");  // AMX
  const ContextId Y = rig->add("Y");  // no AMX
  const ContextId Z = rig->add("Z");  // no AMX
  rig->start();
  // fpu__init_cpu_xstate(): IA32_XFD = init_fpstate.xfd.
  EXPECT_EQ(rig->cpu(0).xfd_cache, kTileData);
  rig->sw(0, X);  // restore: xfd_update_state(XTILEDATA): cache equal
  EXPECT_EQ(rig->total(XStat::xfd_writes), 0u);
  EXPECT_EQ(rig->total(XStat::xfd_writes_avoided), 1u);
  rig->perm(0, kTileData);
  rig->use(0, kAmx);  // realloc: XFD := 0
  EXPECT_EQ(rig->total(XStat::xfd_writes), 1u);
  // Alternating X (xfd 0) and Y (xfd XTILEDATA): every restore writes.
  for (int i = 0; i < 3; ++i) {
    rig->sw(0, Y);
    rig->use(0, kSse);
    rig->sw(0, X);
    rig->use(0, kAmx);
  }
  EXPECT_EQ(rig->total(XStat::xfd_writes), 1u + 6u);
  EXPECT_EQ(rig->total(XStat::xfd_writes_avoided), 1u);
  // Alternating Y and Z (both XTILEDATA): only the first switch writes.
  rig->sw(0, Y);
  for (int i = 0; i < 3; ++i) {
    rig->sw(0, Z);
    rig->use(0, kSse);
    rig->sw(0, Y);
    rig->use(0, kSse);
  }
  EXPECT_EQ(rig->total(XStat::xfd_writes), 1u + 6u + 1u);
  EXPECT_EQ(rig->total(XStat::xfd_writes_avoided), 1u + 6u);
  EXPECT_CLEAN(*rig);
}

// Bytes the switch-out save of an AMX task writes, with or without a
// TILERELEASE before it.
std::uint64_t amx_switch_save_bytes(const x86::Machine& m, bool release) {
  auto rig = make_rig(m, make_policy("deferred"));
  const ContextId X = rig->add("X");
  rig->start();
  rig->sw(0, X);
  rig->perm(0, kTileData);
  rig->use(0, kSse | kAmx);
  if (release) rig->use(0, 0, 0, kAmx);
  const auto before = rig->of(X, Stat::bytes_saved);
  rig->idle(0);
  EXPECT_EQ(rig->of(X, Stat::saves), 1u);
  EXPECT_CLEAN(*rig);
  return rig->of(X, Stat::bytes_saved) - before;
}

TEST(DeferredAmx, TileReleaseLetsXsavesSkipTheTiles) {
  // XSAVES has the init optimisation: after TILERELEASE XINUSE[17,18] = 0,
  // so the 64 B of TILECFG and 8 KiB of TILEDATA are not written.
  const x86::Machine spr = load_machine_preset(kSpr);
  ASSERT_EQ(spr.save_insn, SaveInsn::kXsaves);
  const auto kept = amx_switch_save_bytes(spr, false);
  const auto released = amx_switch_save_bytes(spr, true);
  EXPECT_EQ(kept - released, 8192u + 64u);
}

TEST(DeferredAmx, PlainXsaveWritesReleasedTilesAnyway) {
  // XSAVE has no init optimisation: every requested component is written.
  // (A kernel using XSAVE cannot use supervisor state: IA32_XSS = 0.)
  const x86::Machine m = load_machine_preset(kSpr, [](Json& j) {
    j["xsave_instruction"] = "xsave";
    j["os"]["xss"] = "0x0";
  });
  ASSERT_EQ(m.save_insn, SaveInsn::kXsave);
  const auto kept = amx_switch_save_bytes(m, false);
  const auto released = amx_switch_save_bytes(m, true);
  EXPECT_EQ(kept, released);
  EXPECT_GE(released, 8192u + 64u);
}

// ---------------------------------------------------------------- ptrace

TEST_F(DeferredTest, StateWriteInvalidatesCachedRegisters) {
  r->sw(0, A);
  r->use(0, kSse);
  r->idle(0);  // A stopped; its registers are still in CPU 0
  r->state_write(1, A, kYmm);
  // __fpu_invalidate_fpregs_state(): last_cpu = -1, so the lazy restore
  // path cannot reuse the stale registers.
  EXPECT_EQ(r->ctx(A).last_cpu, kNoCpu);
  r->sw(0, A);
  EXPECT_EQ(r->of(A, Stat::restores), 2u);
  EXPECT_EQ(r->of(A, Stat::restores_skipped), 0u);
  r->read(0, kSse | kYmm);  // sees the tracer's YMM
  EXPECT_CLEAN(*r);
}

TEST_F(DeferredTest, StateReadOfCurrentSavesLiveRegisters) {
  r->sw(0, A);
  r->use(0, kSse);
  r->syscall(0);
  r->state_read(0, A);
  // fpu_sync_fpstate(): !TIF_NEED_FPU_LOAD -> save; the registers stay live.
  EXPECT_EQ(r->of(A, Stat::saves), 1u);
  EXPECT_EQ(r->cause_saves(Cause::state_access), 1u);
  EXPECT_FALSE(r->ctx(A).need_fpu_load);
  r->state_read(1, B);  // a stopped task: already in memory
  EXPECT_EQ(r->total(Stat::saves), 1u);
}

TEST_F(DeferredTest, NeverExposesState) {
  // The deferred scheme leaves foreign registers only while the kernel runs:
  // no exposure window on a LazyFP-vulnerable machine.
  ASSERT_TRUE(r->machine.lazyfp_vulnerable);
  for (int i = 0; i < 5; ++i) {
    r->sw(0, A);
    r->use(0, kSse | kYmm);
    r->sw(0, B);
    r->use(0, kSse);
  }
  EXPECT_EQ(r->total(Stat::exposure_windows), 0u);
  EXPECT_EQ(r->total(Stat::exposure_cycles), 0u);
  EXPECT_CLEAN(*r);
}

TEST_F(DeferredTest, SemanticErrors) {
  EXPECT_THROW(r->use(0, kSse), x86::SemanticError);  // CPU 0 is idle
  r->sw(0, A);
  EXPECT_THROW(r->sw(1, A), x86::SemanticError);  // still running on CPU 0
  r->syscall(0);
  EXPECT_THROW(r->use(0, kSse), x86::SemanticError);  // in kernel mode
  EXPECT_THROW(r->sigreturn(0), x86::SemanticError);  // no frame
}

}  // namespace

namespace {

constexpr ComponentMask kPkru = bit(x86::kPKRU);

TEST_F(DeferredTest, SignalHandlerRunsWithDefaultPkruAndSigreturnRestoresIt) {
  r->sw(0, A);
  r->use(0, kSse | kPkru);  // WRPKRU: a non-default protection key setup
  const std::uint64_t writes = r->total(XStat::pkru_writes);
  r->signal(0);
  // fpu__clear_user_states() -> restore_fpregs_from_init_fpstate() ->
  // pkru_write_default(): the handler starts with the default PKRU.
  EXPECT_EQ(r->total(XStat::pkru_writes), writes + 1);
  EXPECT_EQ(r->cpu(0).rf.regs.present & kPkru, 0u);
  r->read(0, kPkru);  // the handler reads the default value
  r->sigreturn(0);
  // The frame's XRSTOR brings the task's PKRU back.
  r->read(0, kSse | kPkru);
  EXPECT_CLEAN(*r);
}

TEST_F(DeferredTest, ExecLoadsTheDefaultPkru) {
  r->sw(0, A);
  r->use(0, kPkru);
  r->syscall(0);
  r->exec(0);  // pkru_flush_thread()
  EXPECT_EQ(r->cpu(0).rf.regs.present & kPkru, 0u);
  r->read(0, kPkru);
  EXPECT_CLEAN(*r);
}

// ------------------------------------------------ faults on the signal frame
// (issue 13's bugs, each test named after the commit that fixed it).

// copy_fpstate_to_sigframe(): the XSAVE into the frame faults, A is
// preempted while faulting the page in and B takes the registers; the
// retry checks fpregs_state_valid() anew and reloads A first.
struct SigframeRetry {
  explicit SigframeRetry(const char* policy) : r(make_rig(kSpr, policy)) {
    A = r->add("A");
    B = r->add("B");
    r->start();
    r->sw(0, A);
    r->use(0, kSse | kYmm);
    r->signal(0, kFaultRetry);
    r->sw(0, B);
    r->use(0, kSse | kYmm);
    r->sw(0, A);
  }
  std::unique_ptr<Rig> r;
  ContextId A = 0, B = 0;
};

TEST(Bug59c4bd853abc, TheRetryReloadsWhenAnotherTaskTookTheRegisters) {
  SigframeRetry s("deferred");
  EXPECT_FALSE(s.r->ctx(s.A).in_user);  // still in the kernel, retrying
  s.r->signal(0);
  EXPECT_CLEAN(*s.r);
  EXPECT_EQ(s.r->total(Stat::signal_frames), 1u);  // one frame, two attempts
  ASSERT_EQ(s.r->ctx(s.A).sigframes.size(), 1u);
  EXPECT_EQ(s.r->ctx(s.A).sigframes[0].tok[x86::kSSE].owner, s.A);
}

TEST(Bug59c4bd853abc, TheCachedOwnerSavesTheOtherTasksRegistersIntoTheFrame) {
  SigframeRetry s("deferred --bug 59c4bd853abc");
  s.r->signal(0);
  EXPECT_EQ(s.r->leaked(), 2u);  // SSE and YMM of B in A's frame
  EXPECT_EQ(s.r->ctx(s.A).sigframes[0].tok[x86::kSSE].owner, s.B);
  EXPECT_EQ(s.r->total(Stat::restores_skipped), 1u);
}

// The loop reuses the stale owner at every pass: a retry that faults again
// skips the reload too, and so does the pass after it.
TEST(Bug59c4bd853abc, EveryPassOfTheLoopUsesTheCachedOwner) {
  for (const char* policy : {"deferred", "deferred --bug 59c4bd853abc"}) {
    SigframeRetry s(policy);
    s.r->signal(0, kFaultRetry);  // the retry faults again
    s.r->sw(0, s.B);
    s.r->use(0, kSse | kYmm);
    s.r->sw(0, s.A);
    s.r->signal(0);
    const bool bug = std::string(policy).find("--bug") != std::string::npos;
    EXPECT_EQ(s.r->leaked(), bug ? 2u : 0u) << policy;
    // Under the bug A's two retries skip their reload, and B, still the
    // CPU's owner since nobody loaded A, rightly skips its own.
    EXPECT_EQ(s.r->total(Stat::restores_skipped), bug ? 3u : 0u) << policy;
  }
}

// A pending retry keeps the task in the kernel: it cannot return to user,
// sigreturn, fork or exec before the retry.
TEST(Bug59c4bd853abc, APendingRetryRefusesOtherExits) {
  SigframeRetry s("deferred");
  EXPECT_THROW(s.r->ret(0), SemanticError);
  EXPECT_THROW(s.r->sigreturn(0), SemanticError);
  EXPECT_THROW(s.r->exec(0), SemanticError);
}

// restore_fpregs_from_user(): the XRSTOR from the frame faults after loading
// part of it; registers that were B's (A had TIF_NEED_FPU_LOAD) must not
// stay B's as far as the CPU's owner says.
void sigreturn_fault(Rig& r, ContextId A, ContextId B) {
  r.sw(0, A);
  r.use(0, kSse);
  r.signal(0);
  r.use(0, kSse);
  r.syscall(0);
  r.sw(0, B);
  r.use(0, kSse | kYmm);
  r.syscall(0);
  r.sw(0, A);
  r.sigreturn(0, kFaultRetry);
  r.sw(0, B);
  r.ret(0);
  r.read(0, kSse | kYmm);
}

TEST(Bugbbc55341b9c6, AFaultingSigreturnInvalidatesRegistersThatWereNotItsOwn) {
  auto r = make_rig(kSpr, "deferred");
  const ContextId A = r->add("A"), B = r->add("B");
  r->start();
  sigreturn_fault(*r, A, B);
  EXPECT_CLEAN(*r);
  r->syscall(0);
  r->sw(0, A);
  r->sigreturn(0);  // the retry completes
  r->read(0, kSse);
  EXPECT_CLEAN(*r);
}

TEST(Bugbbc55341b9c6, WithoutTheInvalidationTheOtherTaskRunsWithTheFramesData) {
  auto r = make_rig(kSpr, "deferred --bug bbc55341b9c6");
  const ContextId A = r->add("A"), B = r->add("B");
  r->start();
  sigreturn_fault(*r, A, B);
  EXPECT_EQ(r->total(Stat::violations_foreign_regs), 1u);
  EXPECT_EQ(r->leaked(), 1u);  // SSE: A's
  EXPECT_EQ(r->lost(), 1u);    // YMM: initialised by the partial XRSTOR
}

// A failed sigreturn leaves the task's state init, whatever the path.
TEST(Bugefa165504943, AFailedSigreturnResetsTheState) {
  for (const char* policy : {"deferred", "eager"}) {
    auto r = make_rig(kSpr, policy);
    const ContextId A = r->add("A");
    r->start();
    r->sw(0, A);
    r->use(0, kSse | kYmm);
    r->signal(0);
    r->use(0, kSse);
    r->sigreturn(0, kFaultFatal);
    EXPECT_TRUE(r->ctx(A).sigframes.empty()) << policy;
    r->signal(0);  // SIGSEGV
    EXPECT_CLEAN(*r);
    EXPECT_EQ(r->ctx(A).sigframes[0].present & (kSse | kYmm), 0u) << policy;
  }
  auto r = make_rig(kSpr, "deferred --bug efa165504943");
  const ContextId A = r->add("A");
  r->start();
  r->sw(0, A);
  r->use(0, kSse);
  r->signal(0);
  r->use(0, kSse);
  r->sigreturn(0, kFaultFatal);
  r->signal(0);
  EXPECT_EQ(r->lost(), 1u);  // the SIGSEGV frame carries the handler's SSE
}

// exec preempted before its return to user, moved to another CPU and back.
void exec_moved(Rig& r, ContextId T, ContextId K) {
  r.sw(0, T);
  r.use(0, kSse | kYmm);
  r.syscall(0);
  r.sw(0, K);
  r.sw(1, T);
  r.exec(1, /*to_user=*/false);
  EXPECT_FALSE(r.ctx(T).in_user);
  r.idle(1);
  r.sw(0, T);
  r.ret(0);
  r.read(0, kSse | kYmm);
}

TEST(Bug1f69383b203e, ExecInvalidatesTheTasksLastCpu) {
  auto r = make_rig(kSpr, "deferred");
  const ContextId T = r->add("T"), K = r->add_kthread("K");
  r->start();
  exec_moved(*r, T, K);
  EXPECT_CLEAN(*r);
}

TEST(Bug1f69383b203e, ExecClearingThisCpusOwnerLeavesTheOldImageLive) {
  auto r = make_rig(kSpr, "deferred --bug 1f69383b203e");
  const ContextId T = r->add("T"), K = r->add_kthread("K");
  r->start();
  exec_moved(*r, T, K);
  EXPECT_EQ(r->lost(), 2u);  // the new program reads the old one's SSE and YMM
  EXPECT_EQ(r->total(Stat::restores_skipped), 1u);
}

// 814fb7bb7db5: a header with reserved bits, taken from a tracer on a
// kernel with standard-format buffers, makes every later switch-in's XRSTOR
// take #GP (XSAVE writes XSTATE_BV only, never XCOMP_BV), until something
// writes the header anew. Fixed, the write is refused.
TEST(Bug814fb7bb7db5, ABogusHeaderSurvivesSavesUntilTheBufferIsReset) {
  auto noxsaves = [](Json& m) {
    m["xsave_instruction"] = "xsaveopt";
    m["os"]["xss"] = "0x0";
  };
  for (const char* policy : {"eager", "eager --bug 814fb7bb7db5"}) {
    auto r = make_rig(kSpr, policy, "intel-like", noxsaves);
    const ContextId A = r->add("A"), B = r->add("B"), T = r->add("T");
    r->start();
    r->sw(0, A);
    r->use(0, kSse);
    r->sw(0, B);
    r->use(0, kSse);
    r->sw(1, T);
    r->state_write(1, A, kSse, /*invalid_header=*/true);
    const bool bug = std::string(policy).find("--bug") != std::string::npos;
    EXPECT_EQ(r->ctx(A).fpstate.header_invalid, bug) << policy;
    r->sw(0, A);  // XRSTOR #GP: B's registers stay
    r->sw(0, B);  // A's XSAVE keeps the header
    r->sw(0, A);  // #GP again
    EXPECT_EQ(r->total(Stat::violations_kernel_trap), bug ? 2u : 0u) << policy;
    r->exec(0);   // a new buffer
    EXPECT_FALSE(r->ctx(A).fpstate.header_invalid) << policy;
  }
  // With XSAVES the kernel builds the header: the write is taken, valid.
  auto r = make_rig(kSpr, "eager --bug 814fb7bb7db5");
  const ContextId A = r->add("A"), T = r->add("T");
  r->start();
  r->sw(0, A);
  r->use(0, kSse);
  r->idle(0);
  r->sw(1, T);
  r->state_write(1, A, kSse, true);
  EXPECT_FALSE(r->ctx(A).fpstate.header_invalid);
  r->sw(0, A);
  r->read(0, kSse);
  EXPECT_CLEAN(*r);
}

}  // namespace

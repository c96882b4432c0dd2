// KVM on x86 driven directly through the Agent on the Sapphire Rapids preset:
// the guest FPU load/put around KVM_RUN (fpu_swap_kvm_fpstate), VM entry and
// exit, guest XFD / XFD_ERR virtualisation, XSETBV rules, the VMM's state
// access, confidential guests, the v4.x lazy guest FPU and the v5.2 bug the
// checker must catch. Rules as in reference/linux-fpu-semantics.md §2.8-§3.
#include "tests/unit/agent_fixture.h"

using namespace fpusim;
using namespace fpusim::test;
using x86::GuestMsr;
using x86::KernelFpuContext;

namespace {

constexpr const char* kSpr = "intel-sapphire-rapids";
constexpr ComponentMask kNoAmxGuest =
    bit(x86::kX87) | bit(x86::kSSE) | bit(x86::kYMM) | x86::kMaskAvx512 | bit(x86::kPKRU);

struct KvmRig {
  std::unique_ptr<Rig> r;
  ContextId vmm = 0, guest = 0, other = 0;
  std::uint32_t vm = 0, vcpu = 0;

  // One VMM process with one vCPU thread and one other process; the VM is
  // created before the trace unless `created` is false.
  explicit KvmRig(const std::string& policy, ComponentMask features = 0, bool created = true,
                  bool confidential = false, x86::AmxAlloc alloc = x86::AmxAlloc::kSetCpuid) {
    r = make_rig(kSpr, policy);
    vmm = r->add("qemu", x86::ContextKind::kUser, "qemu");
    guest = r->add("vcpu0", x86::ContextKind::kGuest, "qemu");
    other = r->add("other");
    x86::Vm v;
    v.name = "vm0";
    v.process = r->ctx(vmm).process;
    v.confidential = confidential;
    v.amx_alloc = alloc;
    v.supported_xcr0 = features ? features : r->machine.user_features();
    v.xfd = (v.supported_xcr0 & r->machine.dynamic) != 0;
    vm = r->agent.add_vm(v);
    vcpu = r->agent.add_vcpu(vm, vmm, guest);
    r->start();
    if (created) r->agent.create_vm_at_start(vm);
  }
  const x86::Vcpu& v() const { return r->agent.vcpu(vcpu); }
  // The VMM thread switched in on `cpu`, inside KVM_RUN, its guest running.
  void start_guest(CpuId cpu = 0) {
    r->sw(cpu, vmm);
    r->kvm_run(cpu, vcpu);
    r->entry(cpu);
  }
  // An IO exit to user space: KVM_RUN returns.
  void io_return(CpuId cpu = 0) {
    r->exit_(cpu, x86::VmExitReason::io);
    r->kvm_return(cpu);
  }
};

// ---------------------------------------------------------------- swaps

TEST(Kvm, KvmRunSwapsInTheGuestFpstateAndThePutSwapsBack) {
  KvmRig k("kvm-eager");
  Rig& r = *k.r;
  r.sw(0, k.vmm);
  r.use(0, kSse | kYmm);
  // fpu_swap_kvm_fpstate(gfpu, true): save the VMM (!TIF_NEED_FPU_LOAD),
  // fpu->fpstate = guest fpstate, restore it, fpregs_mark_activate().
  r.kvm_run(0, k.vcpu);
  EXPECT_TRUE(r.ctx(k.vmm).fpstate_swapped);
  EXPECT_EQ(r.of(k.vmm, Stat::saves), 1u);
  EXPECT_EQ(r.of(k.guest, Stat::restores), 1u);
  EXPECT_EQ(r.of(k.guest, XStat::kvm_fpu_loads), 1u);
  EXPECT_EQ(r.cpu(0).owner_ctx, k.vmm);  // the owner is the thread's struct fpu
  EXPECT_FALSE(r.ctx(k.vmm).need_fpu_load);
  // The guest fpstate is the guest's XFD (0), the VMM's arms XTILEDATA.
  EXPECT_EQ(r.cpu(0).trap.xfd, 0u);
  r.entry(0);
  r.use(0, kSse | kAvx512);
  r.exit_(0, x86::VmExitReason::io);
  // fpu_swap_kvm_fpstate(gfpu, false): save the guest, restore the VMM.
  r.kvm_return(0);
  EXPECT_FALSE(r.ctx(k.vmm).fpstate_swapped);
  EXPECT_EQ(r.of(k.guest, Stat::saves), 1u);
  EXPECT_EQ(r.ctx(k.guest).fpstate.image.present & (kSse | kAvx512), kSse | kAvx512);
  EXPECT_EQ(r.cpu(0).trap.xfd, kTileData);
  r.read(0, kSse | kYmm);  // the VMM finds its own registers
  EXPECT_CLEAN(r);
}

TEST(Kvm, InKernelExitsDoNotTouchTheGuestFpu) {
  KvmRig k("kvm-eager", kNoAmxGuest);
  Rig& r = *k.r;
  r.sw(0, k.vmm);
  r.kvm_run(0, k.vcpu);
  const auto saves = r.total(Stat::saves), restores = r.total(Stat::restores);
  for (int i = 0; i < 5; ++i) {
    r.entry(0);
    r.exit_(0, x86::VmExitReason::external_interrupt);
  }
  EXPECT_EQ(r.total(Stat::saves), saves);
  EXPECT_EQ(r.total(Stat::restores), restores);
  EXPECT_EQ(r.total(XStat::vm_exits), 5u);
  EXPECT_EQ(r.total(XStat::fpu_vm_exits), 0u);
  // XCR0 differs (no AMX in the guest): XSETBV at every entry and exit.
  EXPECT_EQ(r.cpu(0).trap.xcr0, r.machine.xcr0);
}

TEST(Kvm, SoftirqDuringARunSavesTheGuestStateIntoTheGuestBuffer) {
  KvmRig k("kvm-eager");
  Rig& r = *k.r;
  k.start_guest();
  r.use(0, kSse | kYmm);
  // An interrupt exits the guest; kernel_fpu_begin() saves current's fpstate,
  // which is the guest's; the next VM entry restores it (switch_fpu_return).
  r.irq(0, true);
  EXPECT_EQ(r.of(k.guest, Stat::saves), 1u);
  EXPECT_EQ(r.cause_saves(Cause::kernel_fpu), 1u);
  EXPECT_EQ(r.cause_restores(Cause::vm_entry), 1u);
  EXPECT_TRUE(r.agent.guest_running(0) != nullptr);
  r.read(0, kSse | kYmm);
  EXPECT_CLEAN(r);
}

TEST(Kvm, PreemptedVcpuThreadMigratesWithItsGuestState) {
  KvmRig k("kvm-eager");
  Rig& r = *k.r;
  k.start_guest();
  r.use(0, kAvx512);
  r.exit_(0);
  r.idle(0);  // switch_fpu() saves the guest registers into the guest fpstate
  EXPECT_EQ(r.of(k.guest, Stat::saves), 1u);
  r.sw(1, k.vmm);
  r.entry(1);  // the guest fpstate is restored on CPU 1
  EXPECT_EQ(r.of(k.guest, Stat::restores), 2u);
  r.read(1, kAvx512);
  EXPECT_CLEAN(r);
}

TEST(Kvm, SwitchingAwayFromARunningGuestIsAnError) {
  KvmRig k("kvm-eager");
  Rig& r = *k.r;
  k.start_guest();
  EXPECT_THROW(r.idle(0), x86::SemanticError);
}

// ---------------------------------------------------------------- XFD

TEST(Kvm, XfdWritesExitUntilTheFirstNonZeroOne) {
  KvmRig k("kvm-eager");
  Rig& r = *k.r;
  k.start_guest();
  r.wrmsr(0, GuestMsr::kXfd, 0);
  EXPECT_EQ(r.total(XStat::fpu_vm_exits), 1u);
  EXPECT_FALSE(k.v().xfd_no_write_intercept);
  r.wrmsr(0, GuestMsr::kXfd, kTileData);  // vmx_set_msr(): passthrough from here on
  EXPECT_EQ(r.total(XStat::fpu_vm_exits), 2u);
  EXPECT_TRUE(k.v().xfd_no_write_intercept);
  EXPECT_EQ(r.cpu(0).trap.xfd, kTileData);
  r.wrmsr(0, GuestMsr::kXfd, 0);  // no exit; the hardware MSR changes
  r.rdmsr(0, GuestMsr::kXfd);     // no exit either (MSR_TYPE_RW)
  EXPECT_EQ(r.total(XStat::fpu_vm_exits), 2u);
  EXPECT_EQ(r.cpu(0).trap.xfd, 0u);
  EXPECT_EQ(r.ctx(k.guest).fpstate.xfd, kTileData);  // stale until the exit
  r.exit_(0);
  // fpu_sync_guest_vmexit_xfd_state(): fpstate->xfd and the per-CPU cache.
  EXPECT_EQ(r.ctx(k.guest).fpstate.xfd, 0u);
  EXPECT_EQ(r.cpu(0).xfd_cache, 0u);
  EXPECT_EQ(r.total(XStat::xfd_syncs), 1u);
  EXPECT_CLEAN(r);
}

TEST(Kvm, InterceptedNmSnapshotsXfdErrForTheGuest) {
  KvmRig k("kvm-eager");
  Rig& r = *k.r;
  k.start_guest();
  r.wrmsr(0, GuestMsr::kXfd, kTileData);
  r.use(0, kTileData);  // #NM: intercepted, XFD_ERR read with IRQs off, re-injected
  EXPECT_EQ(r.total(XStat::guest_nm_injected), 1u);
  EXPECT_EQ(k.v().xfd_err, kTileData);
  EXPECT_EQ(r.ctx(k.guest).truth.present & kTileData, 0u);  // the TILELOADD did not execute
  // The host clobbers the CPU's XFD_ERR between the #NM and the guest's read
  // (the thread is preempted; a host AMX user takes its own #NM).
  r.exit_(0);
  r.idle(0);
  r.cpu(0).trap.xfd_err = 0;
  r.sw(1, k.vmm);
  r.entry(1);
  EXPECT_EQ(r.cpu(1).trap.xfd_err, kTileData);  // written back before VM entry
  r.rdmsr(1, GuestMsr::kXfdErr);
  r.wrmsr(1, GuestMsr::kXfdErr, 0);
  r.wrmsr(1, GuestMsr::kXfd, 0);
  r.use(1, kTileData);
  EXPECT_EQ(r.total(XStat::guest_nm_injected), 1u);
  EXPECT_CLEAN(r);
}

TEST(Kvm, SetXsaveDropsComponentsTheGuestDisabled) {
  // b45f72177594: KVM_SET_XSAVE with XSTATE_BV[18] while the guest's
  // XFD[18] = 1 clears the bit, so the next XRSTOR takes no #NM in the kernel.
  KvmRig k("kvm-eager");
  Rig& r = *k.r;
  k.start_guest();
  r.use(0, kAmx);
  k.io_return();
  r.save_state(0, k.vcpu, 4);
  r.kvm_run(0, k.vcpu);
  r.entry(0);
  r.wrmsr(0, GuestMsr::kXfd, kTileData);
  k.io_return();
  r.set_xsave(0, k.vcpu, 4);
  EXPECT_EQ(r.ctx(k.guest).fpstate.image.present & kTileData, 0u);
  r.kvm_run(0, k.vcpu);
  EXPECT_EQ(r.total(XStat::kernel_xrstor_nm), 0u);
  r.entry(0);
  r.wrmsr(0, GuestMsr::kXfd, 0);
  r.use(0, kTileData);  // the guest may not rely on disabled tile data
  EXPECT_CLEAN(r);
}

TEST(Kvm, VmCreateNeedsGuestPermissionForAmx) {
  KvmRig k("kvm-eager", 0, false);
  Rig& r = *k.r;
  r.sw(0, k.vmm);
  EXPECT_THROW(r.vm_create(0, k.vm), x86::SemanticError);
  r.guest_perm(0, kTileData);
  r.vm_create(0, k.vm);
  // KVM_SET_CPUID2 grew the guest fpstate by the tile data.
  EXPECT_EQ(r.of(k.guest, XStat::fpstate_bytes_grown), 8192u);
  EXPECT_TRUE(r.ctx(k.guest).fpstate.xfeatures & kTileData);
  // fpu_init_guest_permissions() locked the permission.
  EXPECT_THROW(r.guest_perm(0, kTileData | kTileCfg | bit(x86::kAPX)), x86::SemanticError);
}

TEST(Kvm, FirstUseDesignGrowsTheBufferAtTheGuestsFirstTileUse) {
  KvmRig k("kvm-eager", 0, true, false, x86::AmxAlloc::kFirstUse);
  Rig& r = *k.r;
  EXPECT_FALSE(r.ctx(k.guest).fpstate.xfeatures & kTileData);
  k.start_guest();
  EXPECT_EQ(r.cpu(0).trap.xfd, kTileData);  // KVM's own XFD bit
  r.rdmsr(0, GuestMsr::kXfd);               // the guest reads its own 0
  r.use(0, kAmx);
  EXPECT_EQ(r.total(XStat::guest_nm_injected), 0u);
  EXPECT_EQ(r.of(k.guest, XStat::fpstate_reallocs), 1u);
  EXPECT_EQ(r.cpu(0).trap.xfd, 0u);
  r.rdmsr(0, GuestMsr::kXfdErr);
  EXPECT_CLEAN(r);
}

// ---------------------------------------------------------------- XSETBV

TEST(Kvm, XsetbvFollowsKvmSetXcrRules) {
  KvmRig k("kvm-eager");
  Rig& r = *k.r;
  k.start_guest();
  const ComponentMask fp = kX87, sse = kSse;
  struct Case {
    ComponentMask xcr0;
    std::uint32_t index;
    bool gp;
  } cases[] = {
      {fp, 0, false},        {fp | sse, 0, false},        {fp | sse | kYmm, 0, false},
      {0, 0, true},          {sse, 0, true},              {kYmm, 0, true},
      {fp | kYmm, 0, true},  {fp | sse | kYmm | bit(x86::kOpmask), 0, true},
      {fp | sse | x86::kMaskAvx512, 0, true},  // AVX-512 without YMM
      {fp | kTileCfg, 0, true},                {fp | sse | kYmm | kAmx, 0, false},
      {fp | bit(x86::kAPX), 0, true},          // not in the guest's CPUID (this host has no APX)
      {fp, 1, true},
  };
  std::uint64_t gp = 0;
  for (const Case& c : cases) {
    r.xsetbv(0, c.xcr0, c.index);
    gp += c.gp;
    EXPECT_EQ(r.total(XStat::guest_gp), gp) << x86::mask_to_names(c.xcr0) << " index " << c.index;
  }
  // CR4.OSXSAVE clear: #UD, not #GP.
  r.cr4(0, false);
  r.xsetbv(0, fp);
  EXPECT_EQ(r.total(XStat::guest_ud), 1u);
  EXPECT_EQ(r.total(XStat::guest_gp), gp);
}

TEST(Kvm, GuestUseOfAComponentOutsideItsXcr0IsUd) {
  KvmRig k("kvm-eager");
  Rig& r = *k.r;
  k.start_guest();
  r.xsetbv(0, kX87 | kSse);
  r.use(0, kYmm);
  EXPECT_EQ(r.total(XStat::guest_ud), 1u);
  EXPECT_EQ(r.ctx(k.guest).truth.present & kYmm, 0u);
}

// ---------------------------------------------------------------- state access

TEST(Kvm, RecreatedVmWithoutStateLoadLosesTheGuestState) {
  KvmRig k("kvm-eager", kNoAmxGuest);
  Rig& r = *k.r;
  k.start_guest();
  r.use(0, kSse | kAvx512);
  k.io_return();
  r.save_state(0, k.vcpu, 1);
  r.vm_destroy(0, k.vm);
  r.vm_create(0, k.vm);
  // The VMM forgets vcpu_load_state: the guest continues with init state.
  r.kvm_run(0, k.vcpu);
  r.entry(0);
  r.read(0, kSse | kAvx512);
  EXPECT_EQ(r.lost(), 4u) << r.violation_report();  // sse + opmask + zmm_hi256 + hi16_zmm
}

TEST(Kvm, StateSaveAndLoadAcrossRecreationKeepEveryComponent) {
  KvmRig k("kvm-eager", kNoAmxGuest);
  Rig& r = *k.r;
  k.start_guest();
  r.use(0, kX87 | kSse | kYmm | kAvx512 | bit(x86::kPKRU));
  k.io_return();
  r.save_state(0, k.vcpu, 1);
  r.vm_destroy(0, k.vm);
  r.vm_create(0, k.vm);
  r.load_state(0, k.vcpu, 1);
  r.kvm_run(0, k.vcpu);
  r.entry(0);
  r.read(0, kX87 | kSse | kYmm | kAvx512 | bit(x86::kPKRU));
  EXPECT_CLEAN(r);
}

// ---------------------------------------------------------------- confidential

TEST(Kvm, ConfidentialGuestStateNeverReachesAHostBuffer) {
  KvmRig k("kvm-eager", kNoAmxGuest, true, true);
  Rig& r = *k.r;
  r.sw(0, k.vmm);
  r.kvm_run(0, k.vcpu);
  EXPECT_EQ(r.of(k.guest, Stat::restores), 0u);  // XFD update only
  r.entry(0);
  r.use(0, kSse | kAvx512);
  r.irq(0, true);  // kernel_fpu_begin() saves the scrubbed registers
  r.read(0, kSse | kAvx512);
  k.io_return();
  EXPECT_EQ(r.ctx(k.guest).fpstate.image.present & (kSse | kAvx512), 0u);
  EXPECT_THROW(r.save_state(0, k.vcpu, 1), x86::SemanticError);
  EXPECT_CLEAN(r);
}

// ---------------------------------------------------------------- policies

TEST(Kvm, LazyLegacyDeactivatesAfterAPutAndTrapsTheNextUse) {
  KvmRig k("kvm-lazy-legacy", kNoAmxGuest);
  Rig& r = *k.r;
  r.sw(0, k.vmm);
  r.kvm_run(0, k.vcpu);
  EXPECT_EQ(r.total(XStat::kvm_fpu_loads), 0u);  // nothing at the ioctl entry (v4.x)
  // A new vCPU starts active (vmx_vcpu_reset -> vmx_fpu_activate): the
  // guest FPU is loaded at VM entry, no trap.
  r.entry(0);
  EXPECT_EQ(r.total(XStat::kvm_fpu_loads), 1u);
  EXPECT_FALSE(r.cpu(0).trap.cr0_ts);
  r.use(0, kSse);
  EXPECT_EQ(r.total(XStat::fpu_vm_exits), 0u);
  r.exit_(0, x86::VmExitReason::io);
  r.kvm_return(0);  // vcpu_put: put; fpu_counter 1 < 5 -> KVM_REQ_DEACTIVATE_FPU
  EXPECT_EQ(r.total(XStat::kvm_fpu_unloads), 1u);
  r.kvm_run(0, k.vcpu);
  r.entry(0);
  EXPECT_TRUE(r.cpu(0).trap.cr0_ts);  // forced while the guest FPU is inactive
  r.read(0, kSse);                    // #NM exit -> vmx_fpu_activate -> load at re-entry
  EXPECT_EQ(r.total(XStat::fpu_vm_exits), 1u);
  EXPECT_EQ(r.total(XStat::kvm_fpu_loads), 2u);
  r.use(0, kSse);
  EXPECT_EQ(r.total(XStat::fpu_vm_exits), 1u);
  EXPECT_NO_LOSS_OR_LEAK(r);
}

TEST(Kvm, LazyLegacyKeepsAFrequentUsersGuestFpuActive) {
  // fpu_counter reaches 5 after five consecutive puts with the FPU loaded:
  // no more KVM_REQ_DEACTIVATE_FPU, the guest FPU is loaded at entry.
  KvmRig k("eager+kvm-lazy-legacy", kNoAmxGuest);
  Rig& r = *k.r;
  r.sw(0, k.vmm);
  for (int run = 1; run <= 6; ++run) {
    r.kvm_run(0, k.vcpu);
    r.entry(0);
    r.use(0, kSse, kSse);
    k.io_return();
  }
  EXPECT_EQ(r.total(XStat::fpu_vm_exits), 4u);  // runs 2..5 trap; 1 and 6 do not
  EXPECT_EQ(r.total(XStat::kvm_fpu_loads), 6u);
  EXPECT_EQ(k.v().fpu_counter, 6u);
  EXPECT_CLEAN(r);
}

TEST(Kvm, LazyLegacyRefusesAmxGuests) {
  EXPECT_THROW(KvmRig("kvm-lazy-legacy"), x86::SemanticError);
}

TEST(Kvm, V52LoadWithoutTheNeedLoadCheckCorruptsTheVmm) {
  // c9aef3b85f42: a softirq between the ioctl entry and kvm_load_guest_fpu().
  for (const char* policy : {"kvm-eager", "kvm-eager-v5.2"}) {
    KvmRig k(policy, kNoAmxGuest);
    Rig& r = *k.r;
    r.sw(0, k.vmm);
    r.use(0, kSse | kYmm);
    r.syscall(0);
    r.kfpu(0, KernelFpuContext::kSoftirq);
    r.kvm_run(0, k.vcpu);
    r.entry(0);
    k.io_return();
    r.read(0, kSse | kYmm);
    if (std::string(policy) == "kvm-eager") {
      EXPECT_CLEAN(r);
    } else {
      EXPECT_EQ(r.leaked(), 2u) << r.violation_report();
    }
  }
}

}  // namespace

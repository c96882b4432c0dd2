// The KVM arm64 FP schemes (kvm_lazy.h). Each rule names the function of
// arch/arm64/kvm/fpsimd.c or hyp/include/hyp/switch.h it comes from.
#include "models/arm64/policies/kvm_lazy.h"

namespace fpusim::arm64 {

// ------------------------------------------------------------ 2017

// kvm_arch_vcpu_ioctl_run(), before each entry with preemption off:
// "Flush FP/SIMD state that can't survive guest entry/exit":
// sve_flush_cpu_state(): "if (last->st && last->sve_in_use)
// fpsimd_flush_cpu_state()" (the binding is dropped, nothing saved: the
// task was saved when it was switched out). sve_in_use was recorded at
// bind time; the model tests the owner's TIF_SVE now, which differs only
// for a task that made a syscall since (a reload more or less, no data).
void EagerKvm2017::ctxflush(Agent& a, CpuId cpu, Vcpu&, Context&) {
  CpuState& cs = a.cpu(cpu);
  if (a.machine().sve && cs.last != kNoContext && a.ctx(cs.last).tif_sve) cs.last = kNoContext;
  cs.hyp_guest_live = false;
}

// __fpsimd_guest_restore (hyp/entry.S): CPTR_EL2.TFP cleared, host registers
// into host_ctxt, guest registers from guest_ctxt.
void EagerKvm2017::guest_trap(Agent& a, CpuId cpu, Vcpu& v, Context&) { a.hyp_switch_to_guest(cpu, v, false); }

// __kvm_vcpu_run(): "if (fp_enabled) { __fpsimd_save_state(&guest_ctxt->...);
// __fpsimd_restore_state(&host_ctxt->...); }"; VHE: __deactivate_traps_vhe()
// writes CPACR_EL1_DEFAULT (EL0 SVE access off).
void EagerKvm2017::exit(Agent& a, CpuId cpu, Vcpu& v, Context&) {
  if (a.cpu(cpu).hyp_guest_live) a.hyp_switch_to_host(cpu, v, false);
  if (a.machine().kvm_mode == KvmMode::kVhe) a.hyp_set_host_cpacr(cpu, false, false, false);
}

// ------------------------------------------------------------ lazy

// kvm_arch_vcpu_load_fp().
void LazyKvm::vcpu_load(Agent& a, CpuId cpu, Vcpu& v, Context& thread) {
  if (era_.flush_host_at_load) {
    // fbc7e61195e2: "fpsimd_save_and_flush_cpu_state(); *host_data_ptr(fp_owner)
    // = FP_STATE_FREE;" (the host state in whatever format its to_save says).
    a.stats().add(AStat::host_flushes_at_load, v.guest, 1);
    a.save_and_flush(cpu, Cause::vcpu_load);
    v.fp_owner = FpOwner::kFree;
    return;
  }
  if (era_.explicit_to_save && thread.tif_sve) {
    // fpsimd_kvm_prepare() (93ae6b01): "if (test_and_clear_thread_flag(TIF_SVE))
    // { sve_to_fpsimd(current); current->thread.fp_type = FP_STATE_FPSIMD; }":
    // the saved state only; neither the live registers nor CPACR_EL1.ZEN
    // are touched.
    thread.tif_sve = false;
    a.convert(thread, FpType::kFpsimd);
  }
  // "vcpu->arch.fp_state = FP_STATE_HOST_OWNED" (FP_HOST set, FP_ENABLED
  // clear before f8077b0d); TIF_FOREIGN_FPSTATE is checked at ctxflush.
  v.fp_owner = FpOwner::kHostOwned;
  if (era_.sme_host && a.machine().sme) {
    // 861262ab: "vcpu_clear_flag(vcpu, HOST_SME_ENABLED); if (read_sysreg(
    // cpacr_el1) & CPACR_EL1_SMEN_EL0EN) vcpu_set_flag(vcpu, HOST_SME_ENABLED);
    // /* If PSTATE.{SM,ZA} are set then save the state now */ if (read_sysreg_s(
    // SYS_SVCR) & (SVCR_SM_MASK | SVCR_ZA_MASK)) { vcpu->arch.fp_state =
    // FP_STATE_FREE; fpsimd_save_and_flush_cpu_state(); }" (aaa2f14e,
    // v6.4, documents why streaming mode must be left before a guest runs).
    if (era_.clear_sme_flag_at_load) v.host_sme_enabled = false;
    if (a.cpu(cpu).smen_el0) v.host_sme_enabled = true;
    if (a.cpu(cpu).sm || a.cpu(cpu).za) {
      a.stats().add(AStat::host_flushes_at_load, v.guest, 1);
      a.save_and_flush(cpu, Cause::vcpu_load);
      v.fp_owner = FpOwner::kFree;
    }
  }
  if (era_.host_sve_in_use) v.host_sve_in_use = thread.tif_sve;
  if (era_.restore_zen_from_load) {
    // "vcpu_clear_flag(vcpu, HOST_SVE_ENABLED); if (read_sysreg(cpacr_el1)
    // & CPACR_EL1_ZEN_EL0EN) vcpu_set_flag(vcpu, HOST_SVE_ENABLED);"
    if (era_.clear_zen_flag_at_load) v.host_sve_enabled = false;
    if (a.cpu(cpu).zen_el0) v.host_sve_enabled = true;
  }
}

// kvm_arch_vcpu_ctxflush_fp(): "if (test_thread_flag(TIF_FOREIGN_FPSTATE))
// vcpu->arch.fp_state = FP_STATE_FREE;" (before e9ada6c2, hyp's
// update_fp_enabled() did the same from current's thread flags).
void LazyKvm::ctxflush(Agent& a, CpuId, Vcpu& v, Context& thread) {
  if (thread.foreign && v.fp_owner != FpOwner::kFree) {
    v.fp_owner = FpOwner::kFree;
    a.stats().add(AStat::fp_owner_dropped, v.guest, 1);
  }
}

// kvm_hyp_handle_fpsimd(): traps opened, then "if (host_owns_fp_regs())
// kvm_hyp_save_fpsimd_host(vcpu);" (FP_HOST before f8077b0d; with host SVE
// in use, 85acda3b's sve_save_state() into current's sve_state), the
// guest's state loaded, fp_owner = GUEST_OWNED.
void LazyKvm::guest_trap(Agent& a, CpuId cpu, Vcpu& v, Context& thread) {
  if (v.fp_owner == FpOwner::kHostOwned) a.hyp_save_host(cpu, v, thread, era_.host_sve_in_use && v.host_sve_in_use);
  a.hyp_load_guest(cpu, v);
  v.fp_owner = FpOwner::kGuestOwned;
}

// __deactivate_traps() on VHE writes the host's CPACR_EL1: CPACR_EL1_DEFAULT
// (no EL0 SVE access) until fbc7e61195e2's series; since,
// __deactivate_cptr_traps_vhe(): "CPACR_EL1_FPEN | CPACR_EL1_ZEN" (EL0 and
// EL1). nVHE and hVHE leave the host's CPACR_EL1 alone.
// Until kvm_get_reset_cptr_el2() the value is CPACR_EL1_DEFAULT, "FPEN |
// ZEN_EL1EN": SME is disabled for the host kernel too until vcpu_put
// re-enables it.
void LazyKvm::exit(Agent& a, CpuId cpu, Vcpu&, Context&) {
  if (a.machine().kvm_mode == KvmMode::kVhe) {
    const bool after_2025 = era_.flush_host_at_load;
    a.hyp_set_host_cpacr(cpu, after_2025 && a.machine().sve, after_2025 && a.machine().sme,
                         after_2025 || era_.exit_enables_smen_el1);
  }
}

// kvm_arch_vcpu_ctxsync_fp(): "if (guest_owns_fp_regs()) {
// fpsimd_bind_state_to_cpu(<the vCPU's fp_regs, sve_state, sve_max_vl,
// fp_type, to_save>); clear_thread_flag(TIF_FOREIGN_FPSTATE); }", and
// before v6.2 "update_thread_flag(TIF_SVE, vcpu_has_sve(vcpu))" (b43b5dd9;
// the e6b673b7 original cleared it: no vCPU had SVE).
void LazyKvm::ctxsync(Agent& a, CpuId cpu, Vcpu& v, Context& thread) {
  if (v.fp_owner != FpOwner::kGuestOwned) return;
  const ToSave to_save =
      !era_.explicit_to_save ? ToSave::kCurrent : v.sve ? ToSave::kSve : ToSave::kFpsimd;
  a.bind_state(cpu, a.ctx(v.guest), to_save);
  thread.foreign = false;
  if (!era_.explicit_to_save) thread.tif_sve = v.sve;
}

// kvm_arch_vcpu_put_fp().
void LazyKvm::vcpu_put(Agent& a, CpuId cpu, Vcpu& v, Context& thread) {
  const bool host_tif_sve = era_.host_sve_in_use && v.host_sve_in_use;
  // 861262ab: on VHE, "if (vcpu_get_flag(vcpu, HOST_SME_ENABLED))
  // sysreg_clear_set(CPACR_EL1, 0, CPACR_EL1_SMEN_EL0EN | CPACR_EL1_SMEN_EL1EN);
  // else sysreg_clear_set(CPACR_EL1, CPACR_EL1_SMEN_EL0EN, CPACR_EL1_SMEN_EL1EN);
  // isb();" first (the isb is 59d78a2e's: without it the save below may
  // read SVCR under the old trap configuration).
  CpuState& cs = a.cpu(cpu);
  const bool smen_restore =
      era_.sme_host && a.machine().sme && a.machine().kvm_mode == KvmMode::kVhe && !era_.flush_host_at_load;
  if (smen_restore) {
    a.set_smen_el0(cpu, v.host_sme_enabled, Cause::vcpu_put);
    cs.smen_el1 = true;
    cs.smen_el1_unsynchronised = !era_.isb_after_smen;
  }
  // The 2955bcc8 bug: "update_thread_flag(TIF_SVE, vcpu->arch.flags &
  // KVM_ARM64_HOST_SVE_IN_USE)" before fpsimd_save().
  if (era_.tif_sve_before_save) thread.tif_sve = host_tif_sve;
  if (v.fp_owner == FpOwner::kGuestOwned) {
    // "fpsimd_save_and_flush_cpu_state()": the guest's registers through
    // the vCPU binding; the VMM thread's state is reloaded on its return.
    a.save_and_flush(cpu, Cause::vcpu_put);
  } else if (!era_.restore_zen_from_load) {
    // e6b673b7: "else if (!test_thread_flag(TIF_FOREIGN_FPSTATE))
    // fpsimd_bind_task_to_cpu();" -- the trap setup of current only.
    if (!thread.foreign) a.bind(cpu, thread, Cause::vcpu_put);
  } else if (a.machine().kvm_mode == KvmMode::kVhe && a.machine().sve && !era_.flush_host_at_load) {
    // b3eb56b6: restore CPACR_EL1.ZEN_EL0EN as seen by vcpu_load.
    a.stats().add(AStat::zen_restores, v.guest, 1);
    a.set_zen_el0(cpu, v.host_sve_enabled, Cause::vcpu_put);
  }
  // Synchronised by the exception return at the latest.
  cs.smen_el1_unsynchronised = false;
  // 2955bcc8: "update_thread_flag(TIF_SVE, ...HOST_SVE_IN_USE)" after the
  // save (8383741a: "update_thread_flag(TIF_SVE, 0)"); gone with 62021cc3.
  if (!era_.explicit_to_save) thread.tif_sve = host_tif_sve;
}

// ------------------------------------------------------------ pKVM

// pKVM's hypervisor side (b5b9955617bc). kvm_hyp_handle_fpsimd(): "if
// (host_owns_fp_regs()) kvm_hyp_save_fpsimd_host(vcpu);" (v6.14's
// 8eca7f6d5100 adds "is_protected_kvm_enabled() &&"), with hyp's own
// fp_owner, HOST_OWNED at every run: the host registers into host_data (SVE
// format with SVE, FPMR with the VM's), whatever the host side thinks.
void ProtectedKvm::guest_trap(Agent& a, CpuId cpu, Vcpu& v, Context&) {
  a.hyp_switch_to_guest(cpu, v, a.machine().sve);
}

// sync_hyp_vcpu() -> fpsimd_sve_sync(): "if (!guest_owns_fp_regs()) return;",
// else the guest's state into the vCPU, the host's back from host_data,
// fp_owner = FP_STATE_HOST_OWNED (eager, at every such exit). nVHE and hVHE
// leave the host's CPACR_EL1 alone.
void ProtectedKvm::exit(Agent& a, CpuId cpu, Vcpu& v, Context&) {
  if (a.cpu(cpu).hyp_guest_live) a.hyp_switch_to_host(cpu, v, a.machine().sve);
}

}  // namespace fpusim::arm64

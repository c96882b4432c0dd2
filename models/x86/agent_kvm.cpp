// KVM on x86: the guest FPU of each vCPU around KVM_RUN, VM entry and exit,
// guest IA32_XFD / IA32_XFD_ERR virtualisation (VMX), guest XSETBV, guest AMX
// enabling, the VMM's state save/restore and confidential guests.
//
// Sources (current kernels unless noted): arch/x86/kvm/x86.c
// (kvm_arch_vcpu_ioctl_run, vcpu_enter_guest, kvm_load/put_guest_fpu,
// __kvm_set_xcr, kvm_set_msr_common), arch/x86/kvm/vmx/vmx.c (vmx_set_msr:
// XFD passthrough after the first non-zero write; handle_nm_fault_irqoff;
// vmx_update_exception_bitmap: #NM intercepted iff xfd_no_write_intercept),
// arch/x86/kernel/fpu/core.c (fpu_swap_kvm_fpstate, fpu_update_guest_xfd,
// fpu_sync_guest_vmexit_xfd_state, fpu_enable_guest_xfd_features), and for
// kvm-lazy-legacy the v4.4 x86.c (kvm_load_guest_fpu / kvm_put_guest_fpu
// with __kernel_fpu_begin/end, fpu_counter, KVM_REQ_DEACTIVATE_FPU).
#include <string>

#include "models/core/use.h"
#include "models/x86/agent.h"
#include "models/x86/policy.h"

namespace fpusim::x86 {

std::string_view amx_alloc_name(AmxAlloc a) {
  return a == AmxAlloc::kSetCpuid ? "kvm_set_cpuid2" : "first_use";
}
std::string_view guest_msr_name(GuestMsr m) { return m == GuestMsr::kXfd ? "IA32_XFD" : "IA32_XFD_ERR"; }

namespace {
constexpr std::string_view kExitNames[] = {
#define FPUSIM_EXIT_NAME(name, doc) #name,
    FPUSIM_VM_EXIT_REASONS(FPUSIM_EXIT_NAME)
#undef FPUSIM_EXIT_NAME
};

std::string hex(ComponentMask m) {
  char b[32];
  std::snprintf(b, sizeof b, "0x%llx", static_cast<unsigned long long>(m));
  return b;
}
}  // namespace

std::string_view vm_exit_reason_name(VmExitReason r) { return kExitNames[static_cast<size_t>(r)]; }
bool vm_exit_reason_by_name(std::string_view name, VmExitReason* out) {
  for (size_t i = 0; i < std::size(kExitNames); ++i) {
    if (kExitNames[i] == name) {
      *out = static_cast<VmExitReason>(i);
      return true;
    }
  }
  return false;
}

// ------------------------------------------------------------ declaration

std::uint32_t Agent::add_vm(Vm vm) {
  vms_.push_back(std::move(vm));
  return static_cast<std::uint32_t>(vms_.size() - 1);
}

std::uint32_t Agent::add_vcpu(std::uint32_t vm, ContextId thread, ContextId guest) {
  Vcpu v;
  v.name = contexts_[guest].name;
  v.vm = vm;
  v.thread = thread;
  v.guest = guest;
  vcpus_.push_back(std::move(v));
  const auto id = static_cast<std::uint32_t>(vcpus_.size() - 1);
  vms_[vm].vcpus.push_back(id);
  contexts_[guest].guest_of = id;
  return id;
}

void Agent::create_vm_at_start(std::uint32_t vm) {
  // A VM created before the trace: its process had asked for the guest
  // permissions its CPUID needs.
  Process& p = processes_[vms_[vm].process];
  p.guest_perm |= vms_[vm].supported_xcr0 & machine_.dynamic;
  // Not part of the run: no counters, no cycles, no observers.
  const Stats before = *stats_;
  std::vector<Observer*> observers;
  observers.swap(observers_);
  vm_create(0, 0, vm);
  observers.swap(observers_);
  *stats_ = before;
  pending_ = 0;
}

const Vcpu* Agent::guest_running(CpuId cpu) const {
  const ContextId c = cpus_[cpu].current;
  if (c == kNoContext) return nullptr;
  const Context& t = contexts_[c];
  if (t.vcpu == kNoVcpu || !vcpus_[t.vcpu].in_guest) return nullptr;
  return &vcpus_[t.vcpu];
}

Vcpu& Agent::running_vcpu(CpuId cpu, const char* what, bool in_guest) {
  Context* c = current(cpu);
  if (!c) throw SemanticError{std::string(what) + " on CPU " + std::to_string(cpu) + ", which is idle"};
  if (c->vcpu == kNoVcpu) {
    throw SemanticError{std::string(what) + " on CPU " + std::to_string(cpu) + ", where " + c->name +
                        " runs, which is not inside KVM_RUN (a kvm_run event must come first)"};
  }
  Vcpu& v = vcpus_[c->vcpu];
  if (v.in_guest != in_guest) {
    throw SemanticError{std::string(what) + " while vCPU " + v.name +
                        (in_guest ? " is not in guest mode (a vm_entry event must come first)"
                                  : " is in guest mode (a vm_exit event must come first)")};
  }
  return v;
}

// ------------------------------------------------------------ guest fpstate

void Agent::reset_guest_fpstate(Vcpu& v) {
  // fpu_alloc_guest_fpstate(): vzalloc'ed, fpu_guest_cfg.default_features
  // (v6.16+; fpu_user_cfg.default before), compacted, xfd = 0.
  Fpstate& f = contexts_[v.guest].fpstate;
  f.id = next_fpstate_id_++;
  f.xfeatures = machine_.cfg.guest.default_features;
  f.xfd = 0;
  f.size = machine_.cfg.guest.default_size;
  f.user_size = machine_.cfg.user.default_size;
  f.image = StateImage{};
}

void Agent::grow_guest_fpstate(CpuId cpu, Vcpu& v, ComponentMask features, Cause cause) {
  // __xfd_enable_feature(features, guest_fpu) -> fpstate_realloc(): a larger
  // guest buffer; the old contents are copied (the state is not live here).
  Context& g = contexts_[v.guest];
  Fpstate& f = g.fpstate;
  const std::uint32_t old_size = f.size;
  f.id = next_fpstate_id_++;
  f.xfeatures |= features;
  f.size = buffer_size(machine_.cpuid, f.xfeatures, true);
  f.user_size = standard_size(machine_.cpuid, f.xfeatures & machine_.user_features());
  stats_->add(XStat::fpstate_reallocs, g.id, 1);
  stats_->add(XStat::fpstate_bytes_grown, g.id, f.size - old_size);
  charge(cpu, g.id, Stat::other_cycles, cost_.fpstate_realloc, "fpstate_realloc", cause, f.size, features);
}

Cycles Agent::xcomp_guest_perm(CpuId cpu, Cycles t, ComponentMask features) {
  event_time_ = t;
  check_current(cpu, "arch_prctl(ARCH_REQ_XCOMP_GUEST_PERM)", false);
  check_not_pending(*current(cpu), "arch_prctl(ARCH_REQ_XCOMP_GUEST_PERM)");
  Process& p = process_of(*current(cpu));
  const ComponentMask dynamic = machine_.dynamic & machine_.user_features();
  if (features & ~(dynamic | machine_.cfg.user.default_features)) {
    throw SemanticError{"arch_prctl(ARCH_REQ_XCOMP_GUEST_PERM) for " + mask_to_names(features) +
                        ": this machine's dynamic features are " + mask_to_names(dynamic)};
  }
  // __xstate_request_perm(): -EBUSY once a guest fpstate was allocated.
  if (p.guest_perm_locked && (features & dynamic & ~p.guest_perm)) {
    throw SemanticError{"arch_prctl(ARCH_REQ_XCOMP_GUEST_PERM) fails with -EBUSY: process " + p.name +
                        " already created a vCPU, which locked its guest permissions"};
  }
  p.guest_perm |= features & dynamic;
  return finish();
}

Cycles Agent::vm_create(CpuId cpu, Cycles t, std::uint32_t vm_id) {
  event_time_ = t;
  Vm& vm = vms_[vm_id];
  if (vm.exists) throw SemanticError{"vm_create of " + vm.name + ", which exists (vm_destroy it first)"};
  Process& p = processes_[vm.process];
  const ComponentMask dyn = vm.supported_xcr0 & machine_.dynamic;
  const std::string kvm = std::string(kvm_->name()) + " (" + std::string(kvm_->kernels()) + ")";
  if (dyn && !kvm_->has_guest_amx()) {
    throw SemanticError{"VM " + vm.name + " exposes " + mask_to_names(dyn) + " to its guest; " + kvm +
                        " predates guest AMX (v5.17)"};
  }
  if (vm.confidential && !kvm_->has_confidential_guests()) {
    throw SemanticError{"VM " + vm.name + " is confidential; " + kvm + " predates SEV-ES (v5.11) and TDX guests"};
  }
  // kvm_check_cpuid() -> fpu_enable_guest_xfd_features(): -EPERM unless
  // the VMM asked with ARCH_REQ_XCOMP_GUEST_PERM.
  if ((p.guest_perm & dyn) != dyn) {
    throw SemanticError{"KVM_SET_CPUID2 for " + vm.name + " fails with -EPERM: process " + p.name +
                        " has no guest permission for " + mask_to_names(dyn & ~p.guest_perm) +
                        " (an xcomp_guest_perm event must come first)"};
  }
  vm.exists = true;
  p.guest_perm_locked = true;  // fpu_init_guest_permissions()
  stats_->add(XStat::vm_creates);
  for (std::uint32_t id : vm.vcpus) {
    Vcpu& v = vcpus_[id];
    v.exists = true;
    v.in_run = v.in_guest = false;
    reset_guest_fpstate(v);
    // The guest's architectural reset values; XCR0 as a booted guest OS
    // sets it (fpu__init_cpu_xstate() enables every supported feature).
    v.xcr0 = vm.supported_xcr0;
    v.osxsave = true;
    v.xfd_err = 0;
    v.truth_xfd = 0;
    v.truth_xfd_err = 0;
    v.kvm_xfd = 0;
    v.guest_xfd_msr = 0;
    // TDX vCPUs with XTILE in XFAM never intercept XFD writes (tdx_vcpu_create()).
    v.xfd_no_write_intercept = vm.confidential && dyn;
    v.fpu_loaded = false;
    // vmx_vcpu_reset() -> vmx_fpu_activate() (init_vmcb() on SVM): a new
    // vCPU starts with its guest FPU active.
    v.fpu_active = true;
    v.fpu_counter = 0;
    v.deactivate_pending = false;
    v.firmware = StateImage{};
    if (!dyn) continue;
    if (vm.amx_alloc == AmxAlloc::kSetCpuid) {
      grow_guest_fpstate(cpu, v, dyn, Cause::kvm_state);
    } else {
      // Seed 003's design: a KVM-owned XFD layer keeps the features off
      // until the guest's first use.
      v.kvm_xfd = dyn;
      contexts_[v.guest].fpstate.xfd = dyn;
    }
  }
  return finish();
}

Cycles Agent::vm_destroy(CpuId cpu, Cycles t, std::uint32_t vm_id) {
  event_time_ = t;
  (void)cpu;
  Vm& vm = vms_[vm_id];
  if (!vm.exists) throw SemanticError{"vm_destroy of " + vm.name + ", which does not exist"};
  for (std::uint32_t id : vm.vcpus) {
    Vcpu& v = vcpus_[id];
    if (v.in_run) {
      throw SemanticError{"vm_destroy of " + vm.name + " while vCPU " + v.name +
                          " is inside KVM_RUN (a kvm_return event must come first)"};
    }
    v.exists = false;
    // fpu_free_guest_fpstate(). The guest's ground truth stays: a VMM that
    // recreates the VM and loads a saved state continues the same guest.
    contexts_[v.guest].fpstate.image = StateImage{};
  }
  vm.exists = false;
  return finish();
}

// ------------------------------------------------------------ KVM_RUN

// fpu_swap_kvm_fpstate(guest_fpu, true) (core.c), or for kvm-lazy-legacy
// the v4.x kvm_load_guest_fpu(): __kernel_fpu_begin() then XRSTOR of the
// guest image.
void Agent::load_guest_fpu(CpuId cpu, Context& thread, Vcpu& v) {
  const Vm& vm = vms_[v.vm];
  Context& g = contexts_[v.guest];
  stats_->add(XStat::kvm_fpu_loads, g.id, 1);
  if (kvm_->guest_fpu_per_run()) {
    // Save only if the registers are the thread's (!TIF_NEED_FPU_LOAD);
    // v5.2..v5.5 saved unconditionally (fixed by c9aef3b85f42).
    if (policy_.regs_live(*this, thread) || bug(Bug::kKvmIgnoresNeedFpuLoad)) save(cpu, thread, Cause::kvm_run);
    thread.fpstate_swapped = true;  // fpu->fpstate = guest fpstate
    if (!vm.confidential) {
      restore(cpu, thread, machine_.restore_mask(), Cause::kvm_run);
    } else {
      // "XSTATE is restored by firmware from encrypted memory. Make sure
      // XFD state is correct while running with guest fpstate."
      xfd_update_state(cpu, g.fpstate, Cause::kvm_run);
    }
    policy_.mark_active(*this, cpu, thread);
    return;
  }
  // v4.4: __kernel_fpu_begin(): save the VMM's live registers (they stay
  // "active", reloaded by __kernel_fpu_end()), else forget the owner and CLTS.
  v.host_regs_were_active = policy_.regs_live(*this, thread);
  if (v.host_regs_were_active) {
    save(cpu, thread, Cause::kvm_run);
  } else {
    set_owner(cpu, kNoContext);
    set_ts(cpu, false, Cause::kvm_run);
  }
  restore(cpu, g, machine_.restore_mask() & ~bit(kPKRU), Cause::kvm_run);
  v.fpu_loaded = true;
}

// fpu_swap_kvm_fpstate(guest_fpu, false), or the v4.x kvm_put_guest_fpu().
void Agent::put_guest_fpu(CpuId cpu, Context& thread, Vcpu& v) {
  const Vm& vm = vms_[v.vm];
  Context& g = contexts_[v.guest];
  stats_->add(XStat::kvm_fpu_unloads, g.id, 1);
  if (kvm_->guest_fpu_per_run()) {
    if (!vm.confidential && (policy_.regs_live(*this, thread) || bug(Bug::kKvmIgnoresNeedFpuLoad))) {
      save(cpu, thread, Cause::kvm_run);
    }
    thread.fpstate_swapped = false;  // fpu->fpstate = fpu->__task_fpstate
    restore(cpu, thread, policy_.restore_mask(*this), Cause::kvm_run);
    policy_.mark_active(*this, cpu, thread);
    return;
  }
  save(cpu, g, Cause::kvm_run);
  v.fpu_loaded = false;
  // __kernel_fpu_end(): reload the VMM's registers, or set CR0.TS again
  // (lazy host).
  if (v.host_regs_were_active) {
    restore(cpu, thread, policy_.restore_mask(*this), Cause::kvm_run);
  } else if (!policy_.use_eager_fpu()) {
    set_ts(cpu, true, Cause::kvm_run);
  }
  // "If using eager FPU mode, or if the guest is a frequent user of the
  // FPU, just leave the FPU active for next time. Every 255 times
  // fpu_counter rolls over to 0; a guest that uses the FPU in bursts will
  // revert to loading it on demand." vcpu->arch.eager_fpu is
  // guest_cpuid_has_mpx() from v4.6 (use_eager_fpu() || MPX before; the
  // same for the lazy hosts of that era).
  const bool eager_fpu = vm.supported_xcr0 & (bit(kBndregs) | bit(kBndcsr));
  if (!eager_fpu && ++v.fpu_counter < 5) v.deactivate_pending = true;
}

Cycles Agent::kvm_run(CpuId cpu, Cycles t, std::uint32_t vid) {
  event_time_ = t;
  Vcpu& v = vcpus_[vid];
  // KVM_RUN is an ioctl: a preceding syscall event may stand for its entry
  // (so that an interrupt can come between the entry and the guest FPU load).
  check_current(cpu, "KVM_RUN", false);
  Context& thread = *current(cpu);
  check_not_pending(thread, "KVM_RUN");
  if (thread.id != v.thread) {
    throw SemanticError{"KVM_RUN of vCPU " + v.name + " by " + thread.name + "; its thread is " +
                        contexts_[v.thread].name};
  }
  if (!v.exists) throw SemanticError{"KVM_RUN of vCPU " + v.name + ", whose VM " + vms_[v.vm].name + " does not exist"};
  if (v.in_run) throw SemanticError{"KVM_RUN of vCPU " + v.name + ", which is already inside KVM_RUN"};
  stats_->add(XStat::kvm_runs, v.guest, 1);
  thread.in_user = false;  // the ioctl
  thread.vcpu = vid;
  v.in_run = true;
  // kvm_arch_vcpu_ioctl_run() -> kvm_load_guest_fpu() (Linux >= 4.15).
  if (kvm_->guest_fpu_per_run()) load_guest_fpu(cpu, thread, v);
  return finish();
}

// The VMM-visible half of vcpu_enter_guest() before VM entry, and the
// hardware switch to guest XCR0/PKRU/XFD_ERR.
void Agent::enter_guest(CpuId cpu, Context& thread, Vcpu& v) {
  CpuState& cs = cpus_[cpu];
  const Vm& vm = vms_[v.vm];
  Context& g = contexts_[v.guest];
  if (kvm_->guest_fpu_per_run()) {
    // if (test_thread_flag(TIF_NEED_FPU_LOAD)) switch_fpu_return(): the
    // guest fpstate, unless the CPU still holds it.
    policy_.load_user_regs(*this, cpu, thread, Cause::vm_entry);
  } else {
    // KVM_REQ_DEACTIVATE_FPU -> vmx_fpu_deactivate(); then
    // "if (vcpu->fpu_active) kvm_load_guest_fpu(vcpu)".
    if (v.deactivate_pending && kvm_->deactivates_idle_guest_fpu()) {
      v.fpu_active = false;
      v.deactivate_pending = false;
    }
    if (v.fpu_active && !v.fpu_loaded) load_guest_fpu(cpu, thread, v);
  }
  // if (vcpu->arch.guest_fpu.xfd_err) wrmsrq(MSR_IA32_XFD_ERR, xfd_err).
  if (v.xfd_err) {
    cs.trap.xfd_err = v.xfd_err;
    charge(cpu, g.id, Stat::control_cycles, cost_.wrmsr_xfd_err, "wrmsr_xfd_err", Cause::vm_entry, 0, v.xfd_err);
  }
  // kvm_load_guest_xsave_state(): XSETBV if the guest XCR0 differs; guest
  // PKRU if different (CR4.PKE assumed set in guests that use PKRU).
  v.host_ts = cs.trap.cr0_ts;
  if (v.xcr0 != machine_.xcr0) {
    charge(cpu, g.id, Stat::control_cycles, cost_.xsetbv, "xsetbv", Cause::vm_entry, 0, v.xcr0);
  }
  cs.trap.xcr0 = v.xcr0;
  pkru_load(cpu, g, Cause::vm_entry);
  // v4.x lazy: the guest runs with CR0.TS forced until vmx_fpu_activate().
  if (kvm_->deactivates_idle_guest_fpu()) cs.trap.cr0_ts = !v.fpu_active;
  // A confidential guest's registers come from the firmware.
  if (vm.confidential) cs.rf.regs.copy_from(v.firmware, machine_.user_features() & ~bit(kPKRU));
  v.in_guest = true;
  stats_->add(XStat::vm_entries, g.id, 1);
  for (Observer* o : observers_) o->on_guest(cpu, now(), g.id, true);
}

void Agent::exit_guest(CpuId cpu, Context& thread, Vcpu& v) {
  CpuState& cs = cpus_[cpu];
  const Vm& vm = vms_[v.vm];
  Context& g = contexts_[v.guest];
  (void)thread;
  v.in_guest = false;
  stats_->add(XStat::vm_exits, g.id, 1);
  for (Observer* o : observers_) o->on_guest(cpu, now(), g.id, false);
  if (vm.confidential) {
    // The TDX module / SEV-ES VMSA saves the guest registers and scrubs them.
    const ComponentMask user = machine_.user_features() & ~bit(kPKRU);
    v.firmware = StateImage{};
    v.firmware.copy_from(cs.rf.regs, user);
    cs.rf.regs.set_init(user);
    cs.rf.modified |= user;
  }
  // fpu_sync_guest_vmexit_xfd_state() while XFD writes are passed through.
  if (v.xfd_no_write_intercept && machine_.dynamic) {
    Fpstate& f = g.fpstate;
    f.xfd = cs.trap.xfd;
    cs.xfd_cache = cs.trap.xfd;
    stats_->add(XStat::xfd_syncs);
    charge(cpu, g.id, Stat::control_cycles, cost_.rdmsr_xfd, "rdmsr_xfd", Cause::vm_exit, 0, cs.trap.xfd);
  }
  // "if (vcpu->arch.guest_fpu.xfd_err) wrmsrq(MSR_IA32_XFD_ERR, 0)": host
  // #NM handling never sees the guest's XFD_ERR.
  if (v.xfd_err || cs.trap.xfd_err) {
    if (cs.trap.xfd_err) {
      charge(cpu, g.id, Stat::control_cycles, cost_.wrmsr_xfd_err, "wrmsr_xfd_err", Cause::vm_exit, 0, 0);
    }
    cs.trap.xfd_err = 0;
  }
  // kvm_load_host_xsave_state(): RDPKRU into vcpu->arch.pkru, host PKRU
  // and XCR0 back.
  pkru_load(cpu, thread, Cause::vm_exit);
  if (v.xcr0 != machine_.xcr0) {
    charge(cpu, g.id, Stat::control_cycles, cost_.xsetbv, "xsetbv", Cause::vm_exit, 0, machine_.xcr0);
  }
  cs.trap.xcr0 = machine_.xcr0;
  if (kvm_->deactivates_idle_guest_fpu()) cs.trap.cr0_ts = v.host_ts;
}

Cycles Agent::vm_entry(CpuId cpu, Cycles t) {
  event_time_ = t;
  Vcpu& v = running_vcpu(cpu, "vm_entry", false);
  if (!v.in_run) throw SemanticError{"vm_entry of vCPU " + v.name + " outside KVM_RUN"};
  v.msr_exit_pending = false;
  enter_guest(cpu, *current(cpu), v);
  return finish();
}

Cycles Agent::vm_exit(CpuId cpu, Cycles t, VmExitReason reason) {
  event_time_ = t;
  (void)reason;  // exits to user space are the kvm_return event
  Vcpu& v = running_vcpu(cpu, "vm_exit", true);
  exit_guest(cpu, *current(cpu), v);
  v.msr_exit_pending = reason == VmExitReason::msr;
  return finish();
}

Cycles Agent::kvm_return(CpuId cpu, Cycles t) {
  event_time_ = t;
  Vcpu& v = running_vcpu(cpu, "kvm_return", false);
  Context& thread = *current(cpu);
  // kvm_put_guest_fpu() at the "out:" label (>= 4.15), vcpu_put() -> the
  // v4.x kvm_put_guest_fpu().
  if (kvm_->guest_fpu_per_run() || v.fpu_loaded) {
    put_guest_fpu(cpu, thread, v);
  } else {
    v.fpu_counter = 0;  // "if (!vcpu->guest_fpu_loaded) { vcpu->fpu_counter = 0; return; }"
  }
  v.in_run = false;
  thread.vcpu = kNoVcpu;
  thread.in_user = true;
  policy_.return_to_user(*this, cpu, thread);
  return finish();
}

// ------------------------------------------------------------ in the guest

void Agent::fpu_exit_round_trip(CpuId cpu, Vcpu& v, VmExitReason reason, std::string_view op, bool full) {
  (void)reason;
  stats_->add(XStat::fpu_vm_exits, v.guest, 1);
  if (!full) {  // else the exit and entry are counted where they happen
    stats_->add(XStat::vm_exits, v.guest, 1);
    stats_->add(XStat::vm_entries, v.guest, 1);
  }
  stats_->add(Stat::traps, v.guest, 1);
  ++cpus_[cpu].traps;
  stats_->per_cause[static_cast<size_t>(Cause::vm_exit)].traps += 1;
  charge(cpu, v.guest, Stat::trap_cycles, cost_.vm_exit, op, Cause::vm_exit);
}

bool Agent::nm_intercepted(const Vcpu& v) const {
  // vmx_update_exception_bitmap(): #NM is intercepted while XFD writes are
  // passed through (b5274b1b7ba8); as first merged (ec5be88ab29f "kvm: x86:
  // Intercept #NM for saving IA32_XFD_ERR") while the guest fpstate's XFD is
  // non-zero, which also covers the seed-003 design's KVM-owned XFD bits
  // (guest_fpu->xfd & ~vcpu->arch.xfd & vcpu->arch.xcr0). Without the
  // XFD_ERR part, that design loses the guest's XFD_ERR when an #NM the
  // guest's own XFD raised reaches it directly (fpusim reproduces the loss).
  return v.xfd_no_write_intercept || contexts_[v.guest].fpstate.xfd != 0;
}

ComponentMask Agent::guest_xfd_value(const Vcpu& v) const {
  if (vms_[v.vm].amx_alloc == AmxAlloc::kFirstUse) return v.guest_xfd_msr;  // vcpu->arch.xfd
  return contexts_[v.guest].fpstate.xfd;  // guest_fpu.fpstate->xfd
}

// Components the guest disabled through XFD have no defined content: XSAVE
// writes them as init (SDM 13.14), KVM drops them from the buffer
// (b45f72177594). The checker stops expecting the guest's old values there.
void Agent::forget_disabled(Vcpu& v, ComponentMask xfd) {
  Context& g = contexts_[v.guest];
  g.truth.present &= ~xfd;
  v.undefined |= xfd;
}

void Agent::set_guest_xfd(CpuId cpu, Vcpu& v, ComponentMask value, bool in_use) {
  Context& g = contexts_[v.guest];
  Context& thread = contexts_[v.thread];
  if (vms_[v.vm].amx_alloc == AmxAlloc::kFirstUse) {
    v.guest_xfd_msr = value;
    value |= v.kvm_xfd;  // the guest runs with guest | KVM bits
  }
  // fpu_update_guest_xfd(): with the guest state in memory
  // (TIF_NEED_FPU_LOAD), XSTATE_BV &= ~xfd (b45f72177594); then
  // fpstate->xfd, and the MSR if the fpstate is in use.
  if (!bug(Bug::kXstateBvUnderXfd)) {
    if (value && thread.fpstate_swapped && !policy_.regs_live(*this, thread)) g.fpstate.image.present &= ~value;
    if (value && !in_use) g.fpstate.image.present &= ~value;
  }
  g.fpstate.xfd = value;
  if (in_use) xfd_update_state(cpu, g.fpstate, Cause::vm_exit);
}

// kvm_set_msr_common() would inject #GP for these; a guest OS never does
// that for IA32_XFD (it follows its CPUID), so a trace that does is taken
// for a scenario mistake.
void Agent::check_guest_xfd_input(const Vcpu& v, GuestMsr msr, ComponentMask value) const {
  const Vm& vm = vms_[v.vm];
  if (!vm.xfd || !machine_.dynamic) {
    throw SemanticError{"guest access to " + std::string(guest_msr_name(msr)) + " in " + vm.name +
                        ", whose guest CPUID has no XFD (give the VM a dynamic feature or \"xfd\": true)"};
  }
  const ComponentMask supported = vm.supported_xcr0 & machine_.dynamic;
  if (value & ~supported) {
    throw SemanticError{std::string(guest_msr_name(msr)) + " = " + mask_to_names(value) + " in " + vm.name +
                        ": the guest's XFD-capable features are " +
                        (supported ? mask_to_names(supported) : std::string("none"))};
  }
}

void Agent::check_guest_msr(CpuId cpu, Vcpu& v, GuestMsr msr, ComponentMask got) {
  const ComponentMask want = msr == GuestMsr::kXfd ? v.truth_xfd : v.truth_xfd_err;
  if (got == want) return;
  checker_->record_violation({ViolationKind::kLost, now(), cpu, v.guest,
                             kNoContext, got ^ want,
                             "guest RDMSR " + std::string(guest_msr_name(msr)) + " returns " + hex(got) +
                                 "; the guest's value is " + hex(want)});
}

void Agent::guest_use(CpuId cpu, Vcpu& v, ComponentMask write, ComponentMask read, ComponentMask release) {
  CpuState& cs = cpus_[cpu];
  Context& g = contexts_[v.guest];
  Context& thread = contexts_[v.thread];
  const ComponentMask touched = write | read | release;
  for (int attempt = 0; attempt < 4; ++attempt) {
    const TrapDecision d = cs.trap.check(touched);
    if (d.kind == TrapKind::kNone) break;
    if (d.kind == TrapKind::kUd) {
      // KVM intercepts #UD (emulation) and reflects it: the instruction
      // does not execute.
      fpu_exit_round_trip(cpu, v, VmExitReason::other, "guest_ud");
      stats_->add(XStat::guest_ud, g.id, 1);
      return;
    }
    if (d.kind == TrapKind::kNmTs) {
      // v4.x: the #NM exit of a lazily-run guest -> vmx_fpu_activate(),
      // then VM entry loads the guest FPU and the instruction re-executes.
      fpu_exit_round_trip(cpu, v, VmExitReason::nm, "guest_nm_ts_exit", true);
      stats_->add(XStat::traps_nm_ts, g.id, 1);
      v.fpu_active = true;
      v.deactivate_pending = false;
      exit_guest(cpu, thread, v);
      enter_guest(cpu, thread, v);
      continue;
    }
    // XFD #NM. The hardware sets IA32_XFD_ERR.
    cs.trap.xfd_err |= d.xfd_err;
    const ComponentMask kvm_only = d.xfd_err & v.kvm_xfd & ~v.guest_xfd_msr;
    if (kvm_only) {
      // Seed 003's design: KVM's own XFD layer caught the guest's first
      // use. Grow the guest fpstate (permission checked at vm_create), drop
      // KVM's bits, restore the guest's XFD_ERR and retry: the guest sees
      // nothing.
      fpu_exit_round_trip(cpu, v, VmExitReason::nm, "guest_first_use_exit");
      stats_->add(XStat::traps_nm_xfd, g.id, 1);
      grow_guest_fpstate(cpu, v, kvm_only, Cause::vm_exit);
      v.kvm_xfd &= ~kvm_only;
      set_guest_xfd(cpu, v, v.guest_xfd_msr, true);
      cs.trap.xfd_err = v.xfd_err;
      charge(cpu, g.id, Stat::control_cycles, cost_.wrmsr_xfd_err, "wrmsr_xfd_err", Cause::vm_exit, 0, v.xfd_err);
      if (!v.kvm_xfd && v.guest_xfd_msr && !v.xfd_no_write_intercept) {
        v.xfd_no_write_intercept = true;
        stats_->add(XStat::xfd_passthrough, g.id, 1);
      }
      continue;
    }
    stats_->add(XStat::guest_nm_injected, g.id, 1);
    stats_->add(XStat::traps_nm_xfd, g.id, 1);
    v.truth_xfd_err |= d.xfd_err;  // what the guest's #NM handler must read
    if (nm_intercepted(v)) {
      // handle_nm_fault_irqoff(): if the guest XFD is non-zero, snapshot
      // XFD_ERR with IRQs off; clear the MSR before enabling IRQs; inject.
      fpu_exit_round_trip(cpu, v, VmExitReason::nm, "guest_nm_exit");
      if (g.fpstate.xfd) {
        v.xfd_err = cs.trap.xfd_err;
        charge(cpu, g.id, Stat::control_cycles, cost_.rdmsr_xfd_err, "rdmsr_xfd_err", Cause::vm_exit, 0, v.xfd_err);
      }
      if (v.xfd_no_write_intercept) {
        g.fpstate.xfd = cs.trap.xfd;  // fpu_sync_guest_vmexit_xfd_state()
        cs.xfd_cache = cs.trap.xfd;
      }
      cs.trap.xfd_err = v.xfd_err;  // re-entry writes it back for the guest
    }
    return;  // the guest's #NM handler runs next; the instruction did not execute
  }
  if (cs.trap.check(touched).kind != TrapKind::kNone) panic("guest trap still pending after its handler ran");
  // Components whose content the guest left undefined take what is there,
  // if it is the guest's own (or init).
  for (unsigned i : bits(v.undefined & touched)) {
    const bool have = cs.rf.regs.present & bit(i);
    if (have && cs.rf.regs.tok[i].owner != g.id) continue;  // foreign: the checker reports it
    if (have) {
      g.truth.present |= bit(i);
      g.truth.tok[i] = cs.rf.regs.tok[i];
    } else {
      g.truth.present &= ~bit(i);
    }
  }
  v.undefined &= ~touched;
  checked_use(
      *checker_, now(), cpu, g, cs.rf, write, read, release,
      [this](ContextId id) { return context_name(id); }, [](ComponentMask m) { return mask_to_names(m); });
}

// A WRMSR in the guest, or, after an explicit vm_exit with reason msr, its
// exit handler (so that interrupts can come between the exit and the
// handler: the S13 race).
Cycles Agent::guest_wrmsr(CpuId cpu, Cycles t, GuestMsr msr, ComponentMask value) {
  event_time_ = t;
  Context* cur = current(cpu);
  const bool handler = cur && cur->vcpu != kNoVcpu && vcpus_[cur->vcpu].msr_exit_pending;
  Vcpu& v = running_vcpu(cpu, "guest WRMSR", !handler);
  const Vm& vm = vms_[v.vm];
  CpuState& cs = cpus_[cpu];
  check_guest_xfd_input(v, msr, value);
  v.msr_exit_pending = false;
  // The intercept; when the handler runs apart, the exit and the entry are
  // the trace's own events (counted there).
  auto intercept = [&] { fpu_exit_round_trip(cpu, v, VmExitReason::msr, "guest_wrmsr_exit", handler); };
  if (msr == GuestMsr::kXfdErr) {
    // Always intercepted: guest_fpu.xfd_err = data.
    intercept();
    v.xfd_err = value;
    v.truth_xfd_err = value;
    cs.trap.xfd_err = value;
    return finish();
  }
  const bool intercepted = !v.xfd_no_write_intercept;
  v.truth_xfd = value;
  forget_disabled(v, value);
  if (!intercepted) {
    if (handler) {
      throw SemanticError{"an IA32_XFD write handler after a vm_exit, but vCPU " + v.name +
                          " passes XFD writes through (no exit)"};
    }
    // Passed through: the hardware MSR changes, the kernel learns it at
    // the next VM exit.
    cs.trap.xfd = value;
    if (vm.amx_alloc == AmxAlloc::kFirstUse) v.guest_xfd_msr = value;
    return finish();
  }
  intercept();
  set_guest_xfd(cpu, v, value, true);
  // vmx_set_msr(): "Disable interception upon the first write with a
  // non-zero value" and intercept #NM from then on (b5274b1b7ba8).
  if (value && !v.kvm_xfd) {
    v.xfd_no_write_intercept = true;
    stats_->add(XStat::xfd_passthrough, v.guest, 1);
  }
  return finish();
}

Cycles Agent::guest_rdmsr(CpuId cpu, Cycles t, GuestMsr msr) {
  event_time_ = t;
  Vcpu& v = running_vcpu(cpu, "guest RDMSR", true);
  check_guest_xfd_input(v, msr, 0);
  ComponentMask got;
  if (msr == GuestMsr::kXfd && v.xfd_no_write_intercept) {
    got = cpus_[cpu].trap.xfd;  // MSR_TYPE_RW passthrough: the hardware value
  } else {
    fpu_exit_round_trip(cpu, v, VmExitReason::msr, "guest_rdmsr_exit");
    got = msr == GuestMsr::kXfd ? guest_xfd_value(v) : v.xfd_err;
  }
  check_guest_msr(cpu, v, msr, got);
  return finish();
}

// kvm_emulate_xsetbv() -> __kvm_set_xcr() (x86.c).
Cycles Agent::guest_xsetbv(CpuId cpu, Cycles t, std::uint32_t index, ComponentMask xcr0) {
  event_time_ = t;
  Vcpu& v = running_vcpu(cpu, "guest XSETBV", true);
  Context& g = contexts_[v.guest];
  const Vm& vm = vms_[v.vm];
  fpu_exit_round_trip(cpu, v, VmExitReason::xsetbv, "guest_xsetbv_exit");
  if (!v.osxsave) {  // CR4.OSXSAVE = 0: #UD (reflected)
    stats_->add(XStat::guest_ud, g.id, 1);
    return finish();
  }
  constexpr ComponentMask kAvx512 = bit(kOpmask) | bit(kZmmHi256) | bit(kHi16Zmm);
  const ComponentMask mpx = bit(kBndregs) | bit(kBndcsr);
  bool ok = index == 0 && (xcr0 & bit(kX87)) && !(xcr0 & ~vm.supported_xcr0);
  if ((xcr0 & bit(kYMM)) && !(xcr0 & bit(kSSE))) ok = false;
  if ((xcr0 & mpx) && (xcr0 & mpx) != mpx) ok = false;
  if ((xcr0 & kAvx512) && ((xcr0 & kAvx512) != kAvx512 || !(xcr0 & bit(kYMM)))) ok = false;
  if ((xcr0 & kMaskAmx) && (xcr0 & kMaskAmx) != kMaskAmx) ok = false;
  if (!ok) {
    stats_->add(XStat::guest_gp, g.id, 1);
    return finish();
  }
  // Nothing is saved or restored: the guest buffer is sized for every
  // feature the VMM enabled and the host XSAVEs it under its own XCR0.
  v.xcr0 = xcr0;
  cpus_[cpu].trap.xcr0 = xcr0;
  return finish();
}

Cycles Agent::guest_cr4(CpuId cpu, Cycles t, bool osxsave) {
  event_time_ = t;
  Vcpu& v = running_vcpu(cpu, "guest CR4 write", true);
  // CR4.OSXSAVE is host-owned (not in cr4_guest_owned_bits): the write exits.
  stats_->add(XStat::vm_exits, v.guest, 1);
  stats_->add(XStat::vm_entries, v.guest, 1);
  v.osxsave = osxsave;
  return finish();
}

// ------------------------------------------------------------ VMM state access

void Agent::check_guest_image(CpuId cpu, Vcpu& v, const StateImage& image, const char* what) {
  Context& g = contexts_[v.guest];
  const ComponentMask mask = machine_.user_features() & ~bit(kPKRU) & ~v.undefined;
  checker_->check_use(
      now(), cpu, g.id, g.truth, image, mask,
      [this](ContextId id) { return context_name(id); }, [](ComponentMask m) { return mask_to_names(m); }, what);
}

// The VMM's vCPU ioctls on guest state: the VM exists, the vCPU is outside
// KVM_RUN (its state is in the buffer), and the guest is not confidential
// (KVM refuses: guest_state_protected).
Vcpu& Agent::vmm_access(std::uint32_t vid, const char* what) {
  Vcpu& v = vcpus_[vid];
  if (!v.exists) throw SemanticError{std::string(what) + " of vCPU " + v.name + ", whose VM does not exist"};
  if (v.in_run) throw SemanticError{std::string(what) + " of vCPU " + v.name + " inside KVM_RUN (kvm_return first)"};
  if (vms_[v.vm].confidential) {
    throw SemanticError{std::string(what) + " of confidential vCPU " + v.name + " is refused (guest state is protected)"};
  }
  return v;
}

const VcpuSnapshot& Agent::snapshot(const Vcpu& v, std::uint32_t slot, const char* what) const {
  auto it = v.snapshots.find(slot);
  if (it == v.snapshots.end()) {
    throw SemanticError{std::string(what) + " of vCPU " + v.name + " from slot " + std::to_string(slot) +
                        ", which no vcpu_save_state filled"};
  }
  return it->second;
}

Cycles Agent::vcpu_save_state(CpuId cpu, Cycles t, std::uint32_t vid, std::uint32_t slot) {
  event_time_ = t;
  Vcpu& v = vmm_access(vid, "state save (KVM_GET_XSAVE2)");
  Context& g = contexts_[v.guest];
  // fpu_copy_guest_fpstate_to_uabi(): the guest buffer is current outside
  // KVM_RUN; what the VMM gets must be the guest's latest state.
  VcpuSnapshot s;
  s.image.copy_from(g.fpstate.image, machine_.user_features() & ~bit(kPKRU));
  // PKRU comes from vcpu->arch.pkru, i.e. the guest's own value.
  s.image.copy_from(g.truth, bit(kPKRU));
  check_guest_image(cpu, v, s.image, "the KVM_GET_XSAVE2 image");
  s.xfd = guest_xfd_value(v);
  s.xfd_err = v.xfd_err;
  s.xcr0 = v.xcr0;
  if (s.xfd != v.truth_xfd) check_guest_msr(cpu, v, GuestMsr::kXfd, s.xfd);
  if (s.xfd_err != v.truth_xfd_err) check_guest_msr(cpu, v, GuestMsr::kXfdErr, s.xfd_err);
  v.snapshots[slot] = s;
  charge_memcpy(cpu, g.id, g.fpstate.user_size, Cause::kvm_state);
  return finish();
}

Cycles Agent::kvm_set_xsave(CpuId cpu, Cycles t, std::uint32_t vid, std::int64_t slot, ComponentMask write) {
  event_time_ = t;
  Vcpu& v = vmm_access(vid, "KVM_SET_XSAVE");
  Context& g = contexts_[v.guest];
  Fpstate& f = g.fpstate;
  StateImage img;
  if (slot >= 0) {
    img = snapshot(v, static_cast<std::uint32_t>(slot), "KVM_SET_XSAVE").image;
  } else {
    img = g.truth;
    for (unsigned i : bits(write)) img.tok[i] = Token{g.id, g.next_version++};
    img.present |= write;
  }
  // Seed 003's design has no KVM_SET_CPUID2 allocation; a restored image
  // with tile data must get its room here (the model's reading of the
  // design: the same growth as at the guest's first use).
  if (const ComponentMask grow = img.present & ~f.xfeatures & v.kvm_xfd) {
    grow_guest_fpstate(cpu, v, grow, Cause::kvm_state);
    v.kvm_xfd &= ~grow;
    f.xfd = v.guest_xfd_msr | v.kvm_xfd;
  }
  if (img.present & ~f.xfeatures & machine_.user_features()) {
    throw SemanticError{"KVM_SET_XSAVE of " + mask_to_names(img.present & ~f.xfeatures) + " into vCPU " + v.name +
                        ", whose guest fpstate is not sized for them (KVM_SET_CPUID2 did not enable them)"};
  }
  // fpu_copy_uabi_to_guest_fpstate(): the VMM's image becomes the guest's
  // state; XSTATE_BV &= ~xfd (b45f72177594) so that no XRSTOR meets a
  // present component under XFD.
  f.image.copy_from(img, machine_.user_features());
  g.truth.copy_from(img, machine_.user_features());
  const ComponentMask xfd = f.xfd;
  if (f.image.present & xfd) {
    if (!bug(Bug::kXstateBvUnderXfd)) f.image.present &= ~xfd;
    forget_disabled(v, xfd);
  }
  // The thread's registers no longer match the buffer (the kernel does
  // not track a guest fpstate as the owner: the next KVM_RUN restores it).
  charge_memcpy(cpu, g.id, f.user_size, Cause::kvm_state);
  return finish();
}

Cycles Agent::vcpu_load_state(CpuId cpu, Cycles t, std::uint32_t vid, std::uint32_t slot) {
  Vcpu& v = vmm_access(vid, "state load (KVM_SET_XSAVE)");
  const VcpuSnapshot s = snapshot(v, slot, "state load");
  // vcpu_load_state() (selftests): KVM_SET_XSAVE, KVM_SET_XCRS, then
  // KVM_SET_MSRS (host-initiated writes go through vmx_set_msr() too).
  const Cycles copy = kvm_set_xsave(cpu, t, vid, slot, 0);
  event_time_ = t;
  pending_ = static_cast<double>(copy);
  v.xcr0 = s.xcr0;
  v.xfd_err = s.xfd_err;
  v.truth_xfd_err = s.xfd_err;
  v.truth_xfd = s.xfd;
  set_guest_xfd(cpu, v, s.xfd, false);
  forget_disabled(v, s.xfd);
  if (s.xfd && !v.kvm_xfd && !v.xfd_no_write_intercept) {
    v.xfd_no_write_intercept = true;
    stats_->add(XStat::xfd_passthrough, v.guest, 1);
  }
  return finish();
}

}  // namespace fpusim::x86

// The host kernel's FPU ownership machinery on x86 (Linux), driven by trace
// events. The agent owns the per-CPU state (fpu_fpregs_owner_ctx, the XFD
// cache, the register file and trap unit) and the contexts; it provides the
// primitive operations of arch/x86/kernel/fpu/ (save, restore, activate,
// invalidate, xfd_update_state) and handles the events common to every
// policy. What differs between kernel generations is the Policy (policy.h).
// Plain C++: the SystemC Core (sim/) calls it and advances time by the
// cycles each call returns.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "models/core/checker.h"
#include "models/core/event_checks.h"
#include "models/core/mask_bytes.h"
#include "models/core/round.h"
#include "models/x86/cost_model.h"
#include "models/core/observer.h"
#include "models/core/stats.h"
#include "models/x86/context.h"
#include "models/x86/bugs.h"
#include "models/x86/kvm.h"
#include "models/x86/kvm_behaviour.h"
#include "models/x86/machine.h"
#include "models/x86/stats.h"
#include "models/x86/trap_unit.h"

namespace fpusim::x86 {

class Policy;

using fpusim::KernelFpuContext;
using fpusim::kKernelContext;
using fpusim::Observer;
using fpusim::OpRecord;
using fpusim::SemanticError;

struct CpuState {
  ContextId current = kNoContext;     // running context; kNoContext = idle
  ContextId owner_ctx = kNoContext;   // fpu_fpregs_owner_ctx
  ComponentMask xfd_cache = 0;        // per-CPU xfd_state (software copy of IA32_XFD)
  RegisterFileState rf;
  TrapUnit trap;
  std::uint64_t traps = 0;            // FPU exceptions taken on this CPU
  // Components the registers keep unsaved for `keeper`, a switched-out
  // context (a policy's choice, Agent::keep_in_registers; none in Linux).
  ComponentMask kept = 0;
  ContextId keeper = kNoContext;
};

class Agent {
 public:
  Agent(const Machine& machine, const CostModel& cost, Policy& policy, Stats& stats, Checker& checker);
  // A copy of `o`'s state (explore's clone of a run) counting into `stats`
  // and checked by `checker` (a copy of o's), under the same machine,
  // costs and policy (policies keep no state of their own), without
  // observers.
  Agent(const Agent& o, Stats& stats, Checker& checker) : Agent(o) {
    stats_ = &stats;
    checker_ = &checker;
    observers_.clear();
  }

  std::uint32_t add_process(std::string name);
  ContextId add_context(std::string name, ContextKind kind, std::uint32_t process);
  void reserve_contexts(size_t n) { contexts_.reserve(n); }
  // Called once, after all contexts are added and before the first event.
  void start();

  // Event entry points. Each returns the cycles of FPU management it cost on
  // that CPU; `t` is the (effective) time the event starts.
  Cycles context_switch(CpuId cpu, Cycles t, ContextId next);
  Cycles use(CpuId cpu, Cycles t, ComponentMask write, ComponentMask read, ComponentMask release);
  Cycles syscall(CpuId cpu, Cycles t);
  Cycles return_to_user(CpuId cpu, Cycles t);
  Cycles kernel_fpu(CpuId cpu, Cycles t, KernelFpuContext where, ComponentMask clobbers);
  Cycles irq(CpuId cpu, Cycles t, bool kernel_fpu, ComponentMask clobbers);
  // `fault`: Event::sub (kFaultRetry, kFaultFatal, models/core/event.h).
  Cycles signal(CpuId cpu, Cycles t, std::uint8_t fault);
  Cycles sigreturn(CpuId cpu, Cycles t, std::uint8_t fault);
  Cycles fork(CpuId cpu, Cycles t, ContextId child);
  Cycles exec(CpuId cpu, Cycles t, bool to_user);
  Cycles exit(CpuId cpu, Cycles t);
  Cycles xcomp_perm(CpuId cpu, Cycles t, ComponentMask features);
  Cycles state_read(CpuId cpu, Cycles t, ContextId target);
  // `invalid_header`: the written XSAVE header sets reserved bits.
  Cycles state_write(CpuId cpu, Cycles t, ContextId target, ComponentMask write, bool invalid_header);

  // ---- KVM (agent_kvm.cpp) ----
  // Which KVM generation's guest FPU handling runs (the policy's; kvm-eager
  // until set). `k` outlives the agent (kvm_behaviour.h's objects do).
  void set_kvm(const KvmBehaviour& k) { kvm_ = &k; }
  // The bugs of the corpus this run has (bits of Bug, models/x86/bugs.h):
  // the code each changed asks bug() where the kernel rule lives.
  void set_bugs(std::uint32_t bits) { bugs_ = bits; }
  bool bug(Bug b) const { return bugs_ >> static_cast<unsigned>(b) & 1u; }
  const KvmBehaviour& kvm() const { return *kvm_; }
  // A VM and its vCPUs as the scenario declares them; each vCPU's guest
  // state is the kGuest context `guest`, run by the user context `thread`.
  std::uint32_t add_vm(Vm vm);
  std::uint32_t add_vcpu(std::uint32_t vm, ContextId thread, ContextId guest);
  // A VM that exists when the trace starts (created, KVM_SET_CPUID2 done).
  void create_vm_at_start(std::uint32_t vm);
  Cycles xcomp_guest_perm(CpuId cpu, Cycles t, ComponentMask features);
  Cycles vm_create(CpuId cpu, Cycles t, std::uint32_t vm);
  Cycles vm_destroy(CpuId cpu, Cycles t, std::uint32_t vm);
  Cycles kvm_run(CpuId cpu, Cycles t, std::uint32_t vcpu);
  Cycles vm_entry(CpuId cpu, Cycles t);
  Cycles vm_exit(CpuId cpu, Cycles t, VmExitReason reason);
  Cycles kvm_return(CpuId cpu, Cycles t);
  Cycles guest_wrmsr(CpuId cpu, Cycles t, GuestMsr msr, ComponentMask value);
  Cycles guest_rdmsr(CpuId cpu, Cycles t, GuestMsr msr);
  Cycles guest_xsetbv(CpuId cpu, Cycles t, std::uint32_t index, ComponentMask xcr0);
  Cycles guest_cr4(CpuId cpu, Cycles t, bool osxsave);
  Cycles vcpu_save_state(CpuId cpu, Cycles t, std::uint32_t vcpu, std::uint32_t slot);
  Cycles vcpu_load_state(CpuId cpu, Cycles t, std::uint32_t vcpu, std::uint32_t slot);
  // KVM_SET_XSAVE alone: from a saved slot, or new values of `write`.
  Cycles kvm_set_xsave(CpuId cpu, Cycles t, std::uint32_t vcpu, std::int64_t slot, ComponentMask write);
  const Vm& vm(std::uint32_t i) const { return vms_[i]; }
  const Vcpu& vcpu(std::uint32_t i) const { return vcpus_[i]; }
  size_t num_vms() const { return vms_.size(); }
  // The vCPU whose guest runs on `cpu` right now (between VM entry and
  // exit), or null.
  const Vcpu* guest_running(CpuId cpu) const;

  // Exposure accounting around events (see Checker).
  void before_event(CpuId cpu, Cycles t) { checker_->advance(cpu, t); }
  void after_event(CpuId cpu, Cycles t);

  // ---- primitives used by policies (arch/x86/kernel/fpu/) ----
  // save_fpregs_to_fpstate(): XSAVE* of fpstate->xfeatures into ctx's buffer
  // (restricted to `only`, e.g. one component written back on its own).
  void save(CpuId cpu, Context& ctx, Cause cause, ComponentMask only = ~ComponentMask{0});
  // restore_fpregs_from_fpstate(): xfd_update_state() then XRSTOR(S) of
  // `mask`; components in the mask but not in XSTATE_BV are initialised.
  void restore(CpuId cpu, Context& ctx, ComponentMask mask, Cause cause);
  // os_xrstor(): XRSTOR(S) of `mask` from ctx's buffer without the XFD
  // update (os_xrstor_supervisor() in sigreturn).
  void xrstor(CpuId cpu, Context& ctx, ComponentMask mask, Cause cause);
  // copy_fpregs_to_sigframe(): XSAVE of ctx's user features straight from
  // the registers into a new signal frame (standard format, every requested
  // component written).
  void xsave_to_sigframe(CpuId cpu, Context& ctx);
  // XRSTOR of ctx's user features straight from a signal frame (sigreturn);
  // the truth becomes the frame's contents, unless `faulted`: the XRSTOR
  // took a page fault after changing the registers (they hold the frame's
  // contents, the restore is not done).
  void xrstor_from_sigframe(CpuId cpu, Context& ctx, const StateImage& frame, bool faulted = false);
  // XRSTOR of `mask` from init_fpstate (exec, signal delivery).
  void restore_init(CpuId cpu, ComponentMask mask, Cause cause);
  // xfd_update_state(): WRMSR IA32_XFD only if the per-CPU cache differs.
  void xfd_update_state(CpuId cpu, const Fpstate& fps, Cause cause);
  void set_ts(CpuId cpu, bool ts, Cause cause);
  // fpregs_state_valid(): owner_ctx == ctx && ctx->last_cpu == cpu.
  bool fpregs_state_valid(const Context& ctx, CpuId cpu) const {
    return cpus_[cpu].owner_ctx == ctx.id && ctx.last_cpu == cpu;
  }
  void set_owner(CpuId cpu, ContextId ctx) { cpus_[cpu].owner_ctx = ctx; }
  // `comps` of `cpu`'s registers hold `keeper`'s unsaved state from now on
  // (keeper kNoContext: nothing kept). XSAVE and XRSTOR on that CPU leave
  // them out of the requested-feature bitmap (RFBM), so they are neither
  // written into nor overwritten from anybody's buffer, and
  // xfd_update_state() keeps them armed in IA32_XFD for any fpstate but the
  // keeper's, out of reach of user code.
  void keep_in_registers(CpuId cpu, ContextId keeper, ComponentMask comps) {
    cpus_[cpu].keeper = keeper;
    cpus_[cpu].kept = keeper == kNoContext ? 0 : comps;
  }
  // x86_pkru_load(): make the PKRU register hold `ctx`'s value, writing it
  // only if it differs (also the guest/host PKRU switch around VM entry).
  void pkru_load(CpuId cpu, const Context& ctx, Cause cause);
  // The context whose buffer a save or restore of `ctx` uses: the guest's
  // while a vCPU thread's fpstate is swapped (fpu->fpstate = guest fpstate).
  Context& storage(Context& ctx) {
    return ctx.fpstate_swapped ? contexts_[vcpus_[ctx.vcpu].guest] : ctx;
  }
  // Copy an image between memory buffers (signal frames, fork from memory).
  void charge_memcpy(CpuId cpu, ContextId ctx, std::uint64_t bytes, Cause cause);
  void charge(CpuId cpu, ContextId ctx, Stat category, double cycles, std::string_view op, Cause cause,
              std::uint64_t bytes = 0, ComponentMask comps = 0);
  // fpstate_reset(): the embedded default-size buffer, init contents.
  void reset_fpstate(Context& ctx);
  // Make the registers hold ctx's live user state in init (fpu__clear_user_states).
  void set_truth_init(Context& ctx, ComponentMask mask) { ctx.truth.set_init(mask); }
  // fpu_clone()'s XSAVE of the live registers into a new child's buffer
  // (its default features; a fresh buffer, so no modified optimisation). The
  // copy becomes the child's own data: its tokens are re-tagged to the child.
  void save_into_child(CpuId cpu, Context& child);
  // An FPU exception taken by `ctx`: counted by kind and cause, with the
  // exception round trip's cost.
  void take_trap(CpuId cpu, ContextId ctx, XStat kind, Cause cause, std::string_view op, ComponentMask comps = 0);

  Context& ctx(ContextId id) { return contexts_[id]; }
  const Context& ctx(ContextId id) const { return contexts_[id]; }
  Context* current(CpuId cpu) {
    ContextId c = cpus_[cpu].current;
    return c == kNoContext ? nullptr : &contexts_[c];
  }
  CpuState& cpu(CpuId id) { return cpus_[id]; }
  const CpuState& cpu(CpuId id) const { return cpus_[id]; }
  // The state of `cpu` as observers see it.
  CpuView cpu_view(CpuId cpu) const;
  // Bytes of non-init state the registers of `id` hold.
  std::uint64_t live_bytes(CpuId id) const { return bytes_of(cpus_[id].rf.regs.present); }
  Process& process_of(const Context& c) { return processes_[c.process]; }
  const Machine& machine() const { return machine_; }
  const CostModel& cost() const { return cost_; }
  Stats& stats() { return *stats_; }
  size_t num_contexts() const { return contexts_.size(); }
  std::string context_name(ContextId id) const;
  void add_observer(Observer* o) { observers_.push_back(o); }
  // Explore's key (ArchAgent::state_key): every CPU, context, process, VM
  // and vCPU field a later event reads, and the checker's memory.
  void state_key(StateKey& k) const;

 private:
  Agent(const Agent&) = default;
  // Returns and clears the cycles charged by this event (inline: every
  // event ends here).
  Cycles finish() {
    if (pending_ == 0) return 0;  // most events cost nothing: no rounding
    const auto c = static_cast<Cycles>(round_nearest(pending_));
    pending_ = 0;
    return c;
  }
  // kernel_fpu_begin() .. kernel_fpu_end() with the section's own SIMD work,
  // if irq_fpu_usable() allows it.
  void kernel_fpu_section(CpuId cpu, Context* cur, bool in_interrupt, bool interrupted_user,
                          ComponentMask clobbers);
  // That `c` is at a syscall boundary of its own: no signal delivery or
  // sigreturn pending after a fault, and not inside KVM_RUN, where the
  // thread stays in the ioctl until kvm_return (signals are delivered, and
  // a ptrace stop reached, only on the way out).
  void check_not_pending(const Context& c, const char* what) const {
    if (c.pending != Context::Pending::kNone || c.vcpu != kNoVcpu) refuse_pending(c, what);
  }
  [[noreturn]] void refuse_pending(const Context& c, const char* what) const;
  // That a user context runs on `cpu` (in user mode if `need_user_mode`);
  // the check is inline, the failure (a SemanticError) is not.
  void check_current(CpuId cpu, const char* what, bool need_user_mode) {
    const Context* c = current(cpu);
    if (!can_act(c, need_user_mode)) refuse_current(c, cpu, what, need_user_mode);
  }
  ComponentMask written_by_save(const CpuState& cs, const Fpstate& fps, ComponentMask mask) const;
  std::uint64_t bytes_of(ComponentMask mask) const { return mask_bytes_(mask); }
  // The user features a signal frame carries back.
  ComponentMask sigframe_mask(const Context& c) const;
  void account_save_restore(bool save, CpuId cpu, ContextId ctx, Cause cause, Cycles cycles,
                            std::uint64_t bytes, ComponentMask comps, std::string_view op);

  // KVM helpers (agent_kvm.cpp).
  Vcpu& running_vcpu(CpuId cpu, const char* what, bool in_guest);
  void guest_use(CpuId cpu, Vcpu& v, ComponentMask write, ComponentMask read, ComponentMask release);
  void load_guest_fpu(CpuId cpu, Context& thread, Vcpu& v);
  void put_guest_fpu(CpuId cpu, Context& thread, Vcpu& v);
  void enter_guest(CpuId cpu, Context& thread, Vcpu& v);
  void exit_guest(CpuId cpu, Context& thread, Vcpu& v);
  // A VM exit KVM handles in the kernel and re-enters from (an intercept).
  void fpu_exit_round_trip(CpuId cpu, Vcpu& v, VmExitReason reason, std::string_view op, bool full = false);
  void reset_guest_fpstate(Vcpu& v);
  void grow_guest_fpstate(CpuId cpu, Vcpu& v, ComponentMask features, Cause cause);
  bool nm_intercepted(const Vcpu& v) const;
  ComponentMask guest_xfd_value(const Vcpu& v) const;  // what a guest RDMSR IA32_XFD returns
  void set_guest_xfd(CpuId cpu, Vcpu& v, ComponentMask value, bool in_use);
  void forget_disabled(Vcpu& v, ComponentMask xfd);
  void check_guest_msr(CpuId cpu, Vcpu& v, GuestMsr msr, ComponentMask got);
  void check_guest_xfd_input(const Vcpu& v, GuestMsr msr, ComponentMask value) const;
  void check_guest_image(CpuId cpu, Vcpu& v, const StateImage& image, const char* what);
  Vcpu& vmm_access(std::uint32_t vcpu, const char* what);
  const VcpuSnapshot& snapshot(const Vcpu& v, std::uint32_t slot, const char* what) const;

  const Machine& machine_;
  const CostModel& cost_;
  Policy& policy_;
  Stats* stats_;  // pointers, not references: clone() rebinds them
  Checker* checker_;
  std::vector<Observer*> observers_;
  std::vector<CpuState> cpus_;
  std::vector<Context> contexts_;
  std::vector<Process> processes_;
  std::array<std::uint32_t, kMaxComponents> comp_bytes_{};
  const KvmBehaviour* kvm_ = &kvm_eager();
  std::uint32_t bugs_ = 0;
  std::vector<Vm> vms_;
  std::vector<Vcpu> vcpus_;
  MaskBytes mask_bytes_;  // bytes_of() by table
  std::uint64_t next_fpstate_id_ = 1;
  // Cycles charged so far by the event being handled, and its start time.
  double pending_ = 0;
  Cycles event_time_ = 0;
  // The time within the event being handled: its start plus what it has
  // cost so far (operation records, violations, guest runs).
  Cycles now() const { return event_time_ + static_cast<Cycles>(pending_); }
};

}  // namespace fpusim::x86

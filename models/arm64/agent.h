// The host kernel's FP/SIMD ownership machinery on arm64 (Linux,
// arch/arm64/kernel/fpsimd.c), driven by trace events. The agent owns the
// per-CPU state (fpsimd_last_state, CPACR_EL1.ZEN's EL0 bit, ZCR_EL1, the
// register file) and the contexts; it provides the primitives of fpsimd.c
// (save, load, bind, flush) and handles the events; the kernel rules that
// decide when they run are the Policy's (policy.h).
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "models/arm64/bugs.h"
#include "models/arm64/context.h"
#include "models/arm64/kvm.h"
#include "models/arm64/machine.h"
#include "models/arm64/stats.h"
#include "models/core/checker.h"
#include "models/core/observer.h"
#include "models/core/stats.h"

namespace fpusim::arm64 {

class Policy;

// fpsimd_last_state.to_save (deeb8f9a, v6.2): which format a save of the
// bound state must store. Before v6.2 every binding behaved as kCurrent.
enum class ToSave : std::uint8_t {
  kCurrent,  // decided by current's TIF_SVE (Policy::save_sve_for_current)
  kFpsimd,   // V0-V31 only (a vCPU without SVE)
  kSve,      // Z, P, FFR at the bound state's VL (a vCPU with SVE)
};

struct CpuState {
  ContextId current = kNoContext;  // running context; kNoContext = idle
  // fpsimd_last_state.st: whose state the registers hold (kNoContext: NULL,
  // nobody's, after kernel_neon_begin).
  ContextId last = kNoContext;
  bool zen_el0 = false;  // CPACR_EL1.ZEN EL0 enable: clear = EL0 SVE traps
  bool smen_el0 = false; // CPACR_EL1.SMEN EL0 enable: clear = EL0 SME (and streaming SVE) traps
  // CPACR_EL1.SMEN's EL1 (VHE: EL2) enable, the kernel's own SME access
  // (SVCR, ZA); and a write of it not yet synchronised by an ISB, which
  // instructions after it may not see (59d78a2e).
  bool smen_el1 = true;
  bool smen_el1_unsynchronised = false;
  bool kernel_trap_reported = false;  // one violation per episode
  bool sm = false;       // live PSTATE.SM (SVCR.SM)
  bool za = false;       // live PSTATE.ZA (SVCR.ZA)
  unsigned smcr_vl = 0;  // the streaming vector length SMCR_EL1 selects, bits
  unsigned zcr_vl = 0;   // the vector length ZCR_EL1 selects, bits
  ToSave to_save = ToSave::kCurrent;
  // The guest's FP/SVE accesses do not trap to EL2 (CPTR_EL2.TFP/TZ clear,
  // or CPACR FPEN/ZEN set, for the running guest).
  bool guest_fp_open = false;
  // The hypervisor's per-CPU copy of the host registers while the guest's
  // are loaded: 2017's host_cpu_context fp_regs, pKVM's host_data
  // (host_ctxt.fp_regs or sve_state, and fpmr), with ZCR_EL1 as it was.
  bool hyp_guest_live = false;
  StateImage hyp_host;
  unsigned hyp_host_zcr_vl = 0;
  RegisterFileState rf;
  std::uint64_t traps = 0;
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

  ContextId add_context(std::string name, ContextKind kind);
  void start();

  // Event entry points; each returns the cycles of FP/SIMD management it
  // cost on that CPU.
  Cycles context_switch(CpuId cpu, Cycles t, ContextId next);
  Cycles use(CpuId cpu, Cycles t, ComponentMask write, ComponentMask read, ComponentMask release);
  Cycles syscall(CpuId cpu, Cycles t);
  Cycles return_to_user(CpuId cpu, Cycles t);
  // The core kernel_fpu event: kernel_neon_begin() .. kernel_neon_end().
  Cycles kernel_fpu(CpuId cpu, Cycles t, KernelFpuContext where, ComponentMask clobbers);
  Cycles irq(CpuId cpu, Cycles t, bool kernel_neon, ComponentMask clobbers);
  // `fault` (Event::sub): refused, see refuse_fault().
  Cycles signal(CpuId cpu, Cycles t, std::uint8_t fault);
  Cycles sigreturn(CpuId cpu, Cycles t, std::uint8_t fault);
  Cycles fork(CpuId cpu, Cycles t, ContextId child);
  Cycles exec(CpuId cpu, Cycles t, bool to_user);
  Cycles exit(CpuId cpu, Cycles t);
  Cycles state_read(CpuId cpu, Cycles t, ContextId target);
  // `invalid_header`: refused (an x86 XSAVE header has no arm64 equivalent).
  Cycles state_write(CpuId cpu, Cycles t, ContextId target, ComponentMask write, bool invalid_header);
  // ptrace(PTRACE_SETREGSET, NT_ARM_SSVE): `write` as the data holds it
  // (fpsimd alone: the FPSIMD format), the target put in streaming mode.
  Cycles ssve_write(CpuId cpu, Cycles t, ContextId target, ComponentMask write);
  Cycles za_disable(CpuId cpu, Cycles t, ContextId target);
  Cycles sve_set_vl(CpuId cpu, Cycles t, unsigned vl);
  // prctl(PR_SME_SET_VL): the streaming vector length.
  Cycles sme_set_vl(CpuId cpu, Cycles t, unsigned vl);
  // SMSTART / SMSTOP by current in user mode, of PSTATE.SM and/or PSTATE.ZA.
  Cycles sme_mode(CpuId cpu, Cycles t, bool start, bool sm, bool za);
  // KVM: `guest` is the vCPU's guest context.
  Cycles kvm_run(CpuId cpu, Cycles t, ContextId guest);
  Cycles vm_entry(CpuId cpu, Cycles t);
  Cycles vm_exit(CpuId cpu, Cycles t);
  Cycles kvm_return(CpuId cpu, Cycles t);

  // The run's bugs of the host code (bits of Bug, bugs.h).
  void set_bugs(std::uint32_t bits) { bugs_ = bits; }
  // The KVM scheme (null: the policy models the host only), and the vCPUs.
  void set_kvm(KvmScheme* kvm) { kvm_ = kvm; }
  void add_vcpu(std::string name, ContextId thread, ContextId guest, bool sve, unsigned vl, bool fpmr = false);

  void before_event(CpuId cpu, Cycles t) { checker_->advance(cpu, t); }
  void after_event(CpuId cpu, Cycles t);

  // ---- primitives (fpsimd.c) ----
  // fpsimd_save_user_state(): the registers into the buffers of the context
  // bound to `cpu` (fpsimd_last_state), in SVE format if it has TIF_SVE;
  // nothing if current's TIF_FOREIGN_FPSTATE is set.
  void save_user_state(CpuId cpu, Cause cause);
  // task_fpsimd_load(): ctx's saved state into the registers, in its format
  // (fp_type; TIF_SVE follows it, ZCR_EL1 set for its VL).
  void load(CpuId cpu, Context& ctx, Cause cause);
  // What a change of PSTATE.SM resets to zero (Arm ARM ResetSVEState()):
  // Z (with V), P, FFR, and FPMR with FEAT_FPMR.
  ComponentMask sm_reset_mask() const { return kMaskVec | (machine_.fpmr ? kMaskFpmr : 0); }
  // fpsimd_bind_task_to_cpu(): fpsimd_last_state = ctx, fpsimd_cpu = cpu,
  // EL0 SVE access per TIF_SVE (sve_user_enable / sve_user_disable).
  void bind(CpuId cpu, Context& ctx, Cause cause);
  // fpsimd_flush_cpu_state(): fpsimd_last_state.st = NULL, current's
  // TIF_FOREIGN_FPSTATE set.
  void flush_cpu_state(CpuId cpu);
  // fpsimd_flush_task_state(): fpsimd_cpu = NR_CPUS, TIF_FOREIGN_FPSTATE set.
  void flush_task_state(Context& ctx) {
    ctx.fpsimd_cpu = kNoCpu;
    ctx.foreign = true;
  }
  // sve_user_enable() / sve_user_disable(): CPACR_EL1.ZEN's EL0 bit.
  void set_zen_el0(CpuId cpu, bool on, Cause cause);
  // sme_user_enable() / sme_user_disable(): CPACR_EL1.SMEN's EL0 bit.
  void set_smen_el0(CpuId cpu, bool on, Cause cause);
  // sme_set_vq(): SMCR_EL1 for `svl` (written only if it changes).
  void set_smcr(CpuId cpu, unsigned svl, Cause cause);
  // SMSTOP of the live PSTATE.SM and/or PSTATE.ZA (sme_smstop_sm(),
  // sme_smstop()): leaving streaming mode zeroes the vector registers,
  // disabling ZA discards ZA and ZT0. `owner`, when given, is the context
  // whose live state this is: its truth and svcr follow.
  void smstop_live(CpuId cpu, bool sm, bool za, Context* owner);
  // sve_set_vq(): ZCR_EL1 for `vl` (written only if it changes).
  void set_zcr(CpuId cpu, unsigned vl, Cause cause);
  // sve_flush_live(): zero the Z upper bits, P and FFR in the registers.
  void sve_flush_live(CpuId cpu, Cause cause);
  // fpsimd_to_sve() / sve_to_fpsimd() of ctx's saved state.
  void convert(Context& ctx, FpType to);
  // The task's vector length (its component sizes follow).
  void set_vl(Context& ctx, unsigned vl);
  // Its component sizes after a change of VL, SVL or streaming mode.
  void relayout(Context& ctx);
  // An EL0 access trap: SVE (do_sve_acc) or SME (do_sme_acc).
  void take_trap(CpuId cpu, Context& ctx, Cause cause, bool sme = false);

  // ---- KVM primitives ----
  // fpsimd_bind_state_to_cpu(): a vCPU's state becomes the CPU's bound
  // state, saved by the host's own save path in the `to_save` format.
  void bind_state(CpuId cpu, Context& guest, ToSave to_save);
  // fpsimd_save_and_flush_cpu_state().
  void save_and_flush(CpuId cpu, Cause cause) {
    save_user_state(cpu, cause);
    flush_cpu_state(cpu);
  }
  // The hypervisor saves the registers as the thread's user state
  // (__fpsimd_save_state(host_fpsimd_state); with host SVE in use, 85acda3b,
  // sve_save_state() into its sve_state).
  // With guest FPMR (ef3be86021c3) the host's FPMR too ("if (kvm_has_fpmr())
  // **host_data_ptr(fpmr_ptr) = read_sysreg_s(SYS_FPMR)").
  void hyp_save_host(CpuId cpu, Vcpu& v, Context& thread, bool sve);
  // The hypervisor loads the vCPU's state (__fpsimd_restore_state, or for
  // an SVE vCPU __sve_restore_state at its VL, b43b5dd9).
  void hyp_load_guest(CpuId cpu, Vcpu& v);
  // The host registers into / out of the hypervisor's per-CPU copy, the
  // guest's back into the vCPU: the 2017 scheme (FPSIMD only), and pKVM
  // (`sve`: the host's SVE state at its VL, __hyp_sve_save_host() /
  // __hyp_sve_restore_host(); an SVE vCPU's state saved in SVE format).
  void hyp_switch_to_guest(CpuId cpu, Vcpu& v, bool sve);
  void hyp_switch_to_host(CpuId cpu, Vcpu& v, bool sve);
  // The hypervisor's exit path wrote the host's CPACR_EL1 (VHE): EL0 SVE
  // and SME access as given (no separate cost: part of every exit).
  void hyp_set_host_cpacr(CpuId cpu, bool zen_el0, bool smen_el0, bool smen_el1) {
    cpus_[cpu].zen_el0 = zen_el0;
    cpus_[cpu].smen_el0 = smen_el0;
    cpus_[cpu].smen_el1 = smen_el1;
  }
  // An access by the kernel to SME state (SVCR, ZA, SMSTOP) on `cpu`, for
  // `whose` state: with SME disabled for the kernel, or its enable not yet
  // synchronised, it traps in the kernel: a kernel_trap violation.
  void kernel_sme_access(CpuId cpu, ContextId whose, const char* what);
  void take_guest_trap(CpuId cpu, Vcpu& v);
  Vcpu& vcpu(std::uint32_t i) { return vcpus_[i]; }
  void charge(CpuId cpu, ContextId ctx, Stat category, double cycles, std::string_view op, Cause cause,
              std::uint64_t bytes = 0, ComponentMask comps = 0);

  Context& ctx(ContextId id) { return contexts_[id]; }
  const Context& ctx(ContextId id) const { return contexts_[id]; }
  Context* current(CpuId cpu) {
    const ContextId c = cpus_[cpu].current;
    return c == kNoContext ? nullptr : &contexts_[c];
  }
  CpuState& cpu(CpuId id) { return cpus_[id]; }
  const CpuState& cpu(CpuId id) const { return cpus_[id]; }
  CpuView cpu_view(CpuId cpu) const;
  const Machine& machine() const { return machine_; }
  const CostModel& cost() const { return cost_; }
  Stats& stats() { return *stats_; }
  size_t num_contexts() const { return contexts_.size(); }
  std::string context_name(ContextId id) const;
  void add_observer(Observer* o) { observers_.push_back(o); }
  // Explore's key (ArchAgent::state_key): every CPU, context and vCPU field
  // a later event reads, and the checker's memory.
  void state_key(StateKey& k) const;

 private:
  Context& tracee(ContextId target, const char* what);  // a ptrace target: a user task outside KVM_RUN
  void write_regset(CpuId cpu, Context& tc, ComponentMask write, const ComponentSizes& sizes, bool streaming);
  Agent(const Agent&) = default;
  Cycles finish();
  // A trap-control register write when its value changes: counted, charged.
  template <typename T>
  void write_control(CpuId cpu, T& reg, T value, AStat counter, double cycles, std::string_view op, Cause cause);
  void check_current(CpuId cpu, const char* what, bool need_user_mode);
  [[noreturn]] void refuse_fault(const char* what) const;
  // A save or load of `comps` of `c` (in SVE format if `sve`); the bytes at
  // `sizes`, by default c's own.
  void account(bool save, CpuId cpu, Context& c, Cause cause, bool sve, ComponentMask comps, std::string_view op,
               const ComponentSizes* sizes = nullptr);
  std::shared_ptr<const ComponentSizes> sizes_for(const VecLayout& l);
  const ComponentSizes* host_max_vl_sizes(bool sve);
  void kernel_neon_section(CpuId cpu, Context* cur, bool in_softirq_or_irq, ComponentMask clobbers);
  Vcpu& running_vcpu(CpuId cpu, const char* what, bool in_guest);
  void guest_use(CpuId cpu, Cycles t, Vcpu& v, ComponentMask write, ComponentMask read, ComponentMask release);
  void load_vcpu(CpuId cpu, Vcpu& v);
  void put_vcpu(CpuId cpu, Vcpu& v);

  const Machine& machine_;
  const CostModel& cost_;
  std::uint32_t bugs_ = 0;
  Policy& policy_;
  Stats* stats_;  // pointers, not references: clone() rebinds them
  Checker* checker_;
  std::vector<Observer*> observers_;
  std::vector<CpuState> cpus_;
  std::vector<Context> contexts_;
  std::vector<Vcpu> vcpus_;
  std::vector<std::uint32_t> vcpu_of_guest_;  // per context: its vCPU, or kNoVcpu
  KvmScheme* kvm_ = nullptr;
  std::map<VecLayout, std::shared_ptr<const ComponentSizes>> sizes_;
  double pending_ = 0;
  Cycles event_time_ = 0;
  // The time within the event being handled: its start plus what it has
  // cost so far (operation records, violations, guest runs).
  Cycles now() const { return event_time_ + static_cast<Cycles>(pending_); }
};

}  // namespace fpusim::arm64

// A save/restore policy: how one kernel generation decides every save,
// restore and trap. Policies register themselves by name (Ramulator 2's
// factories); `fpusim list policies` prints the registry.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "models/core/arch.h"
#include "models/core/registry.h"
#include "models/x86/agent.h"
#include "models/x86/kvm_behaviour.h"

namespace fpusim::x86 {

// A policy keeps no state of its own across events: the run's state is the
// agent's (explore's clones share one policy object, and its state key is
// the agent's).
class Policy {
 public:
  virtual ~Policy() = default;

  // CPU bring-up (fpu__init_cpu): initial CR0.TS and so on.
  virtual void init_cpu(Agent& a, CpuId cpu) = 0;
  // A context that exists when the trace starts, as its kernel leaves a task
  // after exec.
  virtual void init_context(Agent& a, Context& ctx) = 0;
  // __switch_to(): the FPU part of switching prev -> next (either may be
  // null: the idle task). Runs before `next` returns to user space.
  virtual void switch_fpu(Agent& a, CpuId cpu, Context* prev, Context* next) = 0;
  // exit_to_user_mode_prepare() for the current user context.
  virtual void return_to_user(Agent& a, CpuId cpu, Context& ctx) = 0;
  // #NM with CR0.TS set (device not available), IA32_XFD_ERR == 0.
  virtual void nm_ts_trap(Agent& a, CpuId cpu, Context& ctx) = 0;
  // irq_fpu_usable(): may a kernel FPU section run here now?
  virtual bool kernel_fpu_usable(Agent& a, CpuId cpu, Context* current, bool in_interrupt,
                                 bool interrupted_user) = 0;
  virtual void kernel_fpu_begin(Agent& a, CpuId cpu, Context* current) = 0;
  virtual void kernel_fpu_end(Agent& a, CpuId cpu, Context* current) = 0;
  // Are ctx's registers live on the CPU it runs on (its state is not
  // authoritative in memory)?
  virtual bool regs_live(const Agent& a, const Context& ctx) const = 0;
  // Make the current context's user registers live (fpregs_lock_and_load()).
  virtual void load_user_regs(Agent& a, CpuId cpu, Context& ctx, Cause cause) = 0;
  // Signal frame setup: save the user state into a new frame and start the
  // handler with init user state. `retry`: after signal_frame_fault().
  virtual void signal_deliver(Agent& a, CpuId cpu, Context& ctx, bool retry) = 0;
  virtual void sigreturn(Agent& a, CpuId cpu, Context& ctx, const StateImage& frame) = 0;
  // An attempt of signal_deliver() whose write of the frame faulted
  // (nothing written; `retry`: not the first); the retry comes later, after
  // any preemption. The default: v4.x, which wrote the frame with page
  // faults enabled, the fault handled within the attempt.
  virtual void signal_frame_fault(Agent&, CpuId, Context&, bool /*retry*/) {}
  // A sigreturn whose XRSTOR from `frame` faulted after changing the
  // registers; the retry (sigreturn()) comes later. The default: v4.x, as
  // signal_frame_fault().
  virtual void sigreturn_fault(Agent&, CpuId, Context&, const StateImage& /*frame*/) {}
  // A sigreturn that fails for good (the frame unreadable): the kernel
  // resets the user FP state (fpu__clear_user_states(); v4.x fpu__clear()).
  virtual void sigreturn_failed(Agent& a, CpuId cpu, Context& ctx) = 0;
  virtual void fork(Agent& a, CpuId cpu, Context& parent, Context& child) = 0;
  virtual void exec(Agent& a, CpuId cpu, Context& ctx) = 0;
  virtual void exit(Agent& a, CpuId cpu, Context& ctx) = 0;
  // The buffer of a stopped task was written (ptrace SETREGSET).
  virtual void state_written(Agent& a, Context& ctx) = 0;
  // fpregs_mark_activate() (v5.2+) / fpregs_activate() (v4.x): the
  // registers now hold ctx's state, live, on this CPU.
  virtual void mark_active(Agent& a, CpuId cpu, Context& ctx) = 0;
  // use_eager_fpu(): CR0.TS is never set for user tasks.
  virtual bool use_eager_fpu() const = 0;
  // The features a restore of a task's state requests.
  virtual ComponentMask restore_mask(const Agent& a) const = 0;

  // ---- Hooks for a policy that leaves part of a switched-out context's
  // state unsaved in a CPU's registers (xfd-lazy-amx; Agent::keep_in_registers
  // records what is left). The defaults are what every kernel generation
  // does: nothing is left behind.
  //
  // An XFD #NM taken by ctx, IA32_XFD_ERR already read and cleared, before
  // handle_xfd_event()'s permission check and first-use reallocation:
  // true if the policy handled it (the instruction is re-executed).
  virtual bool xfd_nm(Agent&, CpuId, Context&, ComponentMask /*xfd_err*/) { return false; }
  // fpu_sync_fpstate() before ptrace/coredump access to ctx's buffer from
  // `cpu`: the buffer must hold ctx's whole state.
  virtual void sync_fpstate(Agent&, CpuId, Context&) {}
};

// A named policy: a host mechanism and how KVM handles guest FPU state.
// Host policies name their era's KVM behaviour; "kvm-eager" and
// "kvm-lazy-legacy" name a KVM behaviour with its era's host policy; and
// "HOST+KVM" names any combination that existed. Resolved once from its name
// (command line, scenario) and passed along by reference; the shared code
// sees its PolicyDesc part (name, kernels, description).
struct PolicyInfo : PolicyDesc {
  std::function<std::unique_ptr<Policy>()> make;
  const KvmBehaviour* kvm = nullptr;  // never null once registered
  bool composite = false;   // a "HOST+KVM" spelling (listed after the others; not in policy_names())
};

// An x86 policy a plugin adds (models/x86/plugin.h: add_policy).
struct PluginPolicy final : fpusim::PluginPolicy {
  explicit PluginPolicy(PolicyInfo i) : info(std::move(i)) {}
  std::string_view arch() const override { return "x86_64"; }
  const PolicyDesc& desc() const override { return info; }
  PolicyInfo info;
};

// The registry (models/core/registry.h). Policies add themselves from their
// own files (models/x86/policies/) with FPUSIM_REGISTER_POLICY. Order keys:
// host policies 100.., KVM variants 200.., HOST+KVM spellings 300..; the
// order is `fpusim list policies`'s and policy_names()'.
Registry<PolicyInfo>& policy_registry();
#define FPUSIM_REGISTER_POLICY(order, ...) FPUSIM_REGISTER(::fpusim::x86::policy_registry(), order, __VA_ARGS__)

// "HOST+KVM": host policy `host` (made by `make`) with guests under `kvm`.
PolicyInfo composite_policy(const std::string& host, std::function<std::unique_ptr<Policy>()> make,
                            const KvmBehaviour& kvm);

// In registration order.
const Registry<PolicyInfo>& policies();
// The lookup by name, where a name enters (command line, scenario files).
const PolicyInfo* find_policy(std::string_view name);
// "eager, lazy, ..." for error messages (resolve_policy, models/core/arch.h).
std::string policy_names();

}  // namespace fpusim::x86

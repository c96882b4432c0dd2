// Every counter fpusim reports is declared here, once, with its unit and a
// one-line description (gem5's stat groups). Report writers and
// `fpusim list stats` walk this table, so a new counter never touches them.
#pragma once

#include <array>
#include <cassert>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "models/core/types.h"

namespace fpusim {

#define FPUSIM_STATS(X)                                                                            \
  X(events, "count", "trace events replayed")                                                      \
  X(context_switches, "count", "context switches (including to and from idle)")                    \
  X(saves, "count", "register-file saves to a context's buffer (XSAVE family or FXSAVE)")          \
  X(restores, "count", "restores of a context's buffer into the register file (XRSTOR family)")    \
  X(bytes_saved, "bytes", "bytes written by saves (XSAVE header + components the instruction wrote)") \
  X(bytes_restored, "bytes", "bytes read by restores (XSAVE header + components with XSTATE_BV set)") \
  X(init_restores, "count", "restores that load the init image (exec, signal delivery)")           \
  X(restores_skipped, "count", "restores avoided because the CPU still held the context's registers (fpregs_state_valid / fpu_want_lazy_restore)") \
  X(traps, "count", "FPU-related exceptions taken (all kinds)")                                    \
  X(traps_nm_ts, "count", "#NM from CR0.TS (lazy first use in a time slice)")                      \
  X(traps_nm_xfd, "count", "#NM from IA32_XFD (first use of a dynamic feature such as AMX tiles)") \
  X(traps_ud, "count", "#UD: a component not enabled in XCR0")                                     \
  X(sigill, "count", "SIGILL delivered: dynamic feature used without arch_prctl permission")       \
  X(fpstate_reallocs, "count", "fpstate reallocations to a larger buffer (fpstate_realloc)")      \
  X(fpstate_bytes_grown, "bytes", "bytes added to kernel fpstate buffers by reallocation")        \
  X(xfd_writes, "count", "WRMSR IA32_XFD (xfd_update_state when the per-CPU cache differs)")      \
  X(xfd_writes_avoided, "count", "xfd_update_state calls that found the per-CPU XFD cache equal") \
  X(cr0_ts_sets, "count", "CR0.TS set (stts)")                                                     \
  X(cr0_ts_clears, "count", "CR0.TS cleared (clts)")                                               \
  X(pkru_writes, "count", "WRPKRU on context switch")                                               \
  X(kernel_fpu_sections, "count", "kernel_fpu_begin/end sections executed")                       \
  X(kernel_fpu_fallbacks, "count", "kernel FPU sections refused by irq_fpu_usable() (caller falls back to scalar code)") \
  X(signal_frames, "count", "signal frames written with FPU state")                                \
  X(forks, "count", "fork/clone FPU copies")                                                       \
  X(migrations, "count", "tasks moved between CPUs by the scheduler's load balancing (scheduled mode)") \
  X(kvm_runs, "count", "KVM_RUN ioctls (vCPU thread enters the run loop)")                       \
  X(kvm_fpu_loads, "count", "guest FPU loads (kvm_load_guest_fpu: the kvm_fpu load tracepoint)")  \
  X(kvm_fpu_unloads, "count", "guest FPU puts (kvm_put_guest_fpu: the kvm_fpu unload tracepoint)") \
  X(vm_entries, "count", "VM entries")                                                             \
  X(vm_exits, "count", "VM exits (all reasons)")                                                   \
  X(fpu_vm_exits, "count", "VM exits caused by FPU virtualisation: intercepted #NM, IA32_XFD / IA32_XFD_ERR accesses, XSETBV") \
  X(guest_nm_injected, "count", "#NM exceptions the guest receives (re-injected after an intercept, or delivered directly)") \
  X(guest_gp, "count", "#GP injected into a guest (an XSETBV that __kvm_set_xcr() refuses)")                     \
  X(guest_ud, "count", "#UD in a guest (XSETBV with CR4.OSXSAVE clear, a component not in the guest's XCR0)") \
  X(xfd_passthrough, "count", "vCPUs that stopped intercepting guest IA32_XFD writes (first non-zero write)") \
  X(xfd_syncs, "count", "RDMSR IA32_XFD at VM exit while XFD is passed through (fpu_sync_guest_vmexit_xfd_state)") \
  X(vm_creates, "count", "VMs created (each vCPU gets a fresh guest fpstate)")                    \
  X(kernel_xrstor_nm, "count", "XRSTOR of a component with XSTATE_BV set while IA32_XFD arms it: #NM in the kernel (the bug b45f72177594 fixed)") \
  X(fpu_cycles, "cycles", "cycles spent in FPU state management (saves, restores, traps, MSR/CR writes, reallocation)") \
  X(save_cycles, "cycles", "cycles spent in saves")                                                \
  X(restore_cycles, "cycles", "cycles spent in restores")                                          \
  X(trap_cycles, "cycles", "cycles spent entering and leaving FPU exceptions")                     \
  X(control_cycles, "cycles", "cycles spent on CR0.TS, XFD MSR, PKRU writes and FNINIT")           \
  X(other_cycles, "cycles", "cycles spent on reallocation, memory copies and signal delivery")     \
  X(workload_cycles, "cycles", "cycles of the workload itself: trace gaps and kernel FPU section bodies (replay), task bursts and interrupt bodies (scheduled)") \
  X(sim_cycles, "cycles", "simulated time at the last event, the latest over all CPUs")           \
  X(exposure_cycles, "cycles", "cycles during which a foreign context's live registers sat under an armed trap while another context ran in user mode (LazyFP window)") \
  X(exposure_byte_cycles, "byte*cycles", "exposure weighted by the bytes of foreign live state")  \
  X(exposure_windows, "count", "distinct exposure windows")                                        \
  X(violations_lost, "count", "uses that found a context's latest state missing from the registers") \
  X(violations_leaked, "count", "uses that found another context's data in the registers")        \
  X(violations_exposed, "count", "exposure windows on a machine that speculates past #NM (LazyFP)")

enum class Stat : std::uint16_t {
#define FPUSIM_STAT_ENUM(name, unit, doc) name,
  FPUSIM_STATS(FPUSIM_STAT_ENUM)
#undef FPUSIM_STAT_ENUM
      kCount
};
constexpr size_t kNumStats = static_cast<size_t>(Stat::kCount);

struct StatInfo {
  std::string_view name;
  std::string_view unit;
  std::string_view description;
};
const std::array<StatInfo, kNumStats>& stat_table();
const StatInfo& stat_info(Stat s);
// By name; returns false for unknown names.
bool stat_by_name(std::string_view name, Stat* out);

using StatVector = std::array<std::uint64_t, kNumStats>;

// Why a save, restore or trap happened; the per-cause breakdown.
#define FPUSIM_CAUSES(X)                                                      \
  X(context_switch, "switch_fpu / switch_fpu_prepare at a context switch")    \
  X(return_to_user, "fpregs_restore_userregs on return to user space")        \
  X(nm_trap, "#NM handler (CR0.TS lazy restore or XFD first use)")            \
  X(kernel_fpu, "kernel_fpu_begin / kernel_fpu_end")                          \
  X(signal, "signal frame setup and sigreturn")                               \
  X(fork, "fpu_clone at fork/clone")                                          \
  X(exec, "exec (fpu_flush_thread) and exit (fpu__drop)")                     \
  X(xfd_realloc, "fpstate_realloc after an XFD first-use #NM")                \
  X(state_access, "ptrace / coredump access to a task's state (fpu_sync_fpstate)") \
  X(kvm_run, "guest FPU load and put around KVM_RUN (fpu_swap_kvm_fpstate, kvm_load/put_guest_fpu)") \
  X(vm_entry, "switch_fpu_return before VM entry, and the guest XCR0/PKRU/XFD_ERR switch around it") \
  X(vm_exit, "FPU-virtualisation VM exits: #NM intercept, XFD MSRs, XSETBV, guest first use") \
  X(kvm_state, "KVM_GET/SET_XSAVE and VM creation (the VMM's copies of guest state)")

enum class Cause : std::uint8_t {
#define FPUSIM_CAUSE_ENUM(name, doc) name,
  FPUSIM_CAUSES(FPUSIM_CAUSE_ENUM)
#undef FPUSIM_CAUSE_ENUM
      kCount
};
constexpr size_t kNumCauses = static_cast<size_t>(Cause::kCount);
std::string_view cause_name(Cause c);
std::string_view cause_description(Cause c);

// Counters of one run: totals, per context, per component, per cause.
struct Stats {
  StatVector total{};
  std::vector<StatVector> per_context;  // indexed by ContextId
  struct PerComponent {
    std::uint64_t saves = 0, restores = 0, bytes_saved = 0, bytes_restored = 0;
  };
  std::array<PerComponent, 64> per_component{};
  struct PerCause {
    std::uint64_t saves = 0, restores = 0, traps = 0, cycles = 0;
  };
  std::array<PerCause, kNumCauses> per_cause{};

  void add(Stat s, std::uint64_t v = 1) { total[static_cast<size_t>(s)] += v; }
  void add(Stat s, ContextId ctx, std::uint64_t v) {
    total[static_cast<size_t>(s)] += v;
    // ctx is a declared context (the decoders check every id): checked in
    // debug builds only, this runs several times per event.
    if (ctx != kNoContext) {
      assert(ctx < per_context.size());
      per_context[ctx][static_cast<size_t>(s)] += v;
    }
  }
  std::uint64_t get(Stat s) const { return total[static_cast<size_t>(s)]; }
};

}  // namespace fpusim

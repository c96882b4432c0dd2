// Statistics as groups declared beside the code that counts them (gem5's
// stat groups): each counter has a name, a unit and a one-line description.
// The core group below holds what every architecture counts (saves,
// restores, bytes, traps, cycles, violations, exposure); an architecture
// declares its own groups in its folder (Arch::stat_groups()). Report writers
// and `fpusim list stats` walk the groups, so a new counter never touches
// them.
#pragma once

#include <array>
#include <cassert>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "models/core/types.h"

namespace fpusim {

// A counter's number in a run: the core group's counters first, then the
// architecture's groups', contiguous.
using StatId = std::uint16_t;
constexpr size_t kMaxStats = 64;

struct StatInfo {
  std::string_view name;
  std::string_view unit;
  std::string_view description;
};

struct StatGroup {
  std::string_view name;
  std::string_view description;
  StatId first = 0;  // id of its first counter
  std::vector<StatInfo> stats;
  StatId end() const { return static_cast<StatId>(first + stats.size()); }
};

#define FPUSIM_CORE_STATS(X)                                                                                     \
  X(events, "count", "trace events replayed")                                                                    \
  X(context_switches, "count", "context switches (including to and from idle)")                                  \
  X(saves, "count", "register-file saves to a context's buffer")                                                \
  X(restores, "count", "restores of a context's buffer into the register file")                                 \
  X(bytes_saved, "bytes", "bytes written by saves (what the save instruction wrote, headers included)")         \
  X(bytes_restored, "bytes", "bytes read by restores (what the restore instruction read, headers included)")    \
  X(init_restores, "count", "restores that load the init image (exec, signal delivery)")                        \
  X(restores_skipped, "count", "restores avoided because the CPU still held the context's registers")           \
  X(traps, "count", "FPU-related exceptions taken (all kinds)")                                                 \
  X(kernel_fpu_sections, "count", "kernel-mode FP/SIMD sections executed")                                      \
  X(kernel_fpu_fallbacks, "count", "kernel-mode FP/SIMD sections refused (the caller falls back to scalar code)") \
  X(signal_frames, "count", "signal frames written with FPU state")                                            \
  X(forks, "count", "fork/clone FPU copies")                                                                    \
  X(migrations, "count", "tasks moved between CPUs by the scheduler's load balancing (scheduled mode)")          \
  X(fpu_cycles, "cycles", "cycles spent in FPU state management (saves, restores, traps, control writes, reallocation)") \
  X(save_cycles, "cycles", "cycles spent in saves")                                                             \
  X(restore_cycles, "cycles", "cycles spent in restores")                                                       \
  X(trap_cycles, "cycles", "cycles spent entering and leaving FPU exceptions")                                  \
  X(control_cycles, "cycles", "cycles spent writing trap-control and state-control registers")                  \
  X(other_cycles, "cycles", "cycles spent on reallocation, memory copies and signal delivery")                  \
  X(workload_cycles, "cycles", "cycles of the workload itself: trace gaps and kernel FPU section bodies (replay), task bursts and interrupt bodies (scheduled)") \
  X(sim_cycles, "cycles", "simulated time at the last event, the latest over all CPUs")                         \
  X(exposure_cycles, "cycles", "cycles during which a foreign context's live registers sat under an armed trap while another context ran in user mode (LazyFP window)") \
  X(exposure_byte_cycles, "byte*cycles", "exposure weighted by the bytes of foreign live state")               \
  X(exposure_windows, "count", "distinct exposure windows")                                                     \
  X(violations_lost, "count", "uses that found a context's latest state missing from the registers")            \
  X(violations_leaked, "count", "uses that found another context's data in the registers")                     \
  X(violations_exposed, "count", "exposure windows on a machine that speculates past a trap (LazyFP)")             \
  X(violations_kernel_trap, "count", "state accesses by the kernel that its own trap configuration traps (an exception the kernel cannot handle: an oops)") \
  X(violations_trap_config, "count", "times a context ran in user mode with access to a state component enabled that it does not own, or trapped that it owns (the trap configuration wrong for the context that runs)") \
  X(violations_foreign_regs, "count", "another context's data found in registers a context in user mode can reach, once per version found, whether or not it used them (register contents loaded, or left, for the wrong context)")

enum class Stat : StatId {
#define FPUSIM_STAT_ENUM(name, unit, doc) name,
  FPUSIM_CORE_STATS(FPUSIM_STAT_ENUM)
#undef FPUSIM_STAT_ENUM
      kCount
};
constexpr StatId kNumCoreStats = static_cast<StatId>(Stat::kCount);

// The core group: ids 0 .. kNumCoreStats - 1.
const StatGroup& core_stat_group();

// The groups of one run (the core's, then its architecture's), and lookups
// over them.
class StatSet {
 public:
  explicit StatSet(std::vector<const StatGroup*> groups);
  const std::vector<const StatGroup*>& groups() const { return groups_; }
  StatId size() const { return size_; }
  const StatInfo& info(StatId id) const { return *info_[id]; }
  // By name; false for unknown names.
  bool find(std::string_view name, StatId* out) const;

 private:
  std::vector<const StatGroup*> groups_;
  std::vector<const StatInfo*> info_;
  StatId size_ = 0;
};

// Any group's enum (Stat, an architecture's) as an id.
template <typename E>
constexpr StatId stat_id(E e) {
  return static_cast<StatId>(e);
}

using StatVector = std::array<std::uint64_t, kMaxStats>;

// Why a save, restore or trap happened: the per-cause breakdown. Each
// architecture names its causes (Arch::causes()); the core counts them by
// number.
using CauseId = std::uint8_t;
constexpr size_t kMaxCauses = 32;
struct CauseInfo {
  std::string_view name;
  std::string_view description;
};

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
  std::array<PerCause, kMaxCauses> per_cause{};

  template <typename E>
  void add(E s, std::uint64_t v = 1) {
    total[stat_id(s)] += v;
  }
  template <typename E>
  void add(E s, ContextId ctx, std::uint64_t v) {
    total[stat_id(s)] += v;
    // ctx is a declared context (the decoders check every id): checked in
    // debug builds only, this runs several times per event.
    if (ctx != kNoContext) {
      assert(ctx < per_context.size());
      per_context[ctx][stat_id(s)] += v;
    }
  }
  template <typename E>
  std::uint64_t get(E s) const {
    return total[stat_id(s)];
  }
  template <typename E>
  std::uint64_t of(ContextId ctx, E s) const {
    return per_context.at(ctx)[stat_id(s)];
  }
  template <typename C>
  PerCause& cause(C c) {
    return per_cause[static_cast<size_t>(c)];
  }
  template <typename C>
  const PerCause& cause(C c) const {
    return per_cause[static_cast<size_t>(c)];
  }
};

}  // namespace fpusim

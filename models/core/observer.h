// What a run shows its observers (the operation log, the Perfetto timeline,
// the VCD): FPU-management operations, context switches, guest runs and the
// state of each CPU after an event. Architecture-neutral: an architecture
// names its causes, components and control registers through Arch.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

#include "models/core/stats.h"
#include "models/core/types.h"

namespace fpusim {

// One FPU-management operation, for timelines and the operation log.
struct OpRecord {
  Cycles time;           // when it started
  CpuId cpu;
  ContextId ctx;         // whose state (kNoContext if none)
  std::string_view op;   // "save", "restore", "restore_init", "nm_trap", ...
  CauseId cause;         // the architecture's cause number (Arch::causes())
  Cycles cycles;
  std::uint64_t bytes;
  ComponentMask components;
  // The statistic its cycles count under: save_cycles and restore_cycles
  // mark the saves and restores (fpusim validate compares them with the
  // kernel's), trap_cycles, control_cycles or other_cycles the rest.
  Stat category = Stat::other_cycles;
};

// Up to this many trap-control registers per CPU are shown (Arch::controls()).
constexpr unsigned kMaxControls = 4;

// The state of one CPU, as observers see it.
struct CpuView {
  ContextId current = kNoContext;  // running context; kNoContext = idle
  ContextId owner = kNoContext;    // whose state the registers hold, as the kernel tracks it
  std::uint64_t live_bytes = 0;    // bytes of non-init state in the registers
  std::uint64_t traps = 0;         // FPU exceptions taken on this CPU so far
  std::array<std::uint64_t, kMaxControls> controls{};  // in Arch::controls() order
};

// Watches a run. Called in simulation order; times are effective cycles.
class Observer {
 public:
  virtual ~Observer() = default;
  virtual void on_operation(const OpRecord& op) = 0;
  // A context switch on `cpu` at `t`: `prev` stops, `next` starts running
  // once the switch's own FPU work (`cycles`) is done. kNoContext = idle.
  virtual void on_switch(CpuId cpu, Cycles t, ContextId prev, ContextId next, Cycles cycles) {
    (void)cpu, (void)t, (void)prev, (void)next, (void)cycles;
  }
  // A vCPU's guest starts (`running`) or stops running on `cpu` at `t`: VM
  // entry and VM exit.
  virtual void on_guest(CpuId cpu, Cycles t, ContextId guest, bool running) {
    (void)cpu, (void)t, (void)guest, (void)running;
  }
  // The state of `cpu` after an event (at `t`, its effective end).
  virtual void on_cpu_state(CpuId cpu, Cycles t, const CpuView& view) { (void)cpu, (void)t, (void)view; }
};

}  // namespace fpusim

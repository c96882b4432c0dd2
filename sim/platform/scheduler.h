// Scheduled mode: the HostScheduler runs synthetic tasks instead of a trace.
// Per-CPU run queues, a timeslice, wakeup preemption, periodic load
// balancing that migrates tasks, interrupts whose softirqs may use the kernel
// FPU. The same agent and policies as replay mode, the same CPU modules
// (cpuN, cpuN.regfile, cpuN.traps: the platform's), and no per-cycle clock:
// each CPU is run by an SC_METHOD of this module ("host.cpuN") that wakes at
// its next decision point (end of a burst segment, an FP use, the slice end)
// or when kicked (a wakeup, a migration, an interrupt).
//
// Time is effective time: FPU-management cycles are spent on the CPU and
// delay everything after them. Deterministic for a seed.
#pragma once

#include <deque>
#include <functional>
#include <queue>
#include <vector>

#ifndef SC_INCLUDE_DYNAMIC_PROCESSES
#define SC_INCLUDE_DYNAMIC_PROCESSES
#endif
#include <systemc>

#include "models/core/stats.h"
#include "models/core/arch.h"
#include "sim/input/presets.h"
#include "sim/platform/cpu_modules.h"

namespace fpusim {

// splitmix64: small, fast, and the same sequence everywhere.
struct Rng {
  std::uint64_t s;
  std::uint64_t next() {
    std::uint64_t z = (s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  double uniform() { return static_cast<double>(next() >> 11) * (1.0 / 9007199254740992.0); }
  Cycles between(Cycles lo, Cycles hi) { return hi <= lo ? lo : lo + next() % (hi - lo + 1); }
};

class HostScheduler : public sc_core::sc_module {
 public:
  // `ids[k]` is the context of the k-th generated task, in Scenario order;
  // `cpus[c]` the module of CPU c (the platform's), whose state it samples
  // for the VCD.
  HostScheduler(const sc_core::sc_module_name& name, ArchAgent& agent, Stats& stats, const Workload& w,
                const std::vector<ContextId>& ids, const std::vector<CpuModule*>& cpus,
                std::function<void(InternalError)> on_error);

  // A VCD is written: sample the CPU modules after every agent call.
  void start_tracing() { tracing_ = true; }
  // Call after sc_start() returns: closes running segments at `end`.
  void finish(Cycles end);
  std::uint64_t migrations() const { return migrations_; }

 private:
  struct Task {
    ContextId id;
    const TaskClass* cls;
    Rng rng;
    enum class State : std::uint8_t { kRunnable, kRunning, kSleeping } state = State::kRunnable;
    CpuId cpu = 0;
    Cycles burst_left = 0;
    unsigned uses_left = 0;
    Cycles next_use_at = 0;  // an FP use happens when burst_left falls to this
    bool started = false;
  };
  struct Cpu {
    std::deque<size_t> rq;
    long current = -1;  // index into tasks_
    Cycles slice_end = 0;
    Cycles seg_start = 0;
    bool in_segment = false;
    Cycles stolen = 0;  // interrupt time still to be spent
    sc_core::sc_event kick;
    CpuModule* hw = nullptr;
    Rng irq_rng{0};
  };

  void cpu_step(CpuId c);
  void waker();
  void balancer();
  void irq(CpuId c);
  void start_burst(Task& t);
  void wake(size_t task, Cycles now);
  void account_segment(Cpu& k, Cycles now);
  // One agent call with the exposure bookkeeping and VCD update around it.
  template <typename F>
  Cycles call(CpuId c, Cycles t, F&& fn);
  // One event of the scheduler's own making, handled by the agent.
  Cycles handle(CpuId c, Cycles t, EventKind kind, ContextId ctx = kNoContext, ComponentMask use = 0,
                bool kernel_fpu = false);

  ArchAgent& agent_;
  Stats& stats_;
  const Workload& w_;
  std::vector<Task> tasks_;
  std::vector<Cpu> cpus_;
  std::function<void(InternalError)> on_error_;
  struct Sleep {
    Cycles at;
    std::uint64_t seq;
    size_t task;
    bool operator>(const Sleep& o) const { return at != o.at ? at > o.at : seq > o.seq; }
  };
  std::priority_queue<Sleep, std::vector<Sleep>, std::greater<Sleep>> sleeping_;
  std::uint64_t sleep_seq_ = 0;
  sc_core::sc_event waker_kick_;
  std::uint64_t migrations_ = 0;
  bool tracing_ = false;
};

}  // namespace fpusim

// Reads the trace in file order and hands each CPU its own events. Events
// are stamped with the time the traced workload reached them; each CPU keeps
// the gaps between its events and is delayed by the FPU-management cycles it
// spends, so CPUs drift apart and read different parts of the trace. The
// replayer buffers what one CPU has read ahead of another (bounded by how far
// their overheads differ, not by the trace length) and checks, in trace
// order, what must hold at the traced times: a context runs on one CPU at a
// time, a use names the running context, a forked child is fresh.
#pragma once

#include <deque>
#include <set>
#include <memory>
#include <vector>

#include "sim/trace/event.h"

namespace fpusim {

class Replayer {
 public:
  Replayer(std::unique_ptr<EventSource> source, unsigned cpus, size_t contexts,
           const std::vector<std::string>* context_names);

  // The next event of `cpu`; false when the trace has no more for it.
  bool fetch(CpuId cpu, Event& out);

  // A forked child may start running only once its parent's CPU has
  // processed the fork; until then a switch to it waits (see Core::step).
  bool fork_pending(ContextId c) const { return fork_pending_[c]; }
  void fork_done(ContextId c) { fork_pending_[c] = false; }

  // A context's switch-ins are processed in trace order: the one `cpu` has
  // last fetched (its head) may be processed only when every earlier
  // switch-in of `c` has been. Otherwise a CPU that lags behind in effective
  // time would see the context come back to a CPU it left later in the trace.
  bool switch_in_turn(CpuId cpu, ContextId c) const { return switch_ins_done_[c] == head_turn_[cpu]; }
  void switch_in_done(ContextId c) { ++switch_ins_done_[c]; }

  // Events whose effect reaches other CPUs' contexts (a permission granted to
  // a whole process, a ptrace access) are barriers: no event after one in the
  // trace is processed before it, whichever CPU runs ahead. They order
  // processing only; simulated times are unchanged.
  static bool is_barrier(EventKind k) {
    return k == EventKind::kXcompPerm || k == EventKind::kStateRead || k == EventKind::kStateWrite ||
           k == EventKind::kXcompGuestPerm || k == EventKind::kVmCreate || k == EventKind::kVmDestroy ||
           k == EventKind::kVcpuSaveState || k == EventKind::kVcpuLoadState || k == EventKind::kKvmSetXsave;
  }
  // Per context: the thread that runs a vCPU's guest state (kNoContext for
  // other contexts), so that a use may name the vCPU its thread runs.
  void set_guest_threads(std::vector<ContextId> t) { guest_thread_ = std::move(t); }
  std::uint64_t first_barrier() const { return barriers_.empty() ? UINT64_MAX : *barriers_.begin(); }
  void barrier_done(std::uint64_t index) { barriers_.erase(index); }

  std::uint64_t events_read() const { return read_; }
  size_t peak_buffered() const { return peak_buffered_; }
  const EventOrigin& origin() const { return source_->origin(); }

 private:
  void check(const Event& e);

  std::unique_ptr<EventSource> source_;
  // An event read for another CPU, and for a switch-in its position among
  // its context's switch-ins.
  struct Queued {
    Event e;
    std::uint64_t turn;
  };
  std::vector<std::deque<Queued>> queues_;
  bool eof_ = false;
  std::uint64_t read_ = 0;
  size_t buffered_ = 0;
  size_t peak_buffered_ = 0;
  // The trace-time view, for checks.
  std::vector<ContextId> raw_current_;  // per CPU
  std::vector<CpuId> raw_cpu_;          // per context
  std::vector<bool> raw_started_;       // per context
  std::vector<Cycles> raw_busy_until_;
  std::vector<bool> fork_pending_;      // per context: fork read, not yet processed
  std::vector<std::uint64_t> switch_ins_read_;  // per context
  std::vector<std::uint64_t> switch_ins_done_;  // per context: processed
  std::vector<std::uint64_t> head_turn_;        // per CPU: its head's turn (switch-ins)
  std::uint64_t last_turn_ = 0;                 // of the switch-in check() saw last
  std::set<std::uint64_t> barriers_;    // indices of barrier events read, not yet processed  // per CPU: end of the last event's "dur"
  const std::vector<std::string>* names_;
  std::vector<ContextId> guest_thread_;
};

}  // namespace fpusim

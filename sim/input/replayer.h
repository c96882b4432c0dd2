// Reads the trace in file order and hands each CPU its own events. Events
// are stamped with the time the traced workload reached them; each CPU keeps
// the gaps between its events and is delayed by the FPU-management cycles it
// spends, so CPUs drift apart and read different parts of the trace. The
// replayer buffers what one CPU has read ahead of another (bounded by how far
// their overheads differ, not by the trace length) and checks, in trace
// order, what must hold at the traced times: a context runs on one CPU at a
// time, a use names the running context, a forked child is fresh.
//
// Decoding and those checks run on a reader thread, a bounded number of
// batches ahead of the simulation (on two cores they overlap with it). Each
// batch ends at the end of the trace or with the error that stopped the
// reader; fetch() takes events in trace order and rethrows that error exactly
// where reading the trace in the simulation's thread would have thrown it.
#pragma once

#include <condition_variable>
#include <exception>
#include <memory>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include "sim/input/event.h"
#include "sim/input/trace_rules.h"

namespace fpusim {

class Replayer {
 public:
  // `barriers`: the kinds that order processing across CPUs (Arch::barrier_kinds()).
  Replayer(std::unique_ptr<EventSource> source, unsigned cpus, size_t contexts,
           const std::vector<std::string>* context_names, std::uint32_t barriers);
  ~Replayer();
  Replayer(const Replayer&) = delete;
  Replayer& operator=(const Replayer&) = delete;

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
  bool is_barrier(EventKind k) const { return kind_bit(k) & barriers_kinds_; }
  // Whether a replay decodes the trace on a reader thread. kAuto: yes,
  // unless the environment has FPUSIM_READER_THREAD=0 (a measurement knob
  // for users; any other value means yes). Process-wide; set it before the
  // first replay starts (`run --reader-thread`, or the process runner in the
  // children it starts).
  enum class ReaderThread { kAuto, kOn, kOff };
  static void set_reader_thread(ReaderThread setting);
  // Progress lines on stderr while a long replay runs (`fpusim run`): events
  // read, the share of the trace and the time to go where the source knows
  // it, events/s; every `seconds`, the first after `seconds`. 0 (the
  // default) prints none. Process-wide, like set_reader_thread.
  static void set_progress_interval(double seconds);
  // The setting for `processes` simulations run side by side (sweep,
  // compare, check): a reader thread pays only when each simulation has a
  // second core for it; with fewer than 2 x processes usable cores the
  // threads only take turns, and each switch costs, so kOff. kAuto when the
  // cores suffice or the user has set FPUSIM_READER_THREAD (their choice
  // stands: the children inherit it).
  static ReaderThread share_cores(unsigned processes);
  // Per context: the thread that runs a vCPU's guest state (kNoContext for
  // other contexts), so that a use may name the vCPU its thread runs.
  void set_guest_threads(std::vector<ContextId> t) { rules_.set_guest_threads(std::move(t)); }
  std::uint64_t first_barrier() const { return barriers_.empty() ? UINT64_MAX : *barriers_.begin(); }
  void barrier_done(std::uint64_t index) { barriers_.erase(index); }

  std::uint64_t events_read() const { return read_; }
  size_t peak_buffered() const { return peak_buffered_; }
  const EventOrigin& origin() const { return source_->origin(); }

 private:
  // An event, and for a switch-in its position among its context's switch-ins.
  struct Queued {
    Event e;
    std::uint64_t turn;
  };
  // Events read for one CPU ahead of it: a ring that doubles when full (a
  // std::deque allocates a block every few events).
  class Fifo {
   public:
    bool empty() const { return head_ == tail_; }
    const Queued& front() const { return buf_[head_ & mask_]; }
    void pop() { ++head_; }
    void push(const Queued& q) {
      if (tail_ - head_ == buf_.size()) grow();
      buf_[tail_++ & mask_] = q;
    }

   private:
    void grow();
    std::vector<Queued> buf_;
    size_t head_ = 0, tail_ = 0, mask_ = 0;
  };
  // Reader thread to simulation: kSlots batches of up to kBatch events.
  static constexpr size_t kSlots = 16;
  static constexpr size_t kBatch = 1024;
  // Read in the simulation's thread: one batch, consumed right after it is
  // filled, small enough to stay in the L1 data cache meanwhile (20 KiB).
  static constexpr size_t kBatchUnthreaded = 256;
  struct Batch {
    std::vector<Queued> items;
    size_t n = 0;
    bool end = false;              // the trace ends after these
    std::exception_ptr error;      // thrown reading the event after these
    double fraction = -1;          // of the trace read after these (EventSource::fraction_read)
  };

  // The next event read: nullptr at the end; throws the reader's error.
  const Queued* read_next() {
    if (have_batch_) {
      const Batch& b = slots_[taken_ % kSlots];
      if (pos_ < b.n) return &b.items[pos_++];
    }
    return read_next_batch();
  }
  const Queued* read_next_batch();
  void take_batch();
  void fill(Batch& b);        // decodes and checks (reader thread)
  void progress(double fraction);  // a progress line when one is due
  void reader();              // the reader thread's loop
  // Bookkeeping for the simulation, in trace order.
  void note(const Event& e) {
    if (!(kind_bit(e.kind) & (barriers_kinds_ | kind_bit(EventKind::kFork)))) return;
    if (is_barrier(e.kind)) barriers_.insert(e.index);
    if (e.kind == EventKind::kFork) fork_pending_[e.ctx] = true;
  }

  std::unique_ptr<EventSource> source_;
  std::uint32_t barriers_kinds_;
  std::vector<Fifo> queues_;
  std::uint64_t read_ = 0;
  size_t buffered_ = 0;
  size_t peak_buffered_ = 0;
  // Reader side: the trace-time view, for checks.
  TraceRules rules_;
  // Simulation side.
  std::vector<bool> fork_pending_;      // per context: fork read, not yet processed
  std::vector<std::uint64_t> switch_ins_done_;  // per context: processed
  std::vector<std::uint64_t> head_turn_;        // per CPU: its head's turn (switch-ins)
  std::set<std::uint64_t> barriers_;    // indices of barrier events read, not yet processed
  // The hand-over. slots_[taken_ % kSlots] is the batch being consumed
  // (when have_batch_), the next ones up to filled_ are ready.
  Batch slots_[kSlots];
  std::mutex mu_;
  std::condition_variable ready_, space_;
  size_t filled_ = 0;       // guarded by mu_: batches ready, the one being consumed included
  bool stop_ = false;       // guarded by mu_: the simulation is done with the trace
  bool reader_waiting_ = false, sim_waiting_ = false;  // guarded by mu_
  size_t taken_ = 0;        // simulation: batches taken so far
  bool have_batch_ = false;
  size_t pos_ = 0;          // simulation: next item of the current batch
  bool threaded_ = false;   // false: batches are filled on demand in the simulation's thread
  size_t batch_ = kBatch;   // events per batch
  bool started_ = false;
  std::thread thread_;
  double progress_start_ = -1, progress_last_ = 0;  // steady-clock seconds
};

}  // namespace fpusim

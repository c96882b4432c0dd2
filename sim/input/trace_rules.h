// What must hold at the traced times, checked in trace order for every
// event before it reaches a CPU: a CPU is not given an event while the
// previous one's "dur" runs, a context runs on one CPU at a time, a switch
// does not name a vCPU's guest state, a use names the running context (or
// the guest its thread runs), a forked child is fresh, ptrace writes a
// stopped task. The Replayer checks every trace with it; `fpusim explore`
// checks its candidate events with the same rules, so that the scenarios it
// writes replay.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "models/core/event.h"
#include "models/core/state_key.h"
#include "sim/input/event.h"

namespace fpusim {

class TraceRules {
 public:
  // `context_names`: for messages, by ContextId; must outlive this.
  TraceRules(unsigned cpus, size_t contexts, const std::vector<std::string>* context_names)
      : current_(cpus, kNoContext), cpu_(contexts, kNoCpu), started_(contexts, false), busy_until_(cpus, 0),
        switch_ins_(contexts, 0), names_(context_names) {}
  // Per context: the thread that runs a vCPU's guest state, else kNoContext
  // (ArchAgent::runner_threads).
  void set_guest_threads(std::vector<ContextId> t) { guest_thread_ = std::move(t); }

  // Checks `e` and takes it into the trace-time view; InputError at `origin`
  // if it breaks a rule. `turn`: for a switch-in, its position among its
  // context's switch-ins (Replayer::switch_in_turn); else 0.
  void check(const Event& e, const EventOrigin& origin, std::uint64_t& turn);

  // What the rules remember that decides which later events they accept,
  // times aside (explore's state key): per CPU its context, per context
  // whether it has run.
  void state_key(StateKey& k) const {
    for (CpuId c : k.cpus()) k.ctx(current_[c]);
    for (ContextId c : k.contexts()) k.b(started_[c]);
  }

 private:
  std::vector<ContextId> current_;  // per CPU
  std::vector<CpuId> cpu_;          // per context
  std::vector<bool> started_;       // per context
  std::vector<Cycles> busy_until_;  // per CPU: end of the last event's "dur"
  std::vector<std::uint64_t> switch_ins_;  // per context
  const std::vector<std::string>* names_;
  std::vector<ContextId> guest_thread_;
};

}  // namespace fpusim

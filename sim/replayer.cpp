#include "sim/replayer.h"

namespace fpusim {

Replayer::Replayer(std::unique_ptr<EventSource> source, unsigned cpus, size_t contexts,
                   const std::vector<std::string>* context_names)
    : source_(std::move(source)), queues_(cpus), raw_current_(cpus, kNoContext), raw_cpu_(contexts, kNoCpu),
      raw_started_(contexts, false), raw_busy_until_(cpus, 0), fork_pending_(contexts, false),
      switch_ins_read_(contexts, 0), switch_ins_done_(contexts, 0), head_turn_(cpus, 0), names_(context_names) {}

bool Replayer::fetch(CpuId cpu, Event& out) {
  auto& q = queues_[cpu];
  while (q.empty()) {
    if (eof_) return false;
    Event e;
    if (!source_->next(e)) {
      eof_ = true;
      return false;
    }
    ++read_;
    check(e);
    if (e.cpu == cpu) {
      out = e;
      head_turn_[cpu] = last_turn_;
      return true;
    }
    queues_[e.cpu].push_back(Queued{e, last_turn_});
    if (++buffered_ > peak_buffered_) peak_buffered_ = buffered_;
  }
  out = q.front().e;
  head_turn_[cpu] = q.front().turn;
  q.pop_front();
  --buffered_;
  return true;
}

void Replayer::check(const Event& e) {
  const auto& origin = source_->origin();
  auto name = [&](ContextId c) { return (*names_)[c]; };
  if (e.t < raw_busy_until_[e.cpu]) {
    throw origin.error(e.index, "/t",
                       "CPU " + std::to_string(e.cpu) + " is still busy until " +
                           std::to_string(raw_busy_until_[e.cpu]) + " with the previous event's \"dur\"");
  }
  raw_busy_until_[e.cpu] = e.t + e.dur;
  if (is_barrier(e.kind)) barriers_.insert(e.index);
  last_turn_ = 0;
  switch (e.kind) {
    case EventKind::kSwitch: {
      const ContextId prev = raw_current_[e.cpu];
      if (e.ctx != kNoContext) {
        if (e.ctx == prev) {
          throw origin.error(e.index, "/next", name(e.ctx) + " is already running on CPU " + std::to_string(e.cpu));
        }
        if (e.ctx < guest_thread_.size() && guest_thread_[e.ctx] != kNoContext) {
          throw origin.error(e.index, "/next",
                             name(e.ctx) + " is a vCPU's guest state; switch to its thread " +
                                 name(guest_thread_[e.ctx]) + " and give it a kvm_run event");
        }
        if (raw_cpu_[e.ctx] != kNoCpu) {
          throw origin.error(e.index, "/next",
                             name(e.ctx) + " is running on CPU " + std::to_string(raw_cpu_[e.ctx]) +
                                 " at this time in the trace; switch it out there first");
        }
        raw_cpu_[e.ctx] = e.cpu;
        raw_started_[e.ctx] = true;
        last_turn_ = switch_ins_read_[e.ctx]++;
      }
      if (prev != kNoContext) raw_cpu_[prev] = kNoCpu;
      raw_current_[e.cpu] = e.ctx;
      break;
    }
    case EventKind::kUse:
      if (e.ctx != kNoContext && e.ctx != raw_current_[e.cpu] &&
          !(e.ctx < guest_thread_.size() && guest_thread_[e.ctx] != kNoContext &&
            guest_thread_[e.ctx] == raw_current_[e.cpu])) {
        const ContextId cur = raw_current_[e.cpu];
        throw origin.error(e.index, "/ctx",
                           name(e.ctx) + " is not running on CPU " + std::to_string(e.cpu) + " (" +
                               (cur == kNoContext ? std::string("the CPU is idle") : name(cur) + " is") + ")");
      }
      break;
    case EventKind::kFork:
      if (raw_started_[e.ctx]) {
        throw origin.error(e.index, "/child", name(e.ctx) + " has already run; a forked child must be a fresh context");
      }
      raw_started_[e.ctx] = true;
      fork_pending_[e.ctx] = true;
      break;
    case EventKind::kStateWrite:
      if (raw_cpu_[e.ctx] != kNoCpu) {
        throw origin.error(e.index, "/target",
                           name(e.ctx) + " is running on CPU " + std::to_string(raw_cpu_[e.ctx]) +
                               "; ptrace writes a stopped task's state");
      }
      break;
    default:
      break;
  }
}

}  // namespace fpusim

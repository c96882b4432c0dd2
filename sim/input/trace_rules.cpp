#include "sim/input/trace_rules.h"

namespace fpusim {

void TraceRules::check(const Event& e, const EventOrigin& origin, std::uint64_t& turn) {
  auto name = [&](ContextId c) { return (*names_)[c]; };
  if (e.t < busy_until_[e.cpu]) {
    throw origin.error(e.index, "/t",
                       "CPU " + std::to_string(e.cpu) + " is still busy until " +
                           std::to_string(busy_until_[e.cpu]) + " with the previous event's \"dur\"");
  }
  busy_until_[e.cpu] = e.t + e.dur;
  turn = 0;
  switch (e.kind) {
    case EventKind::kSwitch: {
      const ContextId prev = current_[e.cpu];
      if (e.ctx != kNoContext) {
        if (e.ctx == prev) {
          throw origin.error(e.index, "/next", name(e.ctx) + " is already running on CPU " + std::to_string(e.cpu));
        }
        if (e.ctx < guest_thread_.size() && guest_thread_[e.ctx] != kNoContext) {
          throw origin.error(e.index, "/next",
                             name(e.ctx) + " is a vCPU's guest state; switch to its thread " +
                                 name(guest_thread_[e.ctx]) + " and give it a kvm_run event");
        }
        if (cpu_[e.ctx] != kNoCpu) {
          throw origin.error(e.index, "/next",
                             name(e.ctx) + " is running on CPU " + std::to_string(cpu_[e.ctx]) +
                                 " at this time in the trace; switch it out there first");
        }
        cpu_[e.ctx] = e.cpu;
        started_[e.ctx] = true;
        turn = switch_ins_[e.ctx]++;
      }
      if (prev != kNoContext) cpu_[prev] = kNoCpu;
      current_[e.cpu] = e.ctx;
      break;
    }
    case EventKind::kUse:
      if (e.ctx != kNoContext && e.ctx != current_[e.cpu] &&
          !(e.ctx < guest_thread_.size() && guest_thread_[e.ctx] != kNoContext &&
            guest_thread_[e.ctx] == current_[e.cpu])) {
        const ContextId cur = current_[e.cpu];
        throw origin.error(e.index, "/ctx",
                           name(e.ctx) + " is not running on CPU " + std::to_string(e.cpu) + " (" +
                               (cur == kNoContext ? std::string("the CPU is idle") : name(cur) + " is") + ")");
      }
      break;
    case EventKind::kFork:
      if (started_[e.ctx]) {
        throw origin.error(e.index, "/child", name(e.ctx) + " has already run; a forked child must be a fresh context");
      }
      started_[e.ctx] = true;
      break;
    case EventKind::kStateWrite:
      if (cpu_[e.ctx] != kNoCpu) {
        throw origin.error(e.index, "/target",
                           name(e.ctx) + " is running on CPU " + std::to_string(cpu_[e.ctx]) +
                               "; ptrace writes a stopped task's state");
      }
      break;
    default:
      break;
  }
}

}  // namespace fpusim

// The one dispatch of the core event kinds (models/core/event.h): every
// architecture's agent handles them with methods of these names and
// arguments, and its ArchAgent::handle() calls this first, then dispatches
// its own kinds. Inline: the replay's hot path.
#pragma once

#include "models/core/event.h"

namespace fpusim {

// Handles `e` if it is of a core kind (its cost in *cost); false otherwise.
template <class Agent>
inline bool dispatch_core_event(Agent& a, CpuId cpu, Cycles t, const Event& e, Cycles* cost) {
  switch (e.kind) {
    case EventKind::kSwitch: *cost = a.context_switch(cpu, t, e.ctx); return true;
    case EventKind::kUse: *cost = a.use(cpu, t, e.write, e.read, e.release); return true;
    case EventKind::kSyscall: *cost = a.syscall(cpu, t); return true;
    case EventKind::kReturnToUser: *cost = a.return_to_user(cpu, t); return true;
    case EventKind::kKernelFpu: *cost = a.kernel_fpu(cpu, t, e.where, e.read); return true;
    case EventKind::kIrq: *cost = a.irq(cpu, t, e.kernel_fpu, e.read); return true;
    case EventKind::kSignal: *cost = a.signal(cpu, t, e.sub); return true;
    case EventKind::kSigreturn: *cost = a.sigreturn(cpu, t, e.sub); return true;
    case EventKind::kFork: *cost = a.fork(cpu, t, e.ctx); return true;
    case EventKind::kExec: *cost = a.exec(cpu, t, e.sub != kExecStaysInKernel); return true;
    case EventKind::kExit: *cost = a.exit(cpu, t); return true;
    case EventKind::kStateRead: *cost = a.state_read(cpu, t, e.ctx); return true;
    case EventKind::kStateWrite:
      *cost = a.state_write(cpu, t, e.ctx, e.write, e.sub == kInvalidXsaveHeader);
      return true;
  }
  return false;
}

}  // namespace fpusim

// The preconditions of the core events that every architecture's agent
// checks the same way (a trace that breaks one is bad input: SemanticError).
#pragma once

#include <string>

#include "models/core/context.h"
#include "models/core/types.h"

namespace fpusim {

// Whether `c` (the context running on a CPU, or null for idle) can do a
// task's event: running, not exited, a user task, in user mode if needed.
inline bool can_act(const ContextBase* c, bool need_user_mode) {
  return c && !c->exited && c->is_user() && (!need_user_mode || c->in_user);
}
// The SemanticError saying why it cannot (can_act() was false).
[[noreturn]] void refuse_current(const ContextBase* c, CpuId cpu, const char* what, bool need_user_mode);
// A switch to `next`: not exited, not running on another CPU.
void check_switch_target(const ContextBase& next);
// fork of `child` by `parent`: a fresh user context.
void check_fork_child(const ContextBase& parent, const ContextBase& child);
// ptrace access to `target` from `cpu` ("state read" / "state write"): a
// stopped tracee; a read may also be of current itself.
void check_tracee_stopped(const ContextBase& target, CpuId cpu, const char* what, bool writing);

}  // namespace fpusim

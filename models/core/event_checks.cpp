#include "models/core/event_checks.h"

namespace fpusim {

void refuse_current(const ContextBase* c, CpuId cpu, const char* what, bool need_user_mode) {
  if (!c) throw SemanticError{std::string(what) + " on CPU " + std::to_string(cpu) + ", which is idle"};
  if (c->exited) throw SemanticError{std::string(what) + " by " + c->name + ", which has exited"};
  if (!c->is_user()) throw SemanticError{std::string(what) + " by kernel thread " + c->name};
  if (need_user_mode && !c->in_user) {
    throw SemanticError{std::string(what) + " by " + c->name +
                        " while it is in kernel mode (add a return_to_user event first)"};
  }
  panic("refuse_current: " + c->name + " can do " + what);
}

void check_switch_target(const ContextBase& next) {
  if (next.exited) throw SemanticError{"switch to " + next.name + ", which has exited"};
  if (next.running_on != kNoCpu) {
    throw SemanticError{"switch to " + next.name + ", which is still running on CPU " +
                        std::to_string(next.running_on) + " (switch it out there first)"};
  }
}

void check_fork_child(const ContextBase& parent, const ContextBase& child) {
  if (child.id == parent.id) throw SemanticError{"fork: a context cannot be its own child"};
  if (child.running_on != kNoCpu || child.exited || child.truth.present || child.next_version != 1) {
    throw SemanticError{"fork: child " + child.name + " has already run; declare a fresh context for it"};
  }
  if (!child.is_user()) throw SemanticError{"fork: child " + child.name + " must be a user context"};
}

void check_tracee_stopped(const ContextBase& target, CpuId cpu, const char* what, bool writing) {
  if (target.running_on != kNoCpu && (writing || target.running_on != cpu)) {
    throw SemanticError{std::string(what) + " of " + target.name + " while it runs on CPU " +
                        std::to_string(target.running_on) + " (a tracee must be stopped)"};
  }
}

}  // namespace fpusim

// What every architecture's context has: its identity, where it runs, and
// the checker's ground truth. An architecture's context
// extends it with the kernel's own bookkeeping.
#pragma once

#include <string>
#include <vector>

#include "models/core/register_file.h"
#include "models/core/types.h"

namespace fpusim {

// Virtualisation is a core concept: every architecture's KVM runs a vCPU's
// guest state inside a host thread (x86 KVM_RUN, arm64 KVM_RUN with the
// guest's FP state bound to the CPU).
// kGuest: a vCPU's guest FPU state; it never runs by itself, its vCPU
// thread (a kUser context) runs it inside KVM_RUN.
enum class ContextKind : std::uint8_t { kUser, kKthread, kGuest };

struct ContextBase {
  std::string name;
  ContextId id = kNoContext;
  ContextKind kind = ContextKind::kUser;

  // Where the context is.
  CpuId running_on = kNoCpu;
  bool in_user = true;       // mode it runs (or resumes) in
  bool exited = false;
  // When its last switch-out completed, or for a forked child when the fork
  // did: it may run on another CPU only from then on.
  Cycles switched_out_at = 0;

  // Checker ground truth: the latest version of each component as the
  // context itself last wrote it (present = non-init).
  StateImage truth;
  std::uint32_t next_version = 1;
  // Signal frames pushed and not yet returned from (their FPU images).
  std::vector<StateImage> sigframes;

  bool is_user() const { return kind == ContextKind::kUser; }
};

}  // namespace fpusim

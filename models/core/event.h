// A trace event as a CPU processes it. The core kinds below are what every
// architecture's kernel does (switches, uses, syscalls, kernel-mode FP/SIMD,
// interrupts, signals, fork, exec, exit, state access); the other numbers
// below kMaxEventKinds belong to the machine's architecture (Arch), which
// names, decodes and handles them. Numbers are stable: binary traces store
// them.
#pragma once

#include <cstdint>

#include "models/core/types.h"

namespace fpusim {

enum class EventKind : std::uint8_t {
  kSwitch = 0,
  kUse = 1,
  kSyscall = 2,
  kReturnToUser = 3,
  kKernelFpu = 4,
  kIrq = 5,
  kSignal = 6,
  kSigreturn = 7,
  kFork = 8,
  kExec = 9,
  kExit = 10,
  // 11: the architecture's
  kStateRead = 12,
  kStateWrite = 13,
  // 14 .. 31: the architecture's
};
constexpr unsigned kMaxEventKinds = 32;
// A kind as a bit, so that it is tested against a set of kinds in one step
// (such tests run for every event).
constexpr std::uint32_t kind_bit(EventKind k) { return std::uint32_t{1} << static_cast<unsigned>(k); }
constexpr std::uint32_t kCoreEventKinds = 0x37ff;  // 0..10, 12, 13
constexpr bool is_core_event(EventKind k) { return kind_bit(k) & kCoreEventKinds; }

// Event::sub of the core kinds that carry one. signal, sigreturn: "fault".
// kFaultRetry: the access to the user's signal frame faults; the kernel
// faults the page in and the context's next event of the same kind retries
// (copy_fpstate_to_sigframe()'s and restore_fpregs_from_user()'s retry
// loops), the context staying in the kernel, where it may be preempted, in
// between. kFaultFatal (sigreturn): the frame cannot be read at all
// (access_ok() fails); the restore fails and the task is sent SIGSEGV.
constexpr std::uint8_t kFaultRetry = 1, kFaultFatal = 2;
// exec with "to_user": false: the new program's first return to user space
// is a later return_to_user event (preemption and migration may come
// between); by default exec returns to user space at once.
constexpr std::uint8_t kExecStaysInKernel = 1;
// state_write with "invalid_header": true: the tracer's XSAVE header sets
// reserved bits (a non-zero xcomp_bv in the standard format; ptrace07).
constexpr std::uint8_t kInvalidXsaveHeader = 1;

struct Event {
  // 64-bit fields first, the small ones packed at the end: 72 bytes (events
  // are copied a few times each on their way to a CPU).
  Cycles t = 0;
  ComponentMask write = 0;    // use, state_write; an architecture's events: a mask they carry
  ComponentMask read = 0;     // use; kernel_fpu / irq: clobbers
  ComponentMask release = 0;  // use
  Cycles dur = 0;             // kernel_fpu, irq
  std::int64_t arg = 0;       // an architecture's events: an index or number they carry
  std::uint64_t index = 0;    // position in the trace, for messages
  CpuId cpu = 0;
  // switch: next (kNoContext = idle); use: the optional "ctx" check; fork:
  // child; state_read / state_write: target; an architecture's events: a
  // context they name.
  ContextId ctx = kNoContext;
  EventKind kind = EventKind::kSwitch;
  KernelFpuContext where = KernelFpuContext::kTask;
  bool kernel_fpu = false;    // irq
  std::uint8_t sub = 0;       // an architecture's events: a small value they carry; signal, sigreturn, exec, state_write: above
};

}  // namespace fpusim

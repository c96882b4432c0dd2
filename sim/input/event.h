// Scenario events as the replayer uses them, and the streaming sources that
// decode them (inline JSON arrays and JSON-lines files) with one decoder, so
// both forms accept and reject exactly the same events.
#pragma once

#include <cstdint>
#include <fstream>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <nlohmann/json.hpp>

#include "models/core/types.h"
#include "models/x86/agent.h"

namespace fpusim {

enum class EventKind : std::uint8_t {
  kSwitch,
  kUse,
  kSyscall,
  kReturnToUser,
  kKernelFpu,
  kIrq,
  kSignal,
  kSigreturn,
  kFork,
  kExec,
  kExit,
  kXcompPerm,
  kStateRead,
  kStateWrite,
  // KVM (traces/README.md, "KVM").
  kXcompGuestPerm,
  kVmCreate,
  kVmDestroy,
  kKvmRun,
  kVmEntry,
  kVmExit,
  kKvmReturn,
  kGuestWrmsr,
  kGuestRdmsr,
  kGuestXsetbv,
  kGuestCr4,
  kVcpuSaveState,
  kVcpuLoadState,
  kKvmSetXsave,
};
constexpr unsigned kNumEventKinds = static_cast<unsigned>(EventKind::kKvmSetXsave) + 1;
inline bool is_kvm_event(EventKind k) { return k >= EventKind::kXcompGuestPerm; }
// A kind as a bit, so that it is tested against a set of kinds in one step
// (such tests run for every event).
constexpr std::uint32_t kind_bit(EventKind k) { return std::uint32_t{1} << static_cast<unsigned>(k); }
static_assert(kNumEventKinds <= 32);
std::string_view event_kind_name(EventKind k);

struct Event {
  // 64-bit fields first, the small ones packed at the end: 72 bytes (events
  // are copied a few times each on their way to a CPU).
  Cycles t = 0;
  ComponentMask write = 0;    // use, state_write; xcomp_perm: the features
  ComponentMask read = 0;     // use; kernel_fpu / irq: clobbers
  ComponentMask release = 0;  // use
  Cycles dur = 0;             // kernel_fpu, irq
  // KVM events: the vCPU (its guest context) is in `ctx`; vm_create /
  // vm_destroy: the VM index; vcpu_*_state / kvm_set_xsave: the slot
  // (kvm_set_xsave without one: -1); guest_xsetbv: ECX.
  std::int64_t arg = 0;
  std::uint64_t index = 0;    // position in the trace, for messages
  CpuId cpu = 0;
  // switch: next (kNoContext = idle); use: the optional "ctx" check; fork:
  // child; state_read / state_write: target.
  ContextId ctx = kNoContext;
  EventKind kind = EventKind::kSwitch;
  x86::KernelFpuContext where = x86::KernelFpuContext::kTask;
  bool kernel_fpu = false;    // irq
  std::uint8_t sub = 0;       // vm_exit: VmExitReason; guest_wrmsr / guest_rdmsr: GuestMsr; guest_cr4: OSXSAVE
};

// The name table events are decoded with maps context names to ContextIds;
// VM names (to VM indices) and vCPU names (to their guest ContextIds) share
// it under these prefixes, which no declared name can contain.
inline const std::string kVmKeyPrefix = "\x1fvm:";
inline const std::string kVcpuKeyPrefix = "\x1fvcpu:";

// Where an event came from, for error messages: "scenario.json: /events/12"
// or "trace.jsonl:13".
struct EventOrigin {
  std::string file;
  bool jsonl = false;
  InputError error(std::uint64_t index, const std::string& path, const std::string& message) const;
};

class EventDecoder {
 public:
  EventDecoder(const std::unordered_map<std::string, ContextId>* contexts, unsigned cpus, EventOrigin origin);
  ~EventDecoder();
  // `data` must stay readable for simdjson::SIMDJSON_PADDING bytes past len.
  void decode(const char* data, size_t len, size_t capacity, std::uint64_t index, Event& out);
  const EventOrigin& origin() const { return origin_; }

 private:
  const std::unordered_map<std::string, ContextId>* contexts_;
  unsigned cpus_;
  EventOrigin origin_;
  struct Parser;
  std::unique_ptr<Parser> parser_;
  Cycles last_t_ = 0;
};

class EventSource {
 public:
  virtual ~EventSource() = default;
  // Next event in trace order; false at the end.
  virtual bool next(Event& out) = 0;
  virtual const EventOrigin& origin() const = 0;
};

std::unique_ptr<EventSource> make_inline_source(const nlohmann::json& events, const std::string& file,
                                                const std::unordered_map<std::string, ContextId>* contexts,
                                                unsigned cpus);
std::unique_ptr<EventSource> make_jsonl_source(const std::string& path,
                                               const std::unordered_map<std::string, ContextId>* contexts,
                                               unsigned cpus);

}  // namespace fpusim

// How an architecture's events are written in traces, as the shared decoders
// (sim/input: JSON events, binary .fpt traces) need it. The decoders handle
// the core keys and kinds themselves and ask the architecture's EventSyntax
// (Arch::event_syntax) for the rest: its keys and kinds, its component names,
// and the checks and name lookups of its kinds.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "models/core/event.h"
#include "models/core/types.h"

namespace fpusim {

// The name table events are decoded with maps context names to ContextIds;
// VM names (to VM indices) and vCPU names (to their guest ContextIds) share
// it under these prefixes, which no declared name can contain.
inline const std::string kVmKeyPrefix = "\x1fvm:";
inline const std::string kVcpuKeyPrefix = "\x1fvcpu:";

// The name of a core kind ("switch", "use", ...); "" for other numbers.
std::string_view core_event_kind_name(EventKind k);

// The Event fields a kind may carry, as binary traces store them: `ctx`,
// `write`, `read`, `release`, `dur`, and `sub` with `arg` together.
enum EventField : std::uint8_t {
  kFieldCtx = 1u << 0,
  kFieldWrite = 1u << 1,
  kFieldRead = 1u << 2,
  kFieldRelease = 1u << 3,
  kFieldDur = 1u << 4,
  kFieldSubArg = 1u << 5,
};

// One of the architecture's kinds.
struct ArchKind {
  EventKind kind;
  std::string_view name;  // its "ev"
  // Keys it may and must carry besides "t", "cpu" and "ev": the
  // architecture's keys and core ones (e.g. "write").
  std::vector<std::string_view> allowed, required;
  // Binary traces: the fields its events may and must have non-zero.
  std::uint8_t fields = 0, required_fields = 0;
};

// A component name events may use, with the components it stands for (a
// single component, or a group alias).
struct ComponentName {
  std::string_view name;
  ComponentMask mask;
};

// What the JSON decoder offers the architecture for the event it decodes.
class EventInput {
 public:
  // The value of the key being decoded (EventSyntax::decode_key) as one of
  // the value types of traces; a value of another type or out of range throws
  // the InputError that names the key, as for the core keys.
  virtual std::uint64_t u64(std::uint64_t max) = 0;
  virtual std::string_view string() = 0;
  virtual ComponentMask components() = 0;
  virtual bool boolean() = 0;
  // Whether the event has key `name` (a core key or the architecture's):
  // in finish(), any of its keys; in decode_key(), those met so far.
  virtual bool has(std::string_view name) const = 0;
  // The string value of the event's key `name` (which decode_key has read
  // with string()).
  virtual std::string_view text(std::string_view name) const = 0;
  // The id of `name` in the scenario's name table (contexts, and what else
  // the architecture puts there), or null.
  virtual const ContextId* find(const std::string& name) const = 0;
  // An InputError about the event at `path` ("" for the event, "/key").
  [[noreturn]] virtual void fail(const std::string& path, const std::string& message) const = 0;

 protected:
  ~EventInput() = default;
};

// Checks the architecture's records of a binary trace (their `sub`, `arg`
// and what their `ctx` names) against one scenario's name table.
class RecordCheck {
 public:
  virtual ~RecordCheck() = default;
  // "" when `e` (one of the architecture's kinds, its fields as read and
  // within its ArchKind::fields) is valid, else what is wrong.
  virtual std::string check(const Event& e) const = 0;
};

class EventSyntax {
 public:
  virtual ~EventSyntax() = default;

  // Its keys, none of them a core key. The JSON decoder numbers keys by bit:
  // the core's have fixed bits (0 to 12 and 14) and these take the others in
  // this order (13, 15, 16, ...). When an event has several keys its kind
  // does not allow, or lacks several it needs, the lowest bit is reported.
  virtual const std::vector<std::string_view>& keys() const = 0;
  // Its kinds, in number order.
  virtual const std::vector<ArchKind>& kinds() const = 0;
  // Component names, in the order they are tried (the common ones first:
  // every component of every event is looked up).
  virtual const std::vector<ComponentName>& components() const = 0;
  // What an unknown component's message lists after "expected ".
  virtual std::string_view components_hint() const = 0;

  // Decodes the value of its key `key` (an index in keys()) as the decoder
  // meets it, before the event's kind is known: reads it through `in` into
  // `out`; names are resolved later, in finish().
  virtual void decode_key(unsigned key, EventInput& in, Event& out) const = 0;
  // After the shared checks (keys allowed and present, CPU, time order), for
  // its kinds: resolves names and checks what concerns several keys.
  virtual void finish(const EventInput& in, Event& out) const = 0;

  // Binary traces: a checker of its records against `names`, the name table
  // events are decoded with.
  virtual std::unique_ptr<RecordCheck> record_check(
      const std::unordered_map<std::string, ContextId>& names) const = 0;
  // Whether an entry of the name table is one of its own names (not a
  // context's).
  virtual bool own_name(std::string_view entry) const = 0;

  // A kind's name: the core's or its own; "" for an unknown number.
  std::string_view kind_name(EventKind k) const;
};

}  // namespace fpusim

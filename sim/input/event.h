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
#include "models/core/event.h"
#include "models/x86/events.h"

namespace fpusim {

// The decoder below still knows the x86 kinds (x86::ev); moving their
// decoding behind the architecture interface is the next step of issue 11.
std::string_view event_kind_name(EventKind k);

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

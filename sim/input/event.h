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

#include "models/core/arch.h"
#include "models/core/event.h"
#include "models/core/event_syntax.h"
#include "models/core/types.h"

namespace fpusim {

// Where an event came from, for error messages: "scenario.json: /events/12"
// or "trace.jsonl:13".
struct EventOrigin {
  std::string file;
  bool jsonl = false;
  InputError error(std::uint64_t index, const std::string& path, const std::string& message) const;
};

// Decodes one event (a JSON object): the core keys and kinds itself, the
// architecture's through `syntax`, whose tables it copies at construction.
class EventDecoder {
 public:
  EventDecoder(const EventSyntax& syntax, const std::unordered_map<std::string, ContextId>* contexts, unsigned cpus,
               EventOrigin origin);
  ~EventDecoder();
  // `data` must stay readable for simdjson::SIMDJSON_PADDING bytes past len.
  void decode(const char* data, size_t len, size_t capacity, std::uint64_t index, Event& out);
  const EventOrigin& origin() const { return origin_; }

 private:
  // A kind by its "ev" name, with the keys it may and must carry (key bits).
  struct KindSpec {
    std::string_view name;
    EventKind kind;
    std::uint32_t allowed;   // besides t, cpu, ev
    std::uint32_t required;
  };
  class Input;
  const EventSyntax& syntax_;
  const std::unordered_map<std::string, ContextId>* contexts_;
  unsigned cpus_;
  EventOrigin origin_;
  struct Parser;
  std::unique_ptr<Parser> parser_;
  Cycles last_t_ = 0;
  std::vector<KindSpec> kinds_;                 // core and the architecture's, in number order
  std::string kinds_list_;                      // their names, for messages
  std::vector<std::string_view> key_names_;     // by key bit
  std::vector<std::pair<std::string_view, std::uint32_t>> arch_keys_;  // the architecture's keys, their bits
  std::vector<ComponentName> components_;
  std::string components_hint_;
};

class EventSource {
 public:
  virtual ~EventSource() = default;
  // Next event in trace order; false at the end.
  virtual bool next(Event& out) = 0;
  virtual const EventOrigin& origin() const = 0;
  // How much of the trace has been read, 0..1 (-1: not known). For progress
  // lines; called by the thread that calls next().
  virtual double fraction_read() const { return -1; }
};

// `arch`: the scenario's architecture (its event syntax).
std::unique_ptr<EventSource> make_inline_source(const Arch& arch, const nlohmann::json& events,
                                                const std::string& file,
                                                const std::unordered_map<std::string, ContextId>* contexts,
                                                unsigned cpus);
std::unique_ptr<EventSource> make_jsonl_source(const Arch& arch, const std::string& path,
                                               const std::unordered_map<std::string, ContextId>* contexts,
                                               unsigned cpus);

}  // namespace fpusim

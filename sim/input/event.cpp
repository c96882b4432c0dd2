#include "sim/input/event.h"

#include <algorithm>
#include <cstring>

#include <simdjson.h>

namespace fpusim {

using simdjson::dom::element_type;

// The DOM parser dispatches to the best SIMD kernel at run time (On-Demand
// picks its kernel at compile time, which for a generic x86-64 build is the
// scalar fallback).
struct EventDecoder::Parser {
  simdjson::dom::parser parser;
};

InputError EventOrigin::error(std::uint64_t index, const std::string& path, const std::string& message) const {
  if (jsonl) return InputError{file + ":" + std::to_string(index + 1), path.empty() ? "/" : path, message};
  return InputError{file, "/events/" + std::to_string(index) + path, message};
}

namespace {

// The core keys, as bits. Bit 13 and those from 15 on are the architecture's
// keys' (EventSyntax::keys).
enum Key : std::uint32_t {
  kT = 1u << 0, kCpu = 1u << 1, kEv = 1u << 2, kNext = 1u << 3, kCtx = 1u << 4, kWrite = 1u << 5,
  kRead = 1u << 6, kRelease = 1u << 7, kIn = 1u << 8, kDur = 1u << 9, kKfpu = 1u << 10, kClobbers = 1u << 11,
  kChild = 1u << 12, kTarget = 1u << 14, kInvalidHeader = 1u << 29, kToUser = 1u << 30, kFault = 1u << 31,
};
constexpr std::uint32_t kCoreKeys = ((1u << 13) - 1) | kTarget | kInvalidHeader | kToUser | kFault;
constexpr std::string_view kKeyNames[] = {
    "t", "cpu", "ev", "next", "ctx", "write", "read", "release", "in", "dur", "kernel_fpu", "clobbers",
    "child", "", "target", "", "", "", "", "", "", "", "", "", "", "", "", "", "", "invalid_header",
    "to_user", "fault"};

// The core kinds with their keys (names from core_event_kind_name).
struct CoreKind {
  EventKind kind;
  std::uint32_t allowed, required;
};
constexpr CoreKind kCoreKinds[] = {
    {EventKind::kSwitch, kNext, kNext},
    {EventKind::kUse, kCtx | kWrite | kRead | kRelease, 0},
    {EventKind::kSyscall, 0, 0},
    {EventKind::kReturnToUser, 0, 0},
    {EventKind::kKernelFpu, kIn | kDur | kClobbers, kIn | kDur},
    {EventKind::kIrq, kDur | kKfpu | kClobbers, kDur},
    {EventKind::kSignal, kFault, 0},
    {EventKind::kSigreturn, kFault, 0},
    {EventKind::kFork, kChild, kChild},
    {EventKind::kExec, kToUser, 0},
    {EventKind::kExit, 0, 0},
    {EventKind::kStateRead, kTarget, kTarget},
    {EventKind::kStateWrite, kTarget | kWrite | kInvalidHeader, kTarget | kWrite},
};

// The bit of a core key, 0 for any other key: by length, then the few keys
// of that length (this runs for every key of every event). Spelled out
// because comparisons with literals compile to integer compares: lookups
// derived from kKeyNames at compile time (a table by length, with or without
// names packed into words) cost 115-190 more instructions per event on JSON
// lines. The static_assert below keeps this and kKeyNames in step.
constexpr std::uint32_t key_bit(std::string_view k) {
  switch (k.size()) {
    case 1:
      if (k == "t") return kT;
      return 0;
    case 2:
      if (k == "ev") return kEv;
      if (k == "in") return kIn;
      return 0;
    case 3:
      if (k == "cpu") return kCpu;
      if (k == "ctx") return kCtx;
      if (k == "dur") return kDur;
      return 0;
    case 4:
      if (k == "next") return kNext;
      if (k == "read") return kRead;
      return 0;
    case 5:
      if (k == "write") return kWrite;
      if (k == "child") return kChild;
      if (k == "fault") return kFault;
      return 0;
    case 6:
      if (k == "target") return kTarget;
      return 0;
    case 7:
      if (k == "release") return kRelease;
      if (k == "to_user") return kToUser;
      return 0;
    case 8:
      if (k == "clobbers") return kClobbers;
      return 0;
    case 10:
      if (k == "kernel_fpu") return kKfpu;
      return 0;
    case 14:
      if (k == "invalid_header") return kInvalidHeader;
      return 0;
    default:
      return 0;
  }
}

constexpr bool key_bits_match_names() {
  for (unsigned i = 0; i < std::size(kKeyNames); ++i) {
    if (key_bit(kKeyNames[i]) != (kKeyNames[i].empty() ? 0 : 1u << i)) return false;
  }
  return true;
}
static_assert(key_bits_match_names(), "key_bit() and kKeyNames disagree");

std::string type_name(element_type t) {
  switch (t) {
    case element_type::ARRAY: return "an array";
    case element_type::OBJECT: return "an object";
    case element_type::INT64:
    case element_type::UINT64: return "an integer";
    case element_type::DOUBLE: return "a number";
    case element_type::STRING: return "a string";
    case element_type::BOOL: return "a boolean";
    case element_type::NULL_VALUE: return "null";
  }
  return "a value";
}

// Value readers shared by the core keys and the architecture's (Input);
// `fail(path, message)` makes the InputError.
template <typename Fail>
std::uint64_t read_u64(const Fail& fail, simdjson::dom::element v, std::string_view key, std::uint64_t max) {
  const element_type t = v.type();
  std::uint64_t x = 0;
  if (t == element_type::INT64) {
    const std::int64_t i = v.get_int64().value_unsafe();
    if (i < 0) throw fail("/" + std::string(key), "expected a non-negative integer, got " + std::to_string(i));
    x = static_cast<std::uint64_t>(i);
  } else if (t == element_type::UINT64) {
    x = v.get_uint64().value_unsafe();
  } else if (t == element_type::DOUBLE) {
    throw fail("/" + std::string(key), "expected a non-negative integer, got a fractional or too large number");
  } else {
    throw fail("/" + std::string(key), "expected a non-negative integer, got " + type_name(t));
  }
  if (x > max) {
    throw fail("/" + std::string(key), "expected at most " + std::to_string(max) + ", got " + std::to_string(x));
  }
  return x;
}

template <typename Fail>
std::string_view read_string(const Fail& fail, simdjson::dom::element v, std::string_view key) {
  if (v.type() != element_type::STRING) {
    throw fail("/" + std::string(key), "expected a string, got " + type_name(v.type()));
  }
  return v.get_string().value_unsafe();
}

template <typename Fail>
bool read_bool(const Fail& fail, simdjson::dom::element v, std::string_view key) {
  if (v.type() != element_type::BOOL) throw fail("/" + std::string(key), "expected true or false, got " + type_name(v.type()));
  return v.get_bool().value_unsafe();
}

// Component names as the architecture lists them.
template <typename Fail>
ComponentMask read_components(const Fail& fail, simdjson::dom::element v, std::string_view key,
                              const std::vector<ComponentName>& names, const std::string& hint) {
  if (v.type() != element_type::ARRAY) {
    throw fail("/" + std::string(key), "expected an array of component names, got " + type_name(v.type()));
  }
  ComponentMask m = 0;
  size_t i = 0;
  simdjson::dom::array arr;
  if (v.get_array().get(arr)) throw fail("/" + std::string(key), "expected an array of component names");
  for (simdjson::dom::element el : arr) {
    auto p = [&] { return "/" + std::string(key) + "/" + std::to_string(i); };
    if (el.type() != element_type::STRING) throw fail(p(), "expected a component name (a string), got " + type_name(el.type()));
    const std::string_view s = el.get_string().value_unsafe();
    const ComponentName* c = names.data();
    const ComponentName* const end = c + names.size();
    while (c != end && c->name != s) ++c;
    if (c == end) throw fail(p(), "unknown component \"" + std::string(s) + "\"; expected " + hint);
    m |= c->mask;
    ++i;
  }
  return m;
}

}  // namespace

EventDecoder::EventDecoder(const EventSyntax& syntax, const std::unordered_map<std::string, ContextId>* contexts,
                           unsigned cpus, EventOrigin origin)
    : syntax_(syntax), contexts_(contexts), cpus_(cpus), origin_(std::move(origin)),
      parser_(std::make_unique<Parser>()), key_names_(std::begin(kKeyNames), std::end(kKeyNames)),
      components_(syntax.components()), components_hint_(syntax.components_hint()) {
  key_names_.resize(32);
  std::uint32_t free = ~kCoreKeys;
  for (std::string_view k : syntax.keys()) {
    if (!free) panic("event syntax: more than " + std::to_string(32 - __builtin_popcount(kCoreKeys)) + " keys");
    if (key_bit(k)) panic("event syntax: \"" + std::string(k) + "\" is a core key");
    const std::uint32_t b = free & -free;
    free &= ~b;
    arch_keys_.emplace_back(k, b);
    key_names_[__builtin_ctz(b)] = k;
  }
  auto bits = [&](const std::vector<std::string_view>& names) {
    std::uint32_t m = 0;
    for (std::string_view n : names) {
      std::uint32_t b = key_bit(n);
      for (const auto& [name, bit] : arch_keys_) {
        if (name == n) b = bit;
      }
      if (!b) panic("event syntax: unknown key \"" + std::string(n) + "\"");
      m |= b;
    }
    return m;
  };
  for (const CoreKind& c : kCoreKinds) kinds_.push_back({core_event_kind_name(c.kind), c.kind, c.allowed, c.required});
  for (const ArchKind& a : syntax.kinds()) kinds_.push_back({a.name, a.kind, bits(a.allowed), bits(a.required)});
  std::stable_sort(kinds_.begin(), kinds_.end(), [](const KindSpec& a, const KindSpec& b) { return a.kind < b.kind; });
  for (const KindSpec& k : kinds_) kinds_list_ += (kinds_list_.empty() ? "" : ", ") + std::string(k.name);
}

EventDecoder::~EventDecoder() = default;

// The decoder's side of EventInput for the architecture's keys and kinds.
class EventDecoder::Input final : public EventInput {
 public:
  Input(const EventDecoder& d, std::uint64_t index, simdjson::dom::object obj, std::uint32_t seen)
      : d_(d), index_(index), obj_(obj), seen_(seen) {}
  void at(simdjson::dom::element v, std::string_view key) {
    v_ = v;
    key_ = key;
  }

  std::uint64_t u64(std::uint64_t max) override { return read_u64(fail_fn(), v_, key_, max); }
  std::string_view string() override { return read_string(fail_fn(), v_, key_); }
  ComponentMask components() override {
    return read_components(fail_fn(), v_, key_, d_.components_, d_.components_hint_);
  }
  bool boolean() override { return read_bool(fail_fn(), v_, key_); }
  bool has(std::string_view name) const override {
    std::uint32_t b = key_bit(name);
    for (const auto& [n, bit] : d_.arch_keys_) {
      if (n == name) b = bit;
    }
    return seen_ & b;
  }
  std::string_view text(std::string_view name) const override {
    std::string_view s;
    if (obj_.at_key(name).get_string().get(s)) return {};
    return s;
  }
  const ContextId* find(const std::string& name) const override {
    auto it = d_.contexts_->find(name);
    return it == d_.contexts_->end() ? nullptr : &it->second;
  }
  [[noreturn]] void fail(const std::string& path, const std::string& message) const override {
    throw d_.origin_.error(index_, path, message);
  }

 private:
  struct Fail {
    const Input* in;
    InputError operator()(const std::string& path, const std::string& msg) const {
      return in->d_.origin_.error(in->index_, path, msg);
    }
  };
  Fail fail_fn() const { return Fail{this}; }
  const EventDecoder& d_;
  std::uint64_t index_;
  simdjson::dom::object obj_;
  std::uint32_t seen_;
  simdjson::dom::element v_;
  std::string_view key_;
};

void EventDecoder::decode(const char* data, size_t len, size_t capacity, std::uint64_t index, Event& out) {
  auto fail = [&](const std::string& path, const std::string& msg) -> InputError {
    return origin_.error(index, path, msg);
  };
  simdjson::dom::element doc;
  if (auto err = parser_->parser.parse(data, len, false).get(doc)) {
    throw fail("", std::string("invalid JSON: ") + simdjson::error_message(err));
  }
  (void)capacity;
  simdjson::dom::object obj;
  if (doc.get_object().get(obj)) throw fail("", "expected an event object {\"t\": ..., \"cpu\": ..., \"ev\": ...}");

  out = Event{};
  out.index = index;
  std::uint32_t seen = 0;
  std::string_view ev;
  bool next_null = false;
  std::string_view next_name, ctx_name, child_name, target_name;

  auto read_context = [&](std::string_view name, const char* key) -> ContextId {
    auto it = contexts_->find(std::string(name));
    if (it == contexts_->end()) {
      throw fail(std::string("/") + key, "unknown context \"" + std::string(name) + "\" (declare it in /contexts)");
    }
    return it->second;
  };
  auto components = [&](simdjson::dom::element v, std::string_view key) {
    return read_components(fail, v, key, components_, components_hint_);
  };

  for (auto field : obj) {
    const std::string_view key = field.key;
    std::uint32_t k = key_bit(key);
    unsigned arch_key = 0;
    if (!k) {
      for (const auto& [name, bit] : arch_keys_) {
        if (name == key) {
          k = bit;
          break;
        }
        ++arch_key;
      }
      if (!k) throw fail("/" + std::string(key), "unknown key \"" + std::string(key) + "\"");
    }
    if (seen & k) throw fail("/" + std::string(key), "duplicate key \"" + std::string(key) + "\"");
    seen |= k;
    simdjson::dom::element v = field.value;
    switch (k) {
      case kT: out.t = read_u64(fail, v, "t", (1ull << 53) - 1); break;
      case kCpu: out.cpu = static_cast<CpuId>(read_u64(fail, v, "cpu", 4095)); break;
      case kEv: ev = read_string(fail, v, "ev"); break;
      case kNext: {
        if (v.is_null()) {
          next_null = true;
        } else {
          next_name = read_string(fail, v, "next");
        }
        break;
      }
      case kCtx: ctx_name = read_string(fail, v, "ctx"); break;
      case kWrite: out.write = components(v, "write"); break;
      case kRead: out.read = components(v, "read"); break;
      case kRelease: out.release = components(v, "release"); break;
      case kIn: {
        std::string_view w = read_string(fail, v, "in");
        if (w == "task") out.where = KernelFpuContext::kTask;
        else if (w == "softirq") out.where = KernelFpuContext::kSoftirq;
        else if (w == "hardirq") out.where = KernelFpuContext::kHardirq;
        else throw fail("/in", "expected \"task\", \"softirq\" or \"hardirq\", got \"" + std::string(w) + "\"");
        break;
      }
      case kDur: out.dur = read_u64(fail, v, "dur", (1ull << 53) - 1); break;
      case kKfpu: out.kernel_fpu = read_bool(fail, v, "kernel_fpu"); break;
      case kClobbers: out.read = components(v, "clobbers"); break;
      case kChild: child_name = read_string(fail, v, "child"); break;
      case kTarget: target_name = read_string(fail, v, "target"); break;
      case kFault: {
        const std::string_view f = read_string(fail, v, "fault");
        if (f == "retry") out.sub = kFaultRetry;
        else if (f == "fatal") out.sub = kFaultFatal;
        else throw fail("/fault", "expected \"retry\" or \"fatal\", got \"" + std::string(f) + "\"");
        break;
      }
      case kToUser: out.sub = read_bool(fail, v, "to_user") ? 0 : kExecStaysInKernel; break;
      case kInvalidHeader: out.sub = read_bool(fail, v, "invalid_header") ? kInvalidXsaveHeader : 0; break;
      default: {  // the architecture's
        Input in(*this, index, obj, seen);
        in.at(v, key);
        syntax_.decode_key(arch_key, in, out);
        break;
      }
    }
  }
  for (std::uint32_t k : {kT, kCpu, kEv}) {
    if (!(seen & k)) {
      throw fail("", "missing required key \"" + std::string(kKeyNames[__builtin_ctz(k)]) + "\"");
    }
  }
  const KindSpec* spec = nullptr;
  for (const auto& ks : kinds_) {
    if (ks.name == ev) {
      spec = &ks;
      break;
    }
  }
  if (!spec) throw fail("/ev", "unknown event kind \"" + std::string(ev) + "\"; expected one of " + kinds_list_);
  out.kind = spec->kind;
  const std::uint32_t extra = seen & ~(kT | kCpu | kEv);
  if (std::uint32_t bad = extra & ~spec->allowed) {
    const std::string key(key_names_[__builtin_ctz(bad)]);
    throw fail("/" + key, "key \"" + key + "\" does not belong to a \"" + std::string(ev) + "\" event");
  }
  if (std::uint32_t missing = spec->required & ~seen) {
    throw fail("", "a \"" + std::string(ev) + "\" event needs \"" +
                       std::string(key_names_[__builtin_ctz(missing)]) + "\"");
  }
  if (out.cpu >= cpus_) {
    throw fail("/cpu", "CPU " + std::to_string(out.cpu) + " does not exist (the machine has " + cpus_text(cpus_) +
                           ": 0.." + std::to_string(cpus_ - 1) + ")");
  }
  if (out.t < last_t_) {
    throw fail("/t", "time goes backwards: " + std::to_string(out.t) + " after " + std::to_string(last_t_) +
                         " (events must be in time order)");
  }
  last_t_ = out.t;
  switch (out.kind) {
    case EventKind::kSwitch: out.ctx = next_null ? kNoContext : read_context(next_name, "next"); break;
    case EventKind::kUse:
      if (!(out.write | out.read | out.release)) throw fail("", "a \"use\" event needs \"write\", \"read\" or \"release\"");
      if (seen & kCtx) out.ctx = read_context(ctx_name, "ctx");
      break;
    case EventKind::kFork: out.ctx = read_context(child_name, "child"); break;
    case EventKind::kSignal:
      if (out.sub == kFaultFatal) throw fail("/fault", "a signal frame write that fails is not modelled: expected \"retry\"");
      break;
    case EventKind::kStateRead:
    case EventKind::kStateWrite: out.ctx = read_context(target_name, "target"); break;
    default:
      if (!is_core_event(out.kind)) syntax_.finish(Input(*this, index, obj, seen), out);
      break;
  }
}

namespace {

class InlineSource final : public EventSource {
 public:
  InlineSource(const Arch& arch, const nlohmann::json& events, const std::string& file,
               const std::unordered_map<std::string, ContextId>* contexts, unsigned cpus)
      : events_(events), decoder_(arch.event_syntax(), contexts, cpus, EventOrigin{file, false}) {}

  bool next(Event& out) override {
    if (i_ >= events_.size()) return false;
    buf_ = events_[i_].dump();
    const size_t len = buf_.size();
    buf_.append(simdjson::SIMDJSON_PADDING, '\0');
    decoder_.decode(buf_.data(), len, buf_.size(), i_, out);
    ++i_;
    return true;
  }
  const EventOrigin& origin() const override { return decoder_.origin(); }
  double fraction_read() const override {
    return events_.empty() ? 1.0 : static_cast<double>(i_) / static_cast<double>(events_.size());
  }

 private:
  const nlohmann::json& events_;
  EventDecoder decoder_;
  size_t i_ = 0;
  std::string buf_;
};

// Reads a JSON-lines file in large chunks; each non-blank line is one event.
class JsonlSource final : public EventSource {
 public:
  JsonlSource(const Arch& arch, const std::string& path, const std::unordered_map<std::string, ContextId>* contexts,
              unsigned cpus)
      : in_(path, std::ios::binary), decoder_(arch.event_syntax(), contexts, cpus, EventOrigin{path, true}) {
    if (!in_) throw InputError{path, "", "cannot open events file"};
    buf_.resize(kChunk + simdjson::SIMDJSON_PADDING);
    in_.seekg(0, std::ios::end);
    size_ = static_cast<std::uint64_t>(std::max<std::streamoff>(in_.tellg(), 0));
    in_.seekg(0);
  }

  bool next(Event& out) override {
    while (true) {
      const char* nl = static_cast<const char*>(std::memchr(buf_.data() + pos_, '\n', end_ - pos_));
      if (!nl && !eof_) {
        refill();
        continue;
      }
      if (pos_ >= end_ && eof_) return false;
      const size_t line_end = nl ? static_cast<size_t>(nl - buf_.data()) : end_;
      const size_t start = pos_;
      pos_ = nl ? line_end + 1 : end_;
      const std::uint64_t line = line_++;
      size_t len = line_end - start;
      if (len && buf_[start + len - 1] == '\r') --len;
      bool blank = true;
      for (size_t i = 0; i < len && blank; ++i) blank = buf_[start + i] == ' ' || buf_[start + i] == '\t';
      if (blank) continue;
      decoder_.decode(buf_.data() + start, len, buf_.size() - start, line, out);
      return true;
    }
  }
  const EventOrigin& origin() const override { return decoder_.origin(); }
  double fraction_read() const override {
    return size_ ? static_cast<double>(read_ - (end_ - pos_)) / static_cast<double>(size_) : -1;
  }

 private:
  static constexpr size_t kChunk = 1 << 20;
  std::uint64_t size_ = 0, read_ = 0;  // the file's size, bytes read from it

  void refill() {
    // Move the partial line to the front and read more after it.
    const size_t rest = end_ - pos_;
    std::memmove(buf_.data(), buf_.data() + pos_, rest);
    pos_ = 0;
    end_ = rest;
    if (buf_.size() - simdjson::SIMDJSON_PADDING - end_ < kChunk / 2) {  // a very long line: grow
      buf_.resize(buf_.size() * 2);
    }
    const size_t room = buf_.size() - simdjson::SIMDJSON_PADDING - end_;
    in_.read(buf_.data() + end_, static_cast<std::streamsize>(room));
    const size_t got = static_cast<size_t>(in_.gcount());
    end_ += got;
    read_ += got;
    if (got < room) eof_ = true;
    std::memset(buf_.data() + end_, 0, simdjson::SIMDJSON_PADDING);
  }

  std::ifstream in_;
  EventDecoder decoder_;
  std::vector<char> buf_;
  size_t pos_ = 0, end_ = 0;
  bool eof_ = false;
  std::uint64_t line_ = 0;
};

}  // namespace

std::unique_ptr<EventSource> make_inline_source(const Arch& arch, const nlohmann::json& events,
                                                const std::string& file,
                                                const std::unordered_map<std::string, ContextId>* contexts,
                                                unsigned cpus) {
  return std::make_unique<InlineSource>(arch, events, file, contexts, cpus);
}

std::unique_ptr<EventSource> make_jsonl_source(const Arch& arch, const std::string& path,
                                               const std::unordered_map<std::string, ContextId>* contexts,
                                               unsigned cpus) {
  return std::make_unique<JsonlSource>(arch, path, contexts, cpus);
}

}  // namespace fpusim

#include "sim/input/event.h"

#include <cstring>

#include <simdjson.h>

#include "models/x86/kvm.h"
#include "models/x86/xstate.h"

namespace fpusim {

using simdjson::dom::element_type;

// The DOM parser dispatches to the best SIMD kernel at run time (On-Demand
// picks its kernel at compile time, which for a generic x86-64 build is the
// scalar fallback).
struct EventDecoder::Parser {
  simdjson::dom::parser parser;
};

std::string_view event_kind_name(EventKind k) {
  static constexpr std::string_view names[] = {
      "switch",      "use",          "syscall",         "return_to_user", "kernel_fpu",  "irq",
      "signal",      "sigreturn",    "fork",            "exec",           "exit",        "xcomp_perm",
      "state_read",  "state_write",  "xcomp_guest_perm", "vm_create",     "vm_destroy",  "kvm_run",
      "vm_entry",    "vm_exit",      "kvm_return",      "guest_wrmsr",    "guest_rdmsr", "guest_xsetbv",
      "guest_cr4",   "vcpu_save_state", "vcpu_load_state", "kvm_set_xsave"};
  static_assert(std::size(names) == x86::ev::kNumKinds);
  return names[static_cast<size_t>(k)];
}

InputError EventOrigin::error(std::uint64_t index, const std::string& path, const std::string& message) const {
  if (jsonl) return InputError{file + ":" + std::to_string(index + 1), path.empty() ? "/" : path, message};
  return InputError{file, "/events/" + std::to_string(index) + path, message};
}

EventDecoder::EventDecoder(const std::unordered_map<std::string, ContextId>* contexts, unsigned cpus,
                           EventOrigin origin)
    : contexts_(contexts), cpus_(cpus), origin_(std::move(origin)),
      parser_(std::make_unique<Parser>()) {}

EventDecoder::~EventDecoder() = default;

namespace {

// Keys an event may carry, as bits.
enum Key : unsigned {
  kT = 1u << 0, kCpu = 1u << 1, kEv = 1u << 2, kNext = 1u << 3, kCtx = 1u << 4, kWrite = 1u << 5,
  kRead = 1u << 6, kRelease = 1u << 7, kIn = 1u << 8, kDur = 1u << 9, kKfpu = 1u << 10, kClobbers = 1u << 11,
  kChild = 1u << 12, kFeatures = 1u << 13, kTarget = 1u << 14, kVcpu = 1u << 15, kVm = 1u << 16,
  kReason = 1u << 17, kMsr = 1u << 18, kValue = 1u << 19, kXcr0 = 1u << 20, kIndex = 1u << 21,
  kSlot = 1u << 22, kOsxsave = 1u << 23,
};

struct KindSpec {
  std::string_view name;
  EventKind kind;
  unsigned allowed;   // besides t, cpu, ev
  unsigned required;
};
constexpr KindSpec kKinds[] = {
    {"switch", EventKind::kSwitch, kNext, kNext},
    {"use", EventKind::kUse, kCtx | kWrite | kRead | kRelease, 0},
    {"syscall", EventKind::kSyscall, 0, 0},
    {"return_to_user", EventKind::kReturnToUser, 0, 0},
    {"kernel_fpu", EventKind::kKernelFpu, kIn | kDur | kClobbers, kIn | kDur},
    {"irq", EventKind::kIrq, kDur | kKfpu | kClobbers, kDur},
    {"signal", EventKind::kSignal, 0, 0},
    {"sigreturn", EventKind::kSigreturn, 0, 0},
    {"fork", EventKind::kFork, kChild, kChild},
    {"exec", EventKind::kExec, 0, 0},
    {"exit", EventKind::kExit, 0, 0},
    {"xcomp_perm", x86::ev::kXcompPerm, kFeatures, kFeatures},
    {"state_read", EventKind::kStateRead, kTarget, kTarget},
    {"state_write", EventKind::kStateWrite, kTarget | kWrite, kTarget | kWrite},
    {"xcomp_guest_perm", x86::ev::kXcompGuestPerm, kFeatures, kFeatures},
    {"vm_create", x86::ev::kVmCreate, kVm, kVm},
    {"vm_destroy", x86::ev::kVmDestroy, kVm, kVm},
    {"kvm_run", x86::ev::kKvmRun, kVcpu, kVcpu},
    {"vm_entry", x86::ev::kVmEntry, 0, 0},
    {"vm_exit", x86::ev::kVmExit, kReason, kReason},
    {"kvm_return", x86::ev::kKvmReturn, 0, 0},
    {"guest_wrmsr", x86::ev::kGuestWrmsr, kMsr | kValue, kMsr | kValue},
    {"guest_rdmsr", x86::ev::kGuestRdmsr, kMsr, kMsr},
    {"guest_xsetbv", x86::ev::kGuestXsetbv, kXcr0 | kIndex, kXcr0},
    {"guest_cr4", x86::ev::kGuestCr4, kOsxsave, kOsxsave},
    {"vcpu_save_state", x86::ev::kVcpuSaveState, kVcpu | kSlot, kVcpu | kSlot},
    {"vcpu_load_state", x86::ev::kVcpuLoadState, kVcpu | kSlot, kVcpu | kSlot},
    {"kvm_set_xsave", x86::ev::kKvmSetXsave, kVcpu | kSlot | kWrite, kVcpu},
};
constexpr std::string_view kKeyNames[] = {"t",        "cpu",     "ev",         "next",     "ctx",
                                          "write",    "read",    "release",    "in",       "dur",
                                          "kernel_fpu", "clobbers", "child",   "features", "target",
                                          "vcpu",     "vm",      "reason",     "msr",      "value",
                                          "xcr0",     "index",   "slot",       "osxsave"};

// The bit of an event key, 0 for an unknown key: by length, then the few
// keys of that length (this runs for every key of every event). Spelled out
// because comparisons with literals compile to integer compares: lookups
// derived from kKeyNames at compile time (a table by length, with or without
// names packed into words) cost 115-190 more instructions per event on JSON
// lines. The static_assert below keeps this and kKeyNames in step.
constexpr unsigned key_bit(std::string_view k) {
  switch (k.size()) {
    case 1:
      if (k == "t") return kT;
      return 0;
    case 2:
      if (k == "ev") return kEv;
      if (k == "in") return kIn;
      if (k == "vm") return kVm;
      return 0;
    case 3:
      if (k == "cpu") return kCpu;
      if (k == "ctx") return kCtx;
      if (k == "dur") return kDur;
      if (k == "msr") return kMsr;
      return 0;
    case 4:
      if (k == "next") return kNext;
      if (k == "read") return kRead;
      if (k == "vcpu") return kVcpu;
      if (k == "xcr0") return kXcr0;
      if (k == "slot") return kSlot;
      return 0;
    case 5:
      if (k == "write") return kWrite;
      if (k == "child") return kChild;
      if (k == "value") return kValue;
      if (k == "index") return kIndex;
      return 0;
    case 6:
      if (k == "target") return kTarget;
      if (k == "reason") return kReason;
      return 0;
    case 7:
      if (k == "release") return kRelease;
      if (k == "osxsave") return kOsxsave;
      return 0;
    case 8:
      if (k == "clobbers") return kClobbers;
      if (k == "features") return kFeatures;
      return 0;
    case 10:
      if (k == "kernel_fpu") return kKfpu;
      return 0;
    default:
      return 0;
  }
}

constexpr bool key_bits_match_names() {
  for (unsigned i = 0; i < std::size(kKeyNames); ++i) {
    if (key_bit(kKeyNames[i]) != 1u << i) return false;
  }
  return true;
}
static_assert(key_bits_match_names(), "key_bit() and kKeyNames disagree");

std::string kinds_list() {
  std::string s;
  for (const auto& k : kKinds) s += (s.empty() ? "" : ", ") + std::string(k.name);
  return s;
}

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

}  // namespace

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
  unsigned seen = 0;
  std::string_view ev;
  bool next_null = false;
  std::string_view next_name, ctx_name, child_name, target_name, vcpu_name, vm_name;

  auto read_u64 = [&](simdjson::dom::element v, const char* key, std::uint64_t max) -> std::uint64_t {
    const element_type t = v.type();
    std::uint64_t x = 0;
    if (t == element_type::INT64) {
      const std::int64_t i = v.get_int64().value_unsafe();
      if (i < 0) throw fail(std::string("/") + key, "expected a non-negative integer, got " + std::to_string(i));
      x = static_cast<std::uint64_t>(i);
    } else if (t == element_type::UINT64) {
      x = v.get_uint64().value_unsafe();
    } else if (t == element_type::DOUBLE) {
      throw fail(std::string("/") + key, "expected a non-negative integer, got a fractional or too large number");
    } else {
      throw fail(std::string("/") + key, "expected a non-negative integer, got " + type_name(t));
    }
    if (x > max) throw fail(std::string("/") + key, "expected at most " + std::to_string(max) + ", got " + std::to_string(x));
    return x;
  };
  auto read_string = [&](simdjson::dom::element v, const char* key) -> std::string_view {
    if (v.type() != element_type::STRING) {
      throw fail(std::string("/") + key, "expected a string, got " + type_name(v.type()));
    }
    return v.get_string().value_unsafe();
  };
  auto read_components = [&](simdjson::dom::element v, const char* key) -> ComponentMask {
    if (v.type() != element_type::ARRAY) {
      throw fail(std::string("/") + key, "expected an array of component names, got " + type_name(v.type()));
    }
    ComponentMask m = 0;
    size_t i = 0;
    simdjson::dom::array arr;
    if (v.get_array().get(arr)) throw fail(std::string("/") + key, "expected an array of component names");
    for (simdjson::dom::element el : arr) {
      auto p = [&] { return std::string("/") + key + "/" + std::to_string(i); };
      if (el.type() != element_type::STRING) throw fail(p(), "expected a component name (a string), got " + type_name(el.type()));
      const std::string_view s = el.get_string().value_unsafe();
      auto mask = x86::component_mask_by_name(s);
      if (!mask) {
        throw fail(p(), "unknown component \"" + std::string(s) +
                          "\"; expected x87, sse, ymm (avx), opmask, zmm_hi256, hi16_zmm (avx512), pkru, "
                          "xtilecfg, xtiledata (amx), apx, bndregs, bndcsr or a supervisor component");
      }
      m |= *mask;
      ++i;
    }
    return m;
  };
  auto read_vcpu = [&](std::string_view name) -> ContextId {
    auto it = contexts_->find(kVcpuKeyPrefix + std::string(name));
    if (it == contexts_->end()) {
      throw fail("/vcpu", "unknown vCPU \"" + std::string(name) + "\" (declare it in /vms/*/vcpus)");
    }
    return it->second;
  };
  auto read_context = [&](std::string_view name, const char* key) -> ContextId {
    auto it = contexts_->find(std::string(name));
    if (it == contexts_->end()) {
      throw fail(std::string("/") + key, "unknown context \"" + std::string(name) + "\" (declare it in /contexts)");
    }
    return it->second;
  };

  for (auto field : obj) {
    const std::string_view key = field.key;
    const unsigned k = key_bit(key);
    if (!k) throw fail("/" + std::string(key), "unknown key \"" + std::string(key) + "\"");
    if (seen & k) throw fail("/" + std::string(key), "duplicate key \"" + std::string(key) + "\"");
    seen |= k;
    simdjson::dom::element v = field.value;
    switch (k) {
      case kT: out.t = read_u64(v, "t", (1ull << 53) - 1); break;
      case kCpu: out.cpu = static_cast<CpuId>(read_u64(v, "cpu", 4095)); break;
      case kEv: ev = read_string(v, "ev"); break;
      case kNext: {
        if (v.is_null()) {
          next_null = true;
        } else {
          next_name = read_string(v, "next");
        }
        break;
      }
      case kCtx: ctx_name = read_string(v, "ctx"); break;
      case kWrite: out.write = read_components(v, "write"); break;
      case kRead: out.read = read_components(v, "read"); break;
      case kRelease: out.release = read_components(v, "release"); break;
      case kIn: {
        std::string_view w = read_string(v, "in");
        if (w == "task") out.where = KernelFpuContext::kTask;
        else if (w == "softirq") out.where = KernelFpuContext::kSoftirq;
        else if (w == "hardirq") out.where = KernelFpuContext::kHardirq;
        else throw fail("/in", "expected \"task\", \"softirq\" or \"hardirq\", got \"" + std::string(w) + "\"");
        break;
      }
      case kDur: out.dur = read_u64(v, "dur", (1ull << 53) - 1); break;
      case kKfpu: {
        if (v.type() != element_type::BOOL) throw fail("/kernel_fpu", "expected true or false, got " + type_name(v.type()));
        out.kernel_fpu = v.get_bool().value_unsafe();
        break;
      }
      case kClobbers: out.read = read_components(v, "clobbers"); break;
      case kChild: child_name = read_string(v, "child"); break;
      case kFeatures: out.write = read_components(v, "features"); break;
      case kTarget: target_name = read_string(v, "target"); break;
      case kVcpu: vcpu_name = read_string(v, "vcpu"); break;
      case kVm: vm_name = read_string(v, "vm"); break;
      case kReason: {
        const std::string_view r = read_string(v, "reason");
        x86::VmExitReason reason;
        if (!x86::vm_exit_reason_by_name(r, &reason)) {
          throw fail("/reason", "unknown VM exit reason \"" + std::string(r) +
                                    "\"; expected external_interrupt, hlt, io, mmio, msr, xsetbv, nm or other");
        }
        out.sub = static_cast<std::uint8_t>(reason);
        break;
      }
      case kMsr: {
        const std::string_view m = read_string(v, "msr");
        if (m == "xfd") out.sub = static_cast<std::uint8_t>(x86::GuestMsr::kXfd);
        else if (m == "xfd_err") out.sub = static_cast<std::uint8_t>(x86::GuestMsr::kXfdErr);
        else throw fail("/msr", "expected \"xfd\" (IA32_XFD) or \"xfd_err\" (IA32_XFD_ERR), got \"" + std::string(m) + "\"");
        break;
      }
      case kValue: out.write = read_components(v, "value"); break;
      case kXcr0: out.write = read_components(v, "xcr0"); break;
      case kIndex: out.arg = static_cast<std::int64_t>(read_u64(v, "index", 0xffffffffu)); break;
      case kSlot: out.arg = static_cast<std::int64_t>(read_u64(v, "slot", 0x7fffffffu)); break;
      case kOsxsave: {
        if (v.type() != element_type::BOOL) throw fail("/osxsave", "expected true or false, got " + type_name(v.type()));
        out.sub = v.get_bool().value_unsafe();
        break;
      }
    }
  }
  for (unsigned k : {kT, kCpu, kEv}) {
    if (!(seen & k)) {
      throw fail("", "missing required key \"" + std::string(kKeyNames[__builtin_ctz(k)]) + "\"");
    }
  }
  const KindSpec* spec = nullptr;
  for (const auto& ks : kKinds) {
    if (ks.name == ev) {
      spec = &ks;
      break;
    }
  }
  if (!spec) throw fail("/ev", "unknown event kind \"" + std::string(ev) + "\"; expected one of " + kinds_list());
  out.kind = spec->kind;
  const unsigned extra = seen & ~(kT | kCpu | kEv);
  if (unsigned bad = extra & ~spec->allowed) {
    const std::string key(kKeyNames[__builtin_ctz(bad)]);
    throw fail("/" + key, "key \"" + key + "\" does not belong to a \"" + std::string(ev) + "\" event");
  }
  if (unsigned missing = spec->required & ~seen) {
    throw fail("", "a \"" + std::string(ev) + "\" event needs \"" +
                       std::string(kKeyNames[__builtin_ctz(missing)]) + "\"");
  }
  if (out.cpu >= cpus_) {
    throw fail("/cpu", "CPU " + std::to_string(out.cpu) + " does not exist (the machine has " +
                           std::to_string(cpus_) + " CPUs: 0.." + std::to_string(cpus_ - 1) + ")");
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
    case EventKind::kStateRead:
    case EventKind::kStateWrite: out.ctx = read_context(target_name, "target"); break;
    case x86::ev::kXcompPerm:
    case x86::ev::kXcompGuestPerm:
      if (!out.write) throw fail("/features", "expected at least one feature");
      break;
    case x86::ev::kKvmRun:
    case x86::ev::kVcpuSaveState:
    case x86::ev::kVcpuLoadState:
    case x86::ev::kKvmSetXsave: {
      out.ctx = read_vcpu(vcpu_name);
      if (out.kind == x86::ev::kKvmSetXsave) {
        if (!(seen & kSlot)) out.arg = -1;
        if (!!(seen & kSlot) == !!(seen & kWrite)) {
          throw fail("", "a \"kvm_set_xsave\" event needs either \"slot\" (a saved state) or \"write\" (new values)");
        }
      }
      break;
    }
    case x86::ev::kVmCreate:
    case x86::ev::kVmDestroy: {
      auto it = contexts_->find(kVmKeyPrefix + std::string(vm_name));
      if (it == contexts_->end()) {
        throw fail("/vm", "unknown VM \"" + std::string(vm_name) + "\" (declare it in /vms)");
      }
      out.arg = it->second;
      break;
    }
    case x86::ev::kGuestXsetbv:
      if (!(seen & kIndex)) out.arg = 0;
      break;
    default: break;
  }
}

namespace {

class InlineSource final : public EventSource {
 public:
  InlineSource(const nlohmann::json& events, const std::string& file,
               const std::unordered_map<std::string, ContextId>* contexts, unsigned cpus)
      : events_(events), decoder_(contexts, cpus, EventOrigin{file, false}) {}

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

 private:
  const nlohmann::json& events_;
  EventDecoder decoder_;
  size_t i_ = 0;
  std::string buf_;
};

// Reads a JSON-lines file in large chunks; each non-blank line is one event.
class JsonlSource final : public EventSource {
 public:
  JsonlSource(const std::string& path, const std::unordered_map<std::string, ContextId>* contexts, unsigned cpus)
      : in_(path, std::ios::binary), decoder_(contexts, cpus, EventOrigin{path, true}) {
    if (!in_) throw InputError{path, "", "cannot open events file"};
    buf_.resize(kChunk + simdjson::SIMDJSON_PADDING);
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

 private:
  static constexpr size_t kChunk = 1 << 20;

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

std::unique_ptr<EventSource> make_inline_source(const nlohmann::json& events, const std::string& file,
                                                const std::unordered_map<std::string, ContextId>* contexts,
                                                unsigned cpus) {
  return std::make_unique<InlineSource>(events, file, contexts, cpus);
}

std::unique_ptr<EventSource> make_jsonl_source(const std::string& path,
                                               const std::unordered_map<std::string, ContextId>* contexts,
                                               unsigned cpus) {
  return std::make_unique<JsonlSource>(path, contexts, cpus);
}

}  // namespace fpusim

#include "sim/input/binary.h"

#include <algorithm>

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>

#include <climits>
#include <cstdlib>

#include "sim/output/atomic_file.h"
#include "sim/input/presets.h"

namespace fpusim {

namespace {

constexpr std::uint64_t kMaxTime = (1ull << 53) - 1;
constexpr size_t kMaxRecord = 2 + 8 * 10;  // two bytes, at most eight 10-byte varints
constexpr size_t kChunk = 1 << 20;

enum Flag : std::uint8_t {
  kFT = 0x01, kFCtx = 0x02, kFWrite = 0x04, kFRead = 0x08, kFRelease = 0x10, kFDur = 0x20, kFIndex = 0x40,
  kFExt = 0x80,  // the architecture's events: a `sub` byte and a zigzag varint `arg` follow
};

// Which optional fields each kind may carry (as the JSON decoder fills them),
// and which it must carry.
struct KindRule {
  std::uint8_t allowed;
  std::uint8_t required;
};
constexpr std::uint8_t kCommon = kFT | kFIndex;
struct CoreRule {
  EventKind kind;
  KindRule rule;
};
constexpr CoreRule kCoreRules[] = {
    {EventKind::kSwitch, {kCommon | kFCtx, 0}},                                 // no ctx: idle
    {EventKind::kUse, {kCommon | kFCtx | kFWrite | kFRead | kFRelease, 0}},     // a mask checked below
    {EventKind::kSyscall, {kCommon, 0}},
    {EventKind::kReturnToUser, {kCommon, 0}},
    {EventKind::kKernelFpu, {kCommon | kFRead | kFDur, 0}},
    {EventKind::kIrq, {kCommon | kFRead | kFDur, 0}},
    {EventKind::kSignal, {kCommon | kFExt, 0}},     // sub: "fault"
    {EventKind::kSigreturn, {kCommon | kFExt, 0}},  // sub: "fault"
    {EventKind::kFork, {kCommon | kFCtx, kFCtx}},
    {EventKind::kExec, {kCommon | kFExt, 0}},       // sub: "to_user" false
    {EventKind::kExit, {kCommon, 0}},
    {EventKind::kStateRead, {kCommon | kFCtx, kFCtx}},
    {EventKind::kStateWrite, {kCommon | kFCtx | kFWrite | kFExt, kFCtx | kFWrite}},  // sub: "invalid_header"
};

// The record flags of an architecture's kind's fields (ArchKind::fields).
std::uint8_t field_flags(std::uint8_t fields) {
  std::uint8_t f = 0;
  if (fields & kFieldCtx) f |= kFCtx;
  if (fields & kFieldWrite) f |= kFWrite;
  if (fields & kFieldRead) f |= kFRead;
  if (fields & kFieldRelease) f |= kFRelease;
  if (fields & kFieldDur) f |= kFDur;
  if (fields & kFieldSubArg) f |= kFExt;
  return f;
}

void put_varint(std::string& out, std::uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>(v | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}
void put_u32(std::string& out, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>(v >> (8 * i)));
}
void put_u64(std::string& out, std::uint64_t v) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>(v >> (8 * i)));
}
void put_string(std::string& out, const std::string& s) {
  put_u32(out, static_cast<std::uint32_t>(s.size()));
  out += s;
}

// The binary trace is written through an AtomicFile; the event count in the
// header is patched in at the end.
void write_bytes(AtomicFile& f, const std::string& path, const std::string& s) {
  f.out().write(s.data(), static_cast<std::streamsize>(s.size()));
  if (!f.out()) throw InputError{path, "", "write failed"};
}

void patch_u64(AtomicFile& f, const std::string& path, long offset, std::uint64_t v) {
  std::string b;
  put_u64(b, v);
  f.out().seekp(offset);
  write_bytes(f, path, b);
}

constexpr long kCountOffset = 8 + 4 + 4;

}  // namespace

std::uint64_t write_binary_trace(EventSource& src, const std::string& path,
                                 const std::vector<std::string>& context_names, unsigned cpus) {
  AtomicFile f(path);
  std::string buf;
  buf.append(kBinaryTraceMagic, sizeof kBinaryTraceMagic);
  put_u32(buf, kBinaryTraceVersion);
  put_u32(buf, cpus);
  put_u64(buf, 0);  // the event count, patched at the end
  buf.push_back(src.origin().jsonl ? 1 : 0);
  put_string(buf, src.origin().file);
  put_u32(buf, static_cast<std::uint32_t>(context_names.size()));
  for (const auto& n : context_names) put_string(buf, n);

  Event e;
  std::uint64_t n = 0, prev_index = ~std::uint64_t{0};
  Cycles prev_t = 0;
  while (src.next(e)) {
    std::uint8_t flags = 0;
    if (e.t != prev_t) flags |= kFT;
    if (e.ctx != kNoContext) flags |= kFCtx;
    if (e.write) flags |= kFWrite;
    if (e.read) flags |= kFRead;
    if (e.release) flags |= kFRelease;
    if (e.dur) flags |= kFDur;
    if (e.index != prev_index + 1) flags |= kFIndex;
    if (e.sub || e.arg) flags |= kFExt;
    const unsigned kind = static_cast<unsigned>(e.kind);
    buf.push_back(static_cast<char>((kind & 0x0f) | (static_cast<unsigned>(e.where) << 4) | (e.kernel_fpu ? 0x40u : 0u) |
                                    (kind >= 16 ? 0x80u : 0u)));
    buf.push_back(static_cast<char>(flags));
    if (flags & kFT) put_varint(buf, e.t - prev_t);
    put_varint(buf, e.cpu);
    if (flags & kFCtx) put_varint(buf, e.ctx);
    if (flags & kFWrite) put_varint(buf, e.write);
    if (flags & kFRead) put_varint(buf, e.read);
    if (flags & kFRelease) put_varint(buf, e.release);
    if (flags & kFDur) put_varint(buf, e.dur);
    if (flags & kFIndex) put_varint(buf, e.index - prev_index - 1);
    if (flags & kFExt) {
      buf.push_back(static_cast<char>(e.sub));
      put_varint(buf, (static_cast<std::uint64_t>(e.arg) << 1) ^ static_cast<std::uint64_t>(e.arg >> 63));
    }
    prev_t = e.t;
    prev_index = e.index;
    ++n;
    if (buf.size() >= kChunk) {
      write_bytes(f, path, buf);
      buf.clear();
    }
  }
  write_bytes(f, path, buf);
  patch_u64(f, path, kCountOffset, n);
  f.commit();
  return n;
}

bool is_binary_trace(const std::string& path) {
  if (path.size() > 4 && path.compare(path.size() - 4, 4, ".fpt") == 0) return true;
  char head[sizeof kBinaryTraceMagic] = {};
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) return false;
  const size_t got = std::fread(head, 1, sizeof head, f);
  std::fclose(f);
  return got == sizeof head && std::memcmp(head, kBinaryTraceMagic, sizeof head) == 0;
}

namespace {

class BinarySource final : public EventSource {
 public:
  BinarySource(const EventSyntax& syntax, const std::string& path,
               const std::unordered_map<std::string, ContextId>* contexts, unsigned cpus)
      : path_(path), cpus_(cpus), syntax_(syntax), arch_check_(syntax.record_check(*contexts)) {
    for (const CoreRule& c : kCoreRules) set_rule(c.kind, c.rule);
    for (const ArchKind& a : syntax.kinds()) {
      set_rule(a.kind, {static_cast<std::uint8_t>(kCommon | field_flags(a.fields)), field_flags(a.required_fields)});
    }
    for (const ComponentName& c : syntax.components()) known_ |= c.mask;
    fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd_ < 0) throw InputError{path, "", std::string("cannot open events file: ") + std::strerror(errno)};
    buf_.resize(kChunk + kMaxRecord);
    try {
      read_header(contexts);
    } catch (...) {
      // No destructor runs for an object whose constructor throws: close the
      // file here (the events fuzz target ran out of descriptors).
      ::close(fd_);
      fd_ = -1;
      throw;
    }
  }
  ~BinarySource() override {
    if (fd_ >= 0) ::close(fd_);
  }
  double fraction_read() const override {
    return count_ ? static_cast<double>(n_) / static_cast<double>(count_) : 1.0;
  }

  bool next(Event& out) override {
    if (end_ - pos_ < kMaxRecord && !eof_) refill();
    if (pos_ >= end_) {
      if (n_ != count_) {
        throw bad("truncated: " + std::to_string(count_) + " records in the header, the file ends after " +
                  std::to_string(n_));
      }
      return false;
    }
    if (n_ >= count_) throw bad("more records than the header's " + std::to_string(count_));
    const std::uint8_t* p = buf_.data() + pos_;
    const std::uint8_t* const lim = buf_.data() + end_;
    if (lim - p < 2) throw bad("truncated record");
    const unsigned b0 = p[0], flags = p[1];
    p += 2;
    const unsigned kind = (b0 & 0x0f) | ((b0 & 0x80) >> 3), where = (b0 >> 4) & 3;
    if (!(known_kinds_ >> kind & 1) || where > 2) throw bad("malformed record");
    const KindRule& rule = rules_[kind];
    if ((flags & ~rule.allowed) || (flags & rule.required) != rule.required) throw bad("malformed record");
    out.kind = static_cast<EventKind>(kind);
    out.where = static_cast<KernelFpuContext>(where);
    out.kernel_fpu = b0 & 0x40;
    std::uint64_t v = 0;
    if (flags & kFT) {
      v = varint(p, lim);
      if (v > kMaxTime - t_) throw bad("time out of range");
      t_ += v;
    }
    out.t = t_;
    v = varint(p, lim);
    if (v >= cpu_limit_) {
      if (v >= header_cpus_) throw bad("CPU " + std::to_string(v) + " beyond the header's " + cpus_text(header_cpus_));
      throw bad("CPU " + std::to_string(v) + " does not exist (the machine has " + cpus_text(cpus_) + ": 0.." +
                std::to_string(cpus_ - 1) + ")");
    }
    out.cpu = static_cast<CpuId>(v);
    out.ctx = kNoContext;
    if (flags & kFCtx) {
      v = varint(p, lim);
      if (v >= ctx_map_.size()) throw bad("context " + std::to_string(v) + " out of range");
      out.ctx = ctx_map_[v];
    }
    out.write = (flags & kFWrite) ? mask(p, lim) : 0;
    out.read = (flags & kFRead) ? mask(p, lim) : 0;
    out.release = (flags & kFRelease) ? mask(p, lim) : 0;
    out.dur = 0;
    if (flags & kFDur) {
      out.dur = varint(p, lim);
      if (out.dur > kMaxTime) throw bad("duration out of range");
    }
    index_ += 1 + ((flags & kFIndex) ? varint(p, lim) : 0);
    out.index = index_;
    out.sub = 0;
    out.arg = 0;
    if (flags & kFExt) {
      if (p == lim) throw bad("truncated record");
      out.sub = *p++;
      const std::uint64_t z = varint(p, lim);
      out.arg = static_cast<std::int64_t>(z >> 1) ^ -static_cast<std::int64_t>(z & 1);
    }
    if (!is_core_event(out.kind)) check_arch(out);
    else if (flags & kFExt) check_core_sub(out);
    if (out.kind == EventKind::kUse && !(out.write | out.read | out.release)) throw bad("malformed record");
    pos_ = static_cast<size_t>(p - buf_.data());
    ++n_;
    return true;
  }
  const EventOrigin& origin() const override { return origin_; }

 private:
  void set_rule(EventKind k, KindRule r) {
    rules_[static_cast<unsigned>(k)] = r;
    known_kinds_ |= kind_bit(k);
  }

  // A core record with a `sub` (signal, sigreturn, exec): a value its JSON
  // key can give.
  __attribute__((noinline)) void check_core_sub(const Event& e) const {
    const std::uint8_t max = e.kind == EventKind::kSigreturn ? kFaultFatal : 1;  // signal, exec, state_write: 1
    if (e.arg != 0 || e.sub > max) throw bad("malformed record");
  }

  // A record of one of the architecture's kinds: its extension and context.
  __attribute__((noinline)) void check_arch(const Event& e) const {
    const std::string error = arch_check_->check(e);
    if (!error.empty()) throw bad(error);
  }

  InputError bad(const std::string& message) const {
    return InputError{path_, "record " + std::to_string(n_), message};
  }

  // One-byte values (most of them) inline; longer ones and errors out of line.
  // next() has refilled the buffer so that a whole record (kMaxRecord) is
  // readable unless the file ends first; two bytes cover time deltas below
  // 16384 cycles.
  std::uint64_t varint(const std::uint8_t*& p, const std::uint8_t* lim) const {
    if (__builtin_expect(lim - p >= 2, 1)) {
      if (p[0] < 0x80) return *p++;
      if (p[1] < 0x80) {
        const std::uint64_t v = (p[0] & 0x7fu) | std::uint64_t{p[1]} << 7;
        p += 2;
        return v;
      }
    }
    return varint_slow(p, lim);
  }
  __attribute__((noinline)) std::uint64_t varint_slow(const std::uint8_t*& p, const std::uint8_t* lim) const {
    std::uint64_t v = 0;
    for (unsigned shift = 0; shift < 64; shift += 7) {
      if (p == lim) throw bad("truncated record");
      const std::uint8_t b = *p++;
      if (shift == 63 && b > 1) break;
      v |= std::uint64_t{b & 0x7fu} << shift;
      if (!(b & 0x80)) return v;
    }
    throw bad("malformed number");
  }
  ComponentMask mask(const std::uint8_t*& p, const std::uint8_t* lim) const {
    const std::uint64_t m = varint(p, lim);
    if (m & ~known_) throw bad("unknown components in a mask");
    return m;
  }

  // Reads exactly n bytes of the header (refilling as needed).
  const std::uint8_t* take(size_t n) {
    if (end_ - pos_ < n && !eof_) {
      if (n > buf_.size() - kMaxRecord) buf_.resize(n + kMaxRecord);
      refill();
    }
    if (end_ - pos_ < n) throw InputError{path_, "", "truncated header (not a complete fpusim binary trace)"};
    const std::uint8_t* p = buf_.data() + pos_;
    pos_ += n;
    return p;
  }
  std::uint32_t u32() {
    const std::uint8_t* p = take(4);
    return p[0] | p[1] << 8 | p[2] << 16 | std::uint32_t{p[3]} << 24;
  }
  std::uint64_t u64() {
    const std::uint64_t lo = u32();
    return lo | std::uint64_t{u32()} << 32;
  }
  std::string str() {
    const std::uint32_t n = u32();
    if (n > (1u << 20)) throw InputError{path_, "", "malformed header"};
    const std::uint8_t* p = take(n);
    return std::string(reinterpret_cast<const char*>(p), n);
  }

  void read_header(const std::unordered_map<std::string, ContextId>* contexts) {
    refill();
    if (end_ < sizeof kBinaryTraceMagic || std::memcmp(buf_.data(), kBinaryTraceMagic, sizeof kBinaryTraceMagic)) {
      throw InputError{path_, "", "not an fpusim binary trace (bad magic; expected \"FPUSIMT1\")"};
    }
    pos_ = sizeof kBinaryTraceMagic;
    const std::uint32_t version = u32();
    if (version != kBinaryTraceVersion && version != 1) {
      throw InputError{path_, "", "binary trace version " + std::to_string(version) + " is not supported (expected " +
                                      std::to_string(kBinaryTraceVersion) + ")"};
    }
    const std::uint32_t cpus = u32();
    if (cpus == 0 || cpus > 4096) {
      throw InputError{path_, "", "malformed header: " + std::to_string(cpus) + " CPUs (expected 1..4096)"};
    }
    header_cpus_ = cpus;
    cpu_limit_ = std::min<std::uint64_t>(cpus_, cpus);
    count_ = u64();
    const std::uint8_t jsonl = *take(1);
    if (jsonl > 1) throw InputError{path_, "", "malformed header"};
    origin_.jsonl = jsonl;
    origin_.file = str();
    const std::uint32_t n = u32();
    std::vector<std::string> names;
    for (std::uint32_t i = 0; i < n; ++i) names.push_back(str());
    // Self-check: the trace was converted for exactly these contexts. The
    // name table also holds the architecture's own names.
    size_t declared = 0;
    for (const auto& entry : *contexts) declared += !syntax_.own_name(entry.first);
    if (n != declared) {
      throw InputError{path_, "", "converted for " + std::to_string(n) + " contexts, the scenario declares " +
                                      std::to_string(declared) + " (convert the scenario again)"};
    }
    for (std::uint32_t i = 0; i < n; ++i) {
      auto it = contexts->find(names[i]);
      if (it == contexts->end()) {
        throw InputError{path_, "", "converted for a context \"" + names[i] +
                                        "\" the scenario does not declare (convert the scenario again)"};
      }
      ctx_map_.push_back(it->second);
    }
    // Each record's CPU is checked against the header's count (below) and
    // the scenario's machine (the decoder).
  }

  void refill() {
    const size_t rest = end_ - pos_;
    std::memmove(buf_.data(), buf_.data() + pos_, rest);
    pos_ = 0;
    end_ = rest;
    while (!eof_ && end_ < buf_.size()) {
      const ssize_t got = ::read(fd_, buf_.data() + end_, buf_.size() - end_);
      if (got < 0) {
        if (errno == EINTR) continue;
        throw InputError{path_, "", std::string("read failed: ") + std::strerror(errno)};
      }
      if (got == 0) eof_ = true;
      end_ += static_cast<size_t>(got);
      if (end_ - pos_ >= kChunk) break;
    }
  }

  std::string path_;
  std::uint32_t header_cpus_ = 0;
  std::uint64_t cpu_limit_ = 0;  // a record's CPU is below both the header's and the machine's count
  unsigned cpus_;
  const EventSyntax& syntax_;
  std::unique_ptr<RecordCheck> arch_check_;
  KindRule rules_[kMaxEventKinds] = {};
  std::uint32_t known_kinds_ = 0;
  ComponentMask known_ = 0;  // every component the architecture names
  int fd_ = -1;
  std::vector<std::uint8_t> buf_;
  size_t pos_ = 0, end_ = 0;
  bool eof_ = false;
  EventOrigin origin_;
  std::vector<ContextId> ctx_map_;
  std::uint64_t count_ = 0, n_ = 0;
  std::uint64_t index_ = ~std::uint64_t{0};
  Cycles t_ = 0;
};

}  // namespace

namespace {

std::string dir_name(const std::string& p) {
  const auto s = p.rfind('/');
  return s == std::string::npos ? "." : s == 0 ? "/" : p.substr(0, s);
}
std::string base_name(const std::string& p) {
  const auto s = p.rfind('/');
  return s == std::string::npos ? p : p.substr(s + 1);
}
std::string real_path(const std::string& p) {
  char buf[PATH_MAX];
  return ::realpath(p.c_str(), buf) ? std::string(buf) : p;
}

}  // namespace

ConvertResult convert_scenario(const std::string& scenario_path, const std::string& out_json) {
  const Scenario s = load_scenario(scenario_path, {});
  if (s.workload) {
    throw InputError{scenario_path, "/workload",
                     "a \"workload\" scenario has no trace to convert (convert needs \"events\" or \"events_file\")"};
  }
  const Arch& arch = arch_named(s.arch, s.machine_file, "/arch");
  const std::unordered_map<std::string, ContextId> ids = name_table(s);
  std::vector<std::string> names;
  for (const auto& c : s.contexts) names.push_back(c.name);
  ConvertResult r;
  const std::string stem = out_json.size() > 5 && out_json.compare(out_json.size() - 5, 5, ".json") == 0
                               ? out_json.substr(0, out_json.size() - 5)
                               : out_json;
  r.binary_file = stem + ".fpt";
  {
    auto src = s.events_file.empty() ? make_inline_source(arch, s.inline_events, s.file, &ids, s.machine->cpus)
                                     : make_file_source(arch, s.events_file, &ids, s.machine->cpus);
    r.events = write_binary_trace(*src, r.binary_file, names, s.machine->cpus);
  }
  // The scenario document itself, with the new event source.
  // (Parsed again, keeping the author's key order; load_scenario has checked it.)
  nlohmann::ordered_json doc;
  {
    std::ifstream in(scenario_path, std::ios::binary);
    doc = nlohmann::ordered_json::parse(in);
  }
  doc.erase("events");
  doc["events_file"] = base_name(r.binary_file);
  if (real_path(dir_name(scenario_path)) != real_path(dir_name(out_json))) {
    for (const char* kind : {"machine", "costs"}) {
      if (!doc.contains(kind) || !doc[kind].is_string()) continue;
      const std::string v = doc[kind].get<std::string>();
      const std::string resolved = preset_path(std::string(kind) == "machine" ? "machines" : "costs", v, scenario_path);
      if (v[0] != '/' && resolved != preset_path(std::string(kind) == "machine" ? "machines" : "costs", v, "")) {
        doc[kind] = real_path(resolved);
      }
    }
  }
  write_file_atomic(out_json, doc.dump(2) + "\n");
  return r;
}

std::unique_ptr<EventSource> make_binary_source(const Arch& arch, const std::string& path,
                                                const std::unordered_map<std::string, ContextId>* contexts,
                                                unsigned cpus) {
  return std::make_unique<BinarySource>(arch.event_syntax(), path, contexts, cpus);
}

std::unique_ptr<EventSource> make_file_source(const Arch& arch, const std::string& path,
                                              const std::unordered_map<std::string, ContextId>* contexts,
                                              unsigned cpus) {
  if (is_binary_trace(path)) return make_binary_source(arch, path, contexts, cpus);
  return make_jsonl_source(arch, path, contexts, cpus);
}

}  // namespace fpusim

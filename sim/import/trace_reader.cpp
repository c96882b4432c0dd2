#include "sim/import/trace_reader.h"

#include <sys/stat.h>

#include <cctype>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <unordered_set>

#include "models/core/types.h"
#include "sim/input/paths.h"

namespace fpusim::trace_import {

namespace {

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r'; }
bool is_digit(char c) { return c >= '0' && c <= '9'; }

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

bool all_digits(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!is_digit(c)) return false;
  }
  return true;
}

bool to_u64(std::string_view s, std::uint64_t& v) {
  if (!all_digits(s) || s.size() > 19) return false;
  v = 0;
  for (char c : s) v = v * 10 + static_cast<std::uint64_t>(c - '0');
  return true;
}

// "123.456789" (seconds, any number of decimals up to 9) or "123456789"
// (a raw counter). False if it is neither.
bool parse_time(std::string_view s, std::uint64_t& ns, bool& raw) {
  const auto dot = s.find('.');
  std::uint64_t sec = 0;
  if (dot == std::string_view::npos) {
    raw = true;
    return to_u64(s, ns);
  }
  std::string_view frac = s.substr(dot + 1);
  if (!to_u64(s.substr(0, dot), sec) || !all_digits(frac) || frac.size() > 9 || sec > 18000000000ull) return false;
  std::uint64_t f = 0;
  for (size_t i = 0; i < 9; ++i) f = f * 10 + (i < frac.size() ? static_cast<std::uint64_t>(frac[i] - '0') : 0);
  raw = false;
  ns = sec * 1000000000ull + f;
  return true;
}

// The next whitespace-separated token of `s` from `pos`; pos moves past it.
std::string_view token(std::string_view s, size_t& pos) {
  while (pos < s.size() && is_space(s[pos])) ++pos;
  const size_t b = pos;
  while (pos < s.size() && !is_space(s[pos])) ++pos;
  return s.substr(b, pos - b);
}

// The left part of a record line, before " [CPU]": "comm-pid", "comm-pid
// (tgid)", "comm-pid ( tgid)" (tracefs, trace-cmd) or "comm pid", "comm
// pid/tid" (perf script).
bool parse_task(std::string_view left, TraceRecord& out) {
  left = trim(left);
  if (!left.empty() && left.back() == ')') {  // the tgid column: "(  123)" or "(-------)"
    const auto open = left.rfind('(');
    if (open == std::string_view::npos) return false;
    for (char c : left.substr(open + 1, left.size() - open - 2)) {
      if (!is_digit(c) && c != '-' && c != ' ') return false;
    }
    left = trim(left.substr(0, open));
  }
  std::uint64_t pid = 0;
  // comm-pid: the pid is the digits after the last '-'.
  const auto dash = left.rfind('-');
  if (dash != std::string_view::npos && dash > 0 && to_u64(left.substr(dash + 1), pid) && pid < (1u << 31)) {
    out.comm = std::string(trim(left.substr(0, dash)));
    out.pid = static_cast<int>(pid);
    return true;
  }
  // perf script: "comm pid" or "comm tgid/tid" (the thread is the tid).
  size_t sp = left.size();
  while (sp > 0 && !is_space(left[sp - 1])) --sp;
  std::string_view num = left.substr(sp);
  const auto slash = num.find('/');
  if (slash != std::string_view::npos) num = num.substr(slash + 1);
  if (sp == 0 || !to_u64(num, pid) || pid >= (1u << 31)) return false;
  out.comm = std::string(trim(left.substr(0, sp)));
  out.pid = static_cast<int>(pid);
  return !out.comm.empty();
}

}  // namespace

namespace {

// What a parsed line shows of its layout.
struct LineShape {
  bool raw = false;     // a timestamp without a decimal point
  bool system = false;  // "system:event:" (perf script)
};

bool parse_rest(std::string_view line, size_t pos, TraceRecord& r, LineShape& shape);

// trace-cmd report -l: "comm-pid  1d..2. TIME: event: args", the CPU
// number run into the latency flags.
bool parse_latency_line(std::string_view line, TraceRecord& out, LineShape& shape) {
  size_t pos = 0;
  std::string_view first = token(line, pos);  // comm-pid (a comm with spaces is not read here)
  TraceRecord r;
  if (!parse_task(first, r)) return false;
  std::string_view cf = token(line, pos);
  size_t d = 0;
  while (d < cf.size() && is_digit(cf[d])) ++d;
  if (d == 0 || d == cf.size() || cf.back() == ':') return false;
  std::uint64_t cpu = 0;
  to_u64(cf.substr(0, d), cpu);
  r.cpu = static_cast<int>(cpu);
  r.flags = std::string(cf.substr(d));
  std::string_view t = token(line, pos);
  if (t.empty() || t.back() != ':' || !parse_time(t.substr(0, t.size() - 1), r.ns, shape.raw)) return false;
  if (!parse_rest(line, pos, r, shape)) return false;
  r.line = out.line;
  out = std::move(r);
  return true;
}

// After the timestamp: "[period] [system:]event: args".
bool parse_rest(std::string_view line, size_t pos, TraceRecord& r, LineShape& shape) {
  std::string_view ev = token(line, pos);
  while (all_digits(ev)) ev = token(line, pos);  // perf script's period column
  if (ev.size() < 2 || ev.back() != ':') return false;
  ev.remove_suffix(1);
  const auto colon = ev.rfind(':');
  shape.system = colon != std::string_view::npos;
  if (shape.system) ev = ev.substr(colon + 1);
  for (char c : ev) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_')) return false;
  }
  r.event = intern(ev);
  r.args = std::string(trim(line.substr(pos)));
  return true;
}

bool parse_line(std::string_view line, TraceRecord& out, LineShape& shape) {
  bool& raw = shape.raw;
  // The CPU column: the first " [digits]" with a task before it.
  size_t b = 0;
  for (;;) {
    b = line.find('[', b);
    if (b == std::string_view::npos || b == 0) return parse_latency_line(line, out, shape);
    size_t e = b + 1;
    while (e < line.size() && is_digit(line[e])) ++e;
    if (e > b + 1 && e < line.size() && line[e] == ']' && is_space(line[b - 1]) && e - b - 1 <= 6) {
      TraceRecord r;
      if (parse_task(line.substr(0, b), r)) {
        std::uint64_t cpu = 0;
        to_u64(line.substr(b + 1, e - b - 1), cpu);
        r.cpu = static_cast<int>(cpu);
        size_t pos = e + 1;
        // [flags] TIME: [period] [system:]event: args
        std::string_view t = token(line, pos);
        if (t.empty()) return false;
        if (t.back() != ':' || !parse_time(t.substr(0, t.size() - 1), r.ns, raw)) {
          r.flags = std::string(t);
          t = token(line, pos);
          if (t.empty() || t.back() != ':' || !parse_time(t.substr(0, t.size() - 1), r.ns, raw)) return false;
        }
        if (!parse_rest(line, pos, r, shape)) return false;
        r.line = out.line;
        out = std::move(r);
        return true;
      }
    }
    b = b + 1;
  }
}

}  // namespace

bool parse_trace_line(std::string_view line, TraceRecord& out) {
  LineShape shape;
  return parse_line(line, out, shape);
}

std::string_view intern(std::string_view name) {
  static std::unordered_set<std::string> pool;  // nodes never move
  return *pool.emplace(name).first;
}

std::string_view field(std::string_view args, std::string_view key) {
  size_t p = 0;
  while ((p = args.find(key, p)) != std::string_view::npos) {
    const size_t v = p + key.size();
    if ((p == 0 || is_space(args[p - 1])) && v < args.size() && args[v] == '=') {
      // The value ends at the next " word=" (or " ==>" in sched_switch).
      size_t end = v + 1;
      while (end < args.size()) {
        if (is_space(args[end])) {
          size_t q = end;
          while (q < args.size() && is_space(args[q])) ++q;
          size_t w = q;
          while (w < args.size() && (std::isalnum(static_cast<unsigned char>(args[w])) || args[w] == '_')) ++w;
          if (q == args.size() || (w > q && w < args.size() && args[w] == '=') || args.substr(q, 3) == "==>") break;
          end = q;  // past the whole run of spaces (linear in the line)
          continue;
        }
        ++end;
      }
      return trim(args.substr(v + 1, end - v - 1));
    }
    p = v;
  }
  return {};
}

namespace {

// "CPU:1 [LOST 123 EVENTS]" (tracefs) / "CPU 1 ... [LOST 123 EVENTS]".
bool lost_line(std::string_view line, TraceInput& in) {
  const auto p = line.find("[LOST ");
  if (p == std::string_view::npos) return false;
  size_t q = p + 6;
  size_t e = q;
  while (e < line.size() && is_digit(line[e])) ++e;
  std::uint64_t n = 0;
  if (!to_u64(line.substr(q, e - q), n)) return false;
  in.lost_events += n;
  in.lost_at.push_back(std::string(trim(line.substr(0, p))) + " [" + std::to_string(n) + " events]");
  return true;
}

void header_line(std::string_view line, TraceInput& in) {
  // "# fpusim: KEY: VALUE" from tools/capture_fpu_trace.sh
  line.remove_prefix(1);
  line = trim(line);
  if (line.substr(0, 7) != "fpusim:") return;
  line = trim(line.substr(7));
  const auto c = line.find(':');
  if (c == std::string_view::npos) return;
  in.meta[std::string(trim(line.substr(0, c)))] = std::string(trim(line.substr(c + 1)));
}

}  // namespace

TraceInput read_trace_text(std::string_view text, const std::string& file) {
  TraceInput in;
  in.file = file;
  std::uint64_t lineno = 0;
  std::string pending;          // an unparsed line that may be the head of a wrapped record
  std::uint64_t pending_no = 0;
  bool flags = false, trace_cmd = false, perf = false;
  LineShape shape;
  size_t pos = 0;
  auto add = [&](TraceRecord&& r) {
    if (r.comm.empty()) r.comm = "<...>";
    in.records.push_back(std::move(r));
  };
  std::size_t last_len = 0;  // the length of the last line that made or extended a record
  auto drop_pending = [&] {
    if (pending.empty()) return;
    // Not a head: the rest of the record before it if that line was long
    // enough to have been wrapped (a mail client wraps at 72 to 80 columns)
    // and this one goes on where it broke (no indent); else junk, skipped.
    if (!in.records.empty() && last_len >= 60 && !is_space(pending.front())) {
      in.records.back().args += " " + std::string(trim(pending));
      ++in.lines_joined;
      last_len = pending.size();
    } else {
      ++in.lines_skipped;
    }
    pending.clear();
  };
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    if (nl == std::string_view::npos) nl = text.size();
    std::string_view line = text.substr(pos, nl - pos);
    pos = nl + 1;
    ++lineno;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    const std::string_view t = trim(line);
    if (t.empty()) {
      drop_pending();
      continue;
    }
    if (t.front() == '#') {
      drop_pending();
      header_line(t, in);
      continue;
    }
    if (lost_line(t, in)) {
      drop_pending();
      continue;
    }
    TraceRecord r;
    r.line = lineno;
    if (parse_line(line, r, shape)) {
      drop_pending();
      last_len = line.size();
      in.raw_clock = in.raw_clock || shape.raw;
      perf = perf || shape.system;
      flags = flags || !r.flags.empty();
      add(std::move(r));
      continue;
    }
    if (!pending.empty()) {
      // A record wrapped once: its head and this tail.
      std::string joined = pending + " " + std::string(t);
      TraceRecord j;
      j.line = pending_no;
      if (parse_line(joined, j, shape)) {
        ++in.lines_joined;
        pending.clear();
        last_len = line.size();
        add(std::move(j));
        continue;
      }
      drop_pending();
    }
    if (in.records.empty() && (t.substr(0, 5) == "cpus=" || t.substr(0, 7) == "version" ||
                               (t.substr(0, 3) == "CPU" && (t.find(" is empty") != std::string_view::npos ||
                                                            t.find("data recorded at") != std::string_view::npos)))) {
      // trace-cmd report's own header lines before its records ("cpus=2",
      // "version = 7", "CPU 0 is empty", "CPU0 data recorded at offset=...")
      trace_cmd = true;
      continue;
    }
    pending = std::string(line);
    pending_no = lineno;
  }
  drop_pending();
  if (in.records.empty()) {
    throw InputError{file, "", "no trace record found (expected lines such as \"bash-1234 [001] d..2. 120.000001: "
                               "sched_switch: ...\" from tracefs, trace-cmd report or perf script)"};
  }
  in.format = perf ? "perf script" : trace_cmd ? "trace-cmd report" : flags ? "tracefs text" : "tracefs text (no irq flags)";
  if (auto it = in.meta.find("kernel"); it != in.meta.end()) {
    in.kernel = it->second.substr(0, it->second.find(' '));
  }
  return in;
}

TraceInput read_trace_dat(const std::string& path);  // trace_dat.cpp

TraceInput read_trace(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) throw InputError{path, "", std::string("cannot open: ") + std::strerror(errno)};
  if (!S_ISREG(st.st_mode)) throw InputError{path, "", "not a regular file"};
  std::ifstream f(path, std::ios::binary);
  if (!f) throw InputError{path, "", std::string("cannot open: ") + std::strerror(errno)};
  char magic[10] = {};
  f.read(magic, sizeof magic);
  // trace.dat: "\x17\x08\x44" "tracing" (trace-cmd's file header)
  if (f.gcount() >= 10 && std::memcmp(magic, "\x17\x08\x44tracing", 10) == 0) return read_trace_dat(path);
  f.clear();
  f.seekg(0);
  std::ostringstream ss;
  ss << f.rdbuf();
  const std::string text = ss.str();
  if (text.find('\0') != std::string::npos) {
    throw InputError{path, "", "a binary file that is not a trace.dat (expected trace text or trace-cmd's trace.dat)"};
  }
  return read_trace_text(text, path);
}

}  // namespace fpusim::trace_import

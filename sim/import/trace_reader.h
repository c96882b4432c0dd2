// Reading real kernel traces: tracefs `trace` text (with or without the
// irq-flags column, with or without the tgid column, any trace_clock),
// `trace-cmd report` text, `perf script` text, lines wrapped by a mail
// client, and trace.dat files through libtracecmd (Debian's libtracecmd-dev,
// the kernel's own trace library). Every format becomes the same list of
// TraceRecords, which an architecture's importer (sim/import/importer.h)
// turns into a scenario.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace fpusim::trace_import {

struct TraceRecord {
  std::uint64_t line = 0;  // source line (text) or record number from 1 (trace.dat)
  std::uint64_t ns = 0;    // timestamp in nanoseconds (raw counter value if the clock has no unit)
  int cpu = 0;
  int pid = 0;
  std::string comm;
  std::string flags;  // the latency flags ("dN.2.") where the format has them, else ""
  std::string_view event;  // without its system ("sched_switch", "x86_fpu_regs_activated"); interned (intern())
  std::string args;   // the event's printed fields
};

struct TraceInput {
  std::string file;
  std::string format;  // "tracefs text", "trace-cmd report", "perf script", "trace.dat"
  std::map<std::string, std::string> meta;  // "# fpusim: KEY: VALUE" header lines (capture_fpu_trace.sh)
  std::string kernel;                       // kernel release, where the input names it ("" if not)
  std::vector<TraceRecord> records;         // in the input's order (time order per CPU)
  bool raw_clock = false;                   // timestamps without a decimal point (counter, x86-tsc)
  std::uint64_t lines_skipped = 0;          // lines neither comment, record nor continuation
  std::uint64_t lines_joined = 0;           // wrapped lines joined back to their record
  std::uint64_t lost_events = 0;            // events the ring buffer dropped (as the input says)
  std::vector<std::string> lost_at;         // where: "cpu 1 before line 120: 12 events"
  std::uint64_t unreadable_records = 0;     // trace.dat records of events without a format
};

// Reads `path`: a trace.dat (by its magic) or text. InputError (exit 2) if
// the file cannot be read, is a corrupt trace.dat, or holds no trace record.
TraceInput read_trace(const std::string& path);

// Text only, from memory (tests); `file` names it in messages.
TraceInput read_trace_text(std::string_view text, const std::string& file);

// One line of any text layout. False if it is not a trace record.
bool parse_trace_line(std::string_view line, TraceRecord& out);

// The one copy of an event name, for the life of the process (a trace has a
// few dozen kinds and millions of records).
std::string_view intern(std::string_view name);

// `key=value` of an event's printed fields, the value running to the next
// " word=" (so a comm with spaces stays whole). "" if absent.
std::string_view field(std::string_view args, std::string_view key);

}  // namespace fpusim::trace_import

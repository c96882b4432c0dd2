// A compact binary form of a scenario's events (".fpt"), written by
// `fpusim convert` from events the JSON decoder has already accepted, and
// read back without JSON parsing.
//
// Layout (integers little-endian):
//   header:  "FPUSIMT1"  u32 version (2; 1 is read too)  u32 cpus  u64 event count
//            u8 origin kind (0: inline "events" array, 1: JSON lines)
//            u32 length + bytes: the original file (for messages)
//            u32 context count, then per context u32 length + name bytes
//   records: one per event, in trace order:
//            u8  kind bits 0-3 (bit 4 of the kind in bit 7) | where (bits
//                4-5) | kernel_fpu (bit 6)
//            u8  flags: 0x01 t delta, 0x02 ctx, 0x04 write, 0x08 read,
//                0x10 release, 0x20 dur, 0x40 index gap, 0x80 extension
//            LEB128 varints: [t - previous t], cpu, [ctx], [write], [read],
//            [release], [dur], [index - previous index - 1]; then with the
//            extension (the architecture's events, version 2): u8 sub and a
//            zigzag varint arg (Event::sub and Event::arg, whose meaning
//            and checks are the architecture's: EventSyntax, RecordCheck).
//   A field whose flag is clear is 0 (ctx: no context, for a switch to idle).
//   ctx is a position in the header's context list; the header's contexts
//   must be exactly the scenario's (order may differ: ids are mapped by name).
//
// Reading checks every record (known kind and fields for it, the
// architecture's checks of its kinds, CPU below the scenario's CPU count,
// context in range, known components, times within 2^53, the record count in
// the header) and fails with "FILE.fpt: record N: ..." (N counted from 0). The events keep their original index and the
// source's EventOrigin is the original trace's ("scenario.json: /events/N" or
// "trace.jsonl:LINE"), so errors found later name the original file.
#pragma once

#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "models/core/arch.h"
#include "sim/input/event.h"

namespace fpusim {

inline constexpr char kBinaryTraceMagic[8] = {'F', 'P', 'U', 'S', 'I', 'M', 'T', '1'};
// Version 2 added kinds from 16 on and the extension field; version 1 files
// are still read.
inline constexpr std::uint32_t kBinaryTraceVersion = 2;

// Writes every event of `src` to `path` (atomically: a temporary file renamed
// into place). `context_names` are the scenario's contexts in order; an
// event's ctx is its position there. Returns the number of events.
std::uint64_t write_binary_trace(EventSource& src, const std::string& path,
                                 const std::vector<std::string>& context_names, unsigned cpus);

// Whether `path` holds a binary trace: its name ends in ".fpt" or it starts
// with the magic.
bool is_binary_trace(const std::string& path);

std::unique_ptr<EventSource> make_binary_source(const Arch& arch, const std::string& path,
                                                const std::unordered_map<std::string, ContextId>* contexts,
                                                unsigned cpus);

// An "events_file": binary or JSON lines.
std::unique_ptr<EventSource> make_file_source(const Arch& arch, const std::string& path,
                                              const std::unordered_map<std::string, ContextId>* contexts,
                                              unsigned cpus);

// `fpusim convert`: loads the trace scenario at `scenario_path` (exactly as
// `run` does, so bad input fails with the same messages), writes its events to
// OUT.fpt (OUT.json without ".json", plus ".fpt") and then `out_json`: the
// scenario document with "events" / "events_file" replaced by
// "events_file": "OUT.fpt" (relative machine/costs paths are made absolute
// when OUT.json lives in another directory). Both files are written to a
// temporary name and renamed into place.
struct ConvertResult {
  std::uint64_t events = 0;
  std::string binary_file;
};
ConvertResult convert_scenario(const std::string& scenario_path, const std::string& out_json);

}  // namespace fpusim

// trace.dat files, through the C shim over libtracecmd (trace_dat_shim.c).
#include <exception>

#include "models/core/types.h"
#include "sim/import/trace_dat_shim.h"
#include "sim/import/trace_reader.h"

namespace fpusim::trace_import {

namespace {

struct Reader {
  TraceInput* in;
  std::uint64_t n = 0;
  std::exception_ptr error;  // thrown in on_record: never through libtracecmd's C frames
};

void take_record(const fpusim_dat_record* rec, Reader& r);

int on_record(const fpusim_dat_record* rec, void* data) {
  Reader& r = *static_cast<Reader*>(data);
  try {
    take_record(rec, r);
    return 0;
  } catch (...) {
    r.error = std::current_exception();
    return 1;
  }
}

void take_record(const fpusim_dat_record* rec, Reader& r) {
  TraceInput& in = *r.in;
  ++r.n;
  if (rec->missed) {
    in.lost_events += rec->missed > 0 ? static_cast<std::uint64_t>(rec->missed) : 1;
    in.lost_at.push_back("cpu " + std::to_string(rec->cpu) + " before record " + std::to_string(r.n) + " [" +
                         (rec->missed > 0 ? std::to_string(rec->missed) : std::string("unknown number of")) + " events]");
  }
  if (!rec->event) {
    ++in.unreadable_records;
    return;
  }
  TraceRecord t;
  t.line = r.n;
  t.ns = rec->ts;
  t.cpu = rec->cpu;
  t.pid = rec->pid;
  t.comm = rec->comm ? rec->comm : "<...>";
  t.event = intern(rec->event);
  t.flags = rec->flags ? rec->flags : "";
  t.args = rec->info ? rec->info : "";
  in.records.push_back(std::move(t));
}

}  // namespace

TraceInput read_trace_dat(const std::string& path) {
  TraceInput in;
  in.file = path;
  in.format = "trace.dat";
  Reader r{&in, 0, nullptr};
  const int rc = fpusim_read_trace_dat(path.c_str(), on_record, &r);
  if (r.error) std::rethrow_exception(r.error);
  if (rc == -1) {
    throw InputError{path, "", "not a readable trace.dat (libtracecmd could not open it: a truncated or corrupt "
                               "header, or a file version this libtracecmd does not know)"};
  }
  if (rc < 0 && in.records.empty()) throw InputError{path, "", "no record could be read (a corrupt data section)"};
  if (rc < 0) in.lost_at.push_back("the data section ends early (truncated or corrupt): records after it are missing");
  if (in.records.empty()) throw InputError{path, "", "holds no trace record"};
  return in;
}

}  // namespace fpusim::trace_import

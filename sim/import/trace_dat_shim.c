// trace.dat through libtracecmd and libtraceevent: each record is printed by
// its event's own print format (as the kernel prints it into tracefs), so one
// field parser (trace_reader.cpp) serves every format.
#include "sim/import/trace_dat_shim.h"

#include <fcntl.h>
#include <unistd.h>

#include <trace-cmd/trace-cmd.h>

struct reader {
  struct tep_handle* tep;
  struct trace_seq flags, info;
  int (*cb)(const struct fpusim_dat_record*, void*);
  void* data;
};

static int on_record(struct tracecmd_input* h, struct tep_record* record, int cpu, void* arg) {
  (void)h;
  struct reader* r = arg;
  struct fpusim_dat_record out = {0};
  out.ts = record->ts;
  out.cpu = cpu;
  out.missed = record->missed_events;
  struct tep_event* ev = tep_find_event_by_record(r->tep, record);
  if (ev) {
    out.pid = tep_data_pid(r->tep, record);
    out.comm = tep_data_comm_from_pid(r->tep, out.pid);
    out.event = ev->name;
    trace_seq_reset(&r->flags);
    trace_seq_reset(&r->info);
    tep_print_event(r->tep, &r->flags, record, "%s", TEP_PRINT_LATENCY);
    tep_print_event(r->tep, &r->info, record, "%s", TEP_PRINT_INFO);
    trace_seq_terminate(&r->flags);
    trace_seq_terminate(&r->info);
    out.flags = r->flags.buffer;
    out.info = r->info.buffer;
  }
  return r->cb(&out, r->data);
}

static int read_dat(const char* path, int (*cb)(const struct fpusim_dat_record*, void*), void* data);

// libtracecmd writes some of its complaints about a damaged file to stderr
// whatever its log level ("mmap: Unknown error -22"); fpusim says what is
// wrong itself, so stderr is closed to it while it runs.
int fpusim_read_trace_dat(const char* path, int (*cb)(const struct fpusim_dat_record*, void*), void* data) {
  const int saved = dup(2);
  const int devnull = open("/dev/null", O_WRONLY);
  if (saved >= 0 && devnull >= 0) dup2(devnull, 2);
  const int rc = read_dat(path, cb, data);
  if (saved >= 0) {
    dup2(saved, 2);
    close(saved);
  }
  if (devnull >= 0) close(devnull);
  return rc;
}

static int read_dat(const char* path, int (*cb)(const struct fpusim_dat_record*, void*), void* data) {
  tracecmd_set_loglevel(TEP_LOG_NONE);
  // No plugins: the output must not depend on what is installed where it runs.
  struct tracecmd_input* h = tracecmd_open(path, TRACECMD_FL_LOAD_NO_PLUGINS | TRACECMD_FL_LOAD_NO_SYSTEM_PLUGINS);
  if (!h) return -1;
  struct reader r = {tracecmd_get_tep(h), {0}, {0}, cb, data};
  trace_seq_init(&r.flags);
  trace_seq_init(&r.info);
  const int rc = tracecmd_iterate_events(h, NULL, 0, on_record, &r);
  trace_seq_destroy(&r.flags);
  trace_seq_destroy(&r.info);
  tracecmd_close(h);
  return rc < 0 ? -2 : 0;
}

// A C shim over libtracecmd: its header (through tracefs.h) is C that C++
// does not accept, so only trace_dat_shim.c includes it.
#pragma once

#ifdef __cplusplus
extern "C" {
#endif

struct fpusim_dat_record {
  unsigned long long ts;  // nanoseconds (the trace's clock)
  int cpu;
  int pid;
  const char* comm;   // "<...>" when the file has no name for the pid
  const char* event;  // NULL for a record of an event without a format
  const char* flags;  // latency flags, "dN.2."
  const char* info;   // the event's fields as its print format prints them
  long long missed;   // events the ring buffer dropped before this one (-1: an unknown number)
};

// Calls `cb` for every record in time order over all CPUs, until it returns
// non-zero. Returns 0, -1 if the file cannot be opened as a trace.dat, -2 if
// reading its data failed.
int fpusim_read_trace_dat(const char* path, int (*cb)(const struct fpusim_dat_record*, void*), void* data);

#ifdef __cplusplus
}
#endif

// Replayer (sim/input/replayer.h): per-CPU fetch in trace order, buffering
// bounded by how far the CPUs' fetches drift apart, the trace-time checks
// (with their exact messages and JSON paths), the bookkeeping the platform
// orders processing with (barriers, forks, switch-in turns), and the reader
// thread, which must hand out the same events and throw the same error at
// the same point as reading in the simulation's thread.
//
// Every test runs twice, with the reader thread on and off
// (Replayer::set_reader_thread is process-wide and read when a replayer takes
// its first batch, so it is set before each replayer is built).
#include <gtest/gtest.h>

#include <dirent.h>

#include <cstdio>
#include <fstream>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "models/x86/events.h"
#include "models/core/arch.h"
#include "sim/input/binary.h"
#include "sim/input/event.h"
#include "sim/input/replayer.h"

using namespace fpusim;
using Json = nlohmann::json;

namespace {

constexpr ContextId A = 0, B = 1, C = 2, D = 3;

// One fetch as the tests record it: "cpu:index", "cpu:end", or
// "cpu:error <path>" when fetch threw.
std::string fetch_str(Replayer& r, CpuId cpu) {
  Event e;
  try {
    if (!r.fetch(cpu, e)) return std::to_string(cpu) + ":end";
  } catch (const InputError& err) {
    return std::to_string(cpu) + ":error " + err.path;
  }
  EXPECT_EQ(e.cpu, cpu) << "fetch(" << cpu << ") returned another CPU's event " << e.index;
  return std::to_string(cpu) + ":" + std::to_string(e.index);
}

// The threads of this process (/proc/self/task), to see the reader thread.
int thread_count() {
  int n = 0;
  if (DIR* d = opendir("/proc/self/task")) {
    while (dirent* ent = readdir(d)) n += ent->d_name[0] != '.';
    closedir(d);
  }
  return n;
}

// A small trace and the replayers built on it.
struct Rig {
  std::unordered_map<std::string, ContextId> ids{{"A", A}, {"B", B}, {"C", C}, {"D", D}};
  std::vector<std::string> names{"A", "B", "C", "D"};
  Json events = Json::array();  // the inline source reads it lazily: kept alive here

  void ev(const std::string& text) { events.push_back(Json::parse(text)); }
  std::unique_ptr<Replayer> make(std::uint32_t barriers = x86::ev::kBarriers, unsigned cpus = 2) {
    return std::make_unique<Replayer>(make_inline_source(*find_arch("x86_64"), events, "s.json", &ids, cpus), cpus, names.size(), &names,
                                      barriers);
  }
  // Fetches `cpu` until the end of the trace or an error; the log of fetches.
  std::vector<std::string> drain(Replayer& r, CpuId cpu) {
    std::vector<std::string> log;
    while (true) {
      log.push_back(fetch_str(r, cpu));
      const std::string& last = log.back();
      if (last.find(":end") != std::string::npos || last.find(":error") != std::string::npos) return log;
    }
  }
  // The error the trace stops with, after fetching every CPU in turn.
  InputError error_of(unsigned cpus = 2) {
    auto r = make(x86::ev::kBarriers, cpus);
    Event e;
    for (int round = 0; round < 100; ++round) {
      for (CpuId c = 0; c < cpus; ++c) {
        try {
          r->fetch(c, e);
        } catch (const InputError& err) {
          return err;
        }
      }
    }
    ADD_FAILURE() << "the trace raised no error";
    return {};
  }
  // `n` syscall events, alternating CPUs as `cpu_of(i)` says, 10 cycles apart.
  template <typename F>
  void syscalls(size_t n, F cpu_of) {
    for (size_t i = 0; i < n; ++i) {
      events.push_back({{"t", 10 * i}, {"cpu", cpu_of(i)}, {"ev", "syscall"}});
    }
  }
};

struct ReplayerTest : ::testing::TestWithParam<Replayer::ReaderThread>, Rig {
  void SetUp() override { Replayer::set_reader_thread(GetParam()); }
  void TearDown() override { Replayer::set_reader_thread(Replayer::ReaderThread::kAuto); }
};

// ------------------------------------------------------------- fetch order

TEST_P(ReplayerTest, EachCpuGetsItsEventsInTraceOrder) {
  ev(R"({"t": 0, "cpu": 0, "ev": "switch", "next": "A"})");
  ev(R"({"t": 5, "cpu": 1, "ev": "switch", "next": "B"})");
  ev(R"({"t": 10, "cpu": 0, "ev": "use", "ctx": "A", "write": ["sse"]})");
  ev(R"({"t": 10, "cpu": 0, "ev": "syscall"})");
  ev(R"({"t": 20, "cpu": 1, "ev": "use", "ctx": "B", "write": ["ymm"]})");
  ev(R"({"t": 30, "cpu": 0, "ev": "switch", "next": null})");
  auto r = make();
  // CPU 1 first: it reads past CPU 0's events 0, 2, 3, which wait for it.
  EXPECT_EQ(drain(*r, 1), (std::vector<std::string>{"1:1", "1:4", "1:end"}));
  EXPECT_EQ(r->events_read(), 6u);  // the whole trace, to find CPU 1's end
  EXPECT_EQ(drain(*r, 0), (std::vector<std::string>{"0:0", "0:2", "0:3", "0:5", "0:end"}));
  EXPECT_EQ(r->events_read(), 6u);
  EXPECT_EQ(r->peak_buffered(), 4u);  // 0, 2, 3 and 5 waited for CPU 0
  // Past the end, again the end.
  EXPECT_EQ(fetch_str(*r, 0), "0:end");
  EXPECT_EQ(fetch_str(*r, 1), "1:end");
}

TEST_P(ReplayerTest, DecodedFieldsReachTheCpu) {
  ev(R"({"t": 0, "cpu": 1, "ev": "switch", "next": "C"})");
  ev(R"({"t": 7, "cpu": 1, "ev": "kernel_fpu", "in": "softirq", "dur": 30})");
  auto r = make();
  Event e;
  ASSERT_TRUE(r->fetch(1, e));
  EXPECT_EQ(e.kind, EventKind::kSwitch);
  EXPECT_EQ(e.ctx, C);
  ASSERT_TRUE(r->fetch(1, e));
  EXPECT_EQ(e.kind, EventKind::kKernelFpu);
  EXPECT_EQ(e.t, 7u);
  EXPECT_EQ(e.dur, 30u);
  EXPECT_EQ(e.index, 1u);
  EXPECT_EQ(e.where, KernelFpuContext::kSoftirq);
}

// What one CPU has read ahead of another is all that is buffered: fetching in
// step with the trace buffers nothing however long it is, and the ring grows
// (past its first 16 slots) only as far as the CPUs drift apart.
TEST_P(ReplayerTest, BufferingIsBoundedByHowFarTheCpusDrift) {
  syscalls(4000, [](size_t i) { return i % 2; });  // 0 1 0 1 ...
  {
    auto r = make();
    for (int i = 0; i < 2000; ++i) {
      ASSERT_EQ(fetch_str(*r, 0), "0:" + std::to_string(2 * i));
      ASSERT_EQ(fetch_str(*r, 1), "1:" + std::to_string(2 * i + 1));
    }
    EXPECT_EQ(fetch_str(*r, 0), "0:end");
    EXPECT_EQ(r->peak_buffered(), 0u);
  }
  {
    // CPU 0 runs 3 of its events ahead of CPU 1: CPU 1's next 3 events
    // wait, buffered, all along.
    auto r = make();
    for (int i = 0; i < 3; ++i) ASSERT_EQ(fetch_str(*r, 0), "0:" + std::to_string(2 * i));
    for (int i = 0; i < 1997; ++i) {
      ASSERT_EQ(fetch_str(*r, 0), "0:" + std::to_string(2 * (i + 3)));
      ASSERT_EQ(fetch_str(*r, 1), "1:" + std::to_string(2 * i + 1));
    }
    EXPECT_EQ(r->peak_buffered(), 3u);
  }
  {
    // CPU 0 reads the whole trace first: CPU 1's 2000 events all wait (the
    // ring grew from 16 to 2048 slots, keeping their order).
    auto r = make();
    EXPECT_EQ(drain(*r, 0).size(), 2001u);
    EXPECT_EQ(r->peak_buffered(), 2000u);
    for (int i = 0; i < 2000; ++i) ASSERT_EQ(fetch_str(*r, 1), "1:" + std::to_string(2 * i + 1));
    EXPECT_EQ(fetch_str(*r, 1), "1:end");
  }
}

// ------------------------------------------------------- trace-time checks

TEST_P(ReplayerTest, ContextOnTwoCpusAtOnce) {
  ev(R"({"t": 0, "cpu": 0, "ev": "switch", "next": "A"})");
  ev(R"({"t": 10, "cpu": 1, "ev": "switch", "next": "A"})");
  const InputError e = error_of();
  EXPECT_EQ(e.file, "s.json");
  EXPECT_EQ(e.path, "/events/1/next");
  EXPECT_EQ(e.message, "A is running on CPU 0 at this time in the trace; switch it out there first");
}

TEST_P(ReplayerTest, SwitchToTheRunningContext) {
  ev(R"({"t": 0, "cpu": 1, "ev": "switch", "next": "B"})");
  ev(R"({"t": 10, "cpu": 1, "ev": "switch", "next": "B"})");
  const InputError e = error_of();
  EXPECT_EQ(e.path, "/events/1/next");
  EXPECT_EQ(e.message, "B is already running on CPU 1");
}

// Once switched out (or replaced) on one CPU, a context may run on another.
TEST_P(ReplayerTest, MigrationAfterSwitchOutIsFine) {
  ev(R"({"t": 0, "cpu": 0, "ev": "switch", "next": "A"})");
  ev(R"({"t": 10, "cpu": 0, "ev": "switch", "next": "B"})");
  ev(R"({"t": 20, "cpu": 1, "ev": "switch", "next": "A"})");
  ev(R"({"t": 30, "cpu": 1, "ev": "switch", "next": null})");
  ev(R"({"t": 40, "cpu": 0, "ev": "switch", "next": "A"})");
  auto r = make();
  EXPECT_EQ(drain(*r, 0), (std::vector<std::string>{"0:0", "0:1", "0:4", "0:end"}));
  EXPECT_EQ(drain(*r, 1), (std::vector<std::string>{"1:2", "1:3", "1:end"}));
}

TEST_P(ReplayerTest, UseNamingAContextThatIsNotRunning) {
  ev(R"({"t": 0, "cpu": 0, "ev": "switch", "next": "A"})");
  ev(R"({"t": 10, "cpu": 0, "ev": "use", "ctx": "A", "write": ["sse"]})");
  ev(R"({"t": 20, "cpu": 0, "ev": "use", "ctx": "B", "write": ["sse"]})");
  InputError e = error_of();
  EXPECT_EQ(e.file, "s.json");
  EXPECT_EQ(e.path, "/events/2/ctx");
  EXPECT_EQ(e.message, "B is not running on CPU 0 (A is)");

  events = Json::array();
  ev(R"({"t": 0, "cpu": 0, "ev": "switch", "next": "A"})");
  ev(R"({"t": 10, "cpu": 1, "ev": "use", "ctx": "A", "write": ["sse"]})");
  e = error_of();
  EXPECT_EQ(e.path, "/events/1/ctx");
  EXPECT_EQ(e.message, "A is not running on CPU 1 (the CPU is idle)");
}

// A vCPU's guest state runs only through its thread: no switch to it, and a
// use may name it while its thread runs.
TEST_P(ReplayerTest, GuestStateRunsThroughItsThread) {
  ev(R"({"t": 0, "cpu": 0, "ev": "switch", "next": "B"})");
  ev(R"({"t": 10, "cpu": 0, "ev": "use", "ctx": "D", "write": ["sse"]})");
  ev(R"({"t": 20, "cpu": 1, "ev": "switch", "next": "D"})");
  auto r = make();
  r->set_guest_threads({kNoContext, kNoContext, kNoContext, B});  // D is B's vCPU
  EXPECT_EQ(fetch_str(*r, 0), "0:0");
  EXPECT_EQ(fetch_str(*r, 0), "0:1");
  Event e;
  try {
    r->fetch(1, e);
    ADD_FAILURE() << "no error for the switch to D";
  } catch (const InputError& err) {
    EXPECT_EQ(err.path, "/events/2/next");
    EXPECT_EQ(err.message, "D is a vCPU's guest state; switch to its thread B and give it a kvm_run event");
  }
}

TEST_P(ReplayerTest, ForkedChildThatAlreadyRan) {
  ev(R"({"t": 0, "cpu": 0, "ev": "switch", "next": "A"})");
  ev(R"({"t": 10, "cpu": 1, "ev": "switch", "next": "B"})");
  ev(R"({"t": 20, "cpu": 1, "ev": "switch", "next": null})");
  ev(R"({"t": 30, "cpu": 0, "ev": "fork", "child": "B"})");
  InputError e = error_of();
  EXPECT_EQ(e.path, "/events/3/child");
  EXPECT_EQ(e.message, "B has already run; a forked child must be a fresh context");

  // A child forked once is not fresh for a second fork either.
  events = Json::array();
  ev(R"({"t": 0, "cpu": 0, "ev": "switch", "next": "A"})");
  ev(R"({"t": 10, "cpu": 0, "ev": "fork", "child": "C"})");
  ev(R"({"t": 20, "cpu": 0, "ev": "fork", "child": "C"})");
  e = error_of();
  EXPECT_EQ(e.path, "/events/2/child");
  EXPECT_EQ(e.message, "C has already run; a forked child must be a fresh context");
}

TEST_P(ReplayerTest, StateWriteToARunningTask) {
  ev(R"({"t": 0, "cpu": 1, "ev": "switch", "next": "C"})");
  ev(R"({"t": 10, "cpu": 0, "ev": "state_write", "target": "C", "write": ["sse"]})");
  const InputError e = error_of();
  EXPECT_EQ(e.path, "/events/1/target");
  EXPECT_EQ(e.message, "C is running on CPU 1; ptrace writes a stopped task's state");
}

TEST_P(ReplayerTest, EventDuringThePreviousEventsDur) {
  ev(R"({"t": 0, "cpu": 0, "ev": "kernel_fpu", "in": "softirq", "dur": 100})");
  ev(R"({"t": 50, "cpu": 1, "ev": "syscall"})");  // another CPU: not busy
  ev(R"({"t": 100, "cpu": 0, "ev": "irq", "dur": 5})");  // right at the end: fine
  ev(R"({"t": 104, "cpu": 0, "ev": "syscall"})");
  const InputError e = error_of();
  EXPECT_EQ(e.path, "/events/3/t");
  EXPECT_EQ(e.message, "CPU 0 is still busy until 105 with the previous event's \"dur\"");
}

// ---------------------------------------------- bookkeeping for the platform

// Barriers are known from the moment they are read, whichever CPU's fetch
// read them, and stay until processed; the architecture's kinds count only
// when the constructor is given them.
TEST_P(ReplayerTest, Barriers) {
  ev(R"({"t": 0, "cpu": 0, "ev": "switch", "next": "A"})");
  ev(R"({"t": 10, "cpu": 1, "ev": "state_read", "target": "B"})");
  ev(R"({"t": 20, "cpu": 0, "ev": "syscall"})");
  ev(R"({"t": 30, "cpu": 0, "ev": "xcomp_perm", "features": ["xtiledata"]})");
  ev(R"({"t": 40, "cpu": 1, "ev": "state_write", "target": "B", "write": ["sse"]})");
  ev(R"({"t": 50, "cpu": 0, "ev": "syscall"})");

  auto r = make(x86::ev::kBarriers);
  EXPECT_TRUE(r->is_barrier(EventKind::kStateRead));
  EXPECT_TRUE(r->is_barrier(x86::ev::kXcompPerm));
  EXPECT_FALSE(r->is_barrier(EventKind::kSyscall));
  EXPECT_EQ(r->first_barrier(), UINT64_MAX);
  EXPECT_EQ(fetch_str(*r, 0), "0:0");
  EXPECT_EQ(r->first_barrier(), UINT64_MAX);  // nothing read past event 0
  EXPECT_EQ(fetch_str(*r, 0), "0:2");         // read CPU 1's state_read on the way
  EXPECT_EQ(r->first_barrier(), 1u);          // CPU 0's event 2 must wait for it
  EXPECT_EQ(fetch_str(*r, 0), "0:3");
  EXPECT_EQ(r->first_barrier(), 1u);
  r->barrier_done(1);
  EXPECT_EQ(r->first_barrier(), 3u);  // xcomp_perm: an x86 barrier
  r->barrier_done(3);
  EXPECT_EQ(r->first_barrier(), UINT64_MAX);
  EXPECT_EQ(fetch_str(*r, 0), "0:5");
  EXPECT_EQ(r->first_barrier(), 4u);
  r->barrier_done(4);
  EXPECT_EQ(r->first_barrier(), UINT64_MAX);

  // Only the core kinds: xcomp_perm orders nothing.
  r = make(kind_bit(EventKind::kStateRead) | kind_bit(EventKind::kStateWrite));
  EXPECT_FALSE(r->is_barrier(x86::ev::kXcompPerm));
  EXPECT_EQ(fetch_str(*r, 0), "0:0");
  EXPECT_EQ(fetch_str(*r, 0), "0:2");
  EXPECT_EQ(r->first_barrier(), 1u);
  r->barrier_done(1);
  EXPECT_EQ(fetch_str(*r, 0), "0:3");
  EXPECT_EQ(r->first_barrier(), UINT64_MAX);

  // No barrier kinds at all.
  r = make(0);
  EXPECT_EQ(drain(*r, 0).size(), 5u);
  EXPECT_EQ(r->first_barrier(), UINT64_MAX);
}

TEST_P(ReplayerTest, ForkPendingFromReadToDone) {
  ev(R"({"t": 0, "cpu": 0, "ev": "switch", "next": "A"})");
  ev(R"({"t": 10, "cpu": 0, "ev": "fork", "child": "C"})");
  ev(R"({"t": 20, "cpu": 1, "ev": "switch", "next": "C"})");
  auto r = make();
  EXPECT_FALSE(r->fork_pending(C));
  // CPU 1 reads past the fork (buffered for CPU 0): the child must wait.
  EXPECT_EQ(fetch_str(*r, 1), "1:2");
  EXPECT_TRUE(r->fork_pending(C));
  EXPECT_FALSE(r->fork_pending(A));
  EXPECT_EQ(fetch_str(*r, 0), "0:0");
  EXPECT_EQ(fetch_str(*r, 0), "0:1");
  EXPECT_TRUE(r->fork_pending(C));  // fetched, not processed yet
  r->fork_done(C);
  EXPECT_FALSE(r->fork_pending(C));
}

// A's switch-ins are numbered in trace order; a CPU's head switch-in may be
// processed only once all earlier ones have been.
TEST_P(ReplayerTest, SwitchInsInTraceOrder) {
  ev(R"({"t": 0, "cpu": 0, "ev": "switch", "next": "A"})");    // A's 0th
  ev(R"({"t": 10, "cpu": 0, "ev": "switch", "next": null})");
  ev(R"({"t": 20, "cpu": 1, "ev": "switch", "next": "A"})");   // A's 1st
  ev(R"({"t": 30, "cpu": 1, "ev": "switch", "next": "B"})");   // B's 0th
  ev(R"({"t": 40, "cpu": 0, "ev": "switch", "next": "A"})");   // A's 2nd
  auto r = make();
  EXPECT_EQ(fetch_str(*r, 1), "1:2");
  EXPECT_FALSE(r->switch_in_turn(1, A));  // CPU 0's switch-in of A comes first
  EXPECT_EQ(fetch_str(*r, 0), "0:0");
  EXPECT_TRUE(r->switch_in_turn(0, A));
  r->switch_in_done(A);
  EXPECT_TRUE(r->switch_in_turn(1, A));
  r->switch_in_done(A);
  EXPECT_EQ(fetch_str(*r, 1), "1:3");
  EXPECT_TRUE(r->switch_in_turn(1, B));
  EXPECT_EQ(fetch_str(*r, 0), "0:1");
  EXPECT_EQ(fetch_str(*r, 0), "0:4");
  EXPECT_TRUE(r->switch_in_turn(0, A));  // 2 done: the 2nd is next
  r->switch_in_done(A);
  EXPECT_FALSE(r->switch_in_turn(0, A));  // the 3rd would be next; there is none
}

// --------------------------------------------------------- reader thread

// An error `kErrorAt` events into a trace longer than a batch in either mode
// (1024 with the thread, 256 without): every CPU gets exactly its events
// before it, then the error, again on every later fetch.
constexpr size_t kLong = 3000, kErrorAt = 2345;
std::vector<std::string> long_trace_log(Rig& t, size_t* peak = nullptr) {
  t.syscalls(kLong, [](size_t i) { return i % 3 == 0 ? 1 : 0; });
  // Event kErrorAt names a context no CPU runs.
  t.events[kErrorAt] = {{"t", 10 * kErrorAt}, {"cpu", 0}, {"ev", "use"}, {"ctx", "D"}, {"write", {"sse"}}};
  auto r = t.make();
  std::vector<std::string> log;
  // CPU 1 fetches twice for each of CPU 0's fetches (so it reads ahead and
  // CPU 0's events wait buffered), until each CPU has failed twice.
  int errors[2] = {0, 0};
  for (int round = 0; (errors[0] < 2 || errors[1] < 2) && round < 10000; ++round) {
    for (CpuId c : {1, 1, 0}) {
      if (errors[c] == 2) continue;
      log.push_back(fetch_str(*r, c));
      errors[c] += log.back().find(":error") != std::string::npos;
    }
  }
  if (peak) *peak = r->peak_buffered();
  return log;
}

TEST_P(ReplayerTest, ErrorAfterManyEventsAtItsPlace) {
  size_t peak = 0;
  const std::vector<std::string> log = long_trace_log(*this, &peak);
  std::vector<std::string> cpu0, cpu1;
  for (const std::string& s : log) (s[0] == '0' ? cpu0 : cpu1).push_back(s);
  // Both CPUs get their events below kErrorAt in order, then the error.
  std::vector<std::string> want0, want1;
  for (size_t i = 0; i < kErrorAt; ++i) (i % 3 == 0 ? want1 : want0).push_back((i % 3 == 0 ? "1:" : "0:") + std::to_string(i));
  const std::string err = ":error /events/" + std::to_string(kErrorAt) + "/ctx";
  ASSERT_GE(cpu0.size(), want0.size() + 2);
  ASSERT_GE(cpu1.size(), want1.size() + 2);
  EXPECT_EQ(std::vector<std::string>(cpu0.begin(), cpu0.begin() + want0.size()), want0);
  EXPECT_EQ(std::vector<std::string>(cpu1.begin(), cpu1.begin() + want1.size()), want1);
  EXPECT_EQ(cpu0.size(), want0.size() + 2);
  EXPECT_EQ(cpu1.size(), want1.size() + 2);
  for (size_t i = want0.size(); i < cpu0.size(); ++i) EXPECT_EQ(cpu0[i], "0" + err);
  for (size_t i = want1.size(); i < cpu1.size(); ++i) EXPECT_EQ(cpu1[i], "1" + err);
  // CPU 1 read ahead: when it reached the error (~390 rounds, 2345 events
  // read), CPU 0 had taken ~390 of its ~1560 events; the rest waited.
  EXPECT_GT(peak, 1000u);
}

// The same fetches, with and without the reader thread, give the same log,
// error included; and the setting really decides whether a thread runs.
TEST(ReplayerReaderThread, SameSequenceWithAndWithoutTheThread) {
  std::vector<std::string> logs[2];
  int threads_added[2];
  const Replayer::ReaderThread modes[2] = {Replayer::ReaderThread::kOn, Replayer::ReaderThread::kOff};
  for (int m = 0; m < 2; ++m) {
    Replayer::set_reader_thread(modes[m]);
    Rig t;
    // Longer than the 16 batches of 1024 the thread may hold: it is still
    // there (waiting for room) after the first fetch.
    t.syscalls(20000, [](size_t i) { return i % 2; });
    auto r = t.make();
    const int before = thread_count();
    EXPECT_EQ(fetch_str(*r, 0), "0:0");
    threads_added[m] = thread_count() - before;
    r.reset();
    Rig fresh;
    logs[m] = long_trace_log(fresh);
  }
  Replayer::set_reader_thread(Replayer::ReaderThread::kAuto);
  EXPECT_EQ(threads_added[0], 1);
  EXPECT_EQ(threads_added[1], 0);
  ASSERT_FALSE(logs[0].empty());
  EXPECT_EQ(logs[0], logs[1]);
}

INSTANTIATE_TEST_SUITE_P(ReaderThread, ReplayerTest,
                         ::testing::Values(Replayer::ReaderThread::kOn, Replayer::ReaderThread::kOff),
                         [](const ::testing::TestParamInfo<Replayer::ReaderThread>& i) {
                           return i.param == Replayer::ReaderThread::kOn ? "On" : "Off";
                         });

}  // namespace

// A binary trace whose header is refused must not keep its file open (the
// constructor threw, so no destructor closed it): found by the events fuzz
// target, which ran out of descriptors.
TEST(BinaryTrace, ARefusedHeaderClosesTheFile) {
  const std::string path = ::testing::TempDir() + "/fpusim-bad-header.fpt";
  {
    std::ofstream f(path, std::ios::binary);
    f << "FPUSIMT1" << std::string(8, '\xff');  // version 0xffffffff
  }
  auto open_fds = [] {
    int n = 0;
    if (DIR* d = opendir("/proc/self/fd")) {
      while (dirent* ent = readdir(d)) n += ent->d_name[0] != '.';
      closedir(d);
    }
    return n;
  };
  const std::unordered_map<std::string, ContextId> ids = {{"A", 0}};
  const Arch& arch = *find_arch("x86_64");
  const int before = open_fds();
  for (int i = 0; i < 50; ++i) EXPECT_THROW(make_file_source(arch, path, &ids, 2), InputError);
  EXPECT_EQ(open_fds(), before);
  std::remove(path.c_str());
}

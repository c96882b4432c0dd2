// The SystemC platform (sim/platform/platform.cpp) and the scheduled mode
// (sim/platform/scheduler.cpp) through run_scenario: effective times per CPU,
// the cycles charged, the waits that order CPUs (migration, fork), errors as
// InputError with file and JSON path, and the HostScheduler's accounting,
// migrations and determinism.
//
// The SystemC kernel elaborates once per process and cannot be restarted, so
// this process never runs a simulation itself: every run_scenario call
// happens in a forked child, which sends back what the test checks (as JSON
// through a pipe) and exits. tests/meson.build also registers each test case
// as its own meson test (--gtest_filter), so that they run in parallel and
// fail separately.
//
// Expected numbers come from configs/costs/intel-like.json on the Sapphire
// Rapids preset (XSAVES / XRSTORS, 64 B per cycle both ways, cycles rounded
// to the nearest) under the deferred policy:
//   restore of a fresh context (nothing in its buffer, header only: 64 B)
//       = 177.9 + 64/64 = 178.9 -> 179
//   restore of SSE (64 + 256 B)        = 177.9 + 5 = 182.9 -> 183
//   restore of SSE+YMM (64 + 512 B)    = 177.9 + 9 = 186.9 -> 187
//   save of nothing modified (64 B)    = 80.9 + 1 = 81.9 -> 82
//   save of SSE (64 + 256 B)           = 80.9 + 5 = 85.9 -> 86
//   save of SSE+YMM (64 + 512 B)       = 80.9 + 9 = 89.9 -> 90
// (XSAVES writes only the components modified since the XRSTOR from the same
// buffer; fork saves into the child's buffer: every live component.) No
// other operation costs anything in these traces: IA32_XFD already holds
// every context's value (the write is avoided) and nobody writes PKRU.
#include <gtest/gtest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <stdexcept>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "models/core/arch.h"
#include "models/core/observer.h"
#include "sim/input/presets.h"
#include "sim/platform/platform.h"

using namespace fpusim;
using Json = nlohmann::json;

// Linked with libfpusim, hence libsystemc, which brings a main() of its own
// and wants an sc_main: this program's main runs the tests; the children
// call run_scenario directly, which starts the kernel without sc_main.
extern "C" int sc_main(int, char*[]) { return 3; }

namespace {
std::string g_scenario_dir;  // where write_scenario() puts its files; removed at exit
}  // namespace

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  // --listed=Suite.Case,...: the cases meson runs one by one must be every
  // case here (a new TEST missing from tests/meson.build would never run).
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a.rfind("--listed=", 0) != 0) continue;
    std::set<std::string> listed, have;
    std::stringstream ss(a.substr(9));
    for (std::string c; std::getline(ss, c, ',');) listed.insert(c);
    const auto* u = ::testing::UnitTest::GetInstance();
    for (int s = 0; s < u->total_test_suite_count(); ++s) {
      const auto* suite = u->GetTestSuite(s);
      for (int t = 0; t < suite->total_test_count(); ++t) {
        have.insert(std::string(suite->name()) + "." + suite->GetTestInfo(t)->name());
      }
    }
    for (const auto& c : have) {
      if (!listed.count(c)) std::fprintf(stderr, "%s is not listed in tests/meson.build\n", c.c_str());
    }
    for (const auto& c : listed) {
      if (!have.count(c)) std::fprintf(stderr, "%s is listed but no such case exists\n", c.c_str());
    }
    return listed == have ? 0 : 1;
  }
  int rc = RUN_ALL_TESTS();
  if (!g_scenario_dir.empty()) std::filesystem::remove_all(g_scenario_dir);
  // meson runs one case per test (--gtest_filter): a filter that matches
  // nothing (a renamed case) must fail, not pass with 0 tests.
  if (::testing::UnitTest::GetInstance()->test_to_run_count() == 0) {
    std::fprintf(stderr, "no test case matches the filter\n");
    rc = 1;
  }
  return rc;
}

namespace {

// Records every context switch and FPU operation, as the run reports them.
struct Recorder : Observer {
  Json switches = Json::array();  // [cpu, t, prev, next, cycles]; -1 = idle
  Json ops = Json::array();       // [cpu, t, op, cycles]
  static long id(ContextId c) { return c == kNoContext ? -1 : static_cast<long>(c); }
  void on_operation(const OpRecord& op) override {
    ops.push_back({op.cpu, op.time, std::string(op.op), op.cycles});
  }
  void on_switch(CpuId cpu, Cycles t, ContextId prev, ContextId next, Cycles cycles) override {
    switches.push_back({cpu, t, id(prev), id(next), cycles});
  }
};

// What a child reports of its run: the RunResult's per-CPU end times and
// core counters, the recorder's log; or the error the run threw.
Json run_here(const std::string& path, const std::string& policy, const std::vector<Override>& sets) {
  Json out;
  try {
    const Scenario s = load_scenario(path, sets);
    const PolicyDesc& p = resolve_policy(scenario_arch(s), policy, s.file, "/policy");
    Recorder rec;
    RunOptions opt;
    opt.observers.push_back(&rec);
    const RunResult r = run_scenario(s, p, opt);
    out["cpu_end"] = r.cpu_end;
    const StatGroup& core = core_stat_group();
    for (size_t i = 0; i < core.stats.size(); ++i) out["stats"][std::string(core.stats[i].name)] = r.stats.total[i];
    out["switches"] = rec.switches;
    out["ops"] = rec.ops;
  } catch (const InputError& e) {
    out["error"] = {{"file", e.file}, {"path", e.path}, {"message", e.message}};
  } catch (const InternalError& e) {
    out["internal"] = e.message;
  }
  return out;
}

// Runs the scenario at `path` under `policy` in a child process (one SystemC
// elaboration each) and returns its report.
Json simulate(const std::string& path, const std::string& policy = "deferred", const std::vector<Override>& sets = {}) {
  int fd[2];
  if (pipe(fd) != 0) {
    ADD_FAILURE() << "pipe";
    return {};
  }
  std::fflush(nullptr);
  const pid_t pid = fork();
  if (pid == 0) {
    close(fd[0]);
    const std::string text = run_here(path, policy, sets).dump();
    size_t done = 0;
    while (done < text.size()) {
      const ssize_t n = write(fd[1], text.data() + done, text.size() - done);
      if (n <= 0) _exit(4);
      done += static_cast<size_t>(n);
    }
    _exit(0);  // no gtest or SystemC teardown in the child
  }
  close(fd[1]);
  std::string text;
  char buf[65536];
  ssize_t n;
  while ((n = read(fd[0], buf, sizeof buf)) > 0) text.append(buf, static_cast<size_t>(n));
  close(fd[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || text.empty()) {
    ADD_FAILURE() << "the simulation's child process failed (status " << status << ")";
    return {};
  }
  return Json::parse(text);
}

// A scenario file written for the test (in a fresh temporary directory).
std::string write_scenario(const std::string& name, Json doc) {
  if (g_scenario_dir.empty()) {
    char tmpl[] = "/tmp/fpusim-platform-test.XXXXXX";
    const char* d = mkdtemp(tmpl);
    if (!d) throw std::runtime_error("mkdtemp failed");
    g_scenario_dir = d;
  }
  const std::string& dir = g_scenario_dir;
  doc["format"] = "fpusim-scenario";
  doc["version"] = 1;
  doc["name"] = name;
  doc["description"] = "written by tests/unit/platform_test.cpp";
  if (!doc.contains("machine")) doc["machine"] = "intel-sapphire-rapids";
  if (!doc.contains("costs")) doc["costs"] = "intel-like";
  if (!doc.contains("policy")) doc["policy"] = "deferred";
  const std::string path = dir + "/" + name + ".json";
  std::ofstream(path) << doc.dump(2);
  return path;
}

Json trace(unsigned cpus, std::vector<std::string> contexts, Json events) {
  Json doc;
  doc["cpus"] = cpus;
  for (const auto& c : contexts) doc["contexts"].push_back({{"name", c}});
  doc["events"] = std::move(events);
  return doc;
}

// The switches of `cpu`, from a report.
std::vector<Json> switches_on(const Json& r, unsigned cpu) {
  std::vector<Json> v;
  for (const Json& s : r["switches"]) {
    if (s[0] == cpu) v.push_back(s);
  }
  return v;
}

// The FPU operations of `cpu`, from a report.
std::vector<Json> ops_on(const Json& r, unsigned cpu) {
  std::vector<Json> v;
  for (const Json& o : r["ops"]) {
    if (o[0] == cpu) v.push_back(o);
  }
  return v;
}

// A switch record's cycles are the switch's own FPU work (the save of the
// task leaving, switch_fpu()); the restore of the task coming in follows as
// its return to user space, an operation of its own.

#define ASSERT_RAN(r) ASSERT_TRUE((r).contains("stats")) << (r).dump()

// ------------------------------------------------------------------ replay

// Each CPU keeps the gaps between its events and is delayed only by its own
// FPU cycles: CPU 0's switch A -> B costs 90 + 179, which moves B's use; CPU
// 1 is not delayed by it.
TEST(Platform, GapPreservingTimePerCpu) {
  const Json r = simulate(write_scenario("gaps", trace(2, {"A", "B", "C"}, R"([
    {"t": 0,    "cpu": 0, "ev": "switch", "next": "A"},
    {"t": 50,   "cpu": 1, "ev": "switch", "next": "C"},
    {"t": 100,  "cpu": 0, "ev": "use", "ctx": "A", "write": ["sse", "ymm"]},
    {"t": 300,  "cpu": 1, "ev": "use", "ctx": "C", "write": ["sse"]},
    {"t": 1000, "cpu": 0, "ev": "switch", "next": "B"},
    {"t": 1200, "cpu": 0, "ev": "use", "ctx": "B", "write": ["sse"]},
    {"t": 2000, "cpu": 1, "ev": "switch", "next": null}
  ])"_json)));
  ASSERT_RAN(r);
  // CPU 0: A's first restore (179) delays everything after it; the switch
  // at 1000 + 179 saves A's SSE+YMM (90) and restores fresh B (179): B's
  // use at 1200 happens at 1200 + 179 + 269 = 1648, its last event.
  // CPU 1: C's restore (179); the switch to idle at 2000 + 179 = 2179
  // saves C's SSE (86): ends at 2265.
  EXPECT_EQ(r["cpu_end"], Json({1648, 2265}));
  const Json& st = r["stats"];
  EXPECT_EQ(st["saves"], 2);
  EXPECT_EQ(st["restores"], 3);
  EXPECT_EQ(st["save_cycles"], 90 + 86);
  EXPECT_EQ(st["restore_cycles"], 3 * 179);
  EXPECT_EQ(st["fpu_cycles"], 90 + 86 + 3 * 179);
  EXPECT_EQ(st["sim_cycles"], 2265);       // the later CPU's end
  EXPECT_EQ(st["workload_cycles"], 1200 + 2000);  // trace time of each CPU's last event
  EXPECT_EQ(st["events"], 7);
  EXPECT_EQ(st["context_switches"], 4);
  // The operations at their effective times.
  EXPECT_EQ(r["ops"], Json::parse(R"([
    [0, 0, "restore", 179], [1, 50, "restore", 179],
    [0, 1179, "save", 90], [0, 1269, "restore", 179],
    [1, 2179, "save", 86]
  ])"));
  EXPECT_EQ(st["violations_lost"], 0);
  EXPECT_EQ(st["violations_leaked"], 0);
}

// A task resumes on another CPU only once its switch-out there completed:
// A leaves CPU 0 at 1000 in the trace, but CPU 0 is 179 behind and saves A
// for 90, so A's switch-out completes at 1269; CPU 1's switch to A (trace
// 1050) waits until then, and CPU 1's later events keep that delay.
TEST(Platform, MigrationWaitsForTheSwitchOut) {
  const Json r = simulate(write_scenario("migration", trace(2, {"A", "B"}, R"([
    {"t": 0,    "cpu": 0, "ev": "switch", "next": "A"},
    {"t": 100,  "cpu": 0, "ev": "use", "ctx": "A", "write": ["sse", "ymm"]},
    {"t": 1000, "cpu": 0, "ev": "switch", "next": "B"},
    {"t": 1050, "cpu": 1, "ev": "switch", "next": "A"},
    {"t": 1100, "cpu": 1, "ev": "use", "ctx": "A", "read": ["sse", "ymm"]},
    {"t": 1200, "cpu": 0, "ev": "use", "ctx": "B", "write": ["sse"]}
  ])"_json)));
  ASSERT_RAN(r);
  const auto cpu1 = switches_on(r, 1);
  ASSERT_EQ(cpu1.size(), 1u);
  EXPECT_EQ(cpu1[0], Json({1, 1269, -1, 0, 0}));
  EXPECT_EQ(ops_on(r, 1), std::vector<Json>{Json({1, 1269, "restore", 187})});  // A's SSE+YMM
  // CPU 1's use: 1100 + (1269 - 1050) + 187 = 1506. CPU 0 as in the test above.
  EXPECT_EQ(r["cpu_end"], Json({1648, 1506}));
  // A found its own registers on CPU 1: the wait kept the save before the
  // restore.
  EXPECT_EQ(r["stats"]["violations_lost"], 0);
  EXPECT_EQ(r["stats"]["restores"], 3);
}

// A forked child starts only after the fork, processed on the parent's CPU
// at 200 + 179 = 379 and copying P's SSE into C's buffer (86): C's switch on
// CPU 1 (trace 250) waits until 465 and restores that SSE (183).
TEST(Platform, ForkChildWaitsForTheFork) {
  const Json r = simulate(write_scenario("fork", trace(2, {"P", "C"}, R"([
    {"t": 0,   "cpu": 0, "ev": "switch", "next": "P"},
    {"t": 100, "cpu": 0, "ev": "use", "ctx": "P", "write": ["sse"]},
    {"t": 200, "cpu": 0, "ev": "fork", "child": "C"},
    {"t": 250, "cpu": 1, "ev": "switch", "next": "C"},
    {"t": 300, "cpu": 0, "ev": "use", "ctx": "P", "read": ["sse"]},
    {"t": 400, "cpu": 1, "ev": "use", "ctx": "C", "read": ["sse"]}
  ])"_json)));
  ASSERT_RAN(r);
  const auto cpu1 = switches_on(r, 1);
  ASSERT_EQ(cpu1.size(), 1u);
  EXPECT_EQ(cpu1[0], Json({1, 465, -1, 1, 0}));
  EXPECT_EQ(ops_on(r, 1), std::vector<Json>{Json({1, 465, "restore", 183})});  // C's SSE
  // CPU 0: 300 + 179 + 86 = 565. CPU 1: 400 + (465 - 250) + 183 = 798.
  EXPECT_EQ(r["cpu_end"], Json({565, 798}));
  EXPECT_EQ(r["stats"]["forks"], 1);
  EXPECT_EQ(r["stats"]["violations_lost"], 0);  // C found P's SSE, copied by the fork
}

// A bad trace stops the run with an InputError naming the scenario file and
// the event's JSON path, whichever layer found it: the decoder, the
// replayer's trace-time checks, the agent's semantics (a SemanticError given
// the event's place by the platform).
TEST(Platform, ErrorsAreInputErrorsWithFileAndPath) {
  struct Case {
    const char* name;
    Json events;
    const char* path;
    const char* message;
  };
  const Case cases[] = {
      {"decode", R"([
        {"t": 0, "cpu": 0, "ev": "switch", "next": "A"},
        {"t": 10, "cpu": 1, "ev": "switch", "next": "Z"}
      ])"_json, "/events/1/next", "unknown context \"Z\" (declare it in /contexts)"},
      {"check", R"([
        {"t": 0, "cpu": 0, "ev": "switch", "next": "A"},
        {"t": 10, "cpu": 1, "ev": "switch", "next": "B"},
        {"t": 20, "cpu": 1, "ev": "use", "ctx": "A", "write": ["sse"]}
      ])"_json, "/events/2/ctx", "A is not running on CPU 1 (B is)"},
      {"semantic", R"([
        {"t": 0, "cpu": 0, "ev": "switch", "next": "A"},
        {"t": 10, "cpu": 0, "ev": "syscall"},
        {"t": 20, "cpu": 1, "ev": "syscall"}
      ])"_json, "/events/2", "syscall on CPU 1, which is idle"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    const std::string path = write_scenario(std::string("error_") + c.name, trace(2, {"A", "B"}, c.events));
    const Json r = simulate(path);
    ASSERT_TRUE(r.contains("error")) << r.dump().substr(0, 300);
    EXPECT_EQ(r["error"]["file"], path);
    EXPECT_EQ(r["error"]["path"], c.path);
    EXPECT_EQ(r["error"]["message"], c.message);
  }
}

// --------------------------------------------------------------- scheduled

// Every cycle of every CPU is either a task's computation or FPU management.
// CPU 0 runs two tasks that never block nor use the FPU, CPU 1 one: CPU 0
// switches at 0 (fresh restore: 179) and at every slice end, each switch
// saving nothing modified (82) and restoring a fresh-looking buffer (179):
// switch k >= 1 at 179 + k * T + (k - 1) * 261. With T = 1M and D = 10M:
// k = 0 .. 9 (the 10th would be at 10,002,528). CPU 1 switches once.
TEST(Scheduler, EveryContextSwitchAndCycleAccounted) {
  const Json r = simulate(write_scenario("sched_exact", R"({
    "cpus": 2,
    "workload": {"seed": 1, "duration": 10000000, "timeslice": 1000000,
      "tasks": [{"name": "pair", "count": 2, "cpu": 0, "burst": {"min": 10000000000, "max": 10000000000}},
                {"name": "solo", "cpu": 1, "burst": {"min": 10000000000, "max": 10000000000}}]}
  })"_json));
  ASSERT_RAN(r);
  const Json& st = r["stats"];
  const auto cpu0 = switches_on(r, 0), cpu1 = switches_on(r, 1);
  ASSERT_EQ(cpu0.size(), 10u);
  EXPECT_EQ(cpu0[0], Json({0, 0, -1, 0, 0}));
  for (unsigned k = 1; k < 10; ++k) {
    const long prev = (k - 1) % 2, next = k % 2;
    EXPECT_EQ(cpu0[k], Json({0, 179 + k * 1000000 + (k - 1) * 261, prev, next, 82})) << "switch " << k;
  }
  EXPECT_EQ(cpu1, std::vector<Json>{Json({1, 0, -1, 2, 0})});
  const auto ops0 = ops_on(r, 0);
  ASSERT_EQ(ops0.size(), 1u + 2 * 9);
  for (unsigned k = 1; k < 10; ++k) {
    const Cycles at = 179 + k * 1000000 + (k - 1) * 261;
    EXPECT_EQ(ops0[2 * k - 1], Json({0, at, "save", 82}));
    EXPECT_EQ(ops0[2 * k], Json({0, at + 82, "restore", 179}));
  }
  EXPECT_EQ(st["context_switches"], 11);
  EXPECT_EQ(st["events"], 11);
  EXPECT_EQ(st["saves"], 9);
  EXPECT_EQ(st["restores"], 11);
  const int fpu = 179 + 9 * 261 + 179;
  EXPECT_EQ(st["fpu_cycles"], fpu);
  EXPECT_EQ(st["workload_cycles"], 2 * 10000000 - fpu);
  EXPECT_EQ(st["sim_cycles"], 10000000);
  EXPECT_EQ(r["cpu_end"], Json({10000000, 10000000}));
  EXPECT_EQ(st["migrations"], 0);
}

// Load balancing: three tasks start on CPU 0. At the first balance point
// (2.5M) CPU 0 has 3 (1 running, 2 queued) and CPU 1 none: the last queued
// task moves (t1: t0 ran, then t1 from 1000179, t2 from 2000440, the queue
// then being [t0, t1]), and CPU 1 switches to it at once. After that the
// loads are 2 and 1: no further migration. Without balancing, none, and CPU
// 1 never runs anything.
TEST(Scheduler, MigrationsCountedWhenBalancing) {
  Json doc = R"({
    "cpus": 2,
    "workload": {"seed": 1, "duration": 10000000, "timeslice": 1000000, "balance_interval": 2500000,
      "tasks": [{"name": "t", "count": 3, "cpu": 0, "burst": {"min": 10000000000, "max": 10000000000}}]}
  })"_json;
  Json r = simulate(write_scenario("sched_balance", doc));
  ASSERT_RAN(r);
  EXPECT_EQ(r["stats"]["migrations"], 1);
  const auto cpu1 = switches_on(r, 1);
  ASSERT_FALSE(cpu1.empty());
  EXPECT_EQ(cpu1[0], Json({1, 2500000, -1, 1, 0}));
  ASSERT_FALSE(ops_on(r, 1).empty());
  EXPECT_EQ(ops_on(r, 1)[0], Json({1, 2500000, "restore", 179}));  // t1's buffer holds nothing

  doc["workload"].erase("balance_interval");
  r = simulate(write_scenario("sched_no_balance", doc));
  ASSERT_RAN(r);
  EXPECT_EQ(r["stats"]["migrations"], 0);
  EXPECT_TRUE(switches_on(r, 1).empty());
}

// sched_web_mix (sleeps, wakeup preemption, interrupts with kernel FPU,
// balancing): the same seed gives the same run, another seed another; the
// balancer migrates, and not at all without it; every switch the agent
// counted is one the observers saw, and each CPU's switches chain (each
// starts from the context the previous one switched to).
TEST(Scheduler, WebMixDeterministicForASeed) {
  const std::string path = std::string(FPUSIM_SOURCE_ROOT) + "/traces/sched_web_mix.json";
  const Json a = simulate(path), b = simulate(path);
  ASSERT_RAN(a);
  ASSERT_RAN(b);
  EXPECT_EQ(a, b);
  const Json c = simulate(path, "deferred", {parse_override("workload.seed=43")});
  ASSERT_RAN(c);
  EXPECT_NE(a["stats"], c["stats"]);

  EXPECT_GE(a["stats"]["migrations"], 1);
  const Json d = simulate(path, "deferred", {parse_override("workload.balance_interval=0")});
  ASSERT_RAN(d);
  EXPECT_EQ(d["stats"]["migrations"], 0);

  EXPECT_EQ(a["stats"]["context_switches"], a["switches"].size());
  EXPECT_GT(a["switches"].size(), 100u);
  for (unsigned cpu = 0; cpu < 2; ++cpu) {
    long current = -1;
    for (const Json& s : switches_on(a, cpu)) {
      ASSERT_EQ(s[2], current) << "switch " << s.dump() << " on CPU " << cpu;
      current = s[3];
    }
  }
  EXPECT_EQ(a["cpu_end"], Json({200000000, 200000000}));
  EXPECT_EQ(a["stats"]["sim_cycles"], 200000000);
}

}  // namespace

// The CPU modules of the SystemC hierarchy (sim/platform/cpu_modules.h):
// cpuN with its regfile and traps children, wrapping a real agent's view of
// the CPU. Elaborated only: the agent is driven directly and no simulation
// runs, as unit tests drive the functional state without a kernel.
#include <cstdlib>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include <gtest/gtest.h>

#include "sim/input/presets.h"
#include "sim/platform/cpu_modules.h"
#include "sim/platform/platform.h"

using namespace fpusim;

// Linked with libfpusim, hence libsystemc, which brings a main() of its own
// and wants an sc_main: this program's main runs the tests.
extern "C" int sc_main(int, char*[]) { return 3; }
int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}

namespace {

// Module names are global to the process (the SystemC kernel cannot be
// reset), so one test builds the hierarchy and checks everything.
TEST(CpuModules, WrapTheAgentsCpuViewWithoutAKernel) {
  const char* trace = std::getenv("FPUSIM_TEST_TRACE");
  ASSERT_NE(trace, nullptr) << "FPUSIM_TEST_TRACE names traces/migration_and_back.json (tests/meson.build)";
  const Scenario s = load_scenario(trace, {});
  const Arch& arch = scenario_arch(s);
  const PolicyDesc& policy = resolve_policy(arch, "lazy", s.file, "/policy");
  Stats stats;
  Checker checker(s.machine->cpus, arch.component_bytes(s), s.machine->lazyfp_vulnerable, &stats);
  const std::unordered_map<std::string, ContextId> ids = name_table(s);
  std::unique_ptr<ArchAgent> agent = arch.make_agent(s, policy, stats, checker, ids, {});

  std::vector<std::unique_ptr<CpuModule>> cpus;
  for (CpuId c = 0; c < s.machine->cpus; ++c) {
    cpus.push_back(std::make_unique<CpuModule>(("cpu" + std::to_string(c)).c_str(), c, *agent, arch));
  }
  ASSERT_EQ(cpus.size(), 2u);
  EXPECT_STREQ(cpus[0]->regfile.name(), "cpu0.regfile");
  EXPECT_STREQ(cpus[1]->traps.name(), "cpu1.traps");
  EXPECT_EQ(module_names(),
            (std::vector<std::string>{"cpu0", "cpu0.regfile", "cpu0.traps", "cpu1", "cpu1.regfile", "cpu1.traps"}));

  // Nothing is copied until sampled: the replay's hot path never touches
  // the modules unless a VCD is written.
  const ContextId a = ids.at("A");
  auto run = [&](CpuId cpu, Cycles t, EventKind kind, ContextId ctx, ComponentMask use) {
    Event e;
    e.t = t;
    e.cpu = cpu;
    e.kind = kind;
    e.ctx = ctx;
    e.write = e.read = use;
    const Cycles cost = agent->handle(cpu, t, e);
    return t + cost;
  };
  const ComponentMask sse_ymm = 0b110;  // x86 XFEATUREs 1 and 2
  Cycles t = run(0, 0, EventKind::kSwitch, a, 0);
  cpus[0]->sample();
  const CpuView before = agent->cpu_view(0);
  EXPECT_EQ(cpus[0]->current(), static_cast<int>(a));
  ASSERT_EQ(arch.controls()[0].vcd, "cr0_ts");
  EXPECT_EQ(cpus[0]->traps.control(0), 1u);  // lazy: CR0.TS set at the switch
  t = run(0, t + 100, EventKind::kUse, kNoContext, sse_ymm);  // #NM, restore
  EXPECT_EQ(cpus[0]->traps.count(), before.traps);            // not sampled yet
  cpus[0]->sample();
  const CpuView v = agent->cpu_view(0);
  EXPECT_EQ(v.traps, before.traps + 1);
  EXPECT_EQ(cpus[0]->traps.count(), v.traps);
  for (unsigned i = 0; i < arch.controls().size(); ++i) EXPECT_EQ(cpus[0]->traps.control(i), v.controls[i]) << i;
  EXPECT_EQ(cpus[0]->traps.control(0), 0u);  // the #NM handler cleared CR0.TS
  EXPECT_EQ(cpus[0]->regfile.owner(), static_cast<int>(a));
  EXPECT_EQ(cpus[0]->regfile.live_bytes(), v.live_bytes);
  EXPECT_GT(v.live_bytes, 0u);
  // CPU 1 stays idle and unsampled.
  cpus[1]->sample();
  EXPECT_EQ(cpus[1]->current(), -1);
  EXPECT_EQ(cpus[1]->regfile.owner(), -1);
  EXPECT_EQ(cpus[1]->traps.count(), 0u);
}

}  // namespace

// The checker (DESIGN principle 3): first on hand-made register images, then
// as the oracle of a run — policies broken on purpose must be caught.
#include "tests/unit/agent_fixture.h"

using namespace fpusim;
using namespace fpusim::test;

namespace {

std::string name_of(ContextId c) { return c == kNoContext ? "nobody" : "ctx" + std::to_string(c); }
std::string comps_of(ComponentMask m) { return x86::mask_to_names(m); }

StateImage image(ComponentMask present, ContextId owner, std::uint32_t version) {
  StateImage s;
  s.present = present;
  for (unsigned i : bits(present)) s.tok[i] = Token{owner, version};
  return s;
}

struct CheckerTest : ::testing::Test {
  Stats stats;
  std::array<std::uint32_t, kMaxComponents> bytes{};
  void SetUp() override {
    stats.per_context.resize(3);
    bytes[x86::kX87] = 160;
    bytes[x86::kSSE] = 256;
    bytes[x86::kYMM] = 256;
  }
};

TEST_F(CheckerTest, MatchingUseIsClean) {
  Checker c(1, bytes, true, &stats);
  StateImage truth = image(kSse | kYmm, 0, 7);
  c.check_use(10, 0, 0, truth, image(kSse | kYmm, 0, 7), kSse | kYmm, name_of, comps_of);
  // Both init: also fine.
  StateImage init;
  c.check_use(10, 0, 0, init, StateImage{}, kSse, name_of, comps_of);
  EXPECT_EQ(c.total_violations(), 0u);
}

TEST_F(CheckerTest, ForeignDataIsLeakedAndReportedOnce) {
  Checker c(1, bytes, true, &stats);
  StateImage truth = image(kSse, 0, 3);
  const StateImage regs = image(kSse, 1, 9);
  c.check_use(10, 0, 0, truth, regs, kSse, name_of, comps_of);
  ASSERT_EQ(c.violations().size(), 1u);
  const Violation& v = c.violations()[0];
  EXPECT_EQ(v.kind, ViolationKind::kLeaked);
  EXPECT_EQ(v.context, 0u);
  EXPECT_EQ(v.other, 1u);
  EXPECT_EQ(v.components, kSse);
  EXPECT_EQ(v.time, 10u);
  EXPECT_EQ(stats.get(Stat::violations_leaked), 1u);
  EXPECT_EQ(stats.per_context[0][static_cast<size_t>(Stat::violations_leaked)], 1u);
  // The context adopted what it found: the same registers again are no news.
  c.check_use(20, 0, 0, truth, regs, kSse, name_of, comps_of);
  EXPECT_EQ(c.total_violations(), 1u);
}

TEST_F(CheckerTest, StaleOrMissingDataIsLost) {
  Checker c(1, bytes, true, &stats);
  StateImage truth = image(kSse | kYmm | kX87, 0, 5);
  StateImage regs = image(kSse, 0, 4);  // older version
  regs.present |= kX87;                 // x87 current
  regs.tok[x86::kX87] = Token{0, 5};
  // YMM missing (init in the registers, non-init in truth).
  c.check_use(10, 0, 0, truth, regs, kSse | kYmm | kX87, name_of, comps_of);
  EXPECT_EQ(c.total_violations(), 2u);
  EXPECT_EQ(stats.get(Stat::violations_lost), 2u);
  for (const Violation& v : c.violations()) {
    EXPECT_EQ(v.kind, ViolationKind::kLost);
    EXPECT_EQ(v.other, kNoContext);
  }
  // Truth init but registers hold a version of its own: lost too (a write
  // after the reset was not undone).
  Checker c2(1, bytes, true, &stats);
  StateImage t2;
  c2.check_use(10, 0, 0, t2, image(kSse, 0, 1), kSse, name_of, comps_of);
  EXPECT_EQ(c2.total_violations(), 1u);
  // Untouched components are not checked.
  Checker c3(1, bytes, true, &stats);
  StateImage t3 = image(kYmm, 0, 1);
  c3.check_use(10, 0, 0, t3, StateImage{}, kSse, name_of, comps_of);
  EXPECT_EQ(c3.total_violations(), 0u);
}

// Component sizes are per context and may change (an arm64 task's vector
// length): exposure is weighted by the bytes of the foreign data as its
// owner holds it.
TEST_F(CheckerTest, ExposureBytesFollowTheOwnersSizes) {
  Checker c(1, bytes, false, &stats);
  std::array<std::uint32_t, kMaxComponents> big = bytes;
  big[x86::kYMM] = 1024;
  c.set_sizes(2, std::make_shared<const ComponentSizes>(big));
  c.update(0, 0, 1, nullptr, image(kSse | kYmm, 0, 1), kSse | kYmm, name_of, comps_of);
  EXPECT_EQ(c.peak_exposed_bytes(), 512u);  // ctx 0: the default sizes
  c.advance(0, 10);  // before every event, as the agent does
  c.update(0, 10, 1, nullptr, image(kSse | kYmm, 2, 1), kSse | kYmm, name_of, comps_of);
  EXPECT_EQ(c.peak_exposed_bytes(), 256u + 1024u);  // ctx 2: its own
  c.advance(0, 20);
  EXPECT_EQ(stats.get(Stat::exposure_byte_cycles), 10u * 512u + 10u * 1280u);
  // Its sizes change: the next window is weighted by the new ones.
  big[x86::kYMM] = 2048;
  c.set_sizes(2, std::make_shared<const ComponentSizes>(big));
  c.update(0, 20, 1, nullptr, image(kSse | kYmm, 2, 2), kSse | kYmm, name_of, comps_of);
  c.advance(0, 30);
  EXPECT_EQ(c.peak_exposed_bytes(), 256u + 2048u);
  EXPECT_EQ(stats.get(Stat::exposure_byte_cycles), 10u * 512u + 10u * 1280u + 10u * 2304u);
}

TEST_F(CheckerTest, ExposureWindowsAndCycles) {
  Checker c(2, bytes, true, &stats);
  c.disable(ViolationKind::kForeignRegs);  // ctx 0's unarmed YMM: ForeignRegistersOncePerEpisode's
  const StateImage regs = image(kSse | kYmm, 0, 1);  // ctx 0's data
  c.advance(0, 100);
  c.update(0, 100, 1, nullptr, regs, kSse, name_of, comps_of);  // ctx 1 in user, SSE armed
  EXPECT_EQ(stats.get(Stat::exposure_windows), 1u);
  EXPECT_EQ(c.peak_exposed_bytes(), 256u);  // only the armed component counts
  ASSERT_EQ(c.violations().size(), 1u);
  EXPECT_EQ(c.violations()[0].kind, ViolationKind::kExposed);
  EXPECT_EQ(c.violations()[0].context, 1u);
  EXPECT_EQ(c.violations()[0].other, 0u);
  EXPECT_EQ(stats.per_context[0][static_cast<size_t>(Stat::violations_exposed)], 1u);
  c.advance(0, 400);
  EXPECT_EQ(stats.get(Stat::exposure_cycles), 300u);
  EXPECT_EQ(stats.get(Stat::exposure_byte_cycles), 300u * 256u);
  // Still exposed (now both components): the same window continues.
  c.update(0, 450, 1, nullptr, regs, kSse | kYmm, name_of, comps_of);
  EXPECT_EQ(stats.get(Stat::exposure_windows), 1u);
  EXPECT_EQ(c.peak_exposed_bytes(), 512u);
  c.advance(0, 550);
  EXPECT_EQ(stats.get(Stat::exposure_cycles), 400u);
  EXPECT_EQ(stats.get(Stat::exposure_byte_cycles), 300u * 256u + 100u * 512u);
  // Ends when the trap is disarmed; later time adds nothing.
  c.update(0, 560, 1, nullptr, regs, 0, name_of, comps_of);
  c.advance(0, 5000);
  EXPECT_EQ(stats.get(Stat::exposure_cycles), 400u);
  // The CPUs are independent: CPU 1 saw nothing.
  c.advance(1, 9000);
  EXPECT_EQ(stats.get(Stat::exposure_cycles), 400u);
  EXPECT_EQ(c.total_violations(), 1u);
}

// Registers user code can reach must hold the running context's data: one
// violation per owner when foreign data becomes reachable, none while it
// stays, none for data the context already took as its own, and a new one
// when it becomes reachable again for another context.
TEST_F(CheckerTest, ForeignRegistersOncePerEpisode) {
  Checker c(1, bytes, false, &stats);
  StateImage regs = image(kSse, 0, 1);  // ctx 0's SSE
  regs.present |= kYmm;
  regs.tok[x86::kYMM] = Token{2, 1};    // ctx 2's YMM
  c.update(0, 0, 1, nullptr, regs, 0, name_of, comps_of);
  ASSERT_EQ(c.total_violations(), 2u);  // one per owner
  EXPECT_EQ(c.violations()[0].kind, ViolationKind::kForeignRegs);
  EXPECT_EQ(c.violations()[0].context, 1u);
  EXPECT_EQ(c.violations()[0].other, 0u);
  EXPECT_EQ(c.violations()[1].other, 2u);
  EXPECT_EQ(stats.per_context[1][static_cast<size_t>(Stat::violations_foreign_regs)], 2u);
  c.update(0, 10, 1, nullptr, regs, 0, name_of, comps_of);  // the same episode
  EXPECT_EQ(c.total_violations(), 2u);
  // Kernel mode and back with the registers unchanged: nothing new.
  c.update(0, 20, kNoContext, nullptr, regs, 0, name_of, comps_of);
  c.update(0, 30, 1, nullptr, regs, 0, name_of, comps_of);
  EXPECT_EQ(c.total_violations(), 2u);
  // Another version of ctx 2's YMM: a new finding.
  regs.tok[x86::kYMM] = Token{2, 2};
  c.update(0, 40, 1, nullptr, regs, 0, name_of, comps_of);
  EXPECT_EQ(c.total_violations(), 3u);
  // Another context in user mode with the same registers: its own episode.
  c.update(0, 50, 3, nullptr, regs, 0, name_of, comps_of);
  EXPECT_EQ(c.total_violations(), 5u);
  // Data the context adopted (its truth holds the same token) is its own;
  // armed components are exposure's, not this rule's.
  Checker c2(1, bytes, false, &stats);
  StateImage truth = image(kSse, 0, 1);
  c2.update(0, 0, 1, &truth, regs, kYmm, name_of, comps_of);
  EXPECT_EQ(c2.total_violations(), 0u);
  // Switched off, it records nothing.
  Checker c3(1, bytes, false, &stats);
  c3.disable(ViolationKind::kForeignRegs);
  c3.update(0, 0, 1, nullptr, regs, 0, name_of, comps_of);
  EXPECT_EQ(c3.total_violations(), 0u);
}

TEST_F(CheckerTest, NoExposureForOwnDataKernelModeOrInit) {
  Checker c(1, bytes, true, &stats);
  c.update(0, 0, 0, nullptr, image(kSse, 0, 1), kSse, name_of, comps_of);            // own data
  c.update(0, 1, kNoContext, nullptr, image(kSse, 1, 1), kSse, name_of, comps_of);   // nobody in user mode
  c.update(0, 2, 0, nullptr, StateImage{}, kSse, name_of, comps_of);                 // init registers
  StateImage stale = image(kSse, 1, 1);
  stale.present = 0;  // a token left behind in an init component
  c.update(0, 3, 0, nullptr, stale, kSse, name_of, comps_of);
  c.advance(0, 1000);
  EXPECT_EQ(stats.get(Stat::exposure_windows), 0u);
  EXPECT_EQ(stats.get(Stat::exposure_cycles), 0u);
  EXPECT_EQ(c.total_violations(), 0u);
}

TEST_F(CheckerTest, ExposureIsNotAViolationOnSafeCpus) {
  Checker c(1, bytes, false, &stats);
  c.update(0, 0, 1, nullptr, image(kSse, 0, 1), kSse, name_of, comps_of);
  c.advance(0, 50);
  EXPECT_EQ(stats.get(Stat::exposure_windows), 1u);
  EXPECT_EQ(stats.get(Stat::exposure_cycles), 50u);
  EXPECT_EQ(c.total_violations(), 0u);
  EXPECT_EQ(stats.get(Stat::violations_exposed), 0u);
}

// Register contents the kernel wrote (x86::kKernelContext) have no
// per-context counters: exposing them must count in the totals without
// indexing the per-context table.
TEST_F(CheckerTest, ExposureOfKernelDataCountsInTotals) {
  Checker c(1, bytes, true, &stats);
  EXPECT_NO_THROW(c.update(0, 0, 1, nullptr, image(kSse, x86::kKernelContext, 0), kSse, name_of, comps_of));
  EXPECT_EQ(stats.get(Stat::violations_exposed), 1u);
  for (const auto& pc : stats.per_context) EXPECT_EQ(pc[static_cast<size_t>(Stat::violations_exposed)], 0u);
}

TEST_F(CheckerTest, TrapConfigIsOneViolationPerComponentWhileItStaysWrong) {
  Checker c(2, bytes, false, &stats);
  c.check_trap_config(10, 0, 1, kYmm, 0, name_of);  // enabled, not owned
  c.check_trap_config(20, 0, 1, kYmm, 0, name_of);  // still: not again
  EXPECT_EQ(stats.get(Stat::violations_trap_config), 1u);
  EXPECT_EQ(c.violations()[0].kind, ViolationKind::kTrapConfig);
  EXPECT_EQ(c.violations()[0].components, kYmm);
  EXPECT_EQ(stats.per_context[1][static_cast<size_t>(Stat::violations_trap_config)], 1u);
  c.check_trap_config(30, 0, 1, kYmm, kSse, name_of);  // a second component, trapped though owned
  EXPECT_EQ(stats.get(Stat::violations_trap_config), 2u);
  c.check_trap_config(40, 0, 1, 0, 0, name_of);  // right again
  c.check_trap_config(50, 0, 1, kYmm, 0, name_of);  // a new episode
  EXPECT_EQ(stats.get(Stat::violations_trap_config), 3u);
  c.check_trap_config(60, 0, 2, kYmm, 0, name_of);  // another context on that CPU
  c.check_trap_config(60, 1, 2, kYmm, 0, name_of);  // and on another CPU
  EXPECT_EQ(stats.get(Stat::violations_trap_config), 5u);
  c.check_trap_config(70, 0, kNoContext, 0, 0, name_of);  // nobody in user mode
  EXPECT_EQ(c.total_violations(), 5u);
  // A stay in the kernel forgets nothing: context 2 back in user mode with
  // the same wrong configuration is not a new episode.
  c.check_trap_config(80, 0, 2, kYmm, 0, name_of);
  EXPECT_EQ(c.total_violations(), 5u);
}

TEST_F(CheckerTest, KeepsOnlyTheFirstViolationsButCountsAll) {
  Checker c(1, bytes, true, &stats, 2);
  for (std::uint32_t v = 0; v < 5; ++v) {
    StateImage truth = image(kSse, 0, 100 + v);
    c.check_use(v, 0, 0, truth, image(kSse, 0, v), kSse, name_of, comps_of);
  }
  EXPECT_EQ(c.total_violations(), 5u);
  EXPECT_EQ(c.violations().size(), 2u);
  EXPECT_EQ(stats.get(Stat::violations_lost), 5u);
}

// ---------------------------------------------------------------- the oracle

// Forwards everything to a real policy; subclasses break one rule.
class Forwarding : public x86::Policy {
 public:
  explicit Forwarding(std::unique_ptr<x86::Policy> inner) : in_(std::move(inner)) {}
  void init_cpu(x86::Agent& a, CpuId cpu) override { in_->init_cpu(a, cpu); }
  void init_context(x86::Agent& a, x86::Context& c) override { in_->init_context(a, c); }
  void switch_fpu(x86::Agent& a, CpuId cpu, x86::Context* p, x86::Context* n) override {
    in_->switch_fpu(a, cpu, p, n);
  }
  void return_to_user(x86::Agent& a, CpuId cpu, x86::Context& c) override { in_->return_to_user(a, cpu, c); }
  void nm_ts_trap(x86::Agent& a, CpuId cpu, x86::Context& c) override { in_->nm_ts_trap(a, cpu, c); }
  bool kernel_fpu_usable(x86::Agent& a, CpuId cpu, x86::Context* c, bool i, bool u) override {
    return in_->kernel_fpu_usable(a, cpu, c, i, u);
  }
  void kernel_fpu_begin(x86::Agent& a, CpuId cpu, x86::Context* c) override { in_->kernel_fpu_begin(a, cpu, c); }
  void kernel_fpu_end(x86::Agent& a, CpuId cpu, x86::Context* c) override { in_->kernel_fpu_end(a, cpu, c); }
  bool regs_live(const x86::Agent& a, const x86::Context& c) const override { return in_->regs_live(a, c); }
  void load_user_regs(x86::Agent& a, CpuId cpu, x86::Context& c, Cause cause) override {
    in_->load_user_regs(a, cpu, c, cause);
  }
  void signal_deliver(x86::Agent& a, CpuId cpu, x86::Context& c, bool retry) override {
    in_->signal_deliver(a, cpu, c, retry);
  }
  void sigreturn_failed(x86::Agent& a, CpuId cpu, x86::Context& c) override { in_->sigreturn_failed(a, cpu, c); }
  void signal_frame_fault(x86::Agent& a, CpuId cpu, x86::Context& c, bool r) override {
    in_->signal_frame_fault(a, cpu, c, r);
  }
  void sigreturn_fault(x86::Agent& a, CpuId cpu, x86::Context& c, const StateImage& f) override {
    in_->sigreturn_fault(a, cpu, c, f);
  }
  void sigreturn(x86::Agent& a, CpuId cpu, x86::Context& c, const StateImage& f) override {
    in_->sigreturn(a, cpu, c, f);
  }
  void fork(x86::Agent& a, CpuId cpu, x86::Context& p, x86::Context& c) override { in_->fork(a, cpu, p, c); }
  void exec(x86::Agent& a, CpuId cpu, x86::Context& c) override { in_->exec(a, cpu, c); }
  void exit(x86::Agent& a, CpuId cpu, x86::Context& c) override { in_->exit(a, cpu, c); }
  void state_written(x86::Agent& a, x86::Context& c) override { in_->state_written(a, c); }
  ComponentMask restore_mask(const x86::Agent& a) const override { return in_->restore_mask(a); }
  void mark_active(x86::Agent& a, CpuId cpu, x86::Context& c) override { in_->mark_active(a, cpu, c); }
  bool use_eager_fpu() const override { return in_->use_eager_fpu(); }

 protected:
  std::unique_ptr<x86::Policy> in_;
};

// Claims the registers are loaded at return to user without the XRSTOR.
class NeverRestores final : public Forwarding {
 public:
  using Forwarding::Forwarding;
  void return_to_user(x86::Agent& a, CpuId cpu, x86::Context& c) override {
    if (!c.need_fpu_load) return;
    a.set_owner(cpu, c.id);
    c.last_cpu = cpu;
    c.need_fpu_load = false;
  }
};

// Marks prev as saved at switch-out but never XSAVEs it.
class ForgetsToSave final : public Forwarding {
 public:
  using Forwarding::Forwarding;
  void switch_fpu(x86::Agent& a, CpuId cpu, x86::Context* prev, x86::Context* next) override {
    if (prev && prev->is_user() && !prev->need_fpu_load) {
      prev->need_fpu_load = true;
      prev->last_cpu = cpu;
    }
    in_->switch_fpu(a, cpu, nullptr, next);
  }
};

// Returns to user with IA32_XFD cleared, whatever the task's fpstate (as a
// restore path that forgot xfd_update_state() would leave it).
class LeavesXfdClear final : public Forwarding {
 public:
  using Forwarding::Forwarding;
  void return_to_user(x86::Agent& a, CpuId cpu, x86::Context& c) override {
    in_->return_to_user(a, cpu, c);
    a.cpu(cpu).trap.xfd = 0;
  }
};

// Two tasks taking turns on one CPU, each reading back what it wrote.
void ping_pong(Rig& r) {
  const ContextId a = r.add("A");
  const ContextId b = r.add("B");
  r.start();
  for (int i = 0; i < 3; ++i) {
    r.sw(0, a);
    r.read(0, kSse);
    r.use(0, kSse);
    r.sw(0, b);
    r.read(0, kSse);
    r.use(0, kSse);
  }
}

TEST(CheckerOracle, CorrectPolicyIsClean) {
  auto r = make_rig(load_machine_preset("intel-sapphire-rapids"), make_policy("deferred"));
  ping_pong(*r);
  EXPECT_CLEAN(*r);
}

TEST(CheckerOracle, MissingRestoreLeaksTheOtherTasksData) {
  auto r = make_rig(load_machine_preset("intel-sapphire-rapids"),
                    std::make_unique<NeverRestores>(make_policy("deferred")));
  ping_pong(*r);
  // Every read after the first switch finds the other task's SSE; each
  // return to user mode before it already has it within reach.
  EXPECT_GE(r->leaked(), 5u);
  ASSERT_FALSE(r->checker.violations().empty());
  EXPECT_EQ(r->checker.violations()[0].kind, ViolationKind::kForeignRegs);
  EXPECT_EQ(r->checker.violations()[1].kind, ViolationKind::kLeaked);
}

TEST(CheckerOracle, MissingSaveLosesState) {
  auto r = make_rig(load_machine_preset("intel-sapphire-rapids"),
                    std::make_unique<ForgetsToSave>(make_policy("deferred")));
  ping_pong(*r);
  // Each task comes back to an unsaved (init) buffer: lost, never leaked
  // (the restore does overwrite the other task's registers).
  EXPECT_GE(r->lost(), 4u);
  EXPECT_EQ(r->leaked(), 0u);
}

// x86's trap-configuration rule: a task without room for AMX tiles in its
// fpstate must not reach them (IA32_XFD armed); one violation per episode.
TEST(CheckerOracle, XfdLeftClearForATaskWithoutAmxIsATrapConfigViolation) {
  auto r = make_rig(load_machine_preset("intel-sapphire-rapids"),
                    std::make_unique<LeavesXfdClear>(make_policy("deferred")));
  const ContextId a = r->add("A");
  r->start();
  r->sw(0, a);  // returns to user
  r->use(0, kSse);
  r->syscall(0);
  r->ret(0);
  EXPECT_EQ(r->total(Stat::violations_trap_config), 1u) << r->violation_report();
  EXPECT_EQ(r->checker.violations()[0].components, x86::kMaskAmx & r->machine.dynamic);
  auto fixed = make_rig(load_machine_preset("intel-sapphire-rapids"), make_policy("deferred"));
  const ContextId b = fixed->add("B");
  fixed->start();
  fixed->sw(0, b);
  fixed->use(0, kSse);
  EXPECT_CLEAN(*fixed);
}

}  // namespace

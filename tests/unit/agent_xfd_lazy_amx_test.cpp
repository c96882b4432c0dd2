// xfd-lazy-amx (plugins/xfd_lazy_amx/, loaded from FPUSIM_TEST_PLUGIN as
// `--plugin` loads it) driven through the Agent
// on the Sapphire Rapids preset: AMX tile data stays in the registers at
// switch-out under an armed IA32_XFD, is written back on another task's
// #NM, at migration and on kernel paths that need it, and needs no restore
// when its owner comes back untouched. Two deliberately broken variants show
// that the checker catches what the policy must get right.
#include <cstdlib>

#include "sim/app/plugins.h"
#include "tests/unit/agent_fixture.h"

using namespace fpusim;
using namespace fpusim::test;

// Linked with libfpusim, hence libsystemc, which brings a main() of its own
// and wants an sc_main: this program's main runs the tests, and no SystemC
// simulation runs.
extern "C" int sc_main(int, char*[]) { return 3; }
int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}

namespace {

constexpr const char* kSpr = "intel-sapphire-rapids";

std::uint64_t tile_saves(const Rig& r) { return r.stats.per_component[x86::kXtileData].saves; }
std::uint64_t tile_restores(const Rig& r) { return r.stats.per_component[x86::kXtileData].restores; }

struct XfdLazyAmxTest : ::testing::Test {
  static void SetUpTestSuite() {
    const char* plugin = std::getenv("FPUSIM_TEST_PLUGIN");
    ASSERT_NE(plugin, nullptr) << "FPUSIM_TEST_PLUGIN names the built plugin (tests/meson.build)";
    load_plugin(plugin);
  }
  std::unique_ptr<Rig> r;
  ContextId A = 0, B = 0, C = 0, D = 0;
  void SetUp() override { build(make_policy("xfd-lazy-amx")); }
  void build(std::unique_ptr<x86::Policy> p, const std::function<void(Json&)>& edit = {}) {
    r = make_rig(load_machine_preset(kSpr, edit), std::move(p));
    A = r->add("A");  // AMX
    B = r->add("B");  // no AMX
    C = r->add("C");  // AMX
    D = r->add("D");  // a fork child
    r->start();
  }
  // `who` gets AMX permission and a tile buffer (first use) and writes its tiles.
  void amx_first_use(CpuId cpu) {
    r->perm(cpu, kTileData);
    r->use(cpu, kAmx);
  }
};

TEST_F(XfdLazyAmxTest, SwitchOutLeavesTilesLiveWithXfdArmed) {
  r->sw(0, A);
  amx_first_use(0);
  const Token a_tiles = r->ctx(A).truth.tok[x86::kXtileData];
  r->sw(0, B);
  r->use(0, kSse);
  // switch_fpu() saved A, but not its tile data: A's buffer has no tiles,
  // the registers still hold A's latest ones.
  EXPECT_EQ(r->of(A, Stat::saves), 1u);
  EXPECT_EQ(tile_saves(*r), 0u);
  EXPECT_FALSE(r->ctx(A).fpstate.image.present & kTileData);
  EXPECT_TRUE(r->cpu(0).rf.regs.present & kTileData);
  EXPECT_EQ(r->cpu(0).rf.regs.tok[x86::kXtileData], a_tiles);
  // B's return to user armed IA32_XFD[18] (xfd_update_state()).
  EXPECT_TRUE(r->cpu(0).trap.xfd & kTileData);
  EXPECT_NO_LOSS_OR_LEAK(*r);
  // A's tiles under an armed trap while B runs in user mode: one LazyFP
  // window, an exposed violation on this lazyfp_vulnerable preset.
  EXPECT_EQ(r->total(Stat::exposure_windows), 1u);
  EXPECT_EQ(r->exposed(), 1u);
}

TEST_F(XfdLazyAmxTest, OwnerReturnsUntouchedWithoutTileRestore) {
  r->sw(0, A);
  amx_first_use(0);
  r->sw(0, B);
  r->use(0, kSse | kYmm);
  const std::uint64_t xfd_writes = r->total(XStat::xfd_writes);
  r->sw(0, A);
  // fpregs_restore_userregs(): A's XRSTORS skipped the tiles, which are
  // still its own; xfd_update_state() disarmed XFD for it.
  EXPECT_EQ(tile_restores(*r), 0u);
  EXPECT_FALSE(r->cpu(0).trap.xfd & kTileData);
  EXPECT_EQ(r->total(XStat::xfd_writes), xfd_writes + 1);
  const std::uint64_t traps = r->total(XStat::traps_nm_xfd);
  r->use(0, kAmx, kAmx);  // no trap, A finds its tiles
  EXPECT_EQ(r->total(XStat::traps_nm_xfd), traps);
  EXPECT_EQ(tile_saves(*r), 0u);
  EXPECT_NO_LOSS_OR_LEAK(*r);
}

TEST_F(XfdLazyAmxTest, OwnerFastPathDisarmsXfd) {
  // A -> kernel thread -> A: fpregs_state_valid() holds, no XRSTOR at all,
  // and no tile save either.
  const ContextId K = r->add_kthread("K");
  (void)K;
  r->sw(0, A);
  amx_first_use(0);
  r->sw(0, K);
  r->sw(0, A);
  EXPECT_EQ(r->total(Stat::restores_skipped), 1u);
  EXPECT_EQ(tile_saves(*r), 0u);
  EXPECT_FALSE(r->cpu(0).trap.xfd & kTileData);
  r->read(0, kAmx);
  EXPECT_CLEAN(*r);  // nobody ran in user mode next to the kept tiles
}

TEST_F(XfdLazyAmxTest, ForeignNmWritesOwnerTilesBack) {
  r->sw(0, C);
  amx_first_use(0);  // C has a tile buffer
  r->sw(0, A);
  amx_first_use(0);
  const Token a_tiles = r->ctx(A).truth.tok[x86::kXtileData];
  r->sw(0, C);  // A's tiles kept; C's not loaded
  EXPECT_EQ(tile_restores(*r), 0u);
  const std::uint64_t nm = r->total(XStat::traps_nm_xfd);
  const std::uint64_t reallocs = r->total(XStat::fpstate_reallocs);
  r->use(0, 0, kAmx);  // C reads its tiles: #NM XFD
  // handle_xfd_event(): A's tiles into A's buffer, C's own tiles loaded, no
  // reallocation (C's buffer already has room).
  EXPECT_EQ(r->total(XStat::traps_nm_xfd), nm + 1);
  EXPECT_EQ(r->total(XStat::fpstate_reallocs), reallocs);
  EXPECT_TRUE(r->ctx(A).fpstate.image.present & kTileData);
  EXPECT_EQ(r->ctx(A).fpstate.image.tok[x86::kXtileData], a_tiles);
  EXPECT_EQ(r->cpu(0).rf.regs.tok[x86::kXtileData], r->ctx(C).truth.tok[x86::kXtileData]);
  EXPECT_FALSE(r->cpu(0).trap.xfd & kTileData);
  r->sw(0, A);  // C's tiles kept now
  r->use(0, 0, kAmx);  // A traps, C's written back, A's loaded from its buffer
  EXPECT_EQ(r->total(XStat::traps_nm_xfd), nm + 2);
  EXPECT_NO_LOSS_OR_LEAK(*r);
}

TEST_F(XfdLazyAmxTest, ForeignFirstUseWritesBackThenReallocates) {
  r->sw(0, A);
  amx_first_use(0);
  r->sw(0, C);
  r->perm(0, kTileData);
  r->read(0, kAmx);  // C's first use: A's tiles go back, C starts with init tiles
  EXPECT_EQ(r->total(XStat::fpstate_reallocs), 2u);
  EXPECT_TRUE(r->ctx(A).fpstate.image.present & kTileData);
  EXPECT_FALSE(r->cpu(0).rf.regs.present & kTileData);
  EXPECT_NO_LOSS_OR_LEAK(*r);
}

TEST_F(XfdLazyAmxTest, NoPermissionSigillKeepsOwnerTiles) {
  r->sw(0, A);
  amx_first_use(0);
  r->sw(0, B);
  r->use(0, kAmx);  // B has no permission: SIGILL, A's tiles stay kept
  EXPECT_EQ(r->total(XStat::sigill), 1u);
  EXPECT_EQ(tile_saves(*r), 0u);
  r->sw(0, A);
  r->read(0, kAmx);
  EXPECT_NO_LOSS_OR_LEAK(*r);
}

TEST_F(XfdLazyAmxTest, MigrationWritesTilesBackFromTheOldCpu) {
  r->sw(0, A);
  amx_first_use(0);
  r->sw(0, B);
  r->use(0, kSse);
  EXPECT_EQ(tile_saves(*r), 0u);
  r->sw(1, A);
  // The IPI'd CPU 0 XSAVESd A's tiles, then gave B its own (init) tiles;
  // A's restore on CPU 1 read them from its buffer.
  EXPECT_EQ(tile_saves(*r), 1u);
  EXPECT_EQ(tile_restores(*r), 1u);
  EXPECT_FALSE(r->cpu(0).rf.regs.present & kTileData);
  EXPECT_TRUE(r->cpu(0).trap.xfd & kTileData);  // B's fpstate->xfd
  r->read(1, kAmx);
  r->read(0, kSse);
  EXPECT_NO_LOSS_OR_LEAK(*r);
}

TEST_F(XfdLazyAmxTest, IdleWritesKeptTilesBack) {
  r->sw(0, A);
  amx_first_use(0);
  r->sw(0, B);
  r->idle(0);  // fpu_idle_fpregs() would TILERELEASE: A's tiles saved first
  EXPECT_EQ(tile_saves(*r), 1u);
  EXPECT_FALSE(r->cpu(0).rf.regs.present & kTileData);
  r->sw(0, A);
  r->read(0, kAmx);
  EXPECT_NO_LOSS_OR_LEAK(*r);
}

TEST_F(XfdLazyAmxTest, SignalAndPtraceOfOthersSeeWholeState) {
  r->sw(0, A);
  amx_first_use(0);
  r->sw(0, C);
  amx_first_use(0);  // A's tiles go back here
  r->sw(0, B);       // C's kept
  r->signal(0);      // B's frame: C's tiles written back first
  r->sigreturn(0);
  EXPECT_EQ(tile_saves(*r), 2u);
  r->sw(0, A);       // B has no tiles: nothing kept
  r->sw(0, C);       // A's kept
  r->sw(1, B);
  r->state_read(1, A);  // ptrace of A: its tiles come back from CPU 0
  EXPECT_EQ(tile_saves(*r), 3u);
  r->read(0, kAmx);  // C
  r->sw(0, A);
  r->read(0, kAmx);
  EXPECT_NO_LOSS_OR_LEAK(*r);
}

// On a machine that does not speculate past #NM the kept tiles are measured
// but not a violation: the whole mix is checker-clean.
TEST_F(XfdLazyAmxTest, CheckerCleanWithoutLazyFp) {
  build(make_policy("xfd-lazy-amx"), [](Json& m) { m["lazyfp_vulnerable"] = false; });
  r->sw(0, A);
  amx_first_use(0);
  r->sw(0, B);
  r->use(0, kSse | kYmm);
  r->sw(0, C);
  amx_first_use(0);
  r->sw(0, A);
  r->use(0, kAmx, kAmx);
  r->sw(1, C);
  r->read(1, kAmx);
  r->syscall(0);
  r->fork(0, D);
  r->ret(0);
  r->read(0, kAmx);
  r->sw(0, B);
  r->read(0, kSse | kYmm);
  r->sw(1, A);
  r->read(1, kAmx);
  EXPECT_CLEAN(*r);
  EXPECT_GT(r->total(Stat::exposure_windows), 0u);
}

// ---- broken variants: the checker must notice.

// Forwards everything to the real policy; a subclass breaks one rule.
class Forward : public x86::Policy {
 public:
  Forward() : p_(make_policy("xfd-lazy-amx")) {}
  void init_cpu(x86::Agent& a, CpuId c) override { p_->init_cpu(a, c); }
  void init_context(x86::Agent& a, x86::Context& x) override { p_->init_context(a, x); }
  void switch_fpu(x86::Agent& a, CpuId c, x86::Context* p, x86::Context* n) override { p_->switch_fpu(a, c, p, n); }
  void return_to_user(x86::Agent& a, CpuId c, x86::Context& x) override { p_->return_to_user(a, c, x); }
  void nm_ts_trap(x86::Agent& a, CpuId c, x86::Context& x) override { p_->nm_ts_trap(a, c, x); }
  bool kernel_fpu_usable(x86::Agent& a, CpuId c, x86::Context* x, bool i, bool u) override {
    return p_->kernel_fpu_usable(a, c, x, i, u);
  }
  void kernel_fpu_begin(x86::Agent& a, CpuId c, x86::Context* x) override { p_->kernel_fpu_begin(a, c, x); }
  void kernel_fpu_end(x86::Agent& a, CpuId c, x86::Context* x) override { p_->kernel_fpu_end(a, c, x); }
  bool regs_live(const x86::Agent& a, const x86::Context& x) const override { return p_->regs_live(a, x); }
  void load_user_regs(x86::Agent& a, CpuId c, x86::Context& x, Cause k) override { p_->load_user_regs(a, c, x, k); }
  void signal_deliver(x86::Agent& a, CpuId c, x86::Context& x, bool r) override { p_->signal_deliver(a, c, x, r); }
  void signal_frame_fault(x86::Agent& a, CpuId c, x86::Context& x, bool r) override {
    p_->signal_frame_fault(a, c, x, r);
  }
  void sigreturn_fault(x86::Agent& a, CpuId c, x86::Context& x, const StateImage& f) override {
    p_->sigreturn_fault(a, c, x, f);
  }
  void sigreturn_failed(x86::Agent& a, CpuId c, x86::Context& x) override { p_->sigreturn_failed(a, c, x); }
  void sigreturn(x86::Agent& a, CpuId c, x86::Context& x, const StateImage& f) override { p_->sigreturn(a, c, x, f); }
  void fork(x86::Agent& a, CpuId c, x86::Context& p, x86::Context& ch) override { p_->fork(a, c, p, ch); }
  void exec(x86::Agent& a, CpuId c, x86::Context& x) override { p_->exec(a, c, x); }
  void exit(x86::Agent& a, CpuId c, x86::Context& x) override { p_->exit(a, c, x); }
  void state_written(x86::Agent& a, x86::Context& x) override { p_->state_written(a, x); }
  void mark_active(x86::Agent& a, CpuId c, x86::Context& x) override { p_->mark_active(a, c, x); }
  bool use_eager_fpu() const override { return p_->use_eager_fpu(); }
  ComponentMask restore_mask(const x86::Agent& a) const override { return p_->restore_mask(a); }
  bool xfd_nm(x86::Agent& a, CpuId c, x86::Context& x, ComponentMask e) override { return p_->xfd_nm(a, c, x, e); }
  void sync_fpstate(x86::Agent& a, CpuId c, x86::Context& x) override { p_->sync_fpstate(a, c, x); }

 protected:
  std::unique_ptr<x86::Policy> p_;
};

// Handles another task's tile #NM like the real policy but skips the
// owner's write-back: the kept tiles are dropped (as at the owner's exit)
// and the trapping task's own are loaded over them. The fault injector
// finds the owner through the checker's register tokens; a kernel could not.
class SkipsWriteBackOnNm final : public Forward {
  bool xfd_nm(x86::Agent& a, CpuId c, x86::Context& x, ComponentMask e) override {
    const ContextId owner = a.cpu(c).rf.regs.tok[x86::kXtileData].owner;
    if (!(a.cpu(c).kept & kTileData) || !(x.fpstate.xfeatures & kTileData) || owner == x.id) {
      return p_->xfd_nm(a, c, x, e);
    }
    p_->exit(a, c, a.ctx(owner));
    a.restore(c, x, kTileData, Cause::nm_trap);
    return true;
  }
};

// Keeps the tiles but lets another task return to user with IA32_XFD[18]
// clear, as a policy that wrote IA32_XFD from the task's own fpstate alone
// would (the agent arms kept components in xfd_update_state(); this variant
// undoes it after the policy's own invariant check).
class DoesNotArmXfd final : public Forward {
  void return_to_user(x86::Agent& a, CpuId c, x86::Context& x) override {
    p_->return_to_user(a, c, x);
    x86::CpuState& cs = a.cpu(c);
    if (cs.kept && cs.keeper != x.id) cs.trap.xfd = cs.xfd_cache = cs.trap.xfd & ~cs.kept;
  }
};

TEST_F(XfdLazyAmxTest, BrokenVariantSkippingTheNmWriteBackLosesState) {
  build(std::make_unique<SkipsWriteBackOnNm>());
  r->sw(0, C);
  amx_first_use(0);
  r->sw(0, A);
  amx_first_use(0);  // A has no tile buffer yet: the real policy's path
  r->sw(0, C);       // A's tiles kept
  r->read(0, kAmx);  // #NM: A's tiles dropped unsaved, C's loaded
  EXPECT_EQ(r->lost(), 0u);
  r->sw(0, A);
  r->read(0, kAmx);  // A's buffer never got its tiles
  EXPECT_EQ(r->lost(), 1u) << r->violation_report();
  EXPECT_EQ(r->leaked(), 0u) << r->violation_report();
}

TEST_F(XfdLazyAmxTest, BrokenVariantWithoutXfdArmLeaksTiles) {
  build(std::make_unique<DoesNotArmXfd>());
  r->sw(0, C);
  amx_first_use(0);
  EXPECT_EQ(r->leaked(), 0u);
  r->sw(0, A);       // C's tiles kept, and A back in user mode with XFD clear
  r->read(0, kAmx);  // no #NM: A reads C's tiles
  EXPECT_GE(r->leaked(), 1u) << r->violation_report();
}

// The same sequences under the real policy are free of loss and leaks.
TEST_F(XfdLazyAmxTest, RealPolicyPassesTheBrokenVariantsSequences) {
  r->sw(0, A);
  amx_first_use(0);
  r->sw(0, B);
  r->sw(0, A);
  r->read(0, kAmx);
  r->sw(0, C);
  amx_first_use(0);
  r->sw(0, A);
  r->sw(0, C);
  r->read(0, kAmx);
  EXPECT_NO_LOSS_OR_LEAK(*r);
}

// DoesNotArmXfd's sequence under the real policy: A's read takes #NM and the
// kept tiles are written back first.
TEST_F(XfdLazyAmxTest, RealPolicyArmsXfdForTheNextTask) {
  r->sw(0, C);
  amx_first_use(0);
  r->sw(0, A);
  EXPECT_TRUE(r->cpu(0).trap.xfd & kTileData);
  r->read(0, kAmx);
  EXPECT_NO_LOSS_OR_LEAK(*r);
}

// A plugin whose init adds a policy and then throws is refused whole: the
// policy it added first is not registered (load_plugin, sim/app/plugins.cpp).
TEST(PluginLoading, ARefusedPluginAddsNone) {
  const char* throwing = std::getenv("FPUSIM_TEST_THROWING_PLUGIN");
  ASSERT_NE(throwing, nullptr) << "tests/meson.build names it";
  try {
    load_plugin(throwing);
    ADD_FAILURE() << "no InputError";
  } catch (const InputError& e) {
    EXPECT_NE(e.message.find("its init function threw: boom"), std::string::npos) << e.message;
  }
  EXPECT_EQ(x86::find_policy("fine"), nullptr);
}

}  // namespace

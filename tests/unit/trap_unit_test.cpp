// The x86 trap decision of one CPU (models/x86/trap_unit.h): #UD when a
// touched component is not enabled in XCR0, else #NM when CR0.TS is set, else
// #NM with IA32_XFD_ERR bits when XFD arms a touched component (SDM vol. 1
// 13.14; Linux traps.c exc_device_not_available() -> handle_xfd_event()).
#include <gtest/gtest.h>

#include "models/x86/trap_unit.h"

using namespace fpusim;
using namespace fpusim::x86;

namespace {

constexpr ComponentMask kSprXcr0 = 0x602E7;  // x87 sse ymm avx512 pkru amx
constexpr ComponentMask kTile = bit(kXtileData);

TrapUnit spr_unit() {
  TrapUnit t;
  t.xcr0 = kSprXcr0;
  t.xfd = kTile;  // init_fpstate.xfd
  return t;
}

TEST(TrapUnit, NothingArmedNoTrap) {
  TrapUnit t = spr_unit();
  t.xfd = 0;
  for (ComponentMask m : {bit(kX87), bit(kSSE), bit(kYMM), kMaskAvx512, kMaskAmx}) {
    EXPECT_EQ(t.check(m).kind, TrapKind::kNone) << mask_to_names(m);
  }
  EXPECT_EQ(t.check(0).kind, TrapKind::kNone);
}

TEST(TrapUnit, UdWhenNotInXcr0) {
  TrapUnit t = spr_unit();
  t.xcr0 = 0x207;  // x87 sse ymm pkru: no AVX-512, no AMX
  const TrapDecision d = t.check(bit(kSSE) | bit(kZmmHi256) | kTile);
  EXPECT_EQ(d.kind, TrapKind::kUd);
  EXPECT_EQ(d.ud_bits, bit(kZmmHi256) | kTile);
  EXPECT_EQ(d.xfd_err, 0u);
  // Supervisor components are never in XCR0: a user access is #UD.
  EXPECT_EQ(spr_unit().check(bit(kCetUser)).kind, TrapKind::kUd);
}

TEST(TrapUnit, UdTakesPrecedenceOverTsAndXfd) {
  TrapUnit t = spr_unit();
  t.xcr0 = 0x7;
  t.cr0_ts = true;
  const TrapDecision d = t.check(kTile | bit(kSSE));
  EXPECT_EQ(d.kind, TrapKind::kUd);
  EXPECT_EQ(d.ud_bits, kTile);
}

TEST(TrapUnit, TsTrapsEveryUserComponent) {
  TrapUnit t = spr_unit();
  t.xfd = 0;
  t.cr0_ts = true;
  for (ComponentMask m : {bit(kX87), bit(kSSE), bit(kYMM), kMaskAvx512, kMaskAmx, bit(kPKRU)}) {
    const TrapDecision d = t.check(m);
    EXPECT_EQ(d.kind, TrapKind::kNmTs) << mask_to_names(m);
    EXPECT_EQ(d.xfd_err, 0u);
  }
  EXPECT_TRUE(t.armed(kSSE));
}

TEST(TrapUnit, TsTakesPrecedenceOverXfd) {
  // handle_xfd_event() reads XFD_ERR first, but the hardware raises the
  // CR0.TS #NM without setting XFD_ERR: the legacy path handles it.
  TrapUnit t = spr_unit();
  t.cr0_ts = true;
  const TrapDecision d = t.check(kTile);
  EXPECT_EQ(d.kind, TrapKind::kNmTs);
  EXPECT_EQ(d.xfd_err, 0u);
}

TEST(TrapUnit, XfdTrapReportsOnlyArmedTouchedBits) {
  TrapUnit t = spr_unit();
  const TrapDecision d = t.check(bit(kSSE) | kMaskAmx);
  EXPECT_EQ(d.kind, TrapKind::kNmXfd);
  EXPECT_EQ(d.xfd_err, kTile);  // XTILECFG is not XFD-armed
  EXPECT_EQ(t.check(bit(kXtileCfg) | bit(kSSE)).kind, TrapKind::kNone);
  EXPECT_TRUE(t.armed(kXtileData));
  EXPECT_FALSE(t.armed(kXtileCfg));
  EXPECT_FALSE(t.armed(kSSE));
  t.xfd = 0;  // fpstate_realloc() cleared it for the task
  EXPECT_EQ(t.check(kMaskAmx).kind, TrapKind::kNone);
}

}  // namespace

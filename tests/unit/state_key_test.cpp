// explore's state key (models/core/state_key.h): what it renumbers, what it
// maps through the permutations, and that it tells apart what it must.
#include <gtest/gtest.h>

#include <functional>

#include "models/core/state_key.h"

namespace fpusim {
namespace {

std::string key_of(const std::vector<ContextId>& cm, const std::vector<CpuId>& um,
                   const std::function<void(StateKey&)>& write) {
  StateKey k;
  k.reset(cm, um);
  write(k);
  return k.bytes();
}

const std::vector<ContextId> kIdentity2 = {0, 1};
const std::vector<CpuId> kOneCpu = {0};

TEST(StateKey, VersionsAreRenumberedPerOwnerInOrderOfAppearance) {
  // Versions 7 and 9 of context 0 are the same state as versions 1 and 2:
  // only their equality matters.
  auto a = key_of(kIdentity2, kOneCpu, [](StateKey& k) {
    k.tok({0, 7});
    k.tok({0, 9});
    k.tok({0, 7});
  });
  auto b = key_of(kIdentity2, kOneCpu, [](StateKey& k) {
    k.tok({0, 1});
    k.tok({0, 2});
    k.tok({0, 1});
  });
  EXPECT_EQ(a, b);
  // But a repeat is not a fresh version.
  auto c = key_of(kIdentity2, kOneCpu, [](StateKey& k) {
    k.tok({0, 1});
    k.tok({0, 2});
    k.tok({0, 2});
  });
  EXPECT_NE(a, c);
  // And the owner counts.
  auto d = key_of(kIdentity2, kOneCpu, [](StateKey& k) {
    k.tok({1, 7});
    k.tok({1, 9});
    k.tok({1, 7});
  });
  EXPECT_NE(a, d);
}

TEST(StateKey, BuffersAreRenumberedAndNoneStaysNone) {
  auto a = key_of(kIdentity2, kOneCpu, [](StateKey& k) {
    k.buffer(40);
    k.buffer(0);
    k.buffer(12);
    k.buffer(40);
  });
  auto b = key_of(kIdentity2, kOneCpu, [](StateKey& k) {
    k.buffer(3);
    k.buffer(0);
    k.buffer(5);
    k.buffer(3);
  });
  auto c = key_of(kIdentity2, kOneCpu, [](StateKey& k) {
    k.buffer(3);
    k.buffer(5);
    k.buffer(5);
    k.buffer(3);
  });
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
}

TEST(StateKey, ContextsAndCpusGoThroughThePermutation) {
  StateKey k;
  k.reset({1, 0, 2}, {1, 0});
  // contexts() and cpus() are the ids in the key's order.
  EXPECT_EQ(k.contexts(), (std::vector<ContextId>{1, 0, 2}));
  EXPECT_EQ(k.cpus(), (std::vector<CpuId>{1, 0}));
  // A state and its image under swapping contexts 0 and 1 and the two
  // CPUs have one key when each is written through the permutation that
  // undoes the swap.
  auto write = [](StateKey& k, ContextId running_on_cpu0, ContextId other) {
    // CPU 0 runs `running_on_cpu0` holding its version 5; CPU 1 idle.
    for (CpuId c : k.cpus()) {
      if (c == 0) {
        k.ctx(running_on_cpu0);
        k.tok({running_on_cpu0, 5});
      } else {
        k.ctx(kNoContext);
        k.tok({kNoContext, 0});
      }
    }
    for (ContextId c : k.contexts()) k.b(c == running_on_cpu0 || c == other);
  };
  StateKey a, b;
  a.reset({0, 1, 2}, {0, 1});
  write(a, 0, 1);
  // The image: context 1 on CPU 1 (so the CPUs and contexts 0, 1 swap).
  b.reset({1, 0, 2}, {1, 0});
  auto write_image = [](StateKey& k) {
    for (CpuId c : k.cpus()) {
      if (c == 1) {
        k.ctx(1);
        k.tok({1, 5});
      } else {
        k.ctx(kNoContext);
        k.tok({kNoContext, 0});
      }
    }
    for (ContextId c : k.contexts()) k.b(c == 1 || c == 0);
  };
  write_image(b);
  EXPECT_EQ(a.bytes(), b.bytes());
  // Without the permutation the keys differ.
  StateKey c;
  c.reset({0, 1, 2}, {0, 1});
  write_image(c);
  EXPECT_NE(a.bytes(), c.bytes());
  // kNoContext and kKernelContext are nobody's to permute.
  StateKey d, e;
  d.reset({1, 0}, {0});
  d.ctx(kNoContext);
  d.ctx(kKernelContext);
  e.reset({0, 1}, {0});
  e.ctx(kNoContext);
  e.ctx(kKernelContext);
  EXPECT_EQ(d.bytes(), e.bytes());
}

TEST(StateKey, ImagesWriteOnlyWhatIsPresent) {
  StateImage x, y;
  x.present = 0b101;
  x.tok[0] = {0, 3};
  x.tok[2] = {1, 4};
  y = x;
  y.tok[1] = {0, 99};  // not present: meaningless
  EXPECT_EQ(key_of(kIdentity2, kOneCpu, [&](StateKey& k) { k.image(x); }),
            key_of(kIdentity2, kOneCpu, [&](StateKey& k) { k.image(y); }));
  y.present = 0b111;
  EXPECT_NE(key_of(kIdentity2, kOneCpu, [&](StateKey& k) { k.image(x); }),
            key_of(kIdentity2, kOneCpu, [&](StateKey& k) { k.image(y); }));
}

}  // namespace
}  // namespace fpusim

// The registry of self-registering things (models/core/registry.h):
// deterministic order whatever the registration order, stable entries, and
// names or order keys used twice caught at start-up.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "models/core/registry.h"

using namespace fpusim;

namespace {

struct Thing {
  std::string name;
  int value = 0;
};

TEST(Registry, IteratesByOrderKeyNotByRegistration) {
  Registry<Thing> r;
  EXPECT_TRUE(r.add(30, {"c", 3}));
  EXPECT_TRUE(r.add(10, {"a", 1}));
  EXPECT_TRUE(r.add(20, {"b", 2}));
  std::vector<std::string> names;
  for (const Thing& t : r) names.push_back(t.name);
  EXPECT_EQ(names, (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(r.size(), 3u);
}

TEST(Registry, FindsByNameAndEntriesStayPut) {
  Registry<Thing> r;
  r.add(2, {"two", 2});
  const Thing* two = r.find("two");
  ASSERT_NE(two, nullptr);
  for (int i = 3; i < 100; ++i) r.add(i, {"t" + std::to_string(i), i});
  r.add(1, {"one", 1});
  EXPECT_EQ(r.find("two"), two);  // callers keep the pointer
  EXPECT_EQ(two->value, 2);
  EXPECT_EQ(r.find("one")->value, 1);
  EXPECT_EQ(r.find("none"), nullptr);
}

TEST(RegistryDeathTest, ANameOrOrderKeyUsedTwiceAborts) {
  EXPECT_DEATH(
      {
        Registry<Thing> r;
        r.add(1, {"a", 1});
        r.add(2, {"a", 2});
      },
      "\"a\" is registered twice");
  EXPECT_DEATH(
      {
        Registry<Thing> r;
        r.add(1, {"a", 1});
        r.add(1, {"b", 2});
      },
      "\"b\" has order key 1, already used \\(by \"a\"\\)");
}

}  // namespace

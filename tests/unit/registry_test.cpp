// The self-registering policies (models/core/registry.h,
// models/x86/policies/): every policy is there although nothing references
// its file (meson links the library whole), in the order `fpusim list
// policies` has always printed; unknown names are reported with the valid
// ones.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "models/core/registry.h"
#include "models/x86/policy.h"

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

// The names and order of `fpusim list policies` (unchanged by the move to
// self-registration).
const std::vector<std::string> kAllPolicies = {
    "deferred",          "eager",
    "lazy",              "lazy-preload",
    "kvm-eager",         "kvm-lazy-legacy",
    "deferred+kvm-eager", "eager+kvm-eager",
    "eager+kvm-lazy-legacy", "lazy+kvm-lazy-legacy",
    "lazy-preload+kvm-lazy-legacy",
};

TEST(PolicyRegistry, EveryPolicyIsRegisteredInTheListedOrder) {
  std::vector<std::string> names;
  for (const auto& p : x86::policies()) names.push_back(p.name);
  EXPECT_EQ(names, kAllPolicies);
  for (const auto& p : x86::policies()) {
    EXPECT_TRUE(p.make) << p.name;
    ASSERT_NE(p.kvm, nullptr) << p.name;
    EXPECT_NE(p.make(), nullptr) << p.name;
    EXPECT_EQ(p.composite, p.name.find('+') != std::string::npos) << p.name;
    EXPECT_EQ(x86::find_policy(p.name), &p) << p.name;
    EXPECT_EQ(&resolve_policy(*find_arch("x86_64"), p.name, "f", "/policy"), &p) << p.name;
    if (!p.composite) {
      EXPECT_FALSE(p.kernels.empty()) << p.name;
    } else {
      // HOST+KVM: the KVM half is the behaviour's name.
      EXPECT_EQ(p.name.substr(p.name.find('+') + 1), std::string(p.kvm->name())) << p.name;
      EXPECT_EQ(p.description, "host policy " + p.name.substr(0, p.name.find('+')) + " with guests under " +
                                   std::string(p.kvm->name()));
    }
  }
}

// Which KVM generation each policy's guests run under (the report's
// "kvm": {"mode": ...}).
TEST(PolicyRegistry, EachPolicyNamesItsKvmBehaviour) {
  const std::vector<std::pair<std::string, std::string>> want = {
      {"deferred", "kvm-eager"},
      {"eager", "kvm-eager"},
      {"lazy", "kvm-lazy-legacy"},
      {"lazy-preload", "kvm-lazy-legacy"},
      {"kvm-eager", "kvm-eager"},
      {"kvm-lazy-legacy", "kvm-lazy-legacy"},
      {"deferred+kvm-eager", "kvm-eager"},
      {"eager+kvm-eager", "kvm-eager"},
      {"eager+kvm-lazy-legacy", "kvm-lazy-legacy"},
      {"lazy+kvm-lazy-legacy", "kvm-lazy-legacy"},
      {"lazy-preload+kvm-lazy-legacy", "kvm-lazy-legacy"},
  };
  for (const auto& [policy, kvm] : want) {
    const x86::PolicyInfo* p = x86::find_policy(policy);
    ASSERT_NE(p, nullptr) << policy;
    EXPECT_EQ(p->kvm->name(), kvm) << policy;
  }
}

TEST(PolicyRegistry, UnknownNamesAreReportedWithTheValidOnes) {
  EXPECT_EQ(x86::find_policy("bogus"), nullptr);
  EXPECT_EQ(x86::find_policy("kvm-eager+deferred"), nullptr);
  const std::string valid =
      "deferred, eager, lazy, lazy-preload, kvm-eager, kvm-lazy-legacy "
      "(or HOST+KVM, e.g. eager+kvm-lazy-legacy)";
  EXPECT_EQ(x86::policy_names(), valid);
  // What every command says (resolve_policy through the architecture).
  try {
    resolve_policy(*find_arch("x86_64"), "bogus", "--policy", "");
    ADD_FAILURE() << "no InputError";
  } catch (const InputError& e) {
    EXPECT_EQ(e.what(), "--policy: unknown policy \"bogus\"; policies: " + valid);
  }
}

// The bug corpus's spellings: "POLICY --bug NAME" (a commit prefix of 7+
// characters will do), one object per distinct run whatever the order of
// the bugs, aliases for the policy names that predate the corpus, and
// clear errors for a bug that does not break the policy or does not exist.
TEST(BugCorpus, RunsWithBugsAreResolvedOnce) {
  const Arch& x86 = *find_arch("x86_64");
  const PolicyDesc& a = resolve_policy(x86, "kvm-eager --bug c9aef3b85f42", "f", "/p");
  EXPECT_EQ(a.name, "kvm-eager --bug c9aef3b85f42");
  EXPECT_EQ(&a.registered(), x86::find_policy("kvm-eager"));
  ASSERT_EQ(a.bugs.size(), 1u);
  EXPECT_EQ(a.bugs[0]->name, "c9aef3b85f42");
  EXPECT_EQ(&resolve_policy(x86, "kvm-eager --bug c9aef3b", "f", "/p"), &a);
  EXPECT_EQ(&resolve_policy(x86, "kvm-eager-v5.2", "f", "/p"), &a);  // the alias
  const PolicyDesc& two = resolve_policy(x86, "kvm-eager --bug b45f72177594 --bug c9aef3b85f42", "f", "/p");
  EXPECT_EQ(two.name, "kvm-eager --bug c9aef3b85f42 --bug b45f72177594");  // the corpus's order
  EXPECT_EQ(&resolve_policy(x86, "kvm-eager --bug c9aef3b85f42 --bug b45f72177594", "f", "/p"), &two);
  EXPECT_EQ(&resolve_policy(x86, "kvm-eager", "f", "/p"), x86::find_policy("kvm-eager"));
  auto error = [&](const std::string& spelling) {
    try {
      resolve_policy(x86, spelling, "f", "/p");
    } catch (const InputError& e) {
      return e.what();
    }
    return std::string("no error");
  };
  EXPECT_EQ(error("lazy --bug c9aef3b85f42"),
            "f: /p: bug c9aef3b85f42 does not break policy lazy (it breaks kvm-eager, deferred, deferred+kvm-eager)");
  EXPECT_NE(error("kvm-eager --bug deadbeef0000").find("unknown bug \"deadbeef0000\" on x86_64; bugs: 58122bf1d856, "),
            std::string::npos);
  EXPECT_NE(error("kvm-eager --bug c9a").find("unknown bug"), std::string::npos);  // too short a prefix
  EXPECT_NE(error("kvm-eager --bugs c9aef3b85f42").find("expected a policy name, optionally followed by"),
            std::string::npos);
  EXPECT_NE(error("kvm-eager --bug").find("expected a policy name"), std::string::npos);
}

// Every bug of every architecture breaks registered policies, has a
// scenario file and a fix id, and its alias (if any) resolves to its first
// policy with it.
TEST(BugCorpus, EveryBugIsComplete) {
  for (const Arch* arch : archs()) {
    unsigned bit = 0;
    for (const BugDesc& b : arch->bugs()) {
      EXPECT_EQ(b.bit, bit++) << b.name;
      EXPECT_GE(b.name.size(), 12u) << b.name;
      EXPECT_FALSE(b.title.empty() || b.kernels.empty() || b.broke.empty() || b.shows.empty()) << b.name;
      EXPECT_EQ(b.scenario.rfind("traces/", 0), 0u) << b.name;
      ASSERT_FALSE(b.breaks.empty()) << b.name;
      for (const std::string& p : b.breaks) EXPECT_NE(arch->find_policy(p), nullptr) << b.name << ": " << p;
      if (!b.alias.empty()) {
        const PolicyDesc& a = resolve_policy(*arch, b.alias, "f", "/p");
        EXPECT_EQ(a.registered().name, b.breaks[0]) << b.alias;
        ASSERT_EQ(a.bugs.size(), 1u);
        EXPECT_EQ(a.bugs[0], &b);
      }
    }
  }
}

}  // namespace

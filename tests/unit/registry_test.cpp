// The self-registering policies (models/core/registry.h,
// models/x86/policies/): every policy is there although nothing references
// its file (meson links the library whole), in the order `fpusim list
// policies` has always printed; unknown names are reported with the valid
// ones; each KVM variant answers the agent's questions as the KvmMode enum
// it replaced did.
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

// The names and order of `fpusim list policies` before the registry
// (compare with /work/baseline: byte-identical).
const std::vector<std::string> kAllPolicies = {
    "deferred",          "eager",
    "lazy",              "lazy-preload",
    "kvm-eager",         "kvm-eager-v5.2",
    "kvm-eager-v6.18",   "kvm-lazy-legacy",
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
    EXPECT_EQ(&x86::resolve_policy(p.name, "f", "/policy"), &p) << p.name;
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
      {"kvm-eager-v5.2", "kvm-eager-v5.2"},
      {"kvm-eager-v6.18", "kvm-eager-v6.18"},
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
      "deferred, eager, lazy, lazy-preload, kvm-eager, kvm-eager-v5.2, kvm-eager-v6.18, kvm-lazy-legacy "
      "(or HOST+KVM, e.g. eager+kvm-lazy-legacy)";
  EXPECT_EQ(x86::policy_names(), valid);
  EXPECT_EQ(x86::unknown_policy_message("bogus"), "unknown policy \"bogus\"; policies: " + valid);
  try {
    x86::resolve_policy("bogus", "--policy", "");
    ADD_FAILURE() << "no InputError";
  } catch (const InputError& e) {
    EXPECT_EQ(e.what(), "--policy: unknown policy \"bogus\"; policies: " + valid);
  }
}

// The KvmMode enum the behaviours replaced, and what each place of the agent
// asked of it: the same answers, variant by variant.
enum class OldMode { kEager, kEagerV52, kEagerV618, kLazyLegacy };

TEST(KvmBehaviour, EachVariantAnswersAsItsOldMode) {
  const std::vector<std::pair<const x86::KvmBehaviour*, OldMode>> variants = {
      {&x86::kvm_eager(), OldMode::kEager},
      {&x86::kvm_eager_v52(), OldMode::kEagerV52},
      {&x86::kvm_eager_v618(), OldMode::kEagerV618},
      {&x86::kvm_lazy_legacy(), OldMode::kLazyLegacy},
  };
  const char* names[] = {"kvm-eager", "kvm-eager-v5.2", "kvm-eager-v6.18", "kvm-lazy-legacy"};
  for (const auto& [k, m] : variants) {
    SCOPED_TRACE(std::string(k->name()));
    EXPECT_EQ(k->name(), names[static_cast<int>(m)]);  // kvm_mode_name()
    // kvm_mode_ != kLazyLegacy (kvm_run, load/put_guest_fpu, enter_guest,
    // kvm_return; == in context_switch's vcpu_put).
    EXPECT_EQ(k->guest_fpu_per_run(), m != OldMode::kLazyLegacy);
    // kvm_mode_ == kLazyLegacy (enter/exit_guest's CR0.TS, deactivation).
    EXPECT_EQ(k->deactivates_idle_guest_fpu(), m == OldMode::kLazyLegacy);
    // kvm_mode_ == kEagerV52 (load/put_guest_fpu's save).
    EXPECT_EQ(k->saves_ignoring_need_fpu_load(), m == OldMode::kEagerV52);
    // clears_xstate_bv_under_xfd(): kvm_mode_ != kEagerV618.
    EXPECT_EQ(k->clears_xstate_bv_under_xfd(), m != OldMode::kEagerV618);
    // vm_create's AMX and confidential-guest refusals: kvm_mode_ == kLazyLegacy.
    EXPECT_EQ(k->has_guest_amx(), m != OldMode::kLazyLegacy);
    EXPECT_EQ(k->has_confidential_guests(), m != OldMode::kLazyLegacy);
  }
  EXPECT_EQ(x86::kvm_lazy_legacy().kernels(), "Linux <= 4.10");  // vm_create's messages
}

}  // namespace

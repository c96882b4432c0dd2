// The policy registry; the policies are in models/x86/policies/.
#include "models/x86/policy.h"

namespace fpusim::x86 {

Registry<PolicyInfo>& policy_registry() {
  static Registry<PolicyInfo> registry;
  return registry;
}

PolicyInfo composite_policy(const std::string& host, std::function<std::unique_ptr<Policy>()> make,
                            const KvmBehaviour& kvm) {
  const std::string guests(kvm.name());
  return {{host + "+" + guests, "", "host policy " + host + " with guests under " + guests}, std::move(make), &kvm,
          true};
}

const Registry<PolicyInfo>& policies() { return policy_registry(); }

const PolicyInfo* find_policy(std::string_view name) { return policy_registry().find(name); }


// For messages: the base names (HOST+KVM spellings are accepted too).
std::string policy_names() {
  std::string s;
  for (const auto& p : policies()) {
    if (p.composite) continue;
    if (!s.empty()) s += ", ";
    s += p.name;
  }
  return s + " (or HOST+KVM, e.g. eager+kvm-lazy-legacy)";
}


}  // namespace fpusim::x86

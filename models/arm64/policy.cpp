// The arm64 policy registry; the policies are in models/arm64/policies/.
#include "models/arm64/policy.h"

namespace fpusim::arm64 {

Registry<PolicyInfo>& policy_registry() {
  static Registry<PolicyInfo> registry;
  return registry;
}

const PolicyInfo* find_policy(std::string_view name) { return policy_registry().find(name); }

std::string policy_names() {
  std::string s;
  for (const auto& p : policy_registry()) s += (s.empty() ? "" : ", ") + p.name;
  return s;
}

}  // namespace fpusim::arm64

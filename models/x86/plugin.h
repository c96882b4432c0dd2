// The x86 side of policy plugins (models/plugin.h): what an x86 policy
// plugin includes. A policy implements fpusim::x86::Policy
// (models/x86/policy.h) and drives the x86 agent's primitives
// (models/x86/agent.h); it may build on a host mechanism
// (models/x86/policies/hosts.h: make_deferred_policy() ...) and names how
// KVM treats guests under it (models/x86/kvm_behaviour.h).
#pragma once

#include <memory>
#include <utility>

#include "models/plugin.h"
#include "models/x86/kvm_behaviour.h"
#include "models/x86/policies/hosts.h"
#include "models/x86/policy.h"

namespace fpusim::x86 {

// Adds an x86 policy (PluginRegistrar::add under this architecture's name).
inline void add_policy(PluginRegistrar& registrar, PolicyInfo info) {
  registrar.add("x86_64", std::make_unique<PluginPolicy>(std::move(info)));
}

}  // namespace fpusim::x86

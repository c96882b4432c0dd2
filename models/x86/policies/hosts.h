// The host policy mechanisms, for the files that register policies using
// them (a KVM variant names its era's host policy).
#pragma once

#include <cstdint>
#include <memory>

#include "models/x86/policy.h"

namespace fpusim::x86 {

// deferred.cpp: Linux >= 5.2.
std::unique_ptr<Policy> make_deferred_policy();

// linux4.cpp: Linux v4.2 .. v5.1; the preload rule names the policy.
enum class Preload : std::uint8_t { kAlways, kNever, kCounter };
std::unique_ptr<Policy> make_linux4_policy(Preload p);

// fpu__clear_user_states() / copy_init_fpstate_to_fpregs(): the user part of
// the init image.
inline ComponentMask user_mask(const Agent& a) { return a.machine().user_features(); }

}  // namespace fpusim::x86

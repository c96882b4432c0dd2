// The arm64 host policy of Linux v4.15 .. v5.12 (sve_reload.cpp), declared
// for the KVM policies of those kernels.
#pragma once

#include "models/arm64/policies/sve_discard.h"

namespace fpusim::arm64 {

class SveReloadPolicy : public SveDiscardPolicy {
 public:
  void sve_acc(Agent& a, CpuId cpu, Context& ctx) override;
};

std::unique_ptr<Policy> make_sve_reload_policy();

}  // namespace fpusim::arm64

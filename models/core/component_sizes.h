// Bytes of each state component as one context holds it. A table is shared
// by the contexts whose sizes are the same (on x86, all of a machine's); an
// architecture whose sizes depend on the task (arm64: the SVE vector length,
// the SME streaming vector length) gives a context another table when they
// change (Checker::set_sizes).
#pragma once

#include <array>
#include <cstdint>
#include <memory>

#include "models/core/mask_bytes.h"
#include "models/core/register_file.h"

namespace fpusim {

class ComponentSizes {
 public:
  explicit ComponentSizes(const std::array<std::uint32_t, kMaxComponents>& bytes) : bytes_(bytes), sum_(bytes) {}
  std::uint32_t operator[](unsigned component) const { return bytes_[component]; }
  // Bytes of the components in `m`.
  std::uint64_t of(ComponentMask m) const { return sum_(m); }
  const std::array<std::uint32_t, kMaxComponents>& table() const { return bytes_; }

 private:
  std::array<std::uint32_t, kMaxComponents> bytes_;
  MaskBytes sum_;
};

}  // namespace fpusim

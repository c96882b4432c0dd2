// Bytes of the components in a mask, by table lookup: a byte of the mask at a
// time instead of a loop over its bits. Saves, restores and live-byte counts
// ask for it on nearly every event.
#pragma once

#include <array>
#include <cstdint>

#include "models/core/register_file.h"

namespace fpusim {

class MaskBytes {
 public:
  MaskBytes() = default;
  explicit MaskBytes(const std::array<std::uint32_t, kMaxComponents>& bytes) {
    for (unsigned part = 0; part < kParts; ++part) {
      for (unsigned v = 0; v < 256; ++v) {
        std::uint32_t sum = 0;
        for (unsigned b = 0; b < 8; ++b) {
          if (v & (1u << b)) sum += bytes[part * 8 + b];
        }
        table_[part][v] = sum;
      }
    }
  }
  // Components at or above kMaxComponents count 0 bytes.
  std::uint64_t operator()(ComponentMask m) const {
    return std::uint64_t{table_[0][m & 0xff]} + table_[1][(m >> 8) & 0xff] + table_[2][(m >> 16) & 0xff] +
           table_[3][(m >> 24) & 0xff];
  }

 private:
  static constexpr unsigned kParts = kMaxComponents / 8;
  static_assert(kParts == 4, "one table per byte of a 32-component mask");
  std::array<std::array<std::uint32_t, 256>, kParts> table_{};
};

}  // namespace fpusim

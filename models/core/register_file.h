// The register file as the checker sees it: per state component, whose data
// it holds and which version of it. It stores no real bits: a (context,
// version) token is enough to prove that state was kept, lost or leaked.
// Architecture-neutral: components are numbered by the architecture's model
// (x86: XFEATURE numbers).
#pragma once

#include <array>
#include <cstdint>

#include "models/core/types.h"

namespace fpusim {

constexpr unsigned kMaxComponents = 32;

// One context's version of one component's data.
struct Token {
  ContextId owner = kNoContext;
  std::uint32_t version = 0;
  bool operator==(const Token& o) const { return owner == o.owner && version == o.version; }
  bool operator!=(const Token& o) const { return !(*this == o); }
};

// A state image: the registers, a buffer in memory, or a signal frame.
// `present` is XINUSE for registers and XSTATE_BV for memory images: a clear
// bit means the component is in its init state and its token is meaningless.
struct StateImage {
  ComponentMask present = 0;
  std::array<Token, kMaxComponents> tok{};

  // Copy the components in `mask` from `src` (a save or restore of `mask`).
  void copy_from(const StateImage& src, ComponentMask mask) {
    present = (present & ~mask) | (src.present & mask);
    for (unsigned i : bits(src.present & mask)) tok[i] = src.tok[i];
  }
  void set_init(ComponentMask mask) { present &= ~mask; }
};

// Per-CPU register file. Besides the contents it tracks what a save that
// skips unmodified components needs (the x86 SDM's "modified optimisation",
// vol. 1 13.6): which components were
// written since the last XRSTOR(S), and which buffer that XRSTOR read
// (XRSTOR_INFO).
struct RegisterFileState {
  StateImage regs;
  ComponentMask modified = 0;
  std::uint64_t restored_from = 0;  // buffer id of the last XRSTOR; 0 = none
};

}  // namespace fpusim

// What every architecture does at a use event: the checker's check of what
// the context touches, then its writes become new versions of its own in
// its truth and in the registers, and what it releases (x86 VZEROUPPER or
// TILERELEASE) goes back to init.
#pragma once

#include <string>

#include "models/core/checker.h"
#include "models/core/context.h"
#include "models/core/function_ref.h"
#include "models/core/register_file.h"

namespace fpusim {

inline void checked_use(Checker& checker, Cycles t, CpuId cpu, ContextBase& c, RegisterFileState& rf,
                        ComponentMask write, ComponentMask read, ComponentMask release,
                        FunctionRef<std::string(ContextId)> name_of,
                        FunctionRef<std::string(ComponentMask)> components_of) {
  checker.check_use(t, cpu, c.id, c.truth, rf.regs, (write | read) & ~release, name_of, components_of);
  const ComponentMask w = write & ~release;
  for (unsigned i : bits(w)) {
    const Token tok{c.id, c.next_version++};
    c.truth.tok[i] = tok;
    rf.regs.tok[i] = tok;
  }
  c.truth.present = (c.truth.present | w) & ~release;
  rf.regs.present = (rf.regs.present | w) & ~release;
  rf.modified |= write | release;
}

}  // namespace fpusim

// The bug corpus (`fpusim list bugs`, `--bug NAME`): kernel FPU-switching
// bugs that the fixes in the kernel's history name, each runnable on the
// policies it breaks, for the checker to catch without being told which bug
// is active. An architecture lists its bugs (Arch::bugs) and its agent
// takes the bits of those a run has; a run with bugs is a PolicyDesc of its
// own (policy_with_bugs, models/core/arch.h), spelled "POLICY --bug NAME".
#pragma once

#include <string>
#include <vector>

namespace fpusim {

struct BugDesc {
  std::string name;     // the fixing commit, 12 hex digits (or the advisory's name)
  std::string title;    // the fix's subject line
  std::string kernels;  // the kernel versions that had the bug
  std::string broke;    // what it broke, as a user of the kernel saw it
  std::string shows;    // the violation kinds that catch it ("leaked, foreign_regs")
  std::string scenario; // the scenario that shows it (traces/bugs/...)
  std::vector<std::string> breaks;  // the policies it can be applied to
  // A policy name kept from before the corpus for breaks[0] with this bug
  // ("kvm-eager-v5.2"), or "".
  std::string alias;
  unsigned bit = 0;     // its bit in the architecture's agent (< 32)
};

// `d` with its bit: `b`, the bug's enumerator in its architecture's enum.
template <class Enum>
BugDesc numbered(Enum b, BugDesc d) {
  d.bit = static_cast<unsigned>(b);
  return d;
}

}  // namespace fpusim

// The number of CPUs this process may run on: the default number of
// simulations `compare`, `check` and `sweep` run at once, and what decides
// whether a replay's reader thread has a core of its own.
#pragma once

#include <sched.h>

#include <thread>

namespace fpusim {

inline unsigned usable_cores() {
  cpu_set_t set;
  if (::sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0) {
    return static_cast<unsigned>(CPU_COUNT(&set));
  }
  const unsigned n = std::thread::hardware_concurrency();
  return n ? n : 1;
}

}  // namespace fpusim

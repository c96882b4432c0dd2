// std::llround without the libm call: cycle costs are rounded several times
// per event. Same result for every finite value in range (round half away
// from zero); anything else goes to std::llround.
#pragma once

#include <cmath>

namespace fpusim {

inline long long round_nearest(double x) {
  // |x| < 2^62: the cast truncates exactly, and x - r is exact (below 2^52
  // both have the same exponent range; above, x is already an integer).
  if (__builtin_expect(x > -4.6e18 && x < 4.6e18, 1)) {
    long long r = static_cast<long long>(x);
    const double frac = x - static_cast<double>(r);
    if (frac >= 0.5) ++r;
    else if (frac <= -0.5) --r;
    return r;
  }
  return std::llround(x);
}

}  // namespace fpusim

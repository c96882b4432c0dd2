// Basic vocabulary shared by every part of fpusim. Plain C++, no SystemC.
#pragma once

#include <cstdint>
#include <limits>
#include <string>

namespace fpusim {

// Time is counted in core cycles of the simulated machine.
using Cycles = std::uint64_t;

// A bit per architectural state component, numbered by the architecture
// (on x86 the state-component number of CPUID leaf 0xD)
// (bit i = XFEATURE i); arm64 uses its own numbering (models/arm64, later).
using ComponentMask = std::uint64_t;

using ContextId = std::uint32_t;
using CpuId = std::uint32_t;

// "1 CPU", "2 CPUs": for messages and reports.
inline std::string cpus_text(std::uint64_t n) { return std::to_string(n) + (n == 1 ? " CPU" : " CPUs"); }

constexpr ContextId kNoContext = std::numeric_limits<ContextId>::max();
constexpr CpuId kNoCpu = std::numeric_limits<CpuId>::max();

constexpr ComponentMask bit(unsigned i) { return ComponentMask{1} << i; }

inline int popcount(ComponentMask m) { return __builtin_popcountll(m); }

// Iterate over set bits: for (unsigned i : bits(mask)) ...
class BitIter {
 public:
  explicit BitIter(ComponentMask m) : m_(m) {}
  unsigned operator*() const { return static_cast<unsigned>(__builtin_ctzll(m_)); }
  BitIter& operator++() {
    m_ &= m_ - 1;
    return *this;
  }
  bool operator!=(const BitIter& o) const { return m_ != o.m_; }

 private:
  ComponentMask m_;
};
struct bits {
  ComponentMask m;
  explicit bits(ComponentMask mask) : m(mask) {}
  BitIter begin() const { return BitIter(m); }
  BitIter end() const { return BitIter(0); }
};

// A user mistake (bad input): reported as one message naming the file, the
// JSON path and what was expected; exit code 2.
struct InputError {
  std::string file;
  std::string path;      // JSON pointer style, e.g. "/events/12/cpu"
  std::string message;   // what was expected / what is wrong
  std::string what() const {
    std::string s = file.empty() ? std::string("<input>") : file;
    if (!path.empty()) s += ": " + path;
    return s + ": " + message;
  }
};

// A scenario that asks for something the modelled kernel cannot do (a use in
// kernel mode, sigreturn without a frame, ...). The replayer adds the file and
// JSON path; exit code 2.
struct SemanticError {
  std::string message;
};

// Context id used as the owner of register contents the kernel itself wrote
// (kernel-mode FP/SIMD users such as crypto): a user context that finds them
// has been leaked kernel data.
constexpr ContextId kKernelContext = kNoContext - 1;

// Where a kernel-mode FP/SIMD section runs (x86 kernel_fpu_begin, arm64
// kernel_neon_begin callers).
enum class KernelFpuContext : std::uint8_t { kTask, kSoftirq, kHardirq };

// A simulator bug: aborts with context (exit code 3 at the top level).
struct InternalError {
  std::string message;
};

[[noreturn]] void panic(const std::string& message);

}  // namespace fpusim

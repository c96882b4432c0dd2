// Sweep grids (the grid alone, not its points' scenarios).
#include "fuzz/fuzz_target.h"
#include "sim/app/sweep.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string path = fpusim::fuzz::as_file(data, size, ".grid.json");
  return fpusim::fuzz::run([&] { fpusim::load_sweep_grid(path); });
}

// Sweep grids: the grid is written beside a small valid scenario named
// scenario.json (the seeds name it), so that the loader gets past the
// scenario to the policies and parameters.
#include <sys/stat.h>

#include "fuzz/fuzz_target.h"
#include "sim/app/sweep.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const std::string dir = [] {
    const char* tmp = std::getenv("TMPDIR");
    const std::string d = std::string(tmp && *tmp ? tmp : "/tmp") + "/fpusim-fuzz-" + std::to_string(::getpid()) + ".d";
    ::mkdir(d.c_str(), 0755);
    std::ofstream(d + "/scenario.json")
        << R"({"format": "fpusim-scenario", "version": 1, "name": "fz", "description": "the sweep target's scenario",
 "machine": "intel-sapphire-rapids", "costs": "intel-like", "policy": "deferred", "cpus": 2,
 "contexts": [{"name": "A"}, {"name": "B"}],
 "events": [{"t": 0, "cpu": 0, "ev": "switch", "next": "A"}, {"t": 100, "cpu": 0, "ev": "use", "write": ["sse"]}]})";
    return d;
  }();
  const std::string path = dir + "/grid.json";
  {
    std::ofstream f(path, std::ios::binary | std::ios::trunc);
    f.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
    if (!f) std::abort();
  }
  return fpusim::fuzz::run([&] { fpusim::load_sweep_grid(path); });
}

// Scenario loading (schema, presets, overrides, expectations, workloads,
// VMs) and, as `run --dry-run` does, the decoding of every event.
#include "fuzz/fuzz_target.h"
#include "models/core/arch.h"
#include "sim/input/binary.h"
#include "sim/input/event.h"
#include "sim/input/presets.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace fpusim;
  const std::string path = fuzz::as_file(data, size, ".json");
  return fuzz::run([&] {
    Scenario s = load_scenario(path, {});
    if (s.workload) return;
    const auto ids = name_table(s);
    const Arch& arch = arch_named(s.arch, s.machine_file, "/arch");
    auto src = s.events_file.empty() ? make_inline_source(arch, s.inline_events, s.file, &ids, s.machine->cpus)
                                     : make_file_source(arch, s.events_file, &ids, s.machine->cpus);
    Event e;
    for (int n = 0; n < 1000000 && src->next(e); ++n) {
    }
  });
}

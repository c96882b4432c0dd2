// Real kernel traces: any text layout, or trace.dat when the input starts
// with its magic (through libtracecmd), imported by every architecture's
// importer that recognises it, and written out as a scenario.
#include "fuzz/fuzz_target.h"
#include "models/core/arch.h"
#include "sim/import/importer.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace fpusim;
  using namespace fpusim::trace_import;
  const std::string path = fuzz::as_file(data, size, ".trace");
  return fuzz::run([&] {
    const TraceInput in = read_trace(path);
    for (const Arch* a : archs()) {
      const TraceImporter* ti = a->trace_importer();
      if (!ti || !ti->recognises(in)) continue;
      ConvertOptions o;
      o.name = "fuzz";
      o.machine = "m";
      o.costs = "c";
      o.cpus = 2;
      o.mhz = 2600;
      o.source = path;
      const Conversion c = ti->convert(in, o);
      (void)scenario_text(c);
    }
  });
}

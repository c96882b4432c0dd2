#include "sim/import/importer.h"

#include <ostream>

namespace fpusim::trace_import {

void EventList::write_jsonl(std::ostream& os) const {
  for (std::size_t i = 0; i < size(); ++i) os << json(i) << '\n';
}

std::string scenario_text(const Conversion& c, const std::string& events_file) {
  using OJson = nlohmann::ordered_json;
  const OJson& s = c.scenario;
  std::string o = "{\n";
  size_t n = 0;
  for (auto it = s.begin(); it != s.end(); ++it, ++n) {
    const std::string sep = n + 1 < s.size() ? "," : "";
    if (it.key() == "events") {
      if (!events_file.empty()) {
        o += "  \"events_file\": " + OJson(events_file).dump() + sep + "\n";
        continue;
      }
      o += "  \"events\": [\n";
      const std::size_t count = c.events ? c.events->size() : 0;
      for (size_t m = 0; m < count; ++m) o += "    " + c.events->json(m) + (m + 1 < count ? "," : "") + "\n";
      o += "  ]" + sep + "\n";
    } else if (it.key() == "contexts" && it.value().is_array()) {
      o += "  \"contexts\": [\n";
      const auto& a = it.value();
      for (size_t m = 0; m < a.size(); ++m) o += "    " + a[m].dump() + (m + 1 < a.size() ? "," : "") + "\n";
      o += "  ]" + sep + "\n";
    } else {
      o += "  " + OJson(it.key()).dump() + ": " + it.value().dump() + sep + "\n";
    }
  }
  return o + "}\n";
}

}  // namespace fpusim::trace_import

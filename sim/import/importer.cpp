#include "sim/import/importer.h"

#include <ostream>

namespace fpusim::trace_import {

void EventList::write_jsonl(std::ostream& os) const {
  for (std::size_t i = 0; i < size(); ++i) os << json(i) << '\n';
}

std::string scenario_text(const Conversion& c, const std::string& events_file) {
  // Text from the trace (its header's command and CPU lines, names) may not
  // be UTF-8: invalid bytes become U+FFFD rather than an exception.
  using OJson = nlohmann::ordered_json;
  auto dump = [](const OJson& j) { return j.dump(-1, ' ', false, OJson::error_handler_t::replace); };
  const OJson& s = c.scenario;
  std::string o = "{\n";
  size_t n = 0;
  for (auto it = s.begin(); it != s.end(); ++it, ++n) {
    const std::string sep = n + 1 < s.size() ? "," : "";
    if (it.key() == "events") {
      if (!events_file.empty()) {
        o += "  \"events_file\": " + dump(OJson(events_file)) + sep + "\n";
        continue;
      }
      o += "  \"events\": [\n";
      const std::size_t count = c.events ? c.events->size() : 0;
      for (size_t m = 0; m < count; ++m) o += "    " + c.events->json(m) + (m + 1 < count ? "," : "") + "\n";
      o += "  ]" + sep + "\n";
    } else if (it.key() == "contexts" && it.value().is_array()) {
      o += "  \"contexts\": [\n";
      const auto& a = it.value();
      for (size_t m = 0; m < a.size(); ++m) o += "    " + dump(a[m]) + (m + 1 < a.size() ? "," : "") + "\n";
      o += "  ]" + sep + "\n";
    } else {
      o += "  " + dump(OJson(it.key())) + ": " + dump(it.value()) + sep + "\n";
    }
  }
  return o + "}\n";
}

}  // namespace fpusim::trace_import

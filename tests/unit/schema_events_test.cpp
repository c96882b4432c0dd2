// The published scenario schema describes events too (configs/schema/
// scenario.schema.json, definitions/event), but the loader checks events
// with the decoder, whose messages are more precise. This test keeps the two
// from drifting apart: every event of every scenario in traces/ must pass
// the schema's event definition, and events the decoder rejects must fail it.
#include <dirent.h>

#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "sim/input/json_input.h"

namespace fpusim {
namespace {

Json event_schema() {
  Json full = load_json_file(std::string(FPUSIM_SOURCE_ROOT) + "/configs/schema/scenario.schema.json");
  return Json{{"definitions", full["definitions"]}, {"$ref", "#/definitions/event"}};
}

std::vector<std::string> scenario_files() {
  std::vector<std::string> out;
  for (const char* sub : {"/traces", "/traces/bugs"}) {
    const std::string dir = std::string(FPUSIM_SOURCE_ROOT) + sub;
    if (DIR* d = ::opendir(dir.c_str())) {
      while (dirent* e = ::readdir(d)) {
        const std::string n = e->d_name;
        if (n.size() > 5 && n.compare(n.size() - 5, 5, ".json") == 0) out.push_back(dir + "/" + n);
      }
      ::closedir(d);
    }
  }
  return out;
}

TEST(SchemaEvents, EveryTraceEventPassesTheSchema) {
  const Json schema = event_schema();
  size_t checked = 0;
  for (const auto& f : scenario_files()) {
    const Json doc = load_json_file(f);
    if (!doc.contains("events")) continue;
    const Json& events = doc["events"];
    for (size_t i = 0; i < events.size(); ++i) {
      try {
        validate_against_schema(events[i], schema, f + " /events/" + std::to_string(i));
      } catch (const InputError& e) {
        ADD_FAILURE() << e.what();
      }
      ++checked;
    }
  }
  EXPECT_GT(checked, 500u) << "expected the inline events of traces/ to be checked";
}

TEST(SchemaEvents, EventsTheDecoderRejectsFailTheSchema) {
  const Json schema = event_schema();
  const char* bad[] = {
      R"({"t": 1, "cpu": 0, "ev": "switch"})",                              // no next
      R"({"t": 1, "cpu": 0, "ev": "use", "write": ["ymmx"]})",              // unknown component
      R"({"t": -1, "cpu": 0, "ev": "syscall"})",                            // negative time
      R"({"t": 1, "cpu": 0, "ev": "syscall", "next": "A"})",                // key of another kind
      R"({"t": 1, "cpu": 0, "ev": "bogus"})",                               // unknown kind
      R"({"t": 1, "cpu": 0, "ev": "kernel_fpu", "in": "nmi", "dur": 5})",  // unknown context
      R"({"t": "1", "cpu": 0, "ev": "exit"})",                              // wrong type
      R"({"t": 1, "cpu": 0, "ev": "signal", "fault": "fatal"})",           // a frame write never fails for good
      R"({"t": 1, "cpu": 0, "ev": "exec", "fault": "retry"})",             // fault of another kind
      R"({"t": 1, "cpu": 0, "ev": "exec", "to_user": 0})",                 // not a boolean
  };
  for (const char* text : bad) {
    EXPECT_THROW(validate_against_schema(Json::parse(text), schema, "case"), InputError) << text;
  }
}

}  // namespace
}  // namespace fpusim

// Reports for people and programs: a text summary, a versioned JSON report
// (resolved configuration, every counter with unit and description), CSV,
// and the comparison of several policies on one scenario. Writers walk the
// stat table, so a new counter never touches them.
#pragma once

#include <ostream>
#include <string>
#include <vector>

#include "sim/output/atomic_file.h"
#include "sim/input/json_input.h"
#include "sim/input/presets.h"
#include "sim/platform/platform.h"

namespace fpusim {

constexpr int kReportSchemaVersion = 1;

Json report_json(const Scenario& s, const RunResult& r);
void write_text_summary(std::ostream& os, const Scenario& s, const RunResult& r);
void write_csv(std::ostream& os, const Json& report);

// One row of a comparison, read back from a report.
struct PolicyRow {
  std::string policy;
  Json report;
};
void write_compare_text(std::ostream& os, const Scenario& s, const std::vector<PolicyRow>& rows);
Json compare_json(const Scenario& s, const std::vector<PolicyRow>& rows);
void write_compare_csv(std::ostream& os, const std::vector<PolicyRow>& rows);

// Checks a report against a scenario's expectation for its policy; returns
// one line per failed expectation.
std::vector<std::string> check_expectation(const Expectation& x, const Json& report);


}  // namespace fpusim

// The arm64 machine and cost presets (configs/schema/machine-arm64.schema.json,
// cost-arm64.schema.json) and `fpusim layout` for arm64 machines.
#pragma once

#include <ostream>
#include <string>

#include "models/arm64/machine.h"
#include "sim/input/json_input.h"

namespace fpusim {
struct Scenario;
}

namespace fpusim::arm64 {

Machine load_machine(const Json& doc, const std::string& file);
CostModel load_costs(const Json& doc, const std::string& file);
void print_layout(std::ostream& os, const Machine& m);
const Machine& machine_of(const Scenario& s);
const CostModel& costs_of(const Scenario& s);

}  // namespace fpusim::arm64

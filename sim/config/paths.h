#pragma once

#include <string>

namespace fpusim {

// Where machine and cost presets and schemas are found: $FPUSIM_CONFIG_DIR,
// else the source tree's configs/ (compiled in).
std::string config_dir();
void set_config_dir(const std::string& dir);

}  // namespace fpusim

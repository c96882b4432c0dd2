#pragma once

#include <string>

namespace fpusim {

// Where machine and cost presets and schemas are found: $FPUSIM_CONFIG_DIR,
// else the source tree's configs/ (compiled in).
std::string config_dir();
void set_config_dir(const std::string& dir);

// The directory part of a path ("." for a bare name, "/" for "/x").
std::string dir_of(const std::string& path);
// An existing regular file.
bool is_regular_file(const std::string& path);

}  // namespace fpusim

#include "sim/config/paths.h"

#include <cstdlib>

namespace fpusim {

namespace {
std::string& override_dir() {
  static std::string d;
  return d;
}
}  // namespace

void set_config_dir(const std::string& dir) { override_dir() = dir; }

std::string config_dir() {
  if (!override_dir().empty()) return override_dir();
  if (const char* e = std::getenv("FPUSIM_CONFIG_DIR"); e && *e) return e;
  return std::string(FPUSIM_SOURCE_ROOT) + "/configs";
}

}  // namespace fpusim

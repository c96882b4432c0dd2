#include "sim/input/paths.h"

#include <cstdlib>
#include <sys/stat.h>

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

std::string dir_of(const std::string& p) {
  const auto s = p.rfind('/');
  return s == std::string::npos ? "." : s == 0 ? "/" : p.substr(0, s);
}

bool is_regular_file(const std::string& p) {
  struct stat st;
  return ::stat(p.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

}  // namespace fpusim

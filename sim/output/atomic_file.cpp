#include "sim/output/atomic_file.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <sys/stat.h>
#include <unistd.h>

#include "models/core/types.h"

namespace fpusim {

namespace {
bool is_special_file(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && !S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode);
}
}  // namespace

AtomicFile::AtomicFile(const std::string& path)
    : path_(path), tmp_(is_special_file(path) ? path : path + ".tmp." + std::to_string(::getpid())) {
  out_.open(tmp_, std::ios::binary | std::ios::trunc);
  if (!out_) throw InputError{path_, "", std::string("cannot write: ") + std::strerror(errno)};
}

AtomicFile::~AtomicFile() {
  if (done_) return;
  out_.close();
  if (tmp_ != path_) std::remove(tmp_.c_str());
}

void AtomicFile::commit() {
  out_.flush();
  const bool ok = static_cast<bool>(out_);
  out_.close();
  if (!ok) throw InputError{path_, "", "write failed"};
  if (tmp_ != path_ && std::rename(tmp_.c_str(), path_.c_str()) != 0) {
    throw InputError{path_, "", std::string("cannot rename into place: ") + std::strerror(errno)};
  }
  done_ = true;
}

void write_file_atomic(const std::string& path, const std::string& content) {
  AtomicFile f(path);
  f.out() << content;
  f.commit();
}

}  // namespace fpusim

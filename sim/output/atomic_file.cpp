#include "sim/output/atomic_file.h"

#include <climits>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "models/core/types.h"

namespace fpusim {

namespace {

// Where the temporary goes and what it is renamed onto: `path` itself, or,
// for a symbolic link, the file it resolves to (renaming onto the link would
// replace the link, not its file: a report written to /dev/stdout while
// stdout was redirected to a file once replaced root's /dev/stdout link).
// "" where nothing may be renamed: a device, FIFO or socket (/dev/null, a
// pipe), or a link into /proc/self/fd or /dev/fd (/dev/stdout), which is
// written directly.
std::string rename_target(const std::string& path) {
  struct stat lst;
  if (::lstat(path.c_str(), &lst) != 0) return path;  // a new file
  if (S_ISLNK(lst.st_mode)) {
    struct stat st;
    if (::stat(path.c_str(), &st) != 0) return path;  // a dangling link: replaced, as before
    char buf[PATH_MAX];
    if (!::realpath(path.c_str(), buf)) return "";
    const std::string real(buf);
    char link[PATH_MAX];
    const ssize_t n = ::readlink(path.c_str(), link, sizeof link - 1);
    const std::string to = n > 0 ? std::string(link, static_cast<size_t>(n)) : std::string();
    if (to.rfind("/proc/", 0) == 0 || to.rfind("/dev/fd/", 0) == 0 || !S_ISREG(st.st_mode)) return "";
    return real;
  }
  return S_ISREG(lst.st_mode) || S_ISDIR(lst.st_mode) ? path : "";
}

}  // namespace

AtomicFile::AtomicFile(const std::string& path) : path_(path) {
  const std::string target = rename_target(path);
  if (target.empty()) {
    tmp_ = path;  // written directly
  } else {
    path_ = target;
    tmp_ = target + ".tmp." + std::to_string(::getpid());
  }
  out_.open(tmp_, std::ios::binary | std::ios::trunc);
  if (!out_) throw InputError{path, "", std::string("cannot write: ") + std::strerror(errno)};
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

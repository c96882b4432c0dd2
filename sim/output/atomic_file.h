// Output files that appear whole or not at all: written to a temporary name
// beside the target and renamed into place by commit(); dropped (temporary
// removed) if commit() is never reached. A symbolic link's file is replaced,
// not the link. A device, FIFO or socket (/dev/null, a pipe) and a link into
// /proc/self/fd (/dev/stdout, whatever stdout is) are written directly, since
// renaming over them would replace the device node or the link. Used by every
// report, log, timeline and trace fpusim writes.
#pragma once

#include <fstream>
#include <string>

namespace fpusim {

class AtomicFile {
 public:
  // Throws InputError naming `path` if it cannot be created.
  explicit AtomicFile(const std::string& path);
  ~AtomicFile();
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  std::ostream& out() { return out_; }
  // Flushes, checks for write errors and renames into place.
  void commit();

 private:
  std::string path_, tmp_;
  std::ofstream out_;
  bool done_ = false;
};

// The whole of `content` into `path`, atomically.
void write_file_atomic(const std::string& path, const std::string& content);

}  // namespace fpusim

// What a sweep point's directory says about it: shared by the local sweep,
// the Slurm job array and `sweep DIR --merge` (sweep.cpp, slurm.cpp).
//
//   report.json  the point ran (`run` writes it atomically)
//   exit_code    the exit code of its last run: "N" from a Slurm array task
//                (slurm/array.sh), "N local" from a local sweep
//   stderr.txt   that run's output
#pragma once

#include <dirent.h>
#include <sys/stat.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "sim/output/atomic_file.h"

namespace fpusim {

inline bool path_exists(const std::string& p) {
  struct stat st;
  return ::stat(p.c_str(), &st) == 0;
}

// The first non-empty line of a file (at most 300 characters), "" if none.
inline std::string first_line_of(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty()) return line.size() > 300 ? line.substr(0, 300) + "..." : line;
  }
  return "";
}

// Writes `content` only if the file does not already hold exactly it, so
// that rerunning a sweep touches nothing that is up to date.
inline void write_if_changed(const std::string& path, const std::string& content) {
  std::ifstream in(path, std::ios::binary);
  if (in) {
    std::stringstream ss;
    ss << in.rdbuf();
    if (ss.str() == content) return;
  }
  write_file_atomic(path, content);
}

// Removes the temporary files a killed `run` left next to a report
// (report.json.tmp.*): only when no run of the point can be going on.
inline void remove_stale_temporaries(const std::string& dir) {
  DIR* d = ::opendir(dir.c_str());
  if (!d) return;
  std::vector<std::string> stale;
  while (dirent* e = ::readdir(d)) {
    const std::string n = e->d_name;
    if (n.rfind("report.json.tmp.", 0) == 0) stale.push_back(dir + "/" + n);
  }
  ::closedir(d);
  for (const auto& f : stale) std::remove(f.c_str());
}

struct PointFiles {
  bool report = false;
  bool has_code = false;
  int code = 0;
  bool local = false;  // exit_code written by a local sweep
};

// Reads the point's directory with readdir() rather than stat() on the
// names: on NFS that revalidates the directory, so a report a compute node
// wrote moments ago is seen rather than a cached "no such file".
inline PointFiles read_point_files(const std::string& dir) {
  PointFiles f;
  bool code_file = false;
  if (DIR* d = ::opendir(dir.c_str())) {
    while (dirent* e = ::readdir(d)) {
      const std::string n = e->d_name;
      if (n == "report.json") f.report = true;
      else if (n == "exit_code") code_file = true;
    }
    ::closedir(d);
  }
  if (code_file) {
    std::ifstream in(dir + "/exit_code");
    std::string tag;
    if (in >> f.code) {
      f.has_code = true;
      f.local = (in >> tag) && tag == "local";
    }
  }
  return f;
}

// Why a point without a report is not done, from its files.
inline std::string point_failure(const std::string& dir, const PointFiles& f) {
  if (!f.has_code) return "not run (no report, no exit code)";
  if (f.code == 0 || f.code == 1) {
    return "exit code " + std::to_string(f.code) +
           " recorded but no report.json (deleted since, or not yet visible on this host); run the point again";
  }
  const std::string why = first_line_of(dir + "/stderr.txt");
  return "exit code " + std::to_string(f.code) + (why.empty() ? "" : ": " + why) + " (" + dir + "/stderr.txt)";
}

}  // namespace fpusim

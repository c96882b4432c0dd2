#include "sim/app/sweep.h"
#include "sim/app/plugins.h"

#include <dirent.h>
#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <map>
#include <set>
#include <sstream>
#include <unordered_map>

#include "sim/app/point_files.h"
#include "sim/app/runner.h"
#include "sim/app/slurm.h"
#include "sim/input/paths.h"
#include "sim/output/report.h"
#include "sim/input/event.h"

namespace fpusim {

namespace {

using OJson = nlohmann::ordered_json;

constexpr size_t kMaxPoints = 100000;

// ---------------------------------------------------------------------------
// Small file-system and text helpers.

bool exists(const std::string& p) { return path_exists(p); }

bool is_dir(const std::string& p) {
  struct stat st;
  return ::stat(p.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

// The canonical absolute path of an existing file; "" (errno set) if none.
std::string real_path(const std::string& p) {
  char buf[PATH_MAX];
  return ::realpath(p.c_str(), buf) ? std::string(buf) : std::string();
}

std::string read_text(const std::string& path, bool* ok) {
  std::ifstream in(path, std::ios::binary);
  *ok = static_cast<bool>(in);
  std::stringstream ss;
  if (in) ss << in.rdbuf();
  return ss.str();
}

void make_dirs(const std::string& path, const std::string& what) {
  std::string cur;
  size_t start = 0;
  while (start <= path.size()) {
    const auto slash = path.find('/', start);
    cur = path.substr(0, slash);
    if (!cur.empty() && !is_dir(cur) && ::mkdir(cur.c_str(), 0777) != 0 && errno != EEXIST) {
      throw InputError{path, "", what + ": cannot create " + cur + ": " + std::strerror(errno)};
    }
    if (slash == std::string::npos) break;
    start = slash + 1;
  }
  if (!is_dir(path)) throw InputError{path, "", what + ": not a directory"};
}

// JSON Pointer escaping of one reference token.
std::string pointer_token(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '~') out += "~0";
    else if (c == '/') out += "~1";
    else out += c;
  }
  return out;
}

std::string shell_quote(const std::string& s) {
  if (!s.empty() && s.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-.,/:=+@%") ==
                        std::string::npos) {
    return s;
  }
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') out += "'\\''";
    else out += c;
  }
  return out + "'";
}

std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\n\r") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) {
    if (c == '"') out += "\"\"";
    else out += c;
  }
  return out + "\"";
}

// A grid value as the VALUE of --set KEY=VALUE: numbers and booleans as
// JSON; strings as they are, unless they would parse as JSON (e.g. "1000",
// "true"), in which case JSON-quoted so that they stay strings.
std::string override_text(const Json& v) {
  if (!v.is_string()) return v.dump();
  const std::string s = v.get<std::string>();
  return Json::accept(s) ? v.dump() : s;
}

// A grid value for CSV cells and point ids: strings without quotes.
std::string plain_text(const Json& v) { return v.is_string() ? v.get<std::string>() : v.dump(); }

std::string slug_text(const std::string& s) {
  std::string out;
  for (char c : s) {
    const bool keep = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
                      c == '_' || c == '-' || c == '=' || c == '+';
    out += keep ? c : '_';
  }
  return out;
}

// ---------------------------------------------------------------------------
// The grid.

struct Param {
  std::string key;
  std::vector<Json> values;
};

struct Grid {
  std::string file;         // as given (messages)
  std::string path;         // absolute (results.json's "grid")
  std::string name;
  std::string description;
  std::string scenario;     // absolute
  std::vector<std::string> policies;
  std::vector<Param> params;  // in the order written
  std::string x;            // "" if there are no parameters
  const Arch* arch = nullptr;  // the scenario's: its counters are the columns
};

// The counters of the sweep's architecture (the core group, then its own):
// the columns of results.csv, and what every report must have.
std::vector<const StatInfo*> sweep_stats(const Grid& g) {
  const StatSet set = stat_set(*g.arch);
  std::vector<const StatInfo*> v;
  for (StatId id = 0; id < set.size(); ++id) v.push_back(&set.info(id));
  return v;
}

bool valid_key(const std::string& k) {
  if (k.empty() || k.front() == '.' || k.back() == '.' || k.find("..") != std::string::npos) return false;
  return k.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-.") == std::string::npos;
}

Grid load_grid(const std::string& path, const std::vector<Override>& cmdline_sets) {
  Grid g;
  g.file = path;
  g.path = real_path(path);
  bool ok = false;
  const std::string text = read_text(path, &ok);
  if (!ok) throw InputError{path, "", "cannot open file (does it exist and is it readable?)"};
  const Json doc = parse_json_text(text, path);
  try {
    validate_against_schema(doc, schema_named("sweep"), path);
  } catch (InputError& e) {
    // valijson's words for a repeated value or policy.
    if (e.message.find("violate uniqueness constraint") != std::string::npos) {
      std::string which = e.message.substr(0, e.message.find(" violate"));
      if (!which.empty()) which[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(which[0])));
      e.message = "expected distinct values (" + which + " are equal)";
    }
    throw;
  }
  JsonIn in(doc, path);
  in.at("format");
  in.at("version");
  g.name = in.at("name").as_string();
  g.description = in.at("description").as_string();

  JsonIn sc = in.at("scenario");
  const std::string rel = sc.as_string();
  const std::string joined = rel[0] == '/' ? rel : dir_of(path) + "/" + rel;
  g.scenario = real_path(joined);
  if (g.scenario.empty() || is_dir(g.scenario)) {
    throw InputError{path, sc.path(),
                     "cannot open scenario " + joined + (g.scenario.empty() ? ": " + std::string(std::strerror(errno))
                                                                            : ": is a directory") +
                         " (the path is relative to the grid file)"};
  }

  JsonIn pol = in.at("policies");
  for (size_t i = 0; i < pol.size(); ++i) {
    JsonIn p = pol.at(i);
    // Each point runs in its own process: the name is what travels (argv).
    g.policies.push_back(resolve_policy_any(p.as_string(), path, p.path()).name);
  }

  if (in.has("parameters")) {
    JsonIn params = in.at("parameters");
    // Key order as written: nlohmann::json sorts object keys, ordered_json
    // keeps them.
    const OJson ordered = OJson::parse(text);
    for (auto it = ordered["parameters"].begin(); it != ordered["parameters"].end(); ++it) {
      const std::string key = it.key();
      JsonIn vals = params.at(key);
      if (!valid_key(key)) {
        throw InputError{path, vals.path(), "expected a --set key: dotted names such as costs.nm_trap.value or cpus"};
      }
      if (key == "policy") {
        throw InputError{path, vals.path(), "the policy is swept by \"policies\", not by a parameter"};
      }
      for (const auto& o : cmdline_sets) {
        if (o.key == key) {
          throw InputError{path, vals.path(),
                           "swept by the grid and also given as --set " + o.key + "=" + o.value + "; give one"};
        }
      }
      Param p{key, {}};
      for (size_t i = 0; i < vals.size(); ++i) {
        const Json& v = vals.at(i).json();
        if (!(v.is_number() || v.is_string() || v.is_boolean())) vals.at(i).fail("a number, string or boolean");
        p.values.push_back(v);
      }
      g.params.push_back(std::move(p));
    }
  }
  for (const auto& o : cmdline_sets) {
    if (o.key == "policy") throw InputError{"--set policy=" + o.value, "", "the grid's \"policies\" choose the policy"};
  }

  if (in.has("x")) {
    JsonIn x = in.at("x");
    g.x = x.as_string();
    if (std::none_of(g.params.begin(), g.params.end(), [&](const Param& p) { return p.key == g.x; })) {
      std::string keys;
      for (const auto& p : g.params) keys += (keys.empty() ? "" : ", ") + p.key;
      throw InputError{path, x.path(),
                       "expected one of the parameters" + (keys.empty() ? std::string(" (there are none)") : ": " + keys) +
                           ", got \"" + g.x + "\""};
    }
  } else if (!g.params.empty()) {
    g.x = g.params.front().key;
  }
  in.require_all_read();

  size_t combos = 1;
  for (const auto& p : g.params) {
    combos *= p.values.size();
    if (combos * g.policies.size() > kMaxPoints) {
      throw InputError{path, "/parameters",
                       "the grid has more than " + std::to_string(kMaxPoints) + " points; split it into several sweeps"};
    }
  }
  return g;
}

// ---------------------------------------------------------------------------
// Validation of every point's scenario, before anything runs.

// Loads the scenario with `sets` and decodes inline events (cheap, and it
// finds e.g. events on a CPU a swept "cpus" removes). JSON-lines event files
// are left to the run: reading them for every point would cost a run each.
void check_scenario(const std::string& scenario, const std::vector<Override>& sets) {
  Scenario s = load_scenario(scenario, sets);
  if (!s.events_file.empty()) return;
  const std::unordered_map<std::string, ContextId> ids = name_table(s);  // the architecture's names too (VMs)
  auto src = make_inline_source(scenario_arch(s), s.inline_events, s.file, &ids, s.machine->cpus);
  Event e;
  while (src->next(e)) {
  }
}

// Whether an error loading with --set KEY=... is about the key itself (no
// such key), not about the value.
bool key_error(const InputError& e, const std::string& key) {
  if (e.file.rfind("--set ", 0) == 0) return true;  // apply_overrides: nothing to descend into
  const std::string last = key.substr(key.rfind('.') + 1);
  return e.message.rfind("unknown key \"" + last + "\"", 0) == 0 &&
         (e.path.size() >= last.size() + 1 && e.path.compare(e.path.size() - last.size() - 1, std::string::npos, "/" + last) == 0);
}

void validate_points(const Grid& g, const std::vector<Override>& cmdline_sets) {
  // The scenario alone (with the command line's --set): its own errors are
  // reported as they are, naming the scenario file. The grid's policies must
  // be its architecture's (read with the grid, any architecture's would do).
  const Scenario base = load_scenario(g.scenario, cmdline_sets);
  for (size_t i = 0; i < g.policies.size(); ++i) {
    resolve_policy(scenario_arch(base), g.policies[i], g.file, "/policies/" + std::to_string(i));
  }
  std::string base_error;
  try {
    check_scenario(g.scenario, cmdline_sets);
  } catch (const InputError& e) {
    base_error = e.what();  // maybe a swept value fixes it (e.g. "cpus"); decided below
  }
  const std::string scen_label = "scenario " + g.scenario;
  if (g.params.empty()) {
    if (!base_error.empty()) check_scenario(g.scenario, cmdline_sets);  // rethrows
    return;
  }
  // A long check says how far it is (every 5 s on stderr): a grid of many
  // values takes about 2 ms a scenario here.
  size_t total = 0, done = 0;
  size_t combos = 1;
  for (const auto& p : g.params) {
    total += p.values.size();
    combos *= p.values.size();
  }
  if (g.params.size() > 1) total += combos;
  const auto start = std::chrono::steady_clock::now();
  auto last = start;
  auto tick = [&] {
    if ((++done & 63) != 0) return;
    const auto now = std::chrono::steady_clock::now();
    if (now - last < std::chrono::seconds(5)) return;
    last = now;
    std::cerr << "fpusim sweep: checking the grid's scenarios: " << done << " of " << total << ", "
              << std::chrono::duration_cast<std::chrono::seconds>(now - start).count() << " s\n";
  };
  // Each value alone first, so that a bad value is named by its own path.
  for (const auto& p : g.params) {
    for (size_t i = 0; i < p.values.size(); ++i) {
      tick();
      std::vector<Override> sets = cmdline_sets;
      sets.push_back({p.key, override_text(p.values[i])});
      try {
        check_scenario(g.scenario, sets);
      } catch (const InputError& e) {
        if (e.what() == base_error) continue;  // not this value's fault
        const std::string at = "/parameters/" + pointer_token(p.key);
        if (key_error(e, p.key)) {
          throw InputError{g.file, at, "not a --set key of " + scen_label + ": " + e.what()};
        }
        throw InputError{g.file, at + "/" + std::to_string(i),
                         "--set " + p.key + "=" + override_text(p.values[i]) + " does not give a valid " + scen_label +
                             ": " + e.what()};
      } catch (const SemanticError& e) {
        throw InputError{g.file, "/parameters/" + pointer_token(p.key) + "/" + std::to_string(i), e.message};
      }
    }
  }
  // Then every combination (values that are only wrong together; with one
  // parameter, the values above are the combinations).
  if (g.params.size() == 1) return;
  std::vector<size_t> idx(g.params.size(), 0);
  while (true) {
    tick();
    std::vector<Override> sets = cmdline_sets;
    std::string combo;
    for (size_t k = 0; k < g.params.size(); ++k) {
      sets.push_back({g.params[k].key, override_text(g.params[k].values[idx[k]])});
      combo += (combo.empty() ? "" : ", ") + g.params[k].key + "=" + override_text(g.params[k].values[idx[k]]);
    }
    try {
      check_scenario(g.scenario, sets);
    } catch (const InputError& e) {
      if (e.what() == base_error) throw;  // the scenario's own error, which no swept value fixes
      throw InputError{g.file, "/parameters", "the combination " + combo + " does not give a valid " + scen_label +
                                                  ": " + e.what()};
    }
    size_t k = g.params.size();
    while (k > 0 && ++idx[k - 1] == g.params[k - 1].values.size()) idx[--k] = 0;
    if (k == 0) break;
  }
}

// ---------------------------------------------------------------------------
// Points.

struct Point {
  std::string id;
  std::string policy;
  std::vector<Json> values;           // one per parameter
  std::vector<std::string> argv;      // argv[0] is this binary
  std::string dir;                    // DIR/points/<id>
  std::string report;                 // DIR/points/<id>/report.json
};

std::string self_exe() {
  char buf[PATH_MAX];
  const ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) throw InternalError{std::string("readlink /proc/self/exe: ") + std::strerror(errno)};
  return std::string(buf, static_cast<size_t>(n));
}

std::vector<Point> plan_points(const Grid& g, const std::vector<Override>& cmdline_sets, const std::string& out_dir,
                               const std::string& exe, const std::string& cfg_dir) {
  size_t total = g.policies.size();
  for (const auto& p : g.params) total *= p.values.size();
  const size_t width = std::max<size_t>(4, std::to_string(total ? total - 1 : 0).size());
  std::vector<Point> points;
  std::vector<size_t> idx(g.params.size(), 0);
  while (true) {
    for (const auto& policy : g.policies) {
      Point pt;
      pt.policy = policy;
      std::ostringstream id;
      id << std::setw(static_cast<int>(width)) << std::setfill('0') << points.size();
      std::string slug = policy;
      pt.argv = {exe, "run", g.scenario, "--policy", policy};
      for (const auto& plugin : loaded_plugins()) {  // a plugin's policy runs where it is loaded
        pt.argv.push_back("--plugin");
        pt.argv.push_back(plugin);
      }
      for (const auto& o : cmdline_sets) {
        pt.argv.push_back("--set");
        pt.argv.push_back(o.key + "=" + o.value);
      }
      for (size_t k = 0; k < g.params.size(); ++k) {
        const Json& v = g.params[k].values[idx[k]];
        pt.values.push_back(v);
        slug += "-" + g.params[k].key + "=" + plain_text(v);
        pt.argv.push_back("--set");
        pt.argv.push_back(g.params[k].key + "=" + override_text(v));
      }
      slug = slug_text(slug);
      if (slug.size() > 160) slug.resize(160);
      pt.id = id.str() + "-" + slug;
      pt.dir = out_dir + "/points/" + pt.id;
      pt.report = pt.dir + "/report.json";
      for (const std::string& a : {std::string("--config-dir"), cfg_dir, std::string("--quiet"), std::string("--json"),
                                   pt.report}) {
        pt.argv.push_back(a);
      }
      points.push_back(std::move(pt));
    }
    size_t k = g.params.size();
    while (k > 0 && ++idx[k - 1] == g.params[k - 1].values.size()) idx[--k] = 0;
    if (k == 0) break;
  }
  return points;
}

OJson point_json(const Grid& g, const Point& p) {
  OJson j;
  j["format"] = "fpusim-sweep-point";
  j["version"] = 1;
  j["point"] = p.id;
  j["grid"] = g.path;
  j["grid_name"] = g.name;
  j["scenario"] = g.scenario;
  j["policy"] = p.policy;
  OJson params = OJson::object();
  for (size_t k = 0; k < g.params.size(); ++k) params[g.params[k].key] = OJson::parse(p.values[k].dump());
  j["parameters"] = params;
  j["argv"] = p.argv;
  return j;
}

std::string run_sh(const Grid& g, const Point& p) {
  std::string s = "#!/bin/sh\n";
  s += "# fpusim sweep \"" + g.name + "\", point " + p.id + ".\n";
  s += "# Reruns this point alone (e.g. from a cluster job array); the report is written\n";
  s += "# atomically to report.json next to this script. Extra arguments are passed on.\n";
  s += "exec";
  for (const auto& a : p.argv) s += " " + shell_quote(a);
  s += " \"$@\"\n";
  return s;
}

// Refuses an output directory that holds points of another grid (or of the
// same grid with other --set values): resuming would mix their reports.
void check_existing_points(const std::string& out_dir, const std::vector<Point>& points) {
  const std::string pdir = out_dir + "/points";
  std::map<std::string, const Point*> by_id;
  for (const auto& p : points) by_id.emplace(p.id, &p);
  DIR* d = ::opendir(pdir.c_str());
  if (!d) return;
  std::vector<std::string> names;
  while (dirent* e = ::readdir(d)) {
    const std::string n = e->d_name;
    if (n != "." && n != "..") names.push_back(n);
  }
  ::closedir(d);
  std::sort(names.begin(), names.end());
  for (const auto& n : names) {
    auto it = by_id.find(n);
    if (it == by_id.end()) {
      throw InputError{pdir + "/" + n, "",
                       "not a point of this grid: the output directory holds another sweep; use another -o DIR "
                       "or delete " + pdir};
    }
    const std::string pj = pdir + "/" + n + "/point.json";
    if (!exists(pj)) continue;
    const Json old = load_json_file(pj);
    const Json want(std::vector<std::string>(it->second->argv.begin() + 1, it->second->argv.end()));
    Json have;
    if (old.is_object() && old.contains("argv") && old["argv"].is_array() && !old["argv"].empty()) {
      have = Json(std::vector<Json>(old["argv"].begin() + 1, old["argv"].end()));
    }
    if (have != want) {
      throw InputError{pj, "/argv",
                       "this point was run with other arguments (another grid, scenario or --set); use another -o "
                       "DIR or delete " + pdir};
    }
  }
}

// ---------------------------------------------------------------------------
// Running.

std::string seconds_text(double s) {
  std::ostringstream o;
  o << std::fixed << std::setprecision(s < 10 ? 2 : 1) << s << " s";
  return o.str();
}

struct Outcome {
  bool done = false;       // report.json exists
  bool ran_now = false;
  std::string failure;     // why, if it failed
};

// ---------------------------------------------------------------------------
// Results.

void write_results(const Grid& g, const std::vector<Point>& points, const std::vector<Json>& reports,
                   const std::string& out_dir) {
  std::vector<std::string> columns = {"point", "policy"};
  for (const auto& p : g.params) columns.push_back(p.key);
  const std::vector<const StatInfo*> stats = sweep_stats(g);
  for (const StatInfo* st : stats) columns.emplace_back(st->name);
  columns.emplace_back("violations");

  std::ostringstream csv;
  for (size_t i = 0; i < columns.size(); ++i) csv << (i ? "," : "") << csv_field(columns[i]);
  csv << "\n";
  OJson rows = OJson::array();
  for (size_t i = 0; i < points.size(); ++i) {
    const Point& p = points[i];
    const Json& r = reports[i];
    csv << csv_field(p.id) << "," << csv_field(p.policy);
    OJson row;
    row["point"] = p.id;
    row["policy"] = p.policy;
    OJson params = OJson::object();
    for (size_t k = 0; k < g.params.size(); ++k) {
      csv << "," << csv_field(plain_text(p.values[k]));
      params[g.params[k].key] = OJson::parse(p.values[k].dump());
    }
    row["parameters"] = params;
    OJson totals = OJson::object();
    for (const StatInfo* st : stats) {
      const std::string name(st->name);
      const auto it = r["totals"].find(name);
      csv << "," << (it == r["totals"].end() ? std::string() : it->dump());
      totals[name] = it == r["totals"].end() ? OJson() : OJson::parse(it->dump());
    }
    row["totals"] = totals;
    const Json& vio = r["violations"];
    csv << "," << vio["total"].dump() << "\n";
    OJson v = OJson::object();
    std::vector<std::string> kinds{"total"};
    for (const ViolationKindInfo& k : violation_kinds()) kinds.emplace_back(k.name);
    for (const std::string& kind : kinds) {
      const auto it = vio.find(kind);
      v[kind] = it == vio.end() ? OJson() : OJson::parse(it->dump());
    }
    row["violations"] = v;
    rows.push_back(row);
  }

  OJson j;
  j["format"] = "fpusim-sweep-results";
  j["version"] = 1;
  j["name"] = g.name;
  j["description"] = g.description;
  j["grid"] = g.path;
  j["scenario"] = g.scenario;
  j["x"] = g.x.empty() ? OJson() : OJson(g.x);
  j["policies"] = g.policies;
  OJson keys = OJson::array();
  for (const auto& p : g.params) keys.push_back(p.key);
  j["parameters"] = keys;
  j["columns"] = columns;
  OJson defs = OJson::object();
  for (const StatInfo* st : stats) {
    defs[std::string(st->name)] = {{"unit", std::string(st->unit)}, {"description", std::string(st->description)}};
  }
  j["stat_definitions"] = defs;
  j["points"] = rows;
  write_file_atomic(out_dir + "/results.json", j.dump(2) + "\n");
  write_file_atomic(out_dir + "/results.csv", csv.str());
}

// ---------------------------------------------------------------------------
// The plan, DIR/sweep.json: the grid as loaded (the command line's --set and
// --bug applied) and every point, so that `fpusim sweep DIR --merge` merges
// without the grid file, which may have changed since or be elsewhere.

OJson values_json(const std::vector<Json>& values) {
  OJson a = OJson::array();
  for (const auto& v : values) a.push_back(OJson::parse(v.dump()));
  return a;
}

std::string plan_text(const Grid& g, const std::vector<Point>& points) {
  OJson j;
  j["format"] = "fpusim-sweep-plan";
  j["version"] = 1;
  j["name"] = g.name;
  j["description"] = g.description;
  j["grid"] = g.path;
  j["scenario"] = g.scenario;
  j["arch"] = std::string(g.arch->name());
  j["x"] = g.x;
  j["policies"] = g.policies;
  OJson params = OJson::array();
  for (const auto& p : g.params) params.push_back({{"key", p.key}, {"values", values_json(p.values)}});
  j["parameters"] = params;
  OJson pts = OJson::array();
  for (const auto& p : points) pts.push_back({{"id", p.id}, {"policy", p.policy}, {"values", values_json(p.values)}});
  j["points"] = pts;
  return j.dump(1) + "\n";
}

void load_plan(const std::string& out_dir, Grid* g, std::vector<Point>* points) {
  const std::string f = out_dir + "/sweep.json";
  if (!exists(f)) {
    throw InputError{out_dir, "", is_dir(out_dir) ? "not a sweep's output directory: it has no sweep.json (`fpusim sweep GRID -o DIR` writes one)"
                                                  : "no such directory"};
  }
  const Json doc = load_json_file(f);
  JsonIn in(doc, f);
  JsonIn fmt = in.at("format");
  if (fmt.as_string() != "fpusim-sweep-plan") fmt.fail("\"fpusim-sweep-plan\"");
  JsonIn ver = in.at("version");
  if (ver.as_u64() != 1) ver.fail("version 1 (written by another fpusim?)");
  g->file = f;
  g->name = in.at("name").as_string();
  g->description = in.at("description").as_string();
  g->path = in.at("grid").as_string();
  g->scenario = in.at("scenario").as_string();
  JsonIn arch = in.at("arch");
  g->arch = &arch_named(arch.as_string(), f, arch.path());
  g->x = in.at("x").as_string();
  JsonIn pol = in.at("policies");
  for (size_t i = 0; i < pol.size(); ++i) g->policies.push_back(pol.at(i).as_string());
  JsonIn params = in.at("parameters");
  for (size_t i = 0; i < params.size(); ++i) {
    JsonIn p = params.at(i);
    Param par{p.at("key").as_string(), {}};
    JsonIn vals = p.at("values");
    for (size_t k = 0; k < vals.size(); ++k) par.values.push_back(vals.at(k).json());
    p.require_all_read();
    g->params.push_back(std::move(par));
  }
  JsonIn pts = in.at("points");
  for (size_t i = 0; i < pts.size(); ++i) {
    JsonIn p = pts.at(i);
    Point pt;
    JsonIn id = p.at("id");
    pt.id = id.as_string();
    if (pt.id.empty() || pt.id.find('/') != std::string::npos || pt.id[0] == '.') id.fail("a point directory's name");
    pt.policy = p.at("policy").as_string();
    JsonIn vals = p.at("values");
    if (vals.size() != g->params.size()) vals.fail(std::to_string(g->params.size()) + " values, one per parameter");
    for (size_t k = 0; k < vals.size(); ++k) pt.values.push_back(vals.at(k).json());
    p.require_all_read();
    pt.dir = out_dir + "/points/" + pt.id;
    pt.report = pt.dir + "/report.json";
    points->push_back(std::move(pt));
  }
  in.require_all_read();
}

// Why a point that has no report is not done, from its files
// (point_files.h).
std::string failure_from_files(const Point& p) { return point_failure(p.dir, read_point_files(p.dir)); }

std::vector<SlurmPoint> slurm_points(const std::vector<Point>& points) {
  std::vector<SlurmPoint> sp;
  for (const auto& p : points) sp.push_back({p.id, p.dir, p.report});
  return sp;
}

// Reads every point's report and writes DIR/results.csv and results.json,
// or, if some point has none (outcome[i].failure says why) or an unreadable
// one, lists them and writes no results. `summary` holds the start of the
// last line ("NAME: N points: ..."); `how` ends it (", -j 2").
int merge_results(const Grid& g, const std::vector<Point>& points, std::vector<Outcome>& outcome,
                  const std::string& out_dir, std::ostringstream& summary, size_t failed, const std::string& how,
                  const std::string& retry) {
  // Read every report; a point without a readable report has failed. A
  // report that lacks statistics this fpusim has was made by an older build
  // (a point is skipped whenever its report exists): empty cells, and a note.
  std::vector<Json> reports(points.size());
  size_t with_violations = 0, unreadable = 0, older = 0;
  const std::vector<const StatInfo*> stats = sweep_stats(g);
  for (size_t i = 0; i < points.size(); ++i) {
    if (!outcome[i].done) continue;
    try {
      reports[i] = load_json_file(points[i].report);
      const Json& t = reports[i].at("totals");
      bool missing = false;
      for (const StatInfo* st : stats) {
        const auto it = t.find(std::string(st->name));
        if (it == t.end()) missing = true;
        else (void)it->get<std::uint64_t>();
      }
      older += missing;
      if (reports[i].at("violations").at("total").get<std::uint64_t>() > 0) ++with_violations;
    } catch (const InputError& e) {
      outcome[i].done = false;
      outcome[i].failure = "unreadable report: " + e.what() + " (delete it to rerun the point)";
      ++unreadable;
    } catch (const Json::exception& e) {
      outcome[i].done = false;
      outcome[i].failure = points[i].report + ": not an fpusim report (" + e.what() + ") (delete it to rerun the point)";
      ++unreadable;
    }
  }
  for (size_t i = 0; i < points.size(); ++i) {
    if (outcome[i].failure.empty()) continue;
    std::cerr << "fpusim sweep: point " << points[i].id << " failed: " << outcome[i].failure << "\n";
  }
  summary << failed + unreadable << " failed";
  if (failed + unreadable) {
    // Results always describe every point; stale ones from an earlier run
    // would not, so they go.
    std::remove((out_dir + "/results.csv").c_str());
    std::remove((out_dir + "/results.json").c_str());
    summary << "; no results written (" << retry << ")" << how;
    std::cerr << summary.str() << "\n";
    return 1;
  }
  write_results(g, points, reports, out_dir);
  summary << " (" << with_violations << " with violations)";
  if (older) {
    summary << "; " << older << " report" << (older == 1 ? " lacks" : "s lack")
            << " statistics of this fpusim (made by an older build: empty cells; delete " << out_dir
            << "/points/*/report.json to rerun all)";
  }
  summary << how << "; results in " << out_dir << "/results.csv";
  std::cerr << summary.str() << "\n";
  return 0;
}

std::string seconds_since(std::chrono::steady_clock::time_point t0) {
  return seconds_text(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
}

// `fpusim sweep DIR --merge`: waits for the sweep's Slurm job if one is
// still queued, then merges what the points left.
int merge_sweep(const SweepOptions& opt) {
  const auto t0 = std::chrono::steady_clock::now();
  if (opt.out_dir.empty()) throw InputError{"--merge", "", "expected the sweep's output directory"};
  const std::string out_dir = real_path(opt.out_dir).empty() ? opt.out_dir : real_path(opt.out_dir);
  Grid g;
  std::vector<Point> points;
  load_plan(out_dir, &g, &points);
  const SlurmRun sr = slurm_wait_recorded(out_dir, slurm_points(points), opt.slurm_options);
  if (sr.interrupted) return 128 + sr.interrupted;
  if (sr.still_queued) {
    std::cerr << "fpusim sweep: " << g.name << ": job " << sr.job_id
              << " is still in the queue; nothing merged (without --no-wait, --merge waits for it)\n";
    return 1;
  }
  std::vector<Outcome> outcome(points.size());
  size_t done = 0, failed = 0;
  for (size_t i = 0; i < points.size(); ++i) {
    if (exists(points[i].report)) {
      outcome[i].done = true;
      ++done;
      continue;
    }
    const auto it = sr.failures.find(i);
    outcome[i].failure = it != sr.failures.end() ? it->second : failure_from_files(points[i]);
    ++failed;
  }
  std::ostringstream summary;
  summary << "fpusim sweep: " << g.name << ": " << points.size() << " points: " << done << " done, ";
  return merge_results(g, points, outcome, out_dir, summary, failed, ", merged in " + seconds_since(t0),
                       "run the sweep's command again to run the points not done");
}

// --slurm: the points not done as one Slurm job array (slurm.h), then the
// same merge as a local sweep.
int slurm_sweep(const SweepOptions& opt, const Grid& g, const std::vector<Point>& points,
                const std::vector<size_t>& todo, std::vector<Outcome>& outcome, const std::string& out_dir,
                std::ostringstream& summary, std::chrono::steady_clock::time_point t0) {
  const size_t skipped = points.size() - todo.size();
  const SlurmRun sr = slurm_run(out_dir, g.name, slurm_points(points), todo, opt.slurm_options);
  if (sr.still_queued) {
    std::cout << sr.job_id << "\n";
    std::cerr << "fpusim sweep: " << g.name << ": job " << sr.job_id << " queued; `fpusim sweep " << out_dir
              << " --merge` waits for it and merges the results\n";
    return 0;
  }
  if (sr.interrupted) return 128 + sr.interrupted;
  size_t ran = 0, failed = 0;
  for (size_t i = 0; i < points.size(); ++i) {
    if (outcome[i].done) continue;
    if (exists(points[i].report)) {
      outcome[i].done = outcome[i].ran_now = true;
      ++ran;
      continue;
    }
    const auto it = sr.failures.find(i);
    outcome[i].failure = it != sr.failures.end() ? it->second : failure_from_files(points[i]);
    ++failed;
  }
  summary << ran << " ran, " << skipped << " skipped, ";
  return merge_results(g, points, outcome, out_dir, summary, failed,
                       ", " + seconds_since(t0) + (sr.job_id.empty() ? "" : ", Slurm job " + sr.job_id),
                       "run the same command again to submit the points not done");
}

}  // namespace

void load_sweep_grid(const std::string& path) { (void)load_grid(path, {}); }

int run_sweep(const SweepOptions& opt) {
  if (opt.merge) return merge_sweep(opt);
  const auto t0 = std::chrono::steady_clock::now();
  Grid g = load_grid(opt.grid_file, opt.sets);
  const Scenario base = load_scenario(g.scenario, opt.sets);
  g.arch = &scenario_arch(base);
  if (!opt.bugs.empty()) {
    // Each policy of the grid with the bugs that break it.
    std::vector<const PolicyDesc*> ps;
    for (size_t i = 0; i < g.policies.size(); ++i) {
      ps.push_back(&resolve_policy(scenario_arch(base), g.policies[i], g.file, "/policies/" + std::to_string(i)));
    }
    g.policies.clear();
    for (const PolicyDesc* p : apply_cli_bugs(scenario_arch(base), ps, opt.bugs)) g.policies.push_back(p->name);
  }
  validate_points(g, opt.sets);

  const std::string cfg = real_path(config_dir());
  if (cfg.empty()) throw InputError{config_dir(), "", "config directory: " + std::string(std::strerror(errno))};
  make_dirs(opt.out_dir, "-o");
  const std::string out_dir = real_path(opt.out_dir);
  if (::access(out_dir.c_str(), W_OK | X_OK) != 0) {
    throw InputError{opt.out_dir, "", "-o: cannot write in it: " + std::string(std::strerror(errno))};
  }
  const std::string exe = self_exe();
  const std::vector<Point> points = plan_points(g, opt.sets, out_dir, exe, cfg);
  check_existing_points(out_dir, points);

  // A Slurm job of this sweep still in the queue: its points are not run
  // here too, and their files are left alone (a running task's temporary
  // report is not stale; with --slurm, slurm_run() clears them once it knows
  // under its lock that no job runs).
  if (!opt.slurm) {
    std::string job, why;
    switch (slurm_job_state(out_dir, &job, &why)) {
      case SlurmJobState::kQueued:
        throw InputError{out_dir, "", "Slurm job " + job + " of this sweep is still in the queue: wait for it (fpusim sweep " +
                                          out_dir + " --merge) or scancel it before running points here"};
      case SlurmJobState::kUnknown:
        throw InputError{out_dir, "", "cannot ask Slurm whether job " + job + " of this sweep is still queued (" + why +
                                          "); its points are not run here meanwhile"};
      case SlurmJobState::kNone:
        break;
    }
  }
  make_dirs(out_dir + "/points", "-o");
  write_if_changed(out_dir + "/sweep.json", plan_text(g, points));
  std::vector<Outcome> outcome(points.size());
  std::vector<size_t> todo;
  for (size_t i = 0; i < points.size(); ++i) {
    const Point& p = points[i];
    make_dirs(p.dir, "-o");
    write_if_changed(p.dir + "/point.json", point_json(g, p).dump(2) + "\n");
    write_if_changed(p.dir + "/run.sh", run_sh(g, p));
    ::chmod((p.dir + "/run.sh").c_str(), 0755);
    if (exists(p.report)) {
      outcome[i].done = true;
    } else {
      if (!opt.slurm) remove_stale_temporaries(p.dir);
      todo.push_back(i);
    }
  }
  const size_t skipped = points.size() - todo.size();
  std::ostringstream summary;
  summary << "fpusim sweep: " << g.name << ": " << points.size() << " points: ";
  if (opt.slurm) return slurm_sweep(opt, g, points, todo, outcome, out_dir, summary, t0);
  for (size_t i : todo) std::remove((points[i].dir + "/exit_code").c_str());  // stale now

  const unsigned jobs = std::max(1u, opt.jobs);
  const bool tty = ::isatty(2);
  if (tty) {
    std::cerr << "fpusim sweep: " << g.name << ": " << points.size() << " points, " << skipped
              << " already done, running " << todo.size() << " with -j " << jobs << "\n";
  }

  // Interruptions (run_jobs): stop starting points, stop the running ones,
  // keep every finished report (they are complete: `run` writes them
  // atomically).
  std::vector<Job> list(todo.size());
  for (size_t j = 0; j < todo.size(); ++j) {
    const Point& p = points[todo[j]];
    list[j].argv = p.argv;
    list[j].log_file = p.dir + "/stderr.txt";  // `run --quiet` prints nothing on stdout
    list[j].fpusim_run = true;
  }
  RunnerOptions ro;
  ro.limit = jobs;
  ro.name = "fpusim sweep";
  size_t finished = 0, ran = 0, failed = 0;
  const JobsRun run = run_jobs(list, ro, [&](size_t j, const JobResult& res) {
    const size_t i = todo[j];
    const Point& p = points[i];
    Outcome& o = outcome[i];
    std::string state;
    const std::string where = " (" + p.dir + "/stderr.txt; rerun it alone: " + p.dir + "/run.sh)";
    // As a Slurm task does (point_files.h), for `sweep DIR --merge`.
    if (!res.interrupted) {
      write_file_atomic(p.dir + "/exit_code",
                        std::to_string(res.exited ? res.code : 128 + res.signal) + " local\n");
    }
    if (!res.exited) {
      remove_stale_temporaries(p.dir);
      o.failure = "killed by signal " + std::to_string(res.signal) + where;
    } else {
      const int code = res.code;
      if ((code == 0 || code == 1) && exists(p.report)) {
        o.done = o.ran_now = true;
        state = code == 0 ? "ok" : "ok (violations)";
      } else {
        const std::string why = first_line_of(p.dir + "/stderr.txt");
        o.failure = "exit code " + std::to_string(code) + (why.empty() ? "" : ": " + why) + where;
      }
    }
    if (o.done) ++ran;
    else if (!res.interrupted) ++failed;
    ++finished;
    if (tty) {
      std::cerr << "[" << finished << "/" << todo.size() << "] " << p.id << " "
                << (o.done ? state : res.interrupted ? "interrupted" : "FAILED (" + o.failure + ")") << ", "
                << seconds_text(res.seconds) << "\n";
    }
  });

  summary << ran << " ran, " << skipped << " skipped, ";
  if (run.interrupted) {
    const int sig = run.interrupted;
    size_t left = 0;
    for (const auto& o : outcome) left += !o.done;
    summary << failed << " failed; interrupted by signal " << sig << " with " << left
            << " points not done (run the same command again to resume), " << seconds_since(t0);
    std::cerr << summary.str() << "\n";
    return 128 + sig;
  }
  return merge_results(g, points, outcome, out_dir, summary, failed,
                       ", " + seconds_since(t0) + ", -j " + std::to_string(jobs),
                       "run the same command again to retry the failed points");
}

}  // namespace fpusim

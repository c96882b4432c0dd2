#include "sim/input/presets.h"

#include <algorithm>
#include <dirent.h>
#include <sstream>
#include <sys/stat.h>

#include "sim/input/paths.h"
#include "sim/input/event.h"

namespace fpusim {

Override parse_override(const std::string& text) {
  const auto eq = text.find('=');
  if (eq == std::string::npos || eq == 0) {
    throw InputError{"--set " + text, "", "expected KEY=VALUE, e.g. --set costs.nm_trap.value=1500"};
  }
  return {text.substr(0, eq), text.substr(eq + 1)};
}

namespace {
// Whether an override addresses `doc_name` ("machine", "costs", "" for the scenario).
bool override_applies(const Override& o, const std::string& doc_name) {
  const std::string first = o.key.substr(0, o.key.find('.'));
  const bool for_preset = first == "machine" || first == "costs";
  return doc_name.empty() ? !for_preset : first == doc_name;
}
}  // namespace

std::string with_overrides(const std::string& file, const std::vector<Override>& sets, const std::string& doc_name) {
  std::string note;
  for (const Override& o : sets) {
    if (override_applies(o, doc_name)) note += (note.empty() ? " (with --set " : ", --set ") + o.key + "=" + o.value;
  }
  return note.empty() ? file : file + note + ")";
}

void apply_overrides(Json& doc, const std::vector<Override>& sets, const std::string& doc_name) {
  for (const Override& o : sets) {
    std::vector<std::string> parts;
    size_t start = 0;
    while (true) {
      const auto dot = o.key.find('.', start);
      parts.push_back(o.key.substr(start, dot - start));
      if (dot == std::string::npos) break;
      start = dot + 1;
    }
    if (!override_applies(o, doc_name)) continue;
    if (!doc_name.empty()) parts.erase(parts.begin());
    if (parts.empty() || std::any_of(parts.begin(), parts.end(), [](const std::string& p) { return p.empty(); })) {
      throw InputError{"--set " + o.key + "=" + o.value, "", "the key must name a value, e.g. machine.cpus"};
    }
    // Objects are entered by key, arrays by index ("workload.tasks.0.fp").
    auto index_of = [](const std::string& p, size_t size) -> long {
      // More digits than any array has elements (and than stoul takes).
      if (p.empty() || p.size() > 9 || p.find_first_not_of("0123456789") != std::string::npos) return -1;
      const unsigned long i = std::stoul(p);
      return i < size ? static_cast<long>(i) : -1;
    };
    Json* node = &doc;
    for (size_t i = 0; i + 1 < parts.size(); ++i) {
      if (node->is_array()) {
        const long k = index_of(parts[i], node->size());
        if (k < 0) {
          throw InputError{"--set " + o.key + "=" + o.value, "",
                           "\"" + parts[i] + "\" is not an index of an array of " + std::to_string(node->size())};
        }
        node = &(*node)[static_cast<size_t>(k)];
        continue;
      }
      if (!node->is_object() || !node->contains(parts[i])) {
        throw InputError{"--set " + o.key + "=" + o.value, "", "no key \"" + parts[i] + "\" to descend into"};
      }
      node = &(*node)[parts[i]];
    }
    Json value;
    try {
      value = Json::parse(o.value);
    } catch (const Json::parse_error&) {
      value = o.value;  // not JSON: a string
    } catch (const Json::out_of_range&) {
      throw InputError{"--set " + o.key + "=" + o.value, "", "the number is out of range (larger than any double)"};
    }
    if (node->is_array()) {
      const long k = index_of(parts.back(), node->size());
      if (k < 0) {
        throw InputError{"--set " + o.key + "=" + o.value, "",
                         "\"" + parts.back() + "\" is not an index of an array of " + std::to_string(node->size())};
      }
      (*node)[static_cast<size_t>(k)] = value;
      continue;
    }
    if (!node->is_object()) {
      throw InputError{"--set " + o.key + "=" + o.value, "", "cannot set a key inside a non-object"};
    }
    (*node)[parts.back()] = value;
  }
}


std::string preset_path(const std::string& kind, const std::string& v, const std::string& relative_to) {
  const bool is_path = v.find('/') != std::string::npos ||
                       (v.size() > 5 && v.compare(v.size() - 5, 5, ".json") == 0);
  if (is_path) return (v[0] == '/' || relative_to.empty()) ? v : dir_of(relative_to) + "/" + v;
  return config_dir() + "/" + kind + "/" + v + ".json";
}

std::vector<std::string> list_presets(const std::string& kind) {
  std::vector<std::string> out;
  const std::string dir = config_dir() + "/" + kind;
  if (DIR* d = ::opendir(dir.c_str())) {
    while (dirent* e = ::readdir(d)) {
      std::string n = e->d_name;
      if (n.size() > 5 && n.compare(n.size() - 5, 5, ".json") == 0) out.push_back(n.substr(0, n.size() - 5));
    }
    ::closedir(d);
  }
  std::sort(out.begin(), out.end());
  return out;
}

void read_machine_base(const JsonIn& in, MachineBase& m) {
  m.name = in.at("name").as_string();
  m.description = in.at("description").as_string();
  JsonIn src = in.at("sources");
  for (size_t i = 0; i < src.size(); ++i) m.sources.push_back(src.at(i).as_string());
  m.arch = in.at("arch").as_string();
  m.cpus = static_cast<unsigned>(in.at("cpus").as_u64(4096));
  m.frequency_mhz = in.at("frequency_mhz").as_positive();
  m.lazyfp_vulnerable = in.at("lazyfp_vulnerable").as_bool();
}

std::string Bound::str() const {
  if (min == max) return std::to_string(min);
  std::string s = ">= " + std::to_string(min);
  if (max != UINT64_MAX) s += " and <= " + std::to_string(max);
  return s;
}

namespace {

Bound read_bound(const JsonIn& j) {
  Bound b;
  if (j.is_object()) {
    if (j.has("min")) b.min = j.at("min").as_u64();
    if (j.has("max")) b.max = j.at("max").as_u64();
    if (b.min > b.max) j.fail("min <= max");
    j.require_all_read();
  } else {
    b.min = b.max = j.as_u64();
  }
  return b;
}

// Loads a preset given inline or by name.
Json resolve_preset(const JsonIn& field, const std::string& kind, const std::string& scenario_file,
                    std::string* file_out) {
  if (field.is_object()) {
    *file_out = scenario_file + " " + field.path();
    return field.json();
  }
  *file_out = preset_path(kind, field.as_string(), scenario_file);
  try {
    return load_json_file(*file_out);
  } catch (const InputError& e) {
    if (e.message.rfind("cannot open", 0) == 0) {
      std::string names;
      for (const auto& n : list_presets(kind)) names += (names.empty() ? "" : ", ") + n;
      throw InputError{field.file(), field.path(),
                       "no " + kind.substr(0, kind.size() - 1) + " preset \"" + field.as_string() + "\" (" +
                           *file_out + " cannot be opened); presets: " + names};
    }
    // The preset file is broken: the scenario's key that named it, too.
    throw InputError{field.file(), field.path(),
                     e.file + (e.path.empty() ? "" : ": " + e.path) + ": " + e.message};
  }
}

// Loads a resolved machine or cost document. Errors in an inline object are
// reported against the scenario at the object's own path ("/machine/cpus").
// Messages name the --set overrides that changed the document, whose values
// are not in the file.
template <class Load>
decltype(auto) load_preset(const JsonIn& field, const Json& doc, const std::string& file, const std::string& scenario_path,
                 const std::vector<Override>& sets, const std::string& doc_name, Load load) {
  const std::string label = with_overrides(file, sets, doc_name);
  try {
    return load(doc, label);
  } catch (InputError& e) {
    if (field.is_object() && e.file == label) {
      e.file = with_overrides(scenario_path, sets, doc_name);
      e.path = field.path() + (e.path == "/" ? "" : e.path);
    }
    throw;
  }
}

}  // namespace

std::unordered_map<std::string, ContextId> name_table(const Scenario& s) {
  std::unordered_map<std::string, ContextId> ids;
  for (size_t i = 0; i < s.contexts.size(); ++i) ids.emplace(s.contexts[i].name, static_cast<ContextId>(i));
  arch_named(s.arch, s.machine_file, "/arch").add_names(s, ids);
  return ids;
}

Scenario load_scenario(const std::string& path, const std::vector<Override>& sets) {
  return load_scenario_doc(load_json_file(path), path, sets);
}

Scenario load_scenario_doc(Json doc, const std::string& path, const std::vector<Override>& sets) {
  Scenario s;
  s.file = path;
  // The name in messages about the scenario document itself.
  const std::string file = with_overrides(path, sets, "");
  apply_overrides(doc, sets, "");
  if (doc.is_object()) {
    // Exactly one source of events: a trace inline, a trace file, or a
    // synthetic workload (and traces need their contexts).
    const int sources = doc.contains("events") + doc.contains("events_file") + doc.contains("workload");
    if (sources > 1) {
      throw InputError{file, "/", "give one of \"events\", \"events_file\" or \"workload\", not several"};
    }
    if (sources == 0) {
      throw InputError{file, "/", "missing required key \"events\" (or \"events_file\", or \"workload\")"};
    }
    if (!doc.contains("workload") && !doc.contains("contexts")) {
      throw InputError{file, "/", "missing required key \"contexts\" (a trace names its contexts)"};
    }
  }
  {
    // Events are checked by the event decoder, whose messages are precise;
    // the rest against the published schema.
    Json head = doc;
    if (head.is_object() && head.contains("events") && head["events"].is_array()) head["events"] = Json::array();
    validate_against_schema(head, schema_named("scenario"), file);
  }
  JsonIn in(doc, file);
  in.at("format");
  in.at("version");
  s.name = in.at("name").as_string();
  s.description = in.at("description").as_string();

  JsonIn machine = in.at("machine");
  s.machine_json = resolve_preset(machine, "machines", path, &s.machine_file);
  apply_overrides(s.machine_json, sets, "machine");
  // The machine's "arch" picks the architecture, which loads the machine,
  // the costs and its own sections of the scenario.
  const Arch& arch = load_preset(machine, s.machine_json, s.machine_file, path, sets, "machine",
                                 [](const Json& d, const std::string& f) -> const Arch& { return arch_of_machine(d, f); });
  s.machine = load_preset(machine, s.machine_json, s.machine_file, path, sets, "machine",
                          [&](const Json& d, const std::string& f) { return arch.load_machine(d, f); });
  s.arch = std::string(arch.name());
  if (in.has("cpus")) {
    s.machine->cpus = static_cast<unsigned>(in.at("cpus").as_u64(4096));
    s.machine_json["cpus"] = s.machine->cpus;
  }
  JsonIn costs = in.at("costs");
  s.costs_json = resolve_preset(costs, "costs", path, &s.costs_file);
  apply_overrides(s.costs_json, sets, "costs");
  s.costs = load_preset(costs, s.costs_json, s.costs_file, path, sets, "costs",
                        [&](const Json& d, const std::string& f) { return arch.load_costs(d, f); });

  JsonIn pol = in.at("policy");
  s.policy = &resolve_policy(arch, pol.as_string(), file, pol.path());

  std::map<std::string, size_t> seen;
  if (in.has("contexts")) {
  JsonIn ctxs = in.at("contexts");
  for (size_t i = 0; i < ctxs.size(); ++i) {
    JsonIn c = ctxs.at(i);
    ContextDecl d;
    d.name = c.at("name").as_string();
    if (d.name == "idle") throw InputError{file, c.path() + "/name", "\"idle\" is reserved (switch to null for idle)"};
    if (!seen.emplace(d.name, i).second) {
      throw InputError{file, c.path() + "/name", "duplicate context name \"" + d.name + "\""};
    }
    if (c.has("kind")) d.kind = c.at("kind").as_string() == "kthread" ? ContextKind::kKthread : ContextKind::kUser;
    d.process = c.has("process") ? c.at("process").as_string() : d.name;
    c.require_all_read();
    s.contexts.push_back(std::move(d));
  }
  }

  // The architecture's own sections (x86: "vms"), which may declare contexts.
  arch.load_scenario_part(in, s, seen, file);

  if (in.has("workload")) {
    JsonIn w = in.at("workload");
    Workload wl;
    wl.seed = w.at("seed").as_u64();
    wl.duration = w.at("duration").as_u64();
    wl.timeslice = w.at("timeslice").as_u64();
    if (!wl.duration) w.at("duration").fail("a duration of at least 1 cycle");
    if (!wl.timeslice) w.at("timeslice").fail("a timeslice of at least 1 cycle");
    if (w.has("wakeup_granularity")) wl.wakeup_granularity = w.at("wakeup_granularity").as_u64();
    if (w.has("balance_interval")) wl.balance_interval = w.at("balance_interval").as_u64();
    if (w.has("irqs")) {
      JsonIn q = w.at("irqs");
      wl.irq_per_million_cycles = q.at("per_million_cycles").as_non_negative();
      if (wl.irq_per_million_cycles > 1e6) {
        q.at("per_million_cycles").fail("at most 1000000 (one interrupt per cycle)");
      }
      wl.irq_dur = q.at("dur").as_u64();
      if (q.has("kernel_fpu_probability")) wl.irq_kernel_fpu_probability = q.at("kernel_fpu_probability").as_non_negative();
      q.require_all_read();
    }
    auto range = [](const JsonIn& r, Cycles* lo, Cycles* hi) {
      *lo = r.at("min").as_u64();
      *hi = r.at("max").as_u64();
      if (*lo > *hi) r.fail("min <= max");
    };
    JsonIn tasks = w.at("tasks");
    for (size_t i = 0; i < tasks.size(); ++i) {
      JsonIn t = tasks.at(i);
      TaskClass tc;
      tc.name = t.at("name").as_string();
      if (t.has("count")) tc.count = static_cast<unsigned>(t.at("count").as_u64(65536));
      JsonIn burst = t.at("burst");
      range(burst, &tc.burst_min, &tc.burst_max);
      if (!tc.burst_min) burst.at("min").fail("a burst of at least 1 cycle");
      burst.require_all_read();
      if (t.has("fp")) {
        JsonIn fp = t.at("fp");
        tc.fp_probability = fp.at("probability").as_non_negative();
        tc.fp_write = arch.components_from_json(fp.at("write"));
        if (fp.has("uses")) tc.fp_uses = static_cast<unsigned>(fp.at("uses").as_u64(64));
        fp.require_all_read();
      }
      if (t.has("sleep")) {
        JsonIn sl = t.at("sleep");
        tc.sleep_probability = sl.at("probability").as_non_negative();
        range(sl, &tc.sleep_min, &tc.sleep_max);
        sl.require_all_read();
      }
      if (t.has("syscall_probability")) tc.syscall_probability = t.at("syscall_probability").as_non_negative();
      if (tc.sleep_probability + tc.syscall_probability > 1) {
        t.fail("sleep.probability + syscall_probability <= 1");
      }
      const std::string permission(arch.dynamic_permission_key());
      if (t.has(permission)) tc.dynamic_permission = t.at(permission).as_bool();
      if (t.has("cpu")) {
        JsonIn c = t.at("cpu");
        tc.cpu = static_cast<int>(c.as_u64(4095));
        if (static_cast<unsigned>(tc.cpu) >= s.machine->cpus) {
          c.fail("a CPU below " + std::to_string(s.machine->cpus) + " (the machine's CPU count)");
        }
      }
      t.require_all_read();
      // One context per task, each its own process: "web0", "web1", ...
      for (unsigned k = 0; k < tc.count; ++k) {
        ContextDecl d;
        d.name = tc.count == 1 ? tc.name : tc.name + std::to_string(k);
        d.process = d.name;
        if (!seen.emplace(d.name, s.contexts.size()).second) {
          throw InputError{file, t.path() + "/name", "task name \"" + d.name + "\" is already a context"};
        }
        s.contexts.push_back(std::move(d));
      }
      wl.tasks.push_back(std::move(tc));
    }
    w.require_all_read();
    // Work bounded by what the input says: an upper bound on the events
    // the tasks and interrupts make (every CPU always running bursts of the
    // shortest length, each with its uses and four more events: switch,
    // syscall, return, sleep). Past 10^11 (hours at a few M events/s) the
    // run would not finish: refused, with the estimate; `run` says the
    // estimate of a long one before it starts (Workload::max_events).
    {
      Cycles shortest = ~Cycles{0};
      unsigned uses = 1;
      for (const TaskClass& tc : wl.tasks) {
        shortest = std::min(shortest, tc.burst_min);
        uses = std::max(uses, tc.fp_uses);
      }
      const double cpus = s.machine->cpus, d = static_cast<double>(wl.duration);
      const double bursts = wl.tasks.empty() ? 0 : cpus * d / static_cast<double>(shortest);
      const double events = bursts * (uses + 4) + cpus * d * wl.irq_per_million_cycles / 1e6;
      constexpr double kMaxEvents = 1e11;
      wl.max_events = events;
      if (events > kMaxEvents) {
        std::ostringstream est;
        est.precision(2);
        est << events;
        w.at("duration").fail("a workload that makes at most 10^11 events (hours at a few million events/s); this one "
                              "may make up to " + est.str() + " (duration " + std::to_string(wl.duration) +
                              " cycles on " + cpus_text(s.machine->cpus) + ", bursts from " +
                              std::to_string(shortest) + " cycles" +
                              (wl.irq_per_million_cycles > 0 ? ", interrupts" : "") +
                              "): shorten the duration or lengthen the bursts");
      }
    }
    s.workload = std::move(wl);
  } else if (in.has("events")) {
    s.inline_events = in.at("events").json();
  } else {
    JsonIn ef = in.at("events_file");
    const std::string f = ef.as_string();
    s.events_file = f[0] == '/' ? f : dir_of(path) + "/" + f;
    if (!is_regular_file(s.events_file)) {
      throw InputError{file, ef.path(), "cannot open " + s.events_file};
    }
  }

  if (in.has("expect")) {
    JsonIn ex = in.at("expect");
    for (auto it = ex.json().begin(); it != ex.json().end(); ++it) {
      JsonIn e = ex.at(it.key());
      Expectation x;
      x.policy = &resolve_policy(arch, it.key(), file, e.path());
      for (const auto& [other, y] : s.expect) {
        if (y.policy == x.policy) {
          throw InputError{file, e.path(), "names the same run as \"" + other + "\" (" + x.policy->name + ")"};
        }
      }
      if (e.has("totals")) {
        JsonIn t = e.at("totals");
        for (auto jt = t.json().begin(); jt != t.json().end(); ++jt) {
          JsonIn b = t.at(jt.key());
          if (!find_stat(jt.key())) {
            throw InputError{file, b.path(), "unknown statistic \"" + jt.key() + "\" (see `fpusim list stats`)"};
          }
          x.totals.emplace_back(jt.key(), read_bound(b));
        }
        t.require_all_read();
      }
      if (e.has("per_context")) {
        JsonIn pc = e.at("per_context");
        for (auto ct = pc.json().begin(); ct != pc.json().end(); ++ct) {
          JsonIn one = pc.at(ct.key());
          if (std::none_of(s.contexts.begin(), s.contexts.end(), [&](const ContextDecl& c) { return c.name == ct.key(); })) {
            throw InputError{file, one.path(), "names no context of the scenario (\"" + ct.key() + "\")"};
          }
          std::vector<std::pair<std::string, Bound>> stats;
          for (auto jt = one.json().begin(); jt != one.json().end(); ++jt) {
            JsonIn b = one.at(jt.key());
            if (!find_stat(jt.key())) {
              throw InputError{file, b.path(), "unknown statistic \"" + jt.key() + "\" (see `fpusim list stats`)"};
            }
            stats.emplace_back(jt.key(), read_bound(b));
          }
          one.require_all_read();
          x.per_context.emplace_back(ct.key(), std::move(stats));
        }
        pc.require_all_read();
      }
      if (e.has("violations")) {
        JsonIn v = e.at("violations");
        for (const ViolationKindInfo& k : violation_kinds()) {
          if (v.has(std::string(k.name))) x.violations[static_cast<unsigned>(k.kind)] = read_bound(v.at(std::string(k.name)));
        }
        v.require_all_read();
      }
      e.require_all_read();
      s.expect.emplace(it.key(), std::move(x));
    }
  }
  in.require_all_read();
  return s;
}

}  // namespace fpusim

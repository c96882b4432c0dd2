// fpusim command line. Parses and validates everything before SystemC is
// touched; each simulation runs in its own process (`run` in this one,
// `check` and `compare` in forked children, `sweep` in executed `run`s, both
// started by sim/app/runner), because the SystemC kernel cannot be restarted.
//
// Exit codes: 0 ok, 1 checker violation or failed expectation, 2 bad input
// or usage, 3 internal error.
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <sstream>

#include <boost/program_options.hpp>
#include <systemc>

#include "sim/input/paths.h"
#include "sim/app/cores.h"
#include "sim/app/plugins.h"
#include "sim/app/runner.h"
#include "sim/input/presets.h"
#include "sim/output/oplog.h"
#include "sim/output/perfetto.h"
#include "sim/platform/platform.h"
#include "sim/input/replayer.h"
#include "sim/output/report.h"
#include "sim/app/sweep.h"
#include "sim/app/explore.h"
#include "sim/input/binary.h"
#include "sim/input/event.h"
#include "sim/import/import.h"

namespace po = boost::program_options;
using namespace fpusim;

// libsystemc's own main() calls sc_main; fpusim has its own main and never
// calls sc_elab_and_sim, but the symbol must exist.
int sc_main(int, char*[]) { return 3; }

namespace {

constexpr int kExitOk = 0, kExitViolation = 1, kExitInput = 2, kExitInternal = 3;

struct UsageError {
  std::string message;
};

const char* kTopHelp =
    "fpusim - cycle-level simulator of FPU/SIMD register-state context switching\n"
    "\n"
    "usage: fpusim COMMAND [options]\n"
    "\n"
    "commands:\n"
    "  run SCENARIO          replay a scenario under one policy; text summary, --json, --csv\n"
    "  compare SCENARIO      run several policies on the same scenario side by side\n"
    "  check SCENARIO...     run every policy a scenario's \"expect\" names and check the results\n"
    "  sweep GRID -o DIR     run a scenario over a grid of policies and --set values, one process per point\n"
    "  convert SCENARIO -o OUT.json   copy a trace scenario with its events in the binary format (OUT.fpt)\n"
    "  explore --policy P    every sequence of events up to a bound on a small system; counterexamples as scenarios\n"
    "  import TRACE -o OUT   a real kernel trace (tracefs, trace-cmd report, perf script, trace.dat) as a scenario\n"
    "  validate TRACE        import, replay, and compare the kernel's saves and restores with the model's\n"
    "  layout MACHINE        a machine preset's state components and their layouts\n"
    "  list WHAT             policies | bugs | machines | costs | stats\n"
    "\n"
    "  fpusim COMMAND --help   options of a command\n"
    "  fpusim --version\n"
    "\n"
    "exit codes: 0 ok, 1 violation or failed expectation, 2 bad input or usage, 3 internal error\n";

po::options_description common_options() {
  po::options_description o("common options");
  o.add_options()("help,h", "show this help")(
      "set", po::value<std::vector<std::string>>()->composing(),
      "KEY=VALUE override, repeatable: 'policy=lazy', 'cpus=4', 'machine.lazyfp_vulnerable=false', "
      "'costs.nm_trap.value=1500'")("config-dir", po::value<std::string>(),
                                    "where machines/, costs/ and schema/ live (default: $FPUSIM_CONFIG_DIR or the "
                                    "source tree's configs/)")(
      "plugin", po::value<std::vector<std::string>>()->composing(),
      "FILE.so: load a policy plugin (models/plugin.h), repeatable; its policies join the built-in ones");
  return o;
}

po::variables_map parse(const std::vector<std::string>& args, const po::options_description& opts,
                        const po::positional_options_description& pos) {
  po::variables_map vm;
  try {
    po::store(po::command_line_parser(args).options(opts).positional(pos).run(), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    throw UsageError{e.what()};
  }
  if (vm.count("config-dir")) set_config_dir(vm["config-dir"].as<std::string>());
  if (vm.count("plugin")) {
    for (const auto& p : vm["plugin"].as<std::vector<std::string>>()) load_plugin(p);
  }
  return vm;
}

// --bug NAME (repeatable): run, compare, check and sweep apply each bug of
// the corpus to the policies it breaks (fpusim list bugs).
void add_bug_option(po::options_description& o) {
  o.add_options()("bug", po::value<std::vector<std::string>>()->composing(),
                  "NAME: run with this bug of the corpus (fpusim list bugs; a commit prefix of 7+ characters), "
                  "applied to the policies it breaks; repeatable");
}
std::vector<std::string> bug_names(const po::variables_map& vm) {
  return vm.count("bug") ? vm["bug"].as<std::vector<std::string>>() : std::vector<std::string>{};
}

// The runs of `rows` with violations, "POLICY (kind N, ...)", for the
// message of compare's exit code 1.
std::string runs_with_violations(const std::vector<PolicyRow>& rows) {
  std::string out;
  for (const PolicyRow& r : rows) {
    const Json& v = r.report["violations"];
    if (v["total"].get<std::uint64_t>() == 0) continue;
    std::string kinds;
    for (const ViolationKindInfo& k : violation_kinds()) {
      const auto n = v[std::string(k.name)].get<std::uint64_t>();
      if (n) kinds += (kinds.empty() ? "" : ", ") + std::string(k.name) + " " + std::to_string(n);
    }
    out += (out.empty() ? "" : "; ") + r.policy + " (" + kinds + ")";
  }
  return out;
}

// --disable-rule KIND (repeatable; run and explore): the checker rules
// switched off.
std::vector<ViolationKind> disabled_rules(const po::variables_map& vm) {
  std::vector<ViolationKind> out;
  if (vm.count("disable-rule")) {
    for (const std::string& k : vm["disable-rule"].as<std::vector<std::string>>()) {
      const ViolationKindInfo* v = find_violation_kind(k);
      if (!v || !v->rule) {
        throw UsageError{"--disable-rule: expected exposed, trap_config, kernel_trap or foreign_regs, got \"" + k + "\""};
      }
      out.push_back(v->kind);
    }
  }
  return out;
}

std::vector<Override> overrides(const po::variables_map& vm) {
  std::vector<Override> out;
  if (vm.count("set")) {
    for (const auto& s : vm["set"].as<std::vector<std::string>>()) out.push_back(parse_override(s));
  }
  return out;
}

void write_output(const std::string& path, const std::string& content) {
  if (path == "-") {
    std::cout << content;
  } else {
    write_file_atomic(path, content);
  }
}

// Fails before any simulation if an output file cannot be written (its
// directory is missing or read-only, or it is a directory), so a bad path
// neither wastes a long run nor leaves one report written and the next not.
void check_output_path(const po::variables_map& vm, const char* option) {
  if (!vm.count(option)) return;
  const std::string path = vm[option].as<std::string>();
  if (path == "-") return;
  const auto slash = path.rfind('/');
  const std::string dir = slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
  std::string problem;
  if (path.empty() || path.back() == '/') {
    problem = "expected a file name";
  } else if (::access(dir.c_str(), W_OK | X_OK) != 0) {
    problem = "cannot write in " + dir + ": " + std::strerror(errno);
  } else if (::access(path.c_str(), F_OK) == 0 && ::access((path + "/.").c_str(), F_OK) == 0) {
    problem = "is a directory";
  }
  if (!problem.empty()) throw InputError{path, "", std::string("--") + option + ": " + problem};
}

// Runs one policy in a child process (run_jobs) and returns its JSON report.
// On bad input the child sends its one-line message instead and exits 2 (3
// for an internal error); the parent prints each distinct message once, so a
// mistake every policy trips over is not reported once per policy, nor
// interleaved with the other children's output.
int simulate_policy(const Scenario& s, const PolicyDesc& policy, std::string& out) {
  try {
    RunResult r = run_scenario(s, policy);
    out = report_json(s, r).dump();
    return kExitOk;
  } catch (const InputError& e) {
    out = "fpusim: " + e.what();
    return kExitInput;
  } catch (const SemanticError& e) {
    out = "fpusim: " + e.message;
    return kExitInput;
  } catch (const InternalError& e) {
    out = "fpusim: internal error: " + e.message;
    return kExitInternal;
  } catch (const std::exception& e) {
    out = "fpusim: internal error: " + std::string(e.what());
    return kExitInternal;
  }
}

// Runs `policies` with at most `jobs` children at a time. Reports in order.
// Interrupted (Ctrl-C), the process ends by that signal once the children
// are gone, as it did when it did not catch it.
std::vector<PolicyRow> run_policies(const Scenario& s, const std::vector<const PolicyDesc*>& policies, unsigned jobs,
                                    int* worst_exit) {
  std::vector<Job> list(policies.size());
  for (size_t i = 0; i < policies.size(); ++i) {
    list[i].fn = [&s, &policy = *policies[i]](std::string& out) { return simulate_policy(s, policy, out); };
  }
  RunnerOptions options;
  options.limit = jobs;
  const JobsRun run = run_jobs(list, options);
  if (run.interrupted) die_of_signal(run.interrupted);
  std::vector<PolicyRow> rows(policies.size());
  std::vector<std::pair<std::string, std::string>> errors;  // message, policies
  for (size_t i = 0; i < policies.size(); ++i) {
    const JobResult& c = run.results[i];
    int code = c.code;
    if (!c.exited) {
      std::cerr << "fpusim: simulation of policy " << policies[i]->name << " died with signal " << c.signal << "\n";
      code = kExitInternal;
    }
    if (code != kExitOk) {
      *worst_exit = std::max(*worst_exit, code);
      if (code == kExitInput || code == kExitInternal) {
        auto it = std::find_if(errors.begin(), errors.end(), [&](const auto& e) { return e.first == c.output; });
        if (it == errors.end()) errors.emplace_back(c.output, policies[i]->name);
        else it->second += ", " + policies[i]->name;
      }
      continue;
    }
    rows[i].policy = policies[i]->name;
    rows[i].report = Json::parse(c.output);
  }
  for (const auto& [message, names] : errors) {
    std::cerr << message << " [" << (names.find(',') == std::string::npos ? "policy " : "policies ") << names << "]\n";
  }
  return rows;
}

std::vector<std::string> split_commas(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, ',')) {
    if (!item.empty()) out.push_back(item);
  }
  return out;
}

int cmd_run(const std::vector<std::string>& args) {
  po::options_description o("fpusim run SCENARIO [options]");
  o.add_options()("scenario", po::value<std::string>(), "scenario JSON file")(
      "policy,p", po::value<std::string>(), "policy (default: the scenario's \"policy\")")(
      "json", po::value<std::string>(), "write the JSON report here ('-' for stdout)")(
      "csv", po::value<std::string>(), "write the CSV report here ('-' for stdout)")(
      "log", po::value<std::string>(), "write every FPU operation (save, restore, trap, MSR write) here ('-' for stdout)")(
      "perfetto", po::value<std::string>(), "write a timeline for ui.perfetto.dev (Chrome trace-event JSON; '-' for stdout)")(
      "vcd", po::value<std::string>(), "write a VCD of each CPU's context, register owner, live bytes and trap controls (1 ps = 1 cycle)")(
      "disable-rule", po::value<std::vector<std::string>>()->composing(),
      "KIND: switch a checker rule off (exposed, trap_config, kernel_trap, foreign_regs), repeatable: which bugs "
      "does a rule alone catch?")(
      "dry-run", "validate the scenario, machine and costs, then exit")("quiet,q", "no text summary")(
      "perf", "print events/s and peak memory on stderr (also without --quiet)")(
      "progress", po::value<double>()->default_value(10),
      "SECONDS: while a long trace replays, a line on stderr every SECONDS (events read, share of the trace, time to "
      "go); 0: none; never with --quiet")(
      "reader-thread", po::value<std::string>()->default_value("auto"),
      "decode the trace on a second thread: on, off, or auto (on unless the environment has "
      "FPUSIM_READER_THREAD=0; sweep passes off to points that share the cores)");
  add_bug_option(o);
  o.add(common_options());
  po::positional_options_description pos;
  pos.add("scenario", 1);
  auto vm = parse(args, o, pos);
  if (vm.count("help")) {
    std::cout << "Replays a scenario under one policy.\n\n" << o << "\n";
    return kExitOk;
  }
  if (!vm.count("scenario")) throw UsageError{"run needs a SCENARIO file (see fpusim run --help)"};
  const std::string reader = vm["reader-thread"].as<std::string>();
  if (reader == "on") Replayer::set_reader_thread(Replayer::ReaderThread::kOn);
  else if (reader == "off") Replayer::set_reader_thread(Replayer::ReaderThread::kOff);
  else if (reader != "auto") throw UsageError{"--reader-thread: expected on, off or auto, got \"" + reader + "\""};
  const double progress = vm["progress"].as<double>();
  if (!(progress >= 0 && progress <= 1e6)) throw UsageError{"--progress: expected seconds from 0 to 1000000"};
  if (!vm.count("quiet")) Replayer::set_progress_interval(progress);
  const std::string path = vm["scenario"].as<std::string>();
  Scenario s = load_scenario(path, overrides(vm));
  const PolicyDesc& named =
      vm.count("policy") ? resolve_policy(scenario_arch(s), vm["policy"].as<std::string>(), "--policy", "") : *s.policy;
  std::vector<const BugDesc*> bugs;
  for (const std::string& b : bug_names(vm)) bugs.push_back(&resolve_bug(scenario_arch(s), b, "--bug", ""));
  const PolicyDesc& policy = policy_with_bugs(scenario_arch(s), named, bugs, "--bug", "");
  RunOptions options;
  options.disabled_rules = disabled_rules(vm);
  if (vm.count("dry-run")) {
    // Decode every event too, so a dry run finds every input error a run
    // would, with the names a run decodes with (the architecture's too: VMs).
    const std::unordered_map<std::string, ContextId> ids = name_table(s);
    const Arch& arch = scenario_arch(s);
    auto src = s.events_file.empty() ? make_inline_source(arch, s.inline_events, s.file, &ids, s.machine->cpus)
                                     : make_file_source(arch, s.events_file, &ids, s.machine->cpus);
    Event e;
    std::uint64_t n = 0;
    while (src->next(e)) ++n;
    std::cout << path << ": ok (" << s.contexts.size() << " contexts, " << n << " events, machine "
              << s.machine->name << ", costs " << s.costs->name << ", policy " << policy.name << ")\n";
    return kExitOk;
  }
  for (const char* opt : {"json", "csv", "log", "perfetto", "vcd"}) check_output_path(vm, opt);
  // '-' is stdout for every text output (an AtomicFile writes a device
  // directly); SystemC names a VCD file itself.
  auto text_output = [&](const char* opt) {
    const std::string p = vm[opt].as<std::string>();
    return p == "-" ? std::string("/dev/stdout") : p;
  };
  if (vm.count("vcd") && vm["vcd"].as<std::string>() == "-") {
    throw UsageError{"--vcd: a VCD needs a file name (SystemC writes it), not -"};
  }
  std::unique_ptr<OpLog> log;
  std::unique_ptr<PerfettoWriter> timeline;
  if (vm.count("perfetto")) {
    std::vector<std::string> names;
    for (const auto& c : s.contexts) names.push_back(c.name);
    timeline = std::make_unique<PerfettoWriter>(text_output("perfetto"), s.name + " [" + policy.name + "]",
                                                scenario_arch(s), std::move(names), s.machine->cpus, s.machine->frequency_mhz);
    options.observers.push_back(timeline.get());
  }
  if (vm.count("vcd")) options.vcd_file = vm["vcd"].as<std::string>();
  if (vm.count("log")) {
    std::vector<std::string> names;
    for (const auto& c : s.contexts) names.push_back(c.name);
    log = std::make_unique<OpLog>(text_output("log"), scenario_arch(s), std::move(names));
  }
  if (log) options.observers.push_back(log.get());
  // A long scheduled run says so before it starts (the workload's bound
  // on its events, load_scenario); it prints nothing more until it ends.
  if (s.workload && s.workload->max_events > 1e9) {
    std::ostringstream m;
    m.precision(2);
    m << "fpusim: this workload may make up to " << s.workload->max_events << " events (at 5 M events/s, up to "
      << std::fixed << std::setprecision(0) << s.workload->max_events / 5e6 / 60 << " minutes)\n";
    std::cerr << m.str();
  }
  RunResult r = run_scenario(s, policy, options);
  if (log) log->close();
  if (timeline) timeline->close(r.cpu_end);
  const Json rep = report_json(s, r);
  if (vm.count("json")) write_output(vm["json"].as<std::string>(), rep.dump(2) + "\n");
  if (vm.count("csv")) {
    std::ostringstream csv;
    write_csv(csv, rep);
    write_output(vm["csv"].as<std::string>(), csv.str());
  }
  if (!vm.count("quiet")) write_text_summary(std::cout, s, r);
  if (!vm.count("quiet") || vm.count("perf")) {
    const double rate = r.wall_seconds > 0 ? static_cast<double>(r.stats.get(Stat::events)) / r.wall_seconds : 0;
    struct rusage ru {};
    ::getrusage(RUSAGE_SELF, &ru);
    std::cerr << "fpusim: " << r.stats.get(Stat::events) << " events in " << r.wall_seconds << " s ("
              << static_cast<std::uint64_t>(rate) << " events/s), peak RSS " << std::fixed << std::setprecision(1)
              << static_cast<double>(ru.ru_maxrss) / 1024.0 << " MiB\n";
  }
  return r.total_violations ? kExitViolation : kExitOk;
}

int cmd_compare(const std::vector<std::string>& args) {
  po::options_description o("fpusim compare SCENARIO [options]");
  o.add_options()("scenario", po::value<std::string>(), "scenario JSON file")(
      "policies", po::value<std::string>()->default_value("eager,lazy,lazy-preload,deferred"),
      "comma-separated policies")("jobs,j", po::value<unsigned>()->default_value(usable_cores()),
                                   "policies simulated in parallel (one process each; default: the usable CPUs)")(
      "json", po::value<std::string>(), "write the comparison as JSON")(
      "csv", po::value<std::string>(), "write the comparison as CSV (one row per policy)");
  add_bug_option(o);
  o.add(common_options());
  po::positional_options_description pos;
  pos.add("scenario", 1);
  auto vm = parse(args, o, pos);
  if (vm.count("help")) {
    std::cout << "Runs several policies on one scenario and shows them side by side; exit code 1 if any run has a\n"
                 "violation (named on stderr), as `run` has.\n\n"
              << o << "\n";
    return kExitOk;
  }
  if (!vm.count("scenario")) throw UsageError{"compare needs a SCENARIO file"};
  Scenario s = load_scenario(vm["scenario"].as<std::string>(), overrides(vm));
  const auto names = split_commas(vm["policies"].as<std::string>());
  if (names.empty()) throw UsageError{"--policies names no policy"};
  std::vector<const PolicyDesc*> policies;
  for (const auto& p : names) policies.push_back(&resolve_policy(scenario_arch(s), p, "--policies", ""));
  policies = apply_cli_bugs(scenario_arch(s), policies, bug_names(vm));
  for (const char* opt : {"json", "csv"}) check_output_path(vm, opt);
  const unsigned jobs = std::max(1u, vm["jobs"].as<unsigned>());
  int worst = kExitOk;
  auto rows = run_policies(s, policies, jobs, &worst);
  if (worst != kExitOk) return worst;
  write_compare_text(std::cout, s, rows);
  if (vm.count("json")) write_output(vm["json"].as<std::string>(), compare_json(s, rows).dump(2) + "\n");
  if (vm.count("csv")) {
    std::ostringstream csv;
    write_compare_csv(csv, rows);
    write_output(vm["csv"].as<std::string>(), csv.str());
  }
  const std::string bad = runs_with_violations(rows);
  if (!bad.empty()) {
    std::cerr << "fpusim: violations under " << bad << "\n";
    return kExitViolation;
  }
  return kExitOk;
}

// Of the --bug names, those that are bugs of `s`'s architecture and break
// one of the runs its expectations name.
std::vector<std::string> bugs_breaking(const Scenario& s, const std::vector<std::string>& names) {
  std::vector<std::string> out;
  for (const std::string& n : names) {
    const BugDesc* bug = find_bug(scenario_arch(s), n, "--bug", "");
    if (!bug) continue;
    for (const auto& [key, x] : s.expect) {
      if (bug_breaks(*bug, *x.policy)) {
        out.push_back(n);
        break;
      }
    }
  }
  return out;
}

int cmd_check(const std::vector<std::string>& args) {
  po::options_description o("fpusim check SCENARIO... [options]");
  o.add_options()("scenario", po::value<std::vector<std::string>>(), "scenario JSON files")(
      "jobs,j", po::value<unsigned>()->default_value(usable_cores()), "simulations in parallel (default: the usable CPUs)");
  add_bug_option(o);
  o.add(common_options());
  po::positional_options_description pos;
  pos.add("scenario", -1);
  auto vm = parse(args, o, pos);
  if (vm.count("help")) {
    std::cout << "Runs every policy named in each scenario's \"expect\" and compares the results. A violation\n"
                 "fails its run unless the expectation allows it (a bug's run in traces/bugs/ expects one). With\n"
                 "--bug, each run the bug breaks runs with it, against the expectation for \"POLICY --bug NAME\".\n\n"
              << o << "\n";
    return kExitOk;
  }
  if (!vm.count("scenario")) throw UsageError{"check needs at least one SCENARIO file"};
  const unsigned jobs = std::max(1u, vm["jobs"].as<unsigned>());
  int exit_code = kExitOk;
  unsigned passed = 0, failed = 0;
  // --bug: each name must be a bug of some architecture (resolve_bug's
  // message otherwise); it applies to the scenarios whose runs it breaks.
  const std::vector<std::string> bugs = bug_names(vm);
  for (const std::string& b : bugs) {
    const auto all = archs();
    if (std::none_of(all.begin(), all.end(), [&](const Arch* a) { return find_bug(*a, b, "--bug", ""); })) {
      resolve_bug(*all.front(), b, "--bug", "");  // throws its message
    }
  }
  // Every scenario is read before any runs, so that bad input stops the
  // command before its first line of output.
  std::vector<Scenario> scenarios;
  for (const auto& path : vm["scenario"].as<std::vector<std::string>>()) {
    scenarios.push_back(load_scenario(path, overrides(vm)));
    if (scenarios.back().expect.empty()) {
      throw InputError{path, "/expect", "no expectations to check: add \"expect\" with at least one policy"};
    }
  }
  if (!bugs.empty() && std::none_of(scenarios.begin(), scenarios.end(),
                                    [&](const Scenario& s) { return !bugs_breaking(s, bugs).empty(); })) {
    throw InputError{"--bug", "", "breaks no run of the scenarios checked (fpusim list bugs: what each breaks)"};
  }
  for (size_t k = 0; k < scenarios.size(); ++k) {
    const Scenario& s = scenarios[k];
    const std::string& path = s.file;
    std::vector<const PolicyDesc*> policies;
    std::vector<const Expectation*> expects;
    for (const auto& [name, x] : s.expect) policies.push_back(x.policy);
    if (!bugs.empty()) {
      // The bugs of this scenario's architecture that break one of its runs;
      // a scenario none of them applies to is skipped.
      const std::vector<std::string> mine = bugs_breaking(s, bugs);
      if (mine.empty()) {
        std::cout << "SKIP " << path << ": no --bug breaks one of its runs\n";
        continue;
      }
      // The runs with the bugs; each against its own expectation, once.
      std::vector<const PolicyDesc*> with = apply_cli_bugs(scenario_arch(s), policies, mine);
      policies.clear();
      for (const PolicyDesc* p : with) {
        if (std::find(policies.begin(), policies.end(), p) == policies.end()) policies.push_back(p);
      }
    }
    std::vector<const PolicyDesc*> missing;
    for (const PolicyDesc* p : policies) {
      const Expectation* x = nullptr;
      for (const auto& [name, e] : s.expect) {
        if (e.policy == p) x = &e;
      }
      if (x) expects.push_back(x);
      else missing.push_back(p);
    }
    for (const PolicyDesc* p : missing) {
      std::cout << "FAIL " << path << " [" << p->name << "]: no expectation for this run: add \"" << p->name
                << "\" to \"expect\"\n";
      ++failed;
      exit_code = std::max(exit_code, kExitViolation);
      policies.erase(std::find(policies.begin(), policies.end(), p));
    }
    int worst = kExitOk;
    auto rows = run_policies(s, policies, jobs, &worst);
    if (worst == kExitInput) return kExitInput;
    for (size_t i = 0; i < policies.size(); ++i) {
      if (rows[i].policy.empty()) {
        std::cout << "FAIL " << path << " [" << policies[i]->name << "]: the simulation failed\n";
        ++failed;
        exit_code = std::max(exit_code, worst);
        continue;
      }
      const auto problems = check_expectation(*expects[i], rows[i].report);
      if (problems.empty()) {
        // A run whose violations its expectation allows (a bug's) passes,
        // and says which it had.
        const std::string had = runs_with_violations({rows[i]});
        std::cout << "PASS " << path << " [" << policies[i]->name << "]";
        if (!had.empty()) std::cout << " with the expected violations" << had.substr(had.find(" ("));
        std::cout << "\n";
        ++passed;
      } else {
        std::cout << "FAIL " << path << " [" << policies[i]->name << "]\n";
        for (const auto& p : problems) std::cout << "       " << p << "\n";
        ++failed;
        exit_code = std::max(exit_code, kExitViolation);
      }
    }
  }
  std::cout << passed << " passed, " << failed << " failed\n";
  return exit_code;
}

int cmd_sweep(const std::vector<std::string>& args) {
  po::options_description o("fpusim sweep GRID -o DIR [options]\n  fpusim sweep DIR --merge [--no-wait]");
  o.add_options()("grid", po::value<std::string>(), "sweep grid JSON file (traces/README.md, \"Sweeps\")")(
      "out,o", po::value<std::string>(), "output directory (points/, results.csv, results.json); reused to resume")(
      "jobs,j", po::value<unsigned>()->default_value(usable_cores()), "points simulated in parallel (one process each; default: the usable CPUs)");
  po::options_description sl("Slurm (README, \"Sweeps on a cluster\")");
  sl.add_options()("slurm", "run the points not done as one Slurm job array (sbatch), wait for it, merge")(
      "partition", po::value<std::string>(), "the job's partition (sbatch --partition)")(
      "max-parallel", po::value<unsigned>(), "N: at most N array tasks at once (--array=...%N)")(
      "time", po::value<std::string>(), "each task's time limit (sbatch --time, e.g. 30 or 1:00:00)")(
      "points-per-task", po::value<unsigned>(), "N: each array task runs N points one after another (for points much shorter than a job's start-up)")(
      "sbatch-arg", po::value<std::vector<std::string>>(), "ARG: passed on to sbatch (repeatable), e.g. --sbatch-arg=--account=proj")(
      "no-wait", "submit, print the job id and return; `fpusim sweep DIR --merge` waits and merges later")(
      "merge", "DIR is a sweep's output directory: wait for its Slurm job if one is queued, then merge its points' reports")(
      "poll", po::value<double>()->default_value(5), "SECONDS between two squeue calls while waiting");
  o.add(sl);
  add_bug_option(o);
  o.add(common_options());
  po::positional_options_description pos;
  pos.add("grid", 1);
  auto vm = parse(args, o, pos);
  if (vm.count("help")) {
    std::cout << "Runs a scenario under every policy and every combination of --set values of a grid, one process\n"
                 "per point, skipping points whose report exists; writes DIR/results.csv and DIR/results.json.\n"
                 "With --slurm the points run as a Slurm job array instead; --merge merges a sweep's results later.\n"
                 "Exit code 0 if every point ran (violations included), 1 if some point failed, 2 for bad input.\n\n"
              << o << "\n";
    return kExitOk;
  }
  SweepOptions so;
  so.merge = vm.count("merge") > 0;
  so.slurm = vm.count("slurm") > 0;
  SlurmOptions& sopt = so.slurm_options;
  sopt.wait = !vm.count("no-wait");
  sopt.poll_seconds = vm["poll"].as<double>();
  if (!(sopt.poll_seconds >= 0.05 && sopt.poll_seconds <= 3600)) {
    throw UsageError{"--poll: expected seconds from 0.05 to 3600"};
  }
  const bool slurm_only = vm.count("partition") || vm.count("max-parallel") || vm.count("time") ||
                          vm.count("sbatch-arg") || vm.count("points-per-task");
  if (so.merge) {
    if (so.slurm || slurm_only || !vm["jobs"].defaulted() || vm.count("set") || vm.count("bug") || vm.count("plugin")) {
      throw UsageError{"--merge runs nothing: it takes the sweep's directory and --no-wait or --poll only "
                       "(the points' --set, --bug and --plugin are in DIR/sweep.json and their run.sh)"};
    }
    if (vm.count("grid") && vm.count("out")) {
      throw UsageError{"--merge takes the sweep's directory once: fpusim sweep DIR --merge"};
    }
    so.out_dir = vm.count("out") ? vm["out"].as<std::string>()
                                 : vm.count("grid") ? vm["grid"].as<std::string>() : std::string();
    if (so.out_dir.empty()) throw UsageError{"--merge needs the sweep's directory: fpusim sweep DIR --merge"};
    return run_sweep(so);
  }
  if (!vm.count("grid")) throw UsageError{"sweep needs a GRID file (see fpusim sweep --help)"};
  if (!vm.count("out")) throw UsageError{"sweep needs an output directory: -o DIR"};
  if (so.slurm && !vm["jobs"].defaulted()) {
    throw UsageError{"-j is for a local sweep; with --slurm, --max-parallel limits the tasks at once"};
  }
  if (!so.slurm && (slurm_only || vm.count("no-wait"))) {
    throw UsageError{"--partition, --max-parallel, --time, --points-per-task, --sbatch-arg and --no-wait need --slurm"};
  }
  if (vm.count("partition")) sopt.partition = vm["partition"].as<std::string>();
  if (vm.count("max-parallel")) {
    sopt.max_parallel = vm["max-parallel"].as<unsigned>();
    if (sopt.max_parallel == 0) throw UsageError{"--max-parallel: expected at least 1"};
  }
  if (vm.count("time")) sopt.time = vm["time"].as<std::string>();
  if (vm.count("points-per-task")) {
    sopt.points_per_task = vm["points-per-task"].as<unsigned>();
    if (sopt.points_per_task == 0) throw UsageError{"--points-per-task: expected at least 1"};
  }
  if (vm.count("sbatch-arg")) sopt.sbatch_args = vm["sbatch-arg"].as<std::vector<std::string>>();
  so.grid_file = vm["grid"].as<std::string>();
  so.out_dir = vm["out"].as<std::string>();
  so.jobs = vm["jobs"].as<unsigned>();
  so.sets = overrides(vm);
  so.bugs = bug_names(vm);
  return run_sweep(so);
}

int cmd_convert(const std::vector<std::string>& args) {
  po::options_description o("fpusim convert SCENARIO -o OUT.json [options]");
  o.add_options()("scenario", po::value<std::string>(), "scenario file (inline events or an events_file)")(
      "out,o", po::value<std::string>(), "the converted scenario; its events go to OUT.fpt next to it")(
      "help,h", "show this help")("config-dir", po::value<std::string>(), "where machines/, costs/ and schema/ live")(
      "plugin", po::value<std::vector<std::string>>()->composing(),
      "FILE.so: load a policy plugin (a scenario may name its policy), repeatable");
  po::positional_options_description pos;
  pos.add("scenario", 1);
  auto vm = parse(args, o, pos);
  if (vm.count("help")) {
    std::cout << "Decodes a trace scenario's events (with every check `run` makes) and writes a copy of the\n"
                 "scenario whose \"events_file\" is a compact binary trace, replayed without JSON parsing.\n\n"
              << o << "\n";
    return kExitOk;
  }
  if (!vm.count("scenario")) throw UsageError{"convert needs a SCENARIO file (see fpusim convert --help)"};
  if (!vm.count("out")) throw UsageError{"convert needs -o OUT.json (see fpusim convert --help)"};
  check_output_path(vm, "out");
  const std::string out = vm["out"].as<std::string>();
  if (out == "-") throw UsageError{"convert writes two files: -o needs a file name, not -"};
  const std::string path = vm["scenario"].as<std::string>();
  const ConvertResult r = convert_scenario(path, out);
  std::cout << out << ": " << r.events << " events in " << r.binary_file << "\n";
  return kExitOk;
}

int cmd_explore(const std::vector<std::string>& args) {
  po::options_description o("fpusim explore --policy P [options]");
  ExploreOptions eo;
  o.add_options()("machine", po::value<std::string>()->default_value(eo.machine), "machine preset (name or file)")(
      "costs", po::value<std::string>(), "cost preset (default: the architecture's)")(
      "policy", po::value<std::string>(), "the policy explored (fpusim list policies); may carry --bug")(
      "cpus", po::value<unsigned>()->default_value(eo.cpus), "CPUs (1 to 4)")(
      "contexts", po::value<unsigned>()->default_value(eo.contexts),
      "tasks A, B, ... (1 to 5), each a process of its own; a task that has not run may be a fork's child")(
      "vcpus", po::value<unsigned>()->default_value(eo.vcpus), "vCPUs of one VM (0 to 2), each run by a thread vmmN")(
      "kthreads", po::value<unsigned>()->default_value(eo.kthreads),
      "kernel threads K0.. (0 to 3): switched in like tasks, no user state, kernel-mode FP")(
      "depth", po::value<unsigned>()->default_value(eo.depth), "the bound: sequences of up to this many events")(
      "events", po::value<std::string>(), "KIND,...: only these event kinds (\"ev\" names; default: all)")(
      "out,o", po::value<std::string>(), "output directory: DIR/counterexamples/KIND.json (scenarios), DIR/explore.json (the figures)")(
      "jobs,j", po::value<unsigned>()->default_value(1), "threads (the results do not depend on it)")(
      "no-symmetry", "do not fold interchangeable tasks and CPUs (more states, the same verdict)")(
      "max-states", po::value<std::uint64_t>()->default_value(0), "stop after this many distinct states (0: none)")(
      "verify", po::value<unsigned>()->default_value(0),
      "self-check of the state key: N pairs of sequences that met under one key are extended by random suffixes, "
      "whose futures must agree")("seed", po::value<std::uint64_t>()->default_value(1), "seed of --verify's sample and suffixes")(
      "verify-weak-key", "test of --verify itself: leave the trace rules out of the state key (unsound; --verify must fail)")(
      "disable-rule", po::value<std::vector<std::string>>()->composing(),
      "KIND: a checker rule switched off during the search (exposed, trap_config, kernel_trap, foreign_regs), "
      "repeatable, to look past its violations; the scenarios written still expect what every rule finds");
  add_bug_option(o);
  o.add(common_options());
  po::positional_options_description pos;
  auto vm = parse(args, o, pos);
  if (vm.count("help")) {
    std::cout << "Explores every sequence of abstract events (switches of any task onto any CPU, uses, syscalls,\n"
                 "kernel-mode FP, interrupts, signals, fork, exec, exit, ptrace, the architecture's own, and with\n"
                 "vCPUs the KVM run loop) up to --depth on a small system, breadth first, pruning states seen\n"
                 "before. Each distinct violation (kind, last event) found is written, as a shortest sequence, as a\n"
                 "scenario with an expect block that fpusim check reproduces.\n"
                 "Exit code 0: bound exhausted, no violation; 1: violations; 2: bad input; 4: stopped by\n"
                 "--max-states without a violation.\n\n"
              << o << "\n";
    return kExitOk;
  }
  if (!vm.count("policy")) throw UsageError{"explore needs --policy (fpusim list policies)"};
  eo.machine = vm["machine"].as<std::string>();
  if (vm.count("costs")) eo.costs = vm["costs"].as<std::string>();
  eo.policy = vm["policy"].as<std::string>();
  eo.bugs = bug_names(vm);
  eo.cpus = vm["cpus"].as<unsigned>();
  eo.contexts = vm["contexts"].as<unsigned>();
  eo.vcpus = vm["vcpus"].as<unsigned>();
  eo.kthreads = vm["kthreads"].as<unsigned>();
  eo.depth = vm["depth"].as<unsigned>();
  if (vm.count("events")) {
    // Every item, empty ones too (explore refuses them: "" is not "all").
    const std::string v = vm["events"].as<std::string>();
    size_t start = 0;
    for (size_t comma; (comma = v.find(',', start)) != std::string::npos; start = comma + 1) {
      eo.events.push_back(v.substr(start, comma - start));
    }
    eo.events.push_back(v.substr(start));
  }
  if (vm.count("out")) eo.out_dir = vm["out"].as<std::string>();
  eo.jobs = vm["jobs"].as<unsigned>();
  eo.symmetry = !vm.count("no-symmetry");
  eo.max_states = vm["max-states"].as<std::uint64_t>();
  eo.verify = vm["verify"].as<unsigned>();
  eo.seed = vm["seed"].as<std::uint64_t>();
  eo.weak_key = vm.count("verify-weak-key") > 0;
  eo.disabled_rules = disabled_rules(vm);
  eo.sets = overrides(vm);
  return run_explore(eo, std::cout, std::cerr);
}

// import and validate share their options.
void add_import_options(po::options_description& o) {
  o.add_options()("trace", po::value<std::string>(), "the trace: tracefs text, trace-cmd report, perf script or trace.dat")(
      "machine", po::value<std::string>(), "machine preset (default: the one consistent with what the trace shows)")(
      "costs", po::value<std::string>(), "cost preset (default: the machine vendor's)")(
      "kernel", po::value<std::string>(), "the traced kernel's release (default: the trace's capture header)")(
      "name", po::value<std::string>(), "the scenario's name (default: from the file name)");
}
trace_import::ImportRequest import_request(const po::variables_map& vm, const std::string& output) {
  if (!vm.count("trace")) throw UsageError{"needs a TRACE file"};
  trace_import::ImportRequest rq;
  rq.trace = vm["trace"].as<std::string>();
  rq.output = output == "-" ? "" : output;
  if (vm.count("machine")) rq.machine = vm["machine"].as<std::string>();
  if (vm.count("costs")) rq.costs = vm["costs"].as<std::string>();
  if (vm.count("kernel")) rq.kernel = vm["kernel"].as<std::string>();
  if (vm.count("name")) rq.name = vm["name"].as<std::string>();
  return rq;
}

// An imported scenario keeps its events inline up to this many; beyond, in a
// JSON-lines events_file streamed at run time (constant memory), as
// traces/README.md's "events_file".
constexpr std::size_t kInlineEventLimit = 100000;

int cmd_import(const std::vector<std::string>& args) {
  po::options_description o("fpusim import TRACE -o SCENARIO.json [options]");
  add_import_options(o);
  o.add_options()("output,o", po::value<std::string>(), "the scenario to write ('-' for stdout)")(
      "events-file", "write the events as JSON lines beside the scenario (SCENARIO.events.jsonl); the default "
                     "beyond 100000 events")("quiet,q", "no summary on stderr");
  o.add(common_options());
  po::positional_options_description pos;
  pos.add("trace", 1);
  auto vm = parse(args, o, pos);
  if (vm.count("help")) {
    std::cout << "Turns a real x86 Linux trace (x86_fpu, sched, raw_syscalls, signal, kvm events) into a scenario\n"
                 "whose expectations are the kernel's own saves and restores, in total and per task. Reads tracefs\n"
                 "text (with or without irq flags), trace-cmd report, perf script and trace.dat.\n"
                 "tools/capture_fpu_trace.sh records such traces.\n\n"
              << o << "\n";
    return kExitOk;
  }
  if (!vm.count("output")) throw UsageError{"import needs -o SCENARIO.json ('-' for stdout)"};
  const std::string out = vm["output"].as<std::string>();
  check_output_path(vm, "output");
  const trace_import::Imported im = trace_import::import_trace(import_request(vm, out));
  const trace_import::Conversion& c = im.conversion;
  std::string events_file;
  if (out != "-" && (vm.count("events-file") || c.events->size() > kInlineEventLimit)) {
    std::string stem = out;
    if (stem.size() > 5 && stem.compare(stem.size() - 5, 5, ".json") == 0) stem.resize(stem.size() - 5);
    const std::string path = stem + ".events.jsonl";
    AtomicFile ev(path);
    c.events->write_jsonl(ev.out());
    ev.commit();
    events_file = path.substr(path.rfind('/') == std::string::npos ? 0 : path.rfind('/') + 1);
  }
  const std::string text = trace_import::scenario_text(c, events_file);
  // The scenario must load (its events decode at run time): checked before it is written.
  load_scenario_doc(Json::parse(text), out == "-" ? "<import>" : out, {});
  write_output(out, text);
  if (!vm.count("quiet")) {
    trace_import::write_import_summary(std::cerr, im, out == "-" ? "" : out);
    if (!events_file.empty()) std::cerr << "  wrote its " << c.events->size() << " events to " << events_file << "\n";
  }
  return kExitOk;
}

// A temporary file, removed when it goes out of scope.
struct TempFile {
  std::string path;
  explicit TempFile(const std::string& suffix) {
    const char* tmp = std::getenv("TMPDIR");
    std::string p = std::string(tmp && *tmp ? tmp : "/tmp") + "/fpusim-validate.XXXXXX" + suffix;
    std::vector<char> buf(p.begin(), p.end());
    buf.push_back('\0');
    const int fd = ::mkstemps(buf.data(), static_cast<int>(suffix.size()));
    if (fd < 0) throw InputError{p, "", std::string("cannot create a temporary file: ") + std::strerror(errno)};
    ::close(fd);
    path = buf.data();
  }
  ~TempFile() { ::unlink(path.c_str()); }
};

int cmd_validate(const std::vector<std::string>& args) {
  po::options_description o("fpusim validate TRACE [options]");
  add_import_options(o);
  o.add_options()("policy,p", po::value<std::string>(), "policy (default: the kernel's, deferred)")(
      "scenario-out", po::value<std::string>(), "also write the imported scenario here (events inline)");
  o.add(common_options());
  po::positional_options_description pos;
  pos.add("trace", 1);
  auto vm = parse(args, o, pos);
  if (vm.count("help")) {
    std::cout << "Imports a real kernel trace (see fpusim import), replays it, and prints per kind and per task the\n"
                 "kernel's saves and restores against the model's, and the first divergence in the trace's context.\n"
                 "Exit code 0 only when every count agrees (and no state is lost or leaked), 1 otherwise.\n\n"
              << o << "\n";
    return kExitOk;
  }
  const std::string out = vm.count("scenario-out") ? vm["scenario-out"].as<std::string>() : "";
  check_output_path(vm, "scenario-out");
  const trace_import::Imported im = trace_import::import_trace(import_request(vm, out));
  const trace_import::Conversion& c = im.conversion;
  if (!out.empty()) write_output(out, trace_import::scenario_text(c));
  // A long trace's events go through a JSON-lines file, streamed as they are replayed.
  std::unique_ptr<TempFile> events;
  if (c.events->size() > kInlineEventLimit) {
    events = std::make_unique<TempFile>(".jsonl");
    std::ofstream f(events->path);
    c.events->write_jsonl(f);
    if (!f.flush()) throw InputError{events->path, "", "cannot write the events: " + std::string(std::strerror(errno))};
  }
  Scenario s = load_scenario_doc(Json::parse(trace_import::scenario_text(c, events ? events->path : "")),
                                 out.empty() ? im.input.file : out, overrides(vm));
  const PolicyDesc& policy =
      vm.count("policy") ? resolve_policy(scenario_arch(s), vm["policy"].as<std::string>(), "--policy", "") : *s.policy;
  return trace_import::validate(std::cout, im, s, policy) ? kExitOk : kExitViolation;
}

int cmd_layout(const std::vector<std::string>& args) {
  po::options_description o("fpusim layout MACHINE [options]");
  o.add_options()("machine", po::value<std::string>(), "machine preset name or JSON file");
  o.add(common_options());
  po::positional_options_description pos;
  pos.add("machine", 1);
  auto vm = parse(args, o, pos);
  if (vm.count("help")) {
    std::cout << "Prints a machine's state components and their layouts, and what the kernel derives from them\n"
                 "(on x86_64: the XSAVE layouts and Linux's fpu_kernel_cfg / fpu_user_cfg / fpu_guest_cfg).\n\n"
              << o << "\n";
    return kExitOk;
  }
  if (!vm.count("machine")) throw UsageError{"layout needs a MACHINE (see fpusim list machines)"};
  const std::string name = vm["machine"].as<std::string>();
  const std::string file = preset_path("machines", name, "");
  Json doc;
  try {
    doc = load_json_file(file);
  } catch (const InputError& e) {
    if (file == name || e.message.rfind("cannot open", 0) != 0) throw;  // a path: the message says it all
    std::string names;
    for (const auto& n : list_presets("machines")) names += (names.empty() ? "" : ", ") + n;
    throw InputError{"layout", "", "no machine preset \"" + name + "\" (" + file + " cannot be opened); presets: " + names};
  }
  const auto sets = overrides(vm);
  apply_overrides(doc, sets, "machine");
  const Arch& arch = arch_of_machine(doc, file);
  const auto m = arch.load_machine(doc, with_overrides(file, sets, "machine"));
  arch.print_layout(std::cout, *m);
  return kExitOk;
}

int cmd_list(const std::vector<std::string>& args) {
  po::options_description o("fpusim list {policies|bugs|machines|costs|stats}");
  o.add_options()("what", po::value<std::string>(), "what to list");
  o.add(common_options());
  po::positional_options_description pos;
  pos.add("what", 1);
  auto vm = parse(args, o, pos);
  if (vm.count("help")) {
    std::cout << o << "\n";
    return kExitOk;
  }
  const std::string what = vm.count("what") ? vm["what"].as<std::string>() : "";
  if (what == "policies") {
    const auto all = archs();
    for (const Arch* a : all) {
      if (all.size() > 1) std::cout << "# " << a->name() << "\n";
      for (const PolicyDesc* p : a->policies()) {
        std::cout << p->name << "\n";
        if (!p->kernels.empty()) std::cout << "    kernels: " << p->kernels << "\n";
        std::cout << "    " << p->description << "\n";
      }
    }
  } else if (what == "bugs") {
    for (const Arch* a : archs()) {
      for (const BugDesc& b : a->bugs()) {
        std::string on;
        for (const std::string& p : b.breaks) on += (on.empty() ? "" : ", ") + p;
        std::cout << b.name << "  " << b.title << "\n"
                  << "    arch: " << a->name() << "; kernels: " << b.kernels << "\n"
                  << "    broke: " << b.broke << "\n"
                  << "    breaks: " << on << (b.alias.empty() ? "" : " (alias: " + b.alias + ")") << "\n"
                  << "    caught as: " << b.shows << "\n"
                  << "    scenario: " << b.scenario << "\n";
      }
    }
  } else if (what == "machines" || what == "costs") {
    for (const auto& n : list_presets(what)) {
      const std::string file = preset_path(what, n, "");
      const Json doc = load_json_file(file);
      // The first sentence of the description; `fpusim layout` shows all.
      std::string d = doc.value("description", "");
      const auto stop = d.find(". ");
      if (stop != std::string::npos) d = d.substr(0, stop + 1);
      std::cout << n << "\n    " << d << "\n";
    }
  } else if (what == "stats") {
    // Group by group: the core's, then each architecture's.
    std::vector<const StatGroup*> groups{&core_stat_group()};
    for (const Arch* a : archs()) {
      for (const StatGroup* g : a->stat_groups()) groups.push_back(g);
    }
    for (const StatGroup* g : groups) {
      std::cout << "# " << g->name << ": " << g->description << "\n";
      for (const StatInfo& st : g->stats) {
        std::cout << st.name << " [" << st.unit << "]\n    " << st.description << "\n";
      }
    }
  } else {
    throw UsageError{"list what? policies, bugs, machines, costs or stats"};
  }
  return kExitOk;
}

}  // namespace

int main(int argc, char** argv) {
  ::setenv("SYSTEMC_DISABLE_COPYRIGHT_MESSAGE", "1", 1);
  std::vector<std::string> args(argv + 1, argv + argc);
  try {
    if (args.empty()) {
      std::cerr << kTopHelp;
      return kExitInput;
    }
    const std::string cmd = args[0];
    std::vector<std::string> rest(args.begin() + 1, args.end());
    if (cmd == "--help" || cmd == "-h" || cmd == "help") {
      std::cout << kTopHelp;
      return kExitOk;
    }
    if (cmd == "--version") {
      std::cout << "fpusim " << FPUSIM_VERSION << " (SystemC " << sc_core::sc_release() << ")\n";
      return kExitOk;
    }
    if (cmd == "run") return cmd_run(rest);
    if (cmd == "compare") return cmd_compare(rest);
    if (cmd == "check") return cmd_check(rest);
    if (cmd == "sweep") return cmd_sweep(rest);
    if (cmd == "convert") return cmd_convert(rest);
    if (cmd == "explore") return cmd_explore(rest);
    if (cmd == "import") return cmd_import(rest);
    if (cmd == "validate") return cmd_validate(rest);
    if (cmd == "layout") return cmd_layout(rest);
    if (cmd == "list") return cmd_list(rest);
    throw UsageError{"unknown command \"" + cmd + "\" (commands: run, compare, check, sweep, convert, explore, import, validate, layout, list)"};
  } catch (const UsageError& e) {
    std::cerr << "fpusim: " << e.message << "\n";
    return kExitInput;
  } catch (const InputError& e) {
    std::cerr << "fpusim: " << e.what() << "\n";
    return kExitInput;
  } catch (const SemanticError& e) {
    std::cerr << "fpusim: " << e.message << "\n";
    return kExitInput;
  } catch (const InternalError& e) {
    std::cerr << "fpusim: internal error: " << e.message << "\n";
    return kExitInternal;
  } catch (const sc_core::sc_report& e) {
    std::cerr << "fpusim: SystemC: " << e.what() << "\n";
    return kExitInternal;
  } catch (const std::exception& e) {
    std::cerr << "fpusim: internal error: " << e.what() << "\n";
    return kExitInternal;
  }
}

#include "sim/output/perfetto.h"

#include <cinttypes>
#include <cstdio>

#include <nlohmann/json.hpp>


namespace fpusim {

namespace {
int run_tid(CpuId c) { return static_cast<int>(2 * c); }
int fpu_tid(CpuId c) { return static_cast<int>(2 * c + 1); }
std::string quote(const std::string& s) { return nlohmann::json(s).dump(); }
}  // namespace

PerfettoWriter::PerfettoWriter(const std::string& path, const std::string& title, const Arch& arch,
                               std::vector<std::string> context_names, unsigned cpus, double frequency_mhz)
    : arch_(arch), names_(std::move(context_names)), mhz_(frequency_mhz), file_(path), cpu_(cpus) {
  file_.out() << "{\"displayTimeUnit\":\"ns\",\"traceEvents\":[\n";
  event("{\"ph\":\"M\",\"pid\":1,\"name\":\"process_name\",\"args\":{\"name\":" + quote(title) + "}}");
  for (CpuId c = 0; c < cpus; ++c) {
    const std::string n = "cpu" + std::to_string(c);
    event("{\"ph\":\"M\",\"pid\":1,\"tid\":" + std::to_string(run_tid(c)) +
          ",\"name\":\"thread_name\",\"args\":{\"name\":\"" + n + "\"}}");
    event("{\"ph\":\"M\",\"pid\":1,\"tid\":" + std::to_string(fpu_tid(c)) +
          ",\"name\":\"thread_name\",\"args\":{\"name\":\"" + n + " fpu\"}}");
    event("{\"ph\":\"M\",\"pid\":1,\"tid\":" + std::to_string(run_tid(c)) +
          ",\"name\":\"thread_sort_index\",\"args\":{\"sort_index\":" + std::to_string(run_tid(c)) + "}}");
    event("{\"ph\":\"M\",\"pid\":1,\"tid\":" + std::to_string(fpu_tid(c)) +
          ",\"name\":\"thread_sort_index\",\"args\":{\"sort_index\":" + std::to_string(fpu_tid(c)) + "}}");
  }
}

std::string PerfettoWriter::ts(Cycles c) const {
  char b[40];
  std::snprintf(b, sizeof b, "%.6f", static_cast<double>(c) / mhz_);  // cycles / MHz = microseconds
  return b;
}

std::string PerfettoWriter::name_of(ContextId c) const {
  if (c == kNoContext) return "idle";
  if (c == kKernelContext) return "kernel";
  return names_.at(c);
}

void PerfettoWriter::event(const std::string& body) {
  file_.out() << (first_ ? "" : ",\n") << body;
  first_ = false;
}

void PerfettoWriter::begin_run_slice(CpuId cpu, Cycles t, const std::string& name, const char* cat) {
  event("{\"ph\":\"B\",\"pid\":1,\"tid\":" + std::to_string(run_tid(cpu)) + ",\"ts\":" + ts(t) +
        ",\"name\":" + quote(name) + ",\"cat\":\"" + cat + "\"}");
}

void PerfettoWriter::end_run_slice(CpuId cpu, Cycles t) {
    event("{\"ph\":\"E\",\"pid\":1,\"tid\":" + std::to_string(run_tid(cpu)) + ",\"ts\":" + ts(t) + "}");
}

void PerfettoWriter::on_switch(CpuId cpu, Cycles t, ContextId prev, ContextId next, Cycles) {
  Track& tr = cpu_[cpu];
  if (tr.open) {
    end_run_slice(cpu, t);
    tr.open = false;
  }
  (void)prev;
  tr.running = next;
  if (next != kNoContext) {
    begin_run_slice(cpu, t, name_of(next), "run");
    tr.open = true;
  }
}

// Guest mode as a slice nested in the vCPU thread's run slice (a thread
// cannot be switched out while its guest runs, so the nesting holds).
void PerfettoWriter::on_guest(CpuId cpu, Cycles t, ContextId guest, bool running) {
  Track& tr = cpu_[cpu];
  if (running && !tr.guest_open) {
    begin_run_slice(cpu, t, name_of(guest) + " (guest)", "guest");
    tr.guest_open = true;
  } else if (!running && tr.guest_open) {
    end_run_slice(cpu, t);
    tr.guest_open = false;
  }
}

void PerfettoWriter::on_operation(const OpRecord& op) {
  std::string args = "{\"context\":" + quote(name_of(op.ctx)) + ",\"cause\":\"" +
                     std::string(arch_.causes().at(op.cause).name) +
                     "\",\"cycles\":" + std::to_string(op.cycles) + ",\"bytes\":" + std::to_string(op.bytes);
  if (op.components) args += ",\"components\":" + quote(arch_.components_string(op.components));
  args += "}";
  const std::string name = std::string(op.op) + (op.ctx == kNoContext ? "" : " " + name_of(op.ctx));
  if (op.cycles) {
    event("{\"ph\":\"X\",\"pid\":1,\"tid\":" + std::to_string(fpu_tid(op.cpu)) + ",\"ts\":" + ts(op.time) +
          ",\"dur\":" + ts(op.cycles) + ",\"name\":" + quote(name) + ",\"cat\":\"" + std::string(op.op) +
          "\",\"args\":" + args + "}");
  } else {
    event("{\"ph\":\"i\",\"s\":\"t\",\"pid\":1,\"tid\":" + std::to_string(fpu_tid(op.cpu)) + ",\"ts\":" +
          ts(op.time) + ",\"name\":" + quote(name) + ",\"cat\":\"" + std::string(op.op) + "\",\"args\":" + args +
          "}");
  }
}

void PerfettoWriter::on_cpu_state(CpuId cpu, Cycles t, const CpuView& v) {
  Track& tr = cpu_[cpu];
  const std::string c = std::to_string(cpu);
  if (v.live_bytes != tr.live) {
    event("{\"ph\":\"C\",\"pid\":1,\"ts\":" + ts(t) + ",\"name\":\"cpu" + c + " live state bytes\",\"args\":{\"bytes\":" +
          std::to_string(v.live_bytes) + "}}");
    tr.live = v.live_bytes;
  }
  const auto& controls = arch_.controls();
  for (size_t i = 0; i < controls.size() && i < kMaxControls; ++i) {
    if (v.controls[i] == tr.controls[i]) continue;
    event("{\"ph\":\"C\",\"pid\":1,\"ts\":" + ts(t) + ",\"name\":\"cpu" + c + " " + std::string(controls[i].display) +
          "\",\"args\":{\"" + std::string(controls[i].arg) + "\":" + std::to_string(v.controls[i]) + "}}");
    tr.controls[i] = v.controls[i];
  }
}

void PerfettoWriter::close(const std::vector<Cycles>& cpu_end) {
  for (CpuId c = 0; c < cpu_.size(); ++c) {
    const Cycles end = c < cpu_end.size() ? cpu_end[c] : 0;
    if (cpu_[c].guest_open) end_run_slice(c, end);
    if (cpu_[c].open) end_run_slice(c, end);
  }
  file_.out() << "\n]}\n";
  file_.commit();
}

}  // namespace fpusim

#include "sim/input/replayer.h"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <system_error>

#include "sim/app/cores.h"

namespace fpusim {

Replayer::Replayer(std::unique_ptr<EventSource> source, unsigned cpus, size_t contexts,
                   const std::vector<std::string>* context_names, std::uint32_t barriers)
    : source_(std::move(source)), barriers_kinds_(barriers), queues_(cpus), rules_(cpus, contexts, context_names),
      fork_pending_(contexts, false), switch_ins_done_(contexts, 0), head_turn_(cpus, 0) {}

namespace {
Replayer::ReaderThread g_reader_thread = Replayer::ReaderThread::kAuto;
double g_progress_interval = 0;

double steady_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}
}  // namespace

void Replayer::set_reader_thread(ReaderThread setting) { g_reader_thread = setting; }
void Replayer::set_progress_interval(double seconds) { g_progress_interval = seconds; }

void Replayer::progress(double fraction) {
  const double now = steady_seconds();
  if (progress_start_ < 0) {
    progress_start_ = progress_last_ = now;
    return;
  }
  if (now - progress_last_ < g_progress_interval) return;
  progress_last_ = now;
  const double elapsed = now - progress_start_;
  char line[200];
  int n = std::snprintf(line, sizeof line, "fpusim: replaying: %.1f M events read", static_cast<double>(read_) / 1e6);
  if (fraction > 0 && fraction <= 1) {
    n += std::snprintf(line + n, sizeof line - static_cast<size_t>(n), ", %.0f%% of the trace, about %.0f s to go",
                       100 * fraction, elapsed * (1 - fraction) / fraction);
  }
  std::snprintf(line + n, sizeof line - static_cast<size_t>(n), ", %.2f M events/s\n",
                elapsed > 0 ? static_cast<double>(read_) / elapsed / 1e6 : 0.0);
  std::fputs(line, stderr);
}

Replayer::ReaderThread Replayer::share_cores(unsigned processes) {
  if (std::getenv("FPUSIM_READER_THREAD")) return ReaderThread::kAuto;
  return usable_cores() < 2 * processes ? ReaderThread::kOff : ReaderThread::kAuto;
}

Replayer::~Replayer() {
  if (thread_.joinable()) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
      space_.notify_one();
    }
    thread_.join();
  }
}

void Replayer::Fifo::grow() {
  std::vector<Queued> b(buf_.empty() ? 16 : 2 * buf_.size());
  for (size_t i = head_; i != tail_; ++i) b[i - head_] = buf_[i & mask_];
  tail_ -= head_;
  head_ = 0;
  buf_.swap(b);
  mask_ = buf_.size() - 1;
}

bool Replayer::fetch(CpuId cpu, Event& out) {
  Fifo& q = queues_[cpu];
  while (q.empty()) {
    const Queued* it = read_next();
    if (!it) return false;
    ++read_;
    note(it->e);
    if (it->e.cpu == cpu) {
      out = it->e;
      head_turn_[cpu] = it->turn;
      return true;
    }
    queues_[it->e.cpu].push(*it);
    if (++buffered_ > peak_buffered_) peak_buffered_ = buffered_;
  }
  out = q.front().e;
  head_turn_[cpu] = q.front().turn;
  q.pop();
  --buffered_;
  return true;
}

const Replayer::Queued* Replayer::read_next_batch() {
  while (true) {
    if (have_batch_) {
      const Batch& b = slots_[taken_ % kSlots];
      if (pos_ < b.n) return &b.items[pos_++];
      // Past the batch's events: the end of the trace or the reader's error
      // (again on every later call: the run stops at the first).
      if (b.error) std::rethrow_exception(b.error);
      if (b.end) return nullptr;
      if (g_progress_interval > 0) progress(b.fraction);
    }
    take_batch();
  }
}

void Replayer::take_batch() {
  if (!started_) {
    started_ = true;
    // Off reads in this thread (simulations that share their cores:
    // share_cores); so does FPUSIM_READER_THREAD=0 unless the setting says
    // on (measurements).
    const char* env = std::getenv("FPUSIM_READER_THREAD");
    const bool thread = g_reader_thread == ReaderThread::kOn ||
                        (g_reader_thread == ReaderThread::kAuto && !(env && std::string(env) == "0"));
    if (thread) {
      for (Batch& b : slots_) b.items.resize(kBatch);
      try {
        thread_ = std::thread([this] { reader(); });
        threaded_ = true;
      } catch (const std::system_error&) {
        threaded_ = false;  // no thread: read in this one
      }
    }
    if (!threaded_) {
      batch_ = kBatchUnthreaded;
      slots_[0].items.resize(batch_);
    }
  }
  if (!threaded_) {
    // One batch, refilled once consumed (taken_ stays 0): fetch() has copied
    // every event it was handed before it asks for the next.
    have_batch_ = true;
    pos_ = 0;
    fill(slots_[0]);
    return;
  }
  std::unique_lock<std::mutex> lock(mu_);
  if (have_batch_) {  // done with it: the reader may refill its slot
    ++taken_;
    --filled_;
    // A waiting reader is woken once half the slots are free, so that it
    // runs in bursts (fewer thread switches on a busy machine).
    if (reader_waiting_ && filled_ <= kSlots / 2) space_.notify_one();
  }
  if (filled_ == 0) {
    sim_waiting_ = true;
    ready_.wait(lock, [this] { return filled_ > 0; });
    sim_waiting_ = false;
  }
  have_batch_ = true;
  pos_ = 0;
}

void Replayer::reader() {
  for (size_t written = 0;; ++written) {
    {
      std::unique_lock<std::mutex> lock(mu_);
      if (filled_ == kSlots) {
        reader_waiting_ = true;
        space_.wait(lock, [this] { return stop_ || filled_ <= kSlots / 2; });
        reader_waiting_ = false;
      }
      if (stop_) return;
    }
    Batch& b = slots_[written % kSlots];
    fill(b);
    {
      std::lock_guard<std::mutex> lock(mu_);
      ++filled_;
      if (sim_waiting_) ready_.notify_one();
    }
    if (b.end || b.error) return;
  }
}

void Replayer::fill(Batch& b) {
  b.n = 0;
  b.end = false;
  b.error = nullptr;
  try {
    while (b.n < batch_) {
      Queued& q = b.items[b.n];
      if (!source_->next(q.e)) {
        b.end = true;
        return;
      }
      rules_.check(q.e, source_->origin(), q.turn);
      ++b.n;
    }
    if (g_progress_interval > 0) b.fraction = source_->fraction_read();
  } catch (...) {
    b.error = std::current_exception();
  }
}

}  // namespace fpusim

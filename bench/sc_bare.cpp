// The bare SystemC rate: one SC_METHOD re-arming itself with next_trigger,
// N timed activations. The ceiling any event-driven SystemC model on this
// machine can reach; bench/run_bench.sh prints fpusim's replay rate against it.
#include <chrono>
#include <cstdio>
#include <cstdlib>

#include <systemc>

namespace {
struct Ticker : sc_core::sc_module {
  SC_HAS_PROCESS(Ticker);
  explicit Ticker(const sc_core::sc_module_name& n, unsigned long long count) : sc_module(n), left(count) {
    SC_METHOD(tick);
  }
  void tick() {
    if (left-- == 0) return;
    next_trigger(sc_core::sc_time::from_value(1 + (left & 255)));
  }
  unsigned long long left;
};
}  // namespace

int sc_main(int argc, char** argv) {
  const unsigned long long n = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 10000000ull;
  sc_core::sc_report_handler::set_actions("/OSCI/SystemC", sc_core::SC_DO_NOTHING);
  sc_core::sc_set_time_resolution(1, sc_core::SC_PS);
  Ticker t("ticker", n);
  const auto t0 = std::chrono::steady_clock::now();
  sc_core::sc_start();
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("%llu %.6f %.0f\n", n, s, static_cast<double>(n) / s);
  return 0;
}

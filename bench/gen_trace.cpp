// Generates a synthetic replay trace for benchmarks: a scenario JSON file and
// a JSON-lines events file. CPUs each run their own tasks round-robin; a
// slice is a switch, a few FP/SIMD uses (SSE, AVX, AVX-512, sometimes only
// reads), sometimes a syscall and return or a softirq using the kernel FPU.
// Deterministic for a seed.
//
//   fpusim-gentrace --events N [--cpus C] [--tasks T] [--seed S] [--arch x86|arm64] --out DIR
// x86 (the default): Sapphire Rapids under deferred, SSE/AVX/AVX-512 uses;
// arm64: Graviton3 under sve-discard, FPSIMD and SVE uses (a syscall drops
// SVE, so SVE uses after one trap again).
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

struct Rng {
  std::uint64_t s;
  std::uint64_t next() {  // splitmix64
    std::uint64_t z = (s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  unsigned below(unsigned n) { return static_cast<unsigned>(next() % n); }
};

struct Cpu {
  std::vector<unsigned> tasks;
  unsigned next = 0;
  int left_in_slice = 0;   // events left before the next switch
  bool in_kernel = false;
};

void usage() {
  std::fprintf(stderr, "usage: fpusim-gentrace --events N [--cpus C] [--tasks T] [--seed S] [--arch x86|arm64] --out DIR\n");
  std::exit(2);
}

}  // namespace

int main(int argc, char** argv) {
  std::uint64_t events = 0, seed = 1;
  unsigned cpus = 2, tasks = 8;
  std::string out, arch = "x86";
  for (int i = 1; i < argc; ++i) {
    auto arg = [&]() -> const char* {
      if (i + 1 >= argc) usage();
      return argv[++i];
    };
    if (!std::strcmp(argv[i], "--events")) events = std::strtoull(arg(), nullptr, 10);
    else if (!std::strcmp(argv[i], "--cpus")) cpus = static_cast<unsigned>(std::atoi(arg()));
    else if (!std::strcmp(argv[i], "--tasks")) tasks = static_cast<unsigned>(std::atoi(arg()));
    else if (!std::strcmp(argv[i], "--seed")) seed = std::strtoull(arg(), nullptr, 10);
    else if (!std::strcmp(argv[i], "--out")) out = arg();
    else if (!std::strcmp(argv[i], "--arch")) arch = arg();
    else usage();
  }
  if (!events || out.empty() || !cpus || tasks < cpus || (arch != "x86" && arch != "arm64")) usage();
  const bool arm64 = arch == "arm64";

  const std::string scen = out + "/bench.json", evs = out + "/bench.jsonl";
  FILE* s = std::fopen(scen.c_str(), "w");
  FILE* e = std::fopen(evs.c_str(), "w");
  if (!s || !e) {
    std::perror("fpusim-gentrace");
    return 2;
  }
  std::fprintf(s,
               "{\n  \"format\": \"fpusim-scenario\", \"version\": 1,\n  \"name\": \"bench-%llu\",\n"
               "  \"description\": \"synthetic benchmark trace: %u CPUs, %u tasks, %llu events, seed %llu\",\n"
               "  %s,\n"
               "  \"cpus\": %u,\n  \"contexts\": [",
               static_cast<unsigned long long>(events), cpus, tasks, static_cast<unsigned long long>(events),
               static_cast<unsigned long long>(seed),
               arm64 ? "\"machine\": \"aws-graviton3\", \"costs\": \"arm64-neoverse\", \"policy\": \"sve-discard\""
                     : "\"machine\": \"intel-sapphire-rapids\", \"costs\": \"intel-like\", \"policy\": \"deferred\"",
               cpus);
  for (unsigned t = 0; t < tasks; ++t) std::fprintf(s, "%s{\"name\": \"T%u\"}", t ? ", " : "", t);
  std::fprintf(s, "],\n  \"events_file\": \"bench.jsonl\"\n}\n");
  std::fclose(s);

  Rng rng{seed};
  std::vector<Cpu> cpu(cpus);
  for (unsigned t = 0; t < tasks; ++t) cpu[t % cpus].tasks.push_back(t);
  static const char* const kX86Writes[] = {"[\"sse\"]", "[\"sse\",\"ymm\"]", "[\"ymm\"]",
                                           "[\"opmask\",\"zmm_hi256\",\"hi16_zmm\"]", "[\"x87\"]"};
  static const char* const kArm64Writes[] = {"[\"fpsimd\"]", "[\"sve\"]", "[\"sve_z\"]", "[\"fpsimd\"]",
                                             "[\"sve_p\",\"sve_ffr\"]"};
  const char* const* writes = arm64 ? kArm64Writes : kX86Writes;
  const char* const read = arm64 ? "fpsimd" : "sse";
  std::uint64_t t = 0;
  char line[256];
  for (std::uint64_t n = 0; n < events; ++n) {
    const unsigned c = static_cast<unsigned>(n % cpus);
    Cpu& k = cpu[c];
    t += 20 + rng.below(400);
    int len;
    if (k.left_in_slice <= 0) {
      if (k.in_kernel) {
        len = std::snprintf(line, sizeof line, "{\"t\":%llu,\"cpu\":%u,\"ev\":\"return_to_user\"}\n",
                            static_cast<unsigned long long>(t), c);
        k.in_kernel = false;
      } else {
        const unsigned task = k.tasks[k.next++ % k.tasks.size()];
        len = std::snprintf(line, sizeof line, "{\"t\":%llu,\"cpu\":%u,\"ev\":\"switch\",\"next\":\"T%u\"}\n",
                            static_cast<unsigned long long>(t), c, task);
        k.left_in_slice = 2 + static_cast<int>(rng.below(6));
      }
    } else {
      --k.left_in_slice;
      const unsigned r = rng.below(100);
      if (k.in_kernel) {
        len = std::snprintf(line, sizeof line, "{\"t\":%llu,\"cpu\":%u,\"ev\":\"return_to_user\"}\n",
                            static_cast<unsigned long long>(t), c);
        k.in_kernel = false;
      } else if (r < 8) {
        len = std::snprintf(line, sizeof line, "{\"t\":%llu,\"cpu\":%u,\"ev\":\"syscall\"}\n",
                            static_cast<unsigned long long>(t), c);
        k.in_kernel = true;
      } else if (r < 11) {
        len = std::snprintf(line, sizeof line,
                            "{\"t\":%llu,\"cpu\":%u,\"ev\":\"irq\",\"dur\":10,\"kernel_fpu\":true}\n",
                            static_cast<unsigned long long>(t), c);
        t += 10;
      } else if (r < 30) {
        len = std::snprintf(line, sizeof line, "{\"t\":%llu,\"cpu\":%u,\"ev\":\"use\",\"read\":[\"%s\"]}\n",
                            static_cast<unsigned long long>(t), c, read);
      } else {
        len = std::snprintf(line, sizeof line, "{\"t\":%llu,\"cpu\":%u,\"ev\":\"use\",\"write\":%s}\n",
                            static_cast<unsigned long long>(t), c, writes[rng.below(5)]);
      }
    }
    std::fwrite(line, 1, static_cast<size_t>(len), e);
  }
  std::fclose(e);
  std::fprintf(stderr, "fpusim-gentrace: %llu events in %s\n", static_cast<unsigned long long>(events), evs.c_str());
  return 0;
}

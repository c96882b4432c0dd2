// A run's model state written out as bytes, for `fpusim explore`
// (sim/app/explore.h), which prunes a state whose key it has seen: two
// states with the same key must have the same futures (the same events
// possible, the same violations, the same keys after them). So a key holds
// everything an agent's future behaviour depends on, and nothing it does
// not: counters, costs and times are out (explore spaces its events so that
// no time rule can bite); the identities the model only compares for
// equality are renumbered in order of first appearance, so that states that
// differ only in them meet:
// - a token's version (a context's versions are fresh numbers; only their
//   equality matters), per owner;
// - a buffer's allocation id (x86 fpstate ids, XRSTOR_INFO).
// Contexts and CPUs are written through a permutation (`ctx_map`,
// `cpu_map`): explore tries the permutations of the interchangeable
// contexts and CPUs that keep them in the order of their signatures
// (reset_signature) and keeps the least key, folding symmetric states. An
// agent writes its per-context and per-CPU state in the order contexts()
// and cpus() give (canonical order), and every ContextId and CpuId through
// ctx() and cpu().
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "models/core/context.h"
#include "models/core/register_file.h"
#include "models/core/types.h"

namespace fpusim {

class StateKey {
 public:
  // `ctx_map[c]`: context c's number in the key; `cpu_map` likewise. Both
  // permutations of 0..n-1.
  void reset(const std::vector<ContextId>& ctx_map, const std::vector<CpuId>& cpu_map) {
    out_.clear();
    versions_.clear();
    buffers_.clear();
    ctx_map_ = ctx_map;
    cpu_map_ = cpu_map;
    ctx_order_.assign(ctx_map.size(), 0);
    for (ContextId c = 0; c < ctx_map.size(); ++c) ctx_order_[ctx_map[c]] = c;
    cpu_order_.assign(cpu_map.size(), 0);
    for (CpuId c = 0; c < cpu_map.size(); ++c) cpu_order_[cpu_map[c]] = c;
  }
  // A signature: the part of the state that is about `contexts` and `cpus`
  // only (an agent writes the per-context and per-CPU parts of those and
  // its shared part), with every context and CPU id written as the same
  // value, so that a context's (or CPU's) signature does not change when
  // contexts and CPUs are renamed. Explore orders the interchangeable
  // contexts and CPUs by signature and tries only the orders of equal ones.
  void reset_signature(std::vector<ContextId> contexts, std::vector<CpuId> cpus, size_t num_contexts,
                       size_t num_cpus) {
    out_.clear();
    versions_.clear();
    buffers_.clear();
    ctx_map_.assign(num_contexts, 0);
    cpu_map_.assign(num_cpus, 0);
    ctx_order_ = std::move(contexts);
    cpu_order_ = std::move(cpus);
  }
  // The contexts and CPUs in the key's order.
  const std::vector<ContextId>& contexts() const { return ctx_order_; }
  const std::vector<CpuId>& cpus() const { return cpu_order_; }

  void u(std::uint64_t v) {
    while (v >= 0x80) {
      out_.push_back(static_cast<char>(v | 0x80));
      v >>= 7;
    }
    out_.push_back(static_cast<char>(v));
  }
  void b(bool v) { out_.push_back(v ? '\1' : '\0'); }
  // A context id (kNoContext and kKernelContext stay as they are).
  void ctx(ContextId c) { u(map_ctx(c)); }
  void cpu(CpuId c) { u(c < cpu_map_.size() ? cpu_map_[c] : c); }
  void tok(const Token& t) {
    const ContextId owner = map_ctx(t.owner);
    u(owner);
    std::uint32_t same_owner = 0;
    for (const Version& v : versions_) {
      if (v.owner != owner) continue;
      if (v.version == t.version) return u(v.index);
      ++same_owner;
    }
    versions_.push_back({owner, t.version, same_owner});
    u(same_owner);
  }
  // The tokens of `m`'s components.
  void tokens(const std::array<Token, kMaxComponents>& tok, ComponentMask m) {
    u(m);
    for (unsigned i : bits(m)) this->tok(tok[i]);
  }
  // A state image: what is present, and its tokens.
  void image(const StateImage& im) { tokens(im.tok, im.present); }
  // A buffer's allocation id (0: none).
  void buffer(std::uint64_t id) {
    if (id == 0) return u(0);
    for (size_t i = 0; i < buffers_.size(); ++i) {
      if (buffers_[i] == id) return u(i + 1);
    }
    buffers_.push_back(id);
    u(buffers_.size());
  }
  // What every architecture's CPU and context have (models/core/): the
  // register file, and a context's place, mode, ground truth, freshness
  // (a fork child must be fresh) and signal frames.
  void register_file(const RegisterFileState& rf) {
    image(rf.regs);
    u(rf.modified);
    buffer(rf.restored_from);
  }
  void context_base(const ContextBase& c) {
    u(static_cast<unsigned>(c.kind));
    cpu(c.running_on);
    b(c.in_user);
    b(c.exited);
    image(c.truth);
    b(c.next_version == 1);
    u(c.sigframes.size());
    for (const StateImage& f : c.sigframes) image(f);
  }
  const std::string& bytes() const { return out_; }

 private:
  std::uint64_t map_ctx(ContextId c) const { return c < ctx_map_.size() ? ctx_map_[c] : c; }
  struct Version {
    std::uint64_t owner;
    std::uint32_t version, index;
  };
  std::string out_;
  std::vector<ContextId> ctx_map_, ctx_order_;
  std::vector<CpuId> cpu_map_, cpu_order_;
  std::vector<Version> versions_;
  std::vector<std::uint64_t> buffers_;
};

}  // namespace fpusim

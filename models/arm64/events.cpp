// How traces write the arm64 events (traces/README.md): the component names
// and the "sve_set_vl" kind with its "vl" key.
#include "models/arm64/events.h"

#include "models/arm64/machine.h"

namespace fpusim::arm64 {

namespace {

enum Key : unsigned { kVl };

class Arm64RecordCheck final : public RecordCheck {
 public:
  std::string check(const Event& e) const override {
    if (e.kind == ev::kSveSetVl) {
      if (e.sub || !valid_vl(static_cast<std::uint64_t>(e.arg)) || e.arg < 0) {
        return "malformed record (vl must be a multiple of 128 from 128 to 2048)";
      }
      return {};
    }
    return "malformed record";
  }
};

class Arm64EventSyntax final : public EventSyntax {
 public:
  Arm64EventSyntax() {
    for (unsigned i = 0; i < kNumComponents; ++i) names_.push_back(component_name(i));
    for (unsigned i = 0; i < kNumComponents; ++i) components_.push_back({names_[i], bit(i)});
    components_.push_back({"sve", kMaskAll});  // a full SVE register-state write: Z (with V), P, FFR
  }
  const std::vector<std::string_view>& keys() const override {
    static const std::vector<std::string_view> k = {"vl"};
    return k;
  }
  const std::vector<ArchKind>& kinds() const override {
    static const std::vector<ArchKind> k = {
        {ev::kSveSetVl, "sve_set_vl", {"vl"}, {"vl"}, kFieldSubArg, kFieldSubArg},
    };
    return k;
  }
  const std::vector<ComponentName>& components() const override { return components_; }
  std::string_view components_hint() const override { return "fpsimd, sve_z, sve_p, sve_ffr or sve (all four)"; }

  void decode_key(unsigned key, EventInput& in, Event& out) const override {
    if (key == kVl) {
      const std::uint64_t vl = in.u64(2048);
      if (!valid_vl(vl)) in.fail("/vl", "a vector length in bits: a multiple of 128 from 128 to 2048");
      out.arg = static_cast<std::int64_t>(vl);
    }
  }
  void finish(const EventInput&, Event&) const override {}

  std::unique_ptr<RecordCheck> record_check(const std::unordered_map<std::string, ContextId>&) const override {
    return std::make_unique<Arm64RecordCheck>();
  }
  bool own_name(std::string_view) const override { return false; }

 private:
  std::vector<std::string> names_;
  std::vector<ComponentName> components_;
};

}  // namespace

const EventSyntax& event_syntax() {
  static const Arm64EventSyntax s;
  return s;
}

}  // namespace fpusim::arm64

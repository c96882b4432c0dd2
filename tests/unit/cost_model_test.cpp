// CostModel: the linear save/restore fit of cost-anchors.md §1.2, scalar
// costs, and loading of the presets in configs/costs (strict: unknown keys
// and negative values are InputErrors naming the JSON path).
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <set>

#include "models/x86/cost_model.h"
#include "sim/input/json_input.h"
#include "models/x86/presets.h"
#include "sim/input/presets.h"
#include "tests/unit/agent_fixture.h"

using namespace fpusim;
using namespace fpusim::test;

namespace {

CostModel simple() {
  CostModel c;
  c.save_base = {10, 20, 30, 40, 50};
  c.restore_base = {100, 200, 300};
  c.save_bytes_per_cycle = 64;
  c.restore_bytes_per_cycle = 32;
  c.memcpy_bytes_per_cycle = 16;
  return c;
}

TEST(CostModel, SaveIsBasePlusBytesOverBandwidth) {
  const CostModel c = simple();
  EXPECT_EQ(c.save(SaveInsn::kFxsave, 512), 10u + 8u);
  EXPECT_EQ(c.save(SaveInsn::kXsave, 640), 20u + 10u);
  EXPECT_EQ(c.save(SaveInsn::kXsaves, 0), 50u);
  // Rounded to the nearest cycle: 40 + 100/64 = 41.56 -> 42.
  EXPECT_EQ(c.save(SaveInsn::kXsavec, 100), 42u);
}

TEST(CostModel, RestoreAndMemcpy) {
  const CostModel c = simple();
  EXPECT_EQ(c.restore(RestoreInsn::kFxrstor, 512), 100u + 16u);
  EXPECT_EQ(c.restore(RestoreInsn::kXrstors, 64 + 8192), 300u + 258u);
  EXPECT_EQ(c.memcpy(1600), 100u);
  EXPECT_EQ(c.memcpy(0), 0u);
}

TEST(CostModel, InstructionNames) {
  for (size_t i = 0; i < static_cast<size_t>(SaveInsn::kCount); ++i) {
    SaveInsn s;
    ASSERT_TRUE(save_insn_by_name(save_insn_name(static_cast<SaveInsn>(i)), &s));
    EXPECT_EQ(static_cast<size_t>(s), i);
  }
  SaveInsn s;
  EXPECT_FALSE(save_insn_by_name("xsave64", &s));
  EXPECT_EQ(restore_insn_name(RestoreInsn::kXrstors), "xrstors");
}

// Every preset value lands in the right field: compare against the raw JSON.
void check_preset(const std::string& name) {
  const std::string path = config_file("costs", name);
  const Json j = load_json_file(path);
  const CostModel c = load_cost_preset(name);
  EXPECT_EQ(c.name, j["name"].get<std::string>());
  for (size_t i = 0; i < static_cast<size_t>(SaveInsn::kCount); ++i) {
    const std::string n(save_insn_name(static_cast<SaveInsn>(i)));
    EXPECT_DOUBLE_EQ(c.save_base[i], j["save_base"][n]["value"].get<double>()) << n;
  }
  for (size_t i = 0; i < static_cast<size_t>(RestoreInsn::kCount); ++i) {
    const std::string n(restore_insn_name(static_cast<RestoreInsn>(i)));
    EXPECT_DOUBLE_EQ(c.restore_base[i], j["restore_base"][n]["value"].get<double>()) << n;
  }
  EXPECT_DOUBLE_EQ(c.save_bytes_per_cycle, j["save_bytes_per_cycle"]["value"].get<double>());
  EXPECT_DOUBLE_EQ(c.restore_bytes_per_cycle, j["restore_bytes_per_cycle"]["value"].get<double>());
  EXPECT_DOUBLE_EQ(c.memcpy_bytes_per_cycle, j["memcpy_bytes_per_cycle"]["value"].get<double>());
  for (const auto& sc : scalar_costs()) {
    const std::string n(sc.name);
    ASSERT_TRUE(j.contains(n)) << n;
    EXPECT_DOUBLE_EQ(c.*(sc.member), j[n]["value"].get<double>()) << n;
  }
  // A full AVX-512 image of 2440 bytes, by the fit.
  const double expect = j["save_base"]["xsaves"]["value"].get<double>() +
                        2440.0 / j["save_bytes_per_cycle"]["value"].get<double>();
  EXPECT_EQ(c.save(SaveInsn::kXsaves, 2440), static_cast<Cycles>(std::llround(expect)));
}

TEST(CostModel, IntelPreset) { check_preset("intel-like"); }
TEST(CostModel, AmdPreset) { check_preset("amd-zen4"); }

TEST(CostModel, IntelAnchors) {
  // cost-anchors: the fit reproduces ~111 cycles for a full AVX-512 XSAVE
  // (2440 B) and ~119 for XSAVES, as the preset's sources say.
  const CostModel c = load_cost_preset("intel-like");
  EXPECT_EQ(c.save(SaveInsn::kXsave, 2440), 111u);
  EXPECT_EQ(c.save(SaveInsn::kXsaves, 2440), 119u);
  EXPECT_DOUBLE_EQ(c.clts, 77.75);
}

TEST(CostModel, ScalarCostTableIsComplete) {
  EXPECT_EQ(scalar_costs().size(), 14u);
  std::set<std::string_view> names;
  for (const auto& sc : scalar_costs()) {
    EXPECT_FALSE(sc.doc.empty()) << sc.name;
    EXPECT_TRUE(names.insert(sc.name).second) << sc.name;
  }
}

InputError load_error(const std::function<void(Json&)>& edit) {
  const std::string path = config_file("costs", "intel-like");
  Json j = load_json_file(path);
  edit(j);
  try {
    x86::load_costs(j, path);
  } catch (const InputError& e) {
    return e;
  }
  ADD_FAILURE() << "no InputError";
  return {};
}

TEST(CostModel, UnknownKeyIsAnError) {
  const InputError e = load_error([](Json& j) { j["nm_trapp"] = {{"value", 1}, {"source", "x"}}; });
  EXPECT_NE(e.what().find("nm_trapp"), std::string::npos) << e.what();
  EXPECT_NE(e.file.find("intel-like.json"), std::string::npos);
}

TEST(CostModel, NegativeValueIsAnError) {
  const InputError e = load_error([](Json& j) { j["nm_trap"]["value"] = -5; });
  EXPECT_NE(e.path.find("nm_trap"), std::string::npos) << e.what();
}

TEST(CostModel, MissingSourceIsAnError) {
  const InputError e = load_error([](Json& j) { j["clts"].erase("source"); });
  EXPECT_NE(e.what().find("clts"), std::string::npos) << e.what();
}

TEST(CostModel, ZeroBandwidthIsAnError) {
  const InputError e = load_error([](Json& j) { j["save_bytes_per_cycle"]["value"] = 0; });
  EXPECT_NE(e.what().find("save_bytes_per_cycle"), std::string::npos) << e.what();
}

}  // namespace

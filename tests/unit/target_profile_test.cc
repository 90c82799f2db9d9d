// Target profiles as data: the JSON form round-trips, a bad file names the
// field, and a profile file changes what the analysis says.
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "analysis/target_profile.h"
#include "gtest/gtest.h"
#include "tests/unit/test_util.h"

namespace qopt {
namespace {

namespace fs = std::filesystem;
using analysis::ResolveTargetProfile;
using analysis::TargetProfile;
using analysis::TargetProfileFromJson;
using analysis::TargetProfileToJson;

std::string WriteTemp(const std::string& name, const std::string& text) {
  const fs::path path = fs::temp_directory_path() / (name + std::to_string(::getpid()) + ".json");
  std::ofstream(path) << text;
  return path.string();
}

TEST(TargetProfileJson, BuiltInProfilesRoundTrip) {
  for (const std::string& name : analysis::TargetProfileNames()) {
    const TargetProfile* builtin = analysis::FindTargetProfile(name);
    ASSERT_NE(builtin, nullptr);
    const nlohmann::json j = TargetProfileToJson(*builtin);
    EXPECT_EQ(j["schema"], "qopt-target/1");
    absl::StatusOr<TargetProfile> back = TargetProfileFromJson(j);
    ASSERT_TRUE(back.ok()) << back.status();
    EXPECT_EQ(TargetProfileToJson(*back), j) << name;
  }
}

// The built-in ort-cpu carries what tools/ort/measure_target.js measured
// (analysis/profiles/ort-cpu.json, embedded at build time).
TEST(TargetProfileJson, BuiltInOrtCpuIsMeasured) {
  const TargetProfile& p = *analysis::FindTargetProfile("ort-cpu");
  EXPECT_NE(p.source.find("onnxruntime-node 1.30.0"), std::string::npos) << p.source;
  EXPECT_TRUE(p.quantize.known());
  EXPECT_EQ(p.fused_activation_types, std::set<ir::ElementType>{ir::ElementType::kUint8});
  bool depthwise_uint8 = false;
  for (const analysis::KernelMeasurement& m : p.measurements) {
    depthwise_uint8 |= m.unit_class == "conv-depthwise" && m.activation == ir::ElementType::kUint8 &&
                       m.integer.known() && m.float_op.known();
  }
  EXPECT_TRUE(depthwise_uint8);
}

TEST(TargetProfileJson, MeasurementsRoundTrip) {
  TargetProfile p = *analysis::FindTargetProfile("ort-cpu");
  p.measurements.clear();
  analysis::KernelMeasurement m;
  m.unit_class = "conv-depthwise";
  m.activation = ir::ElementType::kInt8;
  m.fused_by_runtime = false;
  m.integer = {1000, 0.5, 0};
  m.float_op = {800, 0.25, 0};
  m.note = "slow";
  p.measurements.push_back(m);
  p.quantize = {100, 0, 0.3};
  absl::StatusOr<TargetProfile> back = TargetProfileFromJson(TargetProfileToJson(p));
  ASSERT_TRUE(back.ok()) << back.status();
  ASSERT_EQ(back->measurements.size(), 1u);
  EXPECT_EQ(back->measurements[0].activation, ir::ElementType::kInt8);
  EXPECT_FALSE(back->measurements[0].fused_by_runtime);
  EXPECT_DOUBLE_EQ(back->measurements[0].integer.per_mac_ns, 0.5);
  EXPECT_DOUBLE_EQ(back->quantize.per_element_ns, 0.3);
}

TEST(TargetProfileJson, BadFieldsAreNamed) {
  nlohmann::json j = TargetProfileToJson(*analysis::FindTargetProfile("ort-cpu"));
  auto message = [](const nlohmann::json& bad) {
    absl::StatusOr<TargetProfile> p = TargetProfileFromJson(bad);
    return p.ok() ? std::string("ok") : std::string(p.status().message());
  };
  nlohmann::json bad = j;
  bad["schema"] = "qopt-target/9";
  EXPECT_EQ(message(bad), "field 'schema' is 'qopt-target/9', not 'qopt-target/1'");
  bad = j;
  bad.erase("kernels");
  EXPECT_EQ(message(bad), "field 'kernels' is missing");
  bad = j;
  bad["integer_types"] = {"uint8", "int9"};
  EXPECT_EQ(message(bad), "field 'integer_types' names no element type ('int9')");
  bad = j;
  bad["measurements"] = {{{"unit_class", "matmul"}, {"activation", "uint8"}, {"integer", {{"per_call_ns", "x"}}}}};
  EXPECT_EQ(message(bad), "field 'measurements[0].integer.per_call_ns' has the wrong type (string)");
}

TEST(TargetProfileFile, ResolvesBuiltInsFilesAndErrors) {
  EXPECT_EQ(*ResolveTargetProfile("ort-cpu"), analysis::FindTargetProfile("ort-cpu"));
  absl::StatusOr<const TargetProfile*> missing = ResolveTargetProfile("/nonexistent/profile.json");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(std::string(missing.status().message()).find("unknown target '/nonexistent/profile.json'"),
            std::string::npos);
  const std::string broken = WriteTemp("qopt_broken_profile", "{ not json");
  absl::StatusOr<const TargetProfile*> bad = ResolveTargetProfile(broken);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(std::string(bad.status().message()).find("not valid JSON"), std::string::npos);
  std::remove(broken.c_str());
}

// A profile file that says the runtime fuses int8 activations too: the int8
// Conv unit becomes integer, where the built-in ort-cpu leaves it QDQ.
TEST(TargetProfileFile, DecidesWhatFuseQdqUnitsFuses) {
  const std::string text = R"(
<ir_version: 8, opset_import: ["" : 13]>
g (float[1,2,4,4] X) => (float[1,2,4,4] Y)
<float s = {0.5}, int8 z = {0}, int8[2,2,1,1] Wq = {1, 2, 3, 4}, float ws = {0.25}, int8 wz = {0}>
{
  Xq = QuantizeLinear(X, s, z)
  Xd = DequantizeLinear(Xq, s, z)
  W = DequantizeLinear(Wq, ws, wz)
  C = Conv(Xd, W)
  Cq = QuantizeLinear(C, s, z)
  Y = DequantizeLinear(Cq, s, z)
}
)";
  auto builtin = testing::Parse(text);
  ASSERT_NE(builtin, nullptr);
  testing::RunExpectingSuccess(*builtin, "fuse-qdq-units,dce");
  EXPECT_EQ(testing::OpSequence(builtin->graph()),
            "QuantizeLinear DequantizeLinear DequantizeLinear Conv QuantizeLinear DequantizeLinear");

  nlohmann::json j = TargetProfileToJson(*analysis::FindTargetProfile("ort-cpu"));
  j["name"] = "ort-cpu-int8";
  j["fused_activation_types"] = {"uint8", "int8"};
  j["measurements"] = nlohmann::json::array();  // the measured ones say int8 is not fused
  const std::string path = WriteTemp("qopt_int8_profile", j.dump());
  auto model = testing::Parse(text);
  ASSERT_NE(model, nullptr);
  testing::RunExpectingSuccess(*model, "fuse-qdq-units{target=" + path + "},dce");
  EXPECT_EQ(testing::OpSequence(model->graph()), "QuantizeLinear QLinearConv DequantizeLinear");
  std::remove(path.c_str());
}

}  // namespace
}  // namespace qopt

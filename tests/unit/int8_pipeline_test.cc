// The int8 pass plans its stages from the options and the calibration table
// and keeps float the units a qopt-sensitivity document names.
#include <filesystem>
#include <fstream>
#include <map>

#include "gtest/gtest.h"
#include "tests/unit/test_util.h"

namespace qopt {
namespace {

namespace fs = std::filesystem;
using testing::Parse;
using testing::RunPipeline;

// X -> Conv(W) -> Relu -> Conv(W2) -> Y, the convs named conv1 and conv2.
constexpr char kModel[] = R"(
<ir_version: 8, opset_import: ["" : 13]>
g (float[1,2,2,2] X) => (float[1,2,2,2] Y)
  <float[2,2,1,1] W = {1, -2, 0.5, 3}, float[2,2,1,1] W2 = {0.5, 1, -1, 2}> {
  C = Conv(X, W)
  R = Relu(C)
  Y = Conv(R, W2)
}
)";

std::string WriteFile(const std::string& name, const std::string& text) {
  const fs::path path = fs::temp_directory_path() / (name + "_" + std::to_string(::getpid()) + ".json");
  std::ofstream(path) << text;
  return path.string();
}

std::unique_ptr<ir::Model> NamedModel() {
  auto model = Parse(kModel);
  model->graph().FindValue("C")->producer()->set_name("conv1");
  model->graph().FindValue("Y")->producer()->set_name("conv2");
  return model;
}

std::string Calibration() {
  return WriteFile("int8_calib", R"({"schema": "qopt-calib/1", "tensors": {
    "X": {"min": -1, "max": 1}, "C": {"min": -4, "max": 4}, "R": {"min": 0, "max": 4},
    "Y": {"min": -8, "max": 8}}})");
}

// Which convs read float weights (not a DequantizeLinear).
std::map<std::string, bool> FloatConvs(const ir::Model& model) {
  std::map<std::string, bool> out;
  for (const ir::Node* n : model.graph().node_list()) {
    if (n->op_type() == "Conv") out[n->name()] = n->input(1)->producer() == nullptr;
  }
  return out;
}

TEST(Int8Pipeline, KeepsTheSensitivityFilesUnitsFloat) {
  const std::string calib = Calibration();
  const std::string sens = WriteFile("int8_sens", R"({"schema": "qopt-sensitivity/1",
    "units": [{"rank": 1, "name": "conv2", "keep_float": {"gain_db": 3.0}},
              {"rank": 2, "name": "conv1", "keep_float": {"gain_db": -1.0}}],
    "keep_float": {"names": ["conv1"]}})");

  // budget=2: conv2 (positive gain) only; conv1's gain is negative.
  auto model = NamedModel();
  Report report;
  ASSERT_TRUE(
      RunPipeline(*model, "int8{calibration=" + calib + " sensitivity=" + sens + " budget=2 fuse=none}", &report).ok());
  EXPECT_EQ(FloatConvs(*model), (std::map<std::string, bool>{{"conv1", false}, {"conv2", true}}));

  // Default budget: the document's own keep_float.names.
  auto again = NamedModel();
  ASSERT_TRUE(RunPipeline(*again, "int8{calibration=" + calib + " sensitivity=" + sens + " fuse=none}").ok());
  EXPECT_EQ(FloatConvs(*again), (std::map<std::string, bool>{{"conv1", true}, {"conv2", false}}));

  // Without a sensitivity file both are quantized.
  auto plain = NamedModel();
  ASSERT_TRUE(RunPipeline(*plain, "int8{calibration=" + calib + " fuse=none}").ok());
  EXPECT_EQ(FloatConvs(*plain), (std::map<std::string, bool>{{"conv1", false}, {"conv2", false}}));
  fs::remove(calib);
  fs::remove(sens);
}

TEST(Int8Pipeline, BadSensitivityFileIsAnError) {
  const std::string calib = Calibration();
  const std::string bad = WriteFile("int8_bad", "{\"units\": 3}");
  auto model = NamedModel();
  absl::Status s = RunPipeline(*model, "int8{calibration=" + calib + " sensitivity=" + bad + " budget=1}");
  EXPECT_NE(s.message().find("has no units list"), absl::string_view::npos) << s;
  absl::Status missing = RunPipeline(*model, "int8{calibration=" + calib + " sensitivity=/nonexistent.json}");
  EXPECT_NE(missing.message().find("cannot read sensitivity file"), absl::string_view::npos) << missing;
  fs::remove(calib);
  fs::remove(bad);
}

}  // namespace
}  // namespace qopt

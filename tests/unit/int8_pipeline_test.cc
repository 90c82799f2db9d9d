// The int8 pass plans its stages from the options and the calibration table,
// keeps float the units a qopt-sensitivity document names (or the most
// accurate set it measured within a latency budget), and takes the
// equalization it measured best.
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <utility>

#include "gtest/gtest.h"
#include "passes/quantize/sensitivity_document.h"
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
  model->graph().FindValue("R")->producer()->set_name("relu");
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

// The int8 section of the report.
const Report::Section* Int8Section(const Report& report) {
  for (const Report::Section& s : report.analyses()) {
    if (s.name == "int8") return &s;
  }
  return nullptr;
}

// A prefix-mode document with latencies: all quantized 5 dB at 0.5x FP32;
// conv1 float 8 dB at 0.6x; conv1 and relu float 12 dB at 0.7x.
constexpr char kPrefixWithLatency[] = R"({"schema": "qopt-sensitivity/1",
  "baseline": {"output_sqnr_db": 5, "latency_ratio": 0.5},
  "prefix": {"nodes": ["conv1", "relu"], "sweep": [
    {"units": 1, "nodes": 1, "last_node": "conv1", "output_sqnr_db": 8, "gain_db": 3, "latency_ratio": 0.6},
    {"units": 1, "nodes": 2, "last_node": "relu", "output_sqnr_db": 12, "gain_db": 7, "latency_ratio": 0.7}]},
  "keep_float": {"names": []}})";

TEST(Int8Pipeline, LatencyBudgetKeepsTheMostAccurateMeasuredSetWithinIt) {
  const std::string calib = Calibration();
  const std::string sens = WriteFile("int8_lat", kPrefixWithLatency);
  const auto run = [&](const std::string& budget, Report* report) {
    auto model = NamedModel();
    absl::Status s = RunPipeline(
        *model, "int8{calibration=" + calib + " sensitivity=" + sens + " latency-budget=" + budget + " fuse=none}",
        report);
    EXPECT_TRUE(s.ok()) << s;
    return FloatConvs(*model);
  };
  Report wide, narrow, none;
  EXPECT_EQ(run("0.75", &wide), (std::map<std::string, bool>{{"conv1", true}, {"conv2", false}}));
  EXPECT_EQ(run("0.65", &narrow), (std::map<std::string, bool>{{"conv1", true}, {"conv2", false}}));
  EXPECT_EQ(run("0.4", &none), (std::map<std::string, bool>{{"conv1", false}, {"conv2", false}}));
  // 0.75 takes both nodes (12 dB), 0.65 only conv1 (8 dB): the reports say which and why.
  ASSERT_NE(Int8Section(wide), nullptr);
  EXPECT_NE(Int8Section(wide)->data["pipeline"].get<std::string>().find("exclude-nodes=^(conv1|relu)$}"),
            std::string::npos)
      << Int8Section(wide)->data["pipeline"];
  EXPECT_NE(Int8Section(wide)->text.find("12.00 dB at 0.70x FP32"), std::string::npos) << Int8Section(wide)->text;
  EXPECT_NE(Int8Section(narrow)->data["pipeline"].get<std::string>().find("exclude-nodes=^(conv1)$}"),
            std::string::npos);
  EXPECT_NE(Int8Section(none)->text.find("over the latency budget 0.40x"), std::string::npos)
      << Int8Section(none)->text;
  fs::remove(calib);
  fs::remove(sens);
}

TEST(Int8Pipeline, LatencyBudgetReadsTheGreedyStepsOfKeepFloatMode) {
  const std::string calib = Calibration();
  const std::string sens = WriteFile("int8_lat_kf", R"({"schema": "qopt-sensitivity/1",
    "baseline": {"output_sqnr_db": 5, "latency_ratio": 0.5},
    "keep_float": {"names": ["conv2"], "tried": [
      {"names": ["conv2"], "output_sqnr_db": 9, "kept": true, "latency_ratio": 0.9},
      {"names": ["conv2", "conv1"], "output_sqnr_db": 7, "kept": false, "latency_ratio": 1.1},
      {"names": ["conv1"], "output_sqnr_db": 6, "kept": false, "latency_ratio": 0.55}]}})");
  auto model = NamedModel();
  ASSERT_TRUE(
      RunPipeline(*model, "int8{calibration=" + calib + " sensitivity=" + sens + " latency-budget=0.6 fuse=none}")
          .ok());
  EXPECT_EQ(FloatConvs(*model), (std::map<std::string, bool>{{"conv1", true}, {"conv2", false}}));
  fs::remove(calib);
  fs::remove(sens);
}

TEST(Int8Pipeline, LatencyBudgetNeedsMeasuredLatencies) {
  const std::string calib = Calibration();
  const std::string unmeasured = WriteFile("int8_nolat", R"({"baseline": {"output_sqnr_db": 5},
    "keep_float": {"names": []}})");
  const std::string measured = WriteFile("int8_lat2", kPrefixWithLatency);
  auto model = NamedModel();
  absl::Status no_file = RunPipeline(*model, "int8{calibration=" + calib + " latency-budget=0.7}");
  EXPECT_NE(no_file.message().find("latency-budget= chooses among the sets a sensitivity= document measured"),
            absl::string_view::npos)
      << no_file;
  absl::Status no_latency = RunPipeline(
      *model, "int8{calibration=" + calib + " sensitivity=" + unmeasured + " latency-budget=0.7}");
  EXPECT_NE(no_latency.message().find("has no measured latency"), absl::string_view::npos) << no_latency;
  absl::Status both = RunPipeline(
      *model, "int8{calibration=" + calib + " sensitivity=" + measured + " budget=1 latency-budget=0.7}");
  EXPECT_NE(both.message().find("not both"), absl::string_view::npos) << both;
  fs::remove(calib);
  fs::remove(unmeasured);
  fs::remove(measured);
}

TEST(Int8Pipeline, EqualizeAutoTakesWhatTheDocumentMeasuredBest) {
  const std::string calib = Calibration();
  const std::string chosen = WriteFile("int8_eq", R"({"keep_float": {"names": []}, "equalize": {
    "chosen": "smoothquant{alpha=0.5}", "chosen_pass": {"name": "smoothquant", "options": [["alpha", "0.5"]]},
    "why": "smoothquant{alpha=0.5}: +1.2 dB over none"}})");
  const std::string none = WriteFile("int8_eq_none", R"({"keep_float": {"names": []}, "equalize": {
    "chosen": "none", "chosen_pass": null, "why": "none: no candidate gained 0.5 dB"}})");
  const auto pipeline_and_text = [&](const std::string& options) {
    auto model = NamedModel();
    Report report;
    absl::Status s = RunPipeline(*model, "int8{calibration=" + calib + " fuse=none " + options + "}", &report);
    EXPECT_TRUE(s.ok()) << s;
    const Report::Section* section = Int8Section(report);
    return section ? std::make_pair(section->data["pipeline"].get<std::string>(), section->text)
                   : std::make_pair(std::string(), std::string());
  };
  auto [with_sq, with_sq_text] = pipeline_and_text("sensitivity=" + chosen);
  EXPECT_NE(with_sq.find("canonicalize,smoothquant{calibration=" + calib + " alpha=0.5},quantize{"), std::string::npos)
      << with_sq;
  EXPECT_NE(with_sq_text.find("+1.2 dB over none"), std::string::npos) << with_sq_text;
  auto [without, without_text] = pipeline_and_text("sensitivity=" + none);
  EXPECT_EQ(without.find("smoothquant"), std::string::npos) << without;
  EXPECT_NE(without_text.find("no equalization: none measured best"), std::string::npos) << without_text;
  auto [unmeasured, unmeasured_text] = pipeline_and_text("");
  EXPECT_NE(unmeasured_text.find("nothing measured it"), std::string::npos) << unmeasured_text;
  // equalize=none overrides the document.
  auto [off, off_text] = pipeline_and_text("sensitivity=" + chosen + " equalize=none");
  EXPECT_EQ(off.find("smoothquant"), std::string::npos) << off;
  fs::remove(calib);
  fs::remove(chosen);
  fs::remove(none);
}

TEST(ChooseWithinLatency, HighestSqnrWithinTheBudgetTiesToFewerNodes) {
  using quantize::MeasuredKeepFloat;
  const std::vector<MeasuredKeepFloat> sets = {{"all quantized", {}, 5, 0.5},
                                               {"a", {"a"}, 9, 0.6},
                                               {"ab", {"a", "b"}, 9, 0.65},
                                               {"abc", {"a", "b", "c"}, 20, 1.2}};
  EXPECT_EQ(quantize::ChooseWithinLatency(sets, 0.7).index, std::optional<size_t>(1));
  EXPECT_EQ(quantize::ChooseWithinLatency(sets, 1.5).index, std::optional<size_t>(3));
  EXPECT_EQ(quantize::ChooseWithinLatency(sets, 0.55).index, std::optional<size_t>(0));
  EXPECT_EQ(quantize::ChooseWithinLatency(sets, 0.45).index, std::nullopt);
  // A set less accurate than all-quantized is not taken.
  const std::vector<MeasuredKeepFloat> worse = {{"all quantized", {}, 5, 0.5}, {"a", {"a"}, 4, 0.6}};
  EXPECT_EQ(quantize::ChooseWithinLatency(worse, 1.0).index, std::optional<size_t>(0));
}

}  // namespace
}  // namespace qopt

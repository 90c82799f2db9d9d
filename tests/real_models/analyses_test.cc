// The analyses on the real PaddleOCR models, quantized by the quantize pass.
// Calibration ranges are written here for every float tensor (a fixed
// [-4, 4]): these tests check structure, not accuracy, and need no ONNX
// Runtime. Counts are cross-checked against an independent walk over the
// exported protobuf.
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include "gtest/gtest.h"
#include "render/graph_dot.h"
#include "render/dot.h"
#include "ir/serialization.h"
#include "tests/unit/test_util.h"

namespace qopt {
namespace {

namespace fs = std::filesystem;

std::string ModelPath(const std::string& name) {
  return std::string(QOPT_SOURCE_DIR) + "/testdata/models/paddleocr-" + name + ".onnx";
}

// calib.json with the range [-4, 4] for every value of the graph.
std::string WriteUniformCalibration(const ir::Model& model, const std::string& tag) {
  const fs::path path = fs::temp_directory_path() / ("qopt_" + tag + std::to_string(::getpid()) + ".calib.json");
  std::ofstream out(path);
  out << "{\"schema\": \"qopt-calib/1\", \"tensors\": {";
  bool first = true;
  for (const ir::Value* v : model.graph().values()) {
    out << (first ? "" : ",") << "\"" << v->name() << "\": {\"min\": -4, \"max\": 4}";
    first = false;
  }
  out << "}}";
  return path.string();
}

// Like WriteUniformCalibration, but the output of a Mul or Div by a positive
// constant gets its input's range scaled by it, as a calibration run would
// measure: hard-swish's "/ 6" then only moves the scale, and fuse-qdq can
// remove it.
std::string WriteScaledCalibration(const ir::Model& model, const std::string& tag) {
  std::map<const ir::Value*, double> half_width;
  for (const ir::Node* n : model.graph().node_list()) {
    if (!(n->Is("Mul") || n->Is("Div")) || n->input(1) == nullptr || n->input(1)->constant() == nullptr) continue;
    auto c = n->input(1)->constant()->ToDoubles();
    if (!c.ok() || c->size() != 1 || !((*c)[0] > 0)) continue;
    const double in = half_width.contains(n->input(0)) ? half_width[n->input(0)] : 4.0;
    half_width[n->output()] = n->Is("Mul") ? in * (*c)[0] : in / (*c)[0];
  }
  const fs::path path = fs::temp_directory_path() / ("qopt_" + tag + std::to_string(::getpid()) + ".calib.json");
  std::ofstream out(path);
  out << "{\"schema\": \"qopt-calib/1\", \"tensors\": {";
  bool first = true;
  for (const ir::Value* v : model.graph().values()) {
    const double w = half_width.contains(v) ? half_width[v] : 4.0;
    out << (first ? "" : ",") << "\"" << v->name() << "\": {\"min\": " << -w << ", \"max\": " << w << "}";
    first = false;
  }
  out << "}}";
  return path.string();
}

std::unique_ptr<ir::Model> Canonicalized(const std::string& name) {
  auto model = ir::LoadModel(ModelPath(name));
  EXPECT_TRUE(model.ok()) << model.status();
  if (!model.ok()) return nullptr;
  EXPECT_TRUE(testing::RunPipeline(**model, "canonicalize").ok());
  return *std::move(model);
}

int CountOp(const onnx::ModelProto& proto, const std::string& op, bool constant_input = false) {
  std::set<std::string> initializers;
  for (const auto& t : proto.graph().initializer()) initializers.insert(t.name());
  int n = 0;
  for (const auto& node : proto.graph().node()) {
    if (node.op_type() != op) continue;
    if (initializers.contains(node.input(0)) == constant_input) ++n;
  }
  return n;
}

// (model, quantize options): u8s8, s8s8 and per-channel QDQ.
class QuantizedRealModel : public ::testing::TestWithParam<std::tuple<std::string, std::string>> {};

TEST_P(QuantizedRealModel, OpCountBoundariesAndExactQdqCounts) {
  const auto& [name, options] = GetParam();
  auto model = Canonicalized(name);
  ASSERT_NE(model, nullptr);
  const fs::path fp32 = fs::temp_directory_path() / ("qopt_fp32_" + name + std::to_string(::getpid()) + ".onnx");
  ASSERT_TRUE(ir::SaveModel(*model, fp32.string()).ok());
  const std::string calib = WriteUniformCalibration(*model, name);
  Report report;
  absl::Status s = testing::RunPipeline(
      *model, "quantize{calibration=" + calib + " " + options + "},op-count{compare=" + fp32.string() +
                  "},qdq-boundaries,quant-lint",
      &report);
  ASSERT_TRUE(s.ok()) << s;
  const nlohmann::json doc = report.ToJson();

  // op-count --compare of QDQ against FP32: the ~3x node ratio.
  const double ratio = doc["analyses"]["op-count"]["compare"]["node_ratio"].get<double>();
  EXPECT_GT(ratio, 2.5) << name;
  EXPECT_LT(ratio, 3.8) << name;
  // qopt's own quantization passes its own lint.
  EXPECT_EQ(report.CountFindings(Severity::kError), 0) << report.ToText();

  // Q/DQ counts against an independent count over the written protobuf.
  const onnx::ModelProto proto = ir::ExportModel(*model);
  const auto& b = doc["analyses"]["qdq-boundaries"];
  EXPECT_EQ(b["transitions"]["float_to_int"].get<int>(), CountOp(proto, "QuantizeLinear"));
  const auto& counts = doc["analyses"]["op-count"]["by_op"];
  EXPECT_EQ(counts["QuantizeLinear"].get<int>(), CountOp(proto, "QuantizeLinear") + CountOp(proto, "QuantizeLinear", true));
  EXPECT_EQ(counts["DequantizeLinear"].get<int>(),
            CountOp(proto, "DequantizeLinear") + CountOp(proto, "DequantizeLinear", true));
  EXPECT_EQ(b["transitions"]["int_to_float"].get<int>(), CountOp(proto, "DequantizeLinear"));

  // The squeeze-excitation (HardSigmoid) and hard-swish (x * Clip(x + 3) / 6:
  // the Div) boundaries are named. The Mul of both blocks is quantized in
  // ORT's layout (its inputs and output get Q/DQ), so it is an integer unit;
  // the float regions name it as the op the boundary leads into.
  const auto& reasons = b["reasons"];
  std::set<std::string> left_float_ops;
  for (const auto& unit : b["units_left_float"]) left_float_ops.insert(unit["op_type"].get<std::string>());
  if (options.find("activation=s8") != std::string::npos) {
    // int8 activations: ONNX Runtime on x86 fuses none of these units (the
    // ort-cpu profile's measured fact), so every Conv stays Q/DQ, and says why.
    EXPECT_TRUE(reasons.contains("int8 activations: not fused by ORT on this target")) << reasons.dump();
    EXPECT_TRUE(left_float_ops.contains("Conv"));
    EXPECT_TRUE(left_float_ops.contains("HardSigmoid"));
    fs::remove(calib);
    fs::remove(fp32);
    return;
  }
  auto region_exits_to = [&](const std::string& op, const std::string& next) {
    for (const auto& region : b["float_regions"]) {
      const auto& ops = region["ops"];
      const auto& exits = region["exits_to"];
      if (std::find(ops.begin(), ops.end(), op) != ops.end() && std::find(exits.begin(), exits.end(), next) != exits.end()) {
        return true;
      }
    }
    return false;
  };
  EXPECT_TRUE(region_exits_to("HardSigmoid", "Mul")) << b["float_region_patterns"].dump();
  EXPECT_TRUE(region_exits_to("Div", "Mul")) << b["float_region_patterns"].dump();
  EXPECT_TRUE(reasons.contains("no integer kernel for HardSigmoid on ort-cpu")) << reasons.dump();
  EXPECT_TRUE(reasons.contains("no integer kernel for Div on ort-cpu")) << reasons.dump();
  EXPECT_TRUE(left_float_ops.contains("HardSigmoid"));
  EXPECT_TRUE(left_float_ops.contains("Div"));
  EXPECT_FALSE(left_float_ops.contains("Conv")) << "every Conv is quantized";
  EXPECT_GT(b["islands"]["count"].get<int>(), 1);
  fs::remove(calib);
  fs::remove(fp32);
}

INSTANTIATE_TEST_SUITE_P(PaddleOcr, QuantizedRealModel,
                         ::testing::Combine(::testing::Values("det", "rec", "cls"),
                                            ::testing::Values("", "activation=s8", "per-channel=true")));

// The dynamic layout: every DynamicQuantizeLinear is reported as a dynamic
// site, and the op-count matches an independent count.
class DynamicRealModel : public ::testing::TestWithParam<std::string> {};

TEST_P(DynamicRealModel, DynamicSitesCounted) {
  auto model = Canonicalized(GetParam());
  ASSERT_NE(model, nullptr);
  Report report;
  ASSERT_TRUE(testing::RunPipeline(*model, "quantize{mode=dynamic},op-count,qdq-boundaries", &report).ok());
  const nlohmann::json doc = report.ToJson();
  const onnx::ModelProto proto = ir::ExportModel(*model);
  const int dql = CountOp(proto, "DynamicQuantizeLinear");
  EXPECT_GT(dql, 10);
  EXPECT_EQ(doc["analyses"]["qdq-boundaries"]["dynamic_quantize_sites"].size(), static_cast<size_t>(dql));
  EXPECT_EQ(doc["analyses"]["op-count"]["by_op"]["DynamicQuantizeLinear"].get<int>(), dql);
  EXPECT_GT(doc["analyses"]["op-count"]["by_op"]["ConvInteger"].get<int>(), 0);
}

INSTANTIATE_TEST_SUITE_P(PaddleOcr, DynamicRealModel, ::testing::Values("det", "rec", "cls"));

// fuse-qdq on the u8s8 and per-channel QDQ models: at most as many nodes as
// the FP32 model, no identical DQ -> Q pair left, every Conv an integer
// QLinearConv, and the analyses read the QOperator result (lint-clean, the
// same biases checked). The numbers are checked in ONNX Runtime by
// tests/ort/pipeline_parity.sh.
class FusedRealModel : public ::testing::TestWithParam<std::tuple<std::string, std::string>> {};

TEST_P(FusedRealModel, FewerNodesThanFp32AndAnalysesOnQOperatorForm) {
  const auto& [name, options] = GetParam();
  auto model = Canonicalized(name);
  ASSERT_NE(model, nullptr);
  const int64_t fp32_nodes = model->graph().num_nodes();
  int64_t fp32_convs = 0;
  for (const ir::Node* n : model->graph().node_list()) fp32_convs += n->Is("Conv");
  const std::string calib = WriteScaledCalibration(*model, name + "fused");
  Report quantized;
  ASSERT_TRUE(testing::RunPipeline(*model, "quantize{calibration=" + calib + " " + options + "},bias-overflow",
                                   &quantized).ok());
  const size_t biases = quantized.ToJson()["analyses"]["bias-overflow"]["entries"].size();
  Report report;
  absl::Status s = testing::RunPipeline(*model, "fuse-qdq,qdq-boundaries,bias-overflow,quant-lint", &report);
  ASSERT_TRUE(s.ok()) << s;
  const nlohmann::json doc = report.ToJson();

  EXPECT_LE(model->graph().num_nodes(), fp32_nodes) << name;
  const onnx::ModelProto proto = ir::ExportModel(*model);
  EXPECT_EQ(CountOp(proto, "Conv"), 0);
  EXPECT_EQ(CountOp(proto, "QLinearConv"), fp32_convs);
  const auto& b = doc["analyses"]["qdq-boundaries"];
  EXPECT_FALSE(b["redundant_counts"].contains("dq-q-identical")) << b["redundant_counts"].dump();
  // The QOperator model is analysed as such: its integer ops form islands,
  // every bias behind QLinearConv is checked, and the lint is clean.
  EXPECT_GT(b["fusable_units"].get<int>(), 0);
  EXPECT_EQ(doc["analyses"]["bias-overflow"]["entries"].size(), biases);
  EXPECT_EQ(report.CountFindings(Severity::kError), 0) << report.ToText();
  // The pipeline's own summary agrees with the graph.
  EXPECT_EQ(doc["analyses"]["fuse-qdq-units"]["after"]["nodes"].get<int64_t>(), model->graph().num_nodes());
  fs::remove(calib);
}

INSTANTIATE_TEST_SUITE_P(PaddleOcr, FusedRealModel,
                         ::testing::Combine(::testing::Values("det", "rec", "cls"),
                                            ::testing::Values("", "per-channel=true")));

// Every PaddleOCR model draws to SVG before and after fuse-qdq (the
// quantization view, rendered in-process by Graphviz).
class DrawnRealModel : public ::testing::TestWithParam<std::string> {};

TEST_P(DrawnRealModel, SvgBeforeAndAfterFuseQdq) {
  const std::string name = GetParam();
  auto model = Canonicalized(name);
  ASSERT_NE(model, nullptr);
  const std::string calib = WriteScaledCalibration(*model, name + "drawn");
  ASSERT_TRUE(testing::RunPipeline(*model, "quantize{calibration=" + calib + "}").ok());
  const analysis::TargetProfile* target = analysis::FindTargetProfile("ort-cpu");
  auto draw = [&](const std::string& tag) {
    auto style = analysis::QuantizationDotStyle(model->graph(), *target, analysis::DotViewOptions{});
    EXPECT_TRUE(style.ok()) << style.status();
    const std::string dot = ir::GraphToDot(model->graph(), *style);
    const fs::path svg = fs::temp_directory_path() / ("qopt_" + name + tag + std::to_string(::getpid()) + ".svg");
    absl::Status s = ir::WriteDot(dot, "svg", svg.string());
    EXPECT_TRUE(s.ok()) << s;
    std::ifstream in(svg);
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    fs::remove(svg);
    return text;
  };
  const std::string before = draw("before");
  EXPECT_NE(before.find("<svg"), std::string::npos);
  EXPECT_NE(before.find("DequantizeLinear"), std::string::npos);
  EXPECT_NE(before.find("</svg>"), std::string::npos);
  ASSERT_TRUE(testing::RunPipeline(*model, "fuse-qdq").ok());
  const std::string after = draw("after");
  EXPECT_NE(after.find("<svg"), std::string::npos);
  EXPECT_NE(after.find("QLinearConv"), std::string::npos);
  EXPECT_NE(after.find("</svg>"), std::string::npos);
  EXPECT_LT(after.size(), before.size());  // far fewer nodes to draw
  fs::remove(calib);
}

INSTANTIATE_TEST_SUITE_P(PaddleOcr, DrawnRealModel, ::testing::Values("det", "rec", "cls"));

// One channel of one conv's weights made 1e9 times smaller: with per-channel
// weights and without ORT's weight-scale adjustment its int32 bias must
// saturate on that channel, and bias-overflow must report that and no other
// saturation.
TEST(PlantedBiasOverflow, FoundOnTheRightChannelOnly) {
  auto model = Canonicalized("cls");
  ASSERT_NE(model, nullptr);
  ir::Node* target = nullptr;
  int convs = 0;
  for (ir::Node* n : model->graph().nodes()) {
    if (n->Is("Conv") && n->input(2) && n->input(2)->constant() && ++convs == 5) target = n;
  }
  ASSERT_NE(target, nullptr);
  const int64_t channel = 3;
  ir::Value* w = target->input(1);
  auto values = *w->constant()->ToDoubles();
  const int64_t per_channel = w->constant()->num_elements() / w->constant()->dims()[0];
  std::vector<float> planted(values.begin(), values.end());
  for (int64_t i = 0; i < per_channel; ++i) planted[channel * per_channel + i] *= 1e-9f;
  ir::Value* new_w = model->graph().AddInitializer(w->name() + "_planted",
                                                   ir::Tensor::FromFloats(w->constant()->dims(), planted));
  target->SetInput(1, new_w);
  // A bias value large enough to matter on that channel.
  auto bias = *target->input(2)->constant()->ToDoubles();
  std::vector<float> new_bias(bias.begin(), bias.end());
  new_bias[channel] = 0.5f;
  target->SetInput(2, model->graph().AddInitializer(target->input(2)->name() + "_planted",
                                                    ir::Tensor::FromFloats({static_cast<int64_t>(bias.size())}, new_bias)));
  const std::string calib = WriteUniformCalibration(*model, "planted");
  Report report;
  absl::Status s = testing::RunPipeline(
      *model, "quantize{calibration=" + calib + " per-channel=true adjust-weight-for-bias=false},bias-overflow", &report);
  ASSERT_TRUE(s.ok()) << s;
  std::vector<Finding> errors;
  for (const Finding& f : report.findings()) {
    if (f.severity == Severity::kError) errors.push_back(f);
  }
  ASSERT_EQ(errors.size(), 1u) << report.ToText();
  EXPECT_EQ(errors[0].subject, target->Describe());
  const nlohmann::json doc = report.ToJson();
  for (const auto& entry : doc["analyses"]["bias-overflow"]["entries"]) {
    if (entry["saturated"].get<int>() == 0) continue;
    EXPECT_EQ(entry["node"], target->Describe());
    EXPECT_EQ(entry["saturated"], 1);
    EXPECT_EQ(entry["worst_channels"][0]["channel"], channel);
  }
  // The same saturated int32 bias, read from QLinearConv's input 8 after
  // fuse-qdq (the fused node keeps the Conv's name).
  const std::string conv_name = target->name();
  Report fused;
  ASSERT_TRUE(testing::RunPipeline(*model, "fuse-qdq,bias-overflow", &fused).ok());
  std::vector<Finding> fused_errors;
  for (const Finding& f : fused.findings()) {
    if (f.severity == Severity::kError) fused_errors.push_back(f);
  }
  ASSERT_EQ(fused_errors.size(), 1u) << fused.ToText();
  EXPECT_NE(fused_errors[0].subject.find(conv_name), std::string::npos) << fused_errors[0].subject;
  EXPECT_NE(fused_errors[0].subject.find("QLinearConv"), std::string::npos) << fused_errors[0].subject;
  fs::remove(calib);
}

}  // namespace
}  // namespace qopt

// The bias-overflow and quant-lint analyses on small QDQ models written by
// hand, each with the finding it must (or must not) produce.
#include <limits>

#include "analysis/quant_math.h"
#include "gtest/gtest.h"
#include "tests/unit/qdq_model_builder.h"
#include "tests/unit/test_util.h"

namespace qopt {
namespace {

using testing::Parse;
using testing::QdqModelBuilder;
using testing::QParams;
using testing::RunPipeline;

std::vector<Finding> FindingsOf(const Report& report, Severity severity) {
  std::vector<Finding> out;
  for (const Finding& f : report.findings()) {
    if (f.severity == severity) out.push_back(f);
  }
  return out;
}

// X -> Q -> DQ -> Conv(W: int8 behind DQ, B) with weight scales `wscale`
// (per output channel) and a float bias `bias` (about to be quantized).
std::unique_ptr<ir::Model> ConvUnit(const std::vector<double>& wscale, const std::vector<double>& bias) {
  QdqModelBuilder builder;
  builder.Input("X", "float[1,1,2,2]").Output("Y", "float[1,2,2,2]");
  const QParams act = builder.PerTensor("xs", 0.01, "xz", "uint8", 128);
  const QParams weight = builder.PerChannel("ws", wscale, "wz", "int8", {0, 0}, /*axis=*/0);
  builder.Constant("B", "float[2]", bias);
  builder.QDQ("X", act).Weight("W", "int8[2,1,1,1]", {127, -127}, weight).Node("Y = Conv(Xd, W, B)");
  return builder.Build();
}

// X -> Q -> DQ -> Conv(W: int8 behind DQ, weight scale 0.001, B: int32 `bq`
// behind a DQ of scale `bs`); input scale 0.01.
std::unique_ptr<ir::Model> Int32BiasConvUnit(int64_t bq, double bs) {
  QdqModelBuilder builder;
  builder.Input("X", "float[1,1,2,2]").Output("Y", "float[1,1,2,2]");
  const QParams act = builder.PerTensor("xs", 0.01, "xz", "uint8", 128);
  const QParams weight = builder.PerTensor("ws", 0.001, "wz", "int8", 0);
  builder.Constant("bs", "float[1]", {bs}).Constant("bz", "int32[1]", {0});
  builder.QDQ("X", act)
      .Weight("W", "int8[1,1,1,1]", {127}, weight)
      .Weight("B", "int32[1]", {static_cast<double>(bq)}, QParams("bs", "bz"))
      .Node("Y = Conv(Xd, W, B)");
  return builder.Build();
}

TEST(BiasOverflow, FloatBiasThatWouldSaturateIsAnError) {
  // bias_scale = 0.01 * 1e-12 = 1e-14, so 2.0 / 1e-14 = 2e14 > 2^31 - 1.
  auto model = ConvUnit({0.5, 1e-12}, {1.0, 2.0});
  Report report;
  ASSERT_TRUE(RunPipeline(*model, "bias-overflow", &report).ok());
  auto errors = FindingsOf(report, Severity::kError);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_NE(errors[0].message.find("1 of 2 values of bias 'B' exceed int32"), std::string::npos) << errors[0].message;
  EXPECT_NE(errors[0].subject.find("Conv"), std::string::npos);
  bool tiny_scale_warned = false;
  for (const Finding& w : FindingsOf(report, Severity::kWarning)) {
    tiny_scale_warned |= w.message.find("1 weight scale(s) below 1e-07") != std::string::npos;
  }
  EXPECT_TRUE(tiny_scale_warned);
  const nlohmann::json doc = report.ToJson();
  const auto& json = doc["analyses"]["bias-overflow"]["entries"][0];
  EXPECT_EQ(json["saturated"], 1);
  EXPECT_EQ(json["worst_channels"][0]["channel"], 1);
  EXPECT_EQ(json["form"], "float");
}

TEST(BiasOverflow, HealthyUnitIsNotFlagged) {
  auto model = ConvUnit({0.5, 0.25}, {1.0, 2.0});
  Report report;
  ASSERT_TRUE(RunPipeline(*model, "bias-overflow", &report).ok());
  EXPECT_TRUE(report.findings().empty());
  EXPECT_EQ(report.ToJson()["analyses"]["bias-overflow"]["units_flagged"], 0);
}

TEST(BiasOverflow, Int32BiasAtTheLimitIsSaturated) {
  auto model = Int32BiasConvUnit(2147483647, 0.00001);
  Report report;
  ASSERT_TRUE(RunPipeline(*model, "bias-overflow", &report).ok());
  ASSERT_EQ(FindingsOf(report, Severity::kError).size(), 1u);
  EXPECT_EQ(report.ToJson()["analyses"]["bias-overflow"]["entries"][0]["form"], "int32-dq");
}

TEST(QuantLint, BadScalesMismatchedPairsAndAxes) {
  auto model = Parse(R"(
<ir_version: 8, opset_import: ["" : 13]>
g (float[2,3] X) => (float[2,3] Y, float[2,3] Z, float[3,2] V)
  <float s = {0.1}, float s2 = {0.2}, float zero = {0.0}, uint8 z = {0},
   int8[3,2] Wq = {1, 2, 3, 4, 5, 6}, float[3] ws = {0.1, 0.1, 0.1}, int8[3] wz = {0, 0, 0}> {
  Q = QuantizeLinear(X, s, z)
  Y = DequantizeLinear(Q, s2, z)
  Q2 = QuantizeLinear(X, zero, z)
  Z = DequantizeLinear(Q2, zero, z)
  V = DequantizeLinear <axis = 1> (Wq, ws, wz)
}
)");
  Report report;
  ASSERT_TRUE(RunPipeline(*model, "quant-lint", &report).ok());
  const nlohmann::json doc = report.ToJson();
  const auto& by_check = doc["analyses"]["quant-lint"]["by_check"];
  EXPECT_EQ(by_check["qdq-mismatch"], 1);
  EXPECT_EQ(by_check["scale-zero"], 2);  // the Q and the DQ using `zero`
  EXPECT_EQ(by_check["scale-length"], 1);  // 3 scales for 2 channels on axis 1
  EXPECT_EQ(report.CountFindings(Severity::kError), 4);
}

TEST(QuantLint, WeightFormatsTheTargetDislikes) {
  // Int8 weights with zero point 3, and uint8 weights beside uint8 activations.
  QdqModelBuilder builder;
  builder.Input("X", "float[1,2]").Output("Y", "float[1,2]").Output("Z", "float[1,2]");
  const QParams act = builder.PerTensor("s", 0.1, "xz", "uint8", 128);
  const QParams weight = builder.PerTensor("ws", 0.1, "wz", "int8", 3);
  builder.Constant("uz", "uint8", {128});
  builder.QDQ("X", act)
      .Weight("W", "int8[2,2]", {1, 2, 3, 4}, weight)
      .Node("Y = MatMul(Xd, W)")
      .Weight("U", "uint8[2,2]", {1, 2, 3, 4}, QParams("ws", "uz"))
      .Node("Z = MatMul(Xd, U)");
  auto model = builder.Build();
  Report report;
  ASSERT_TRUE(RunPipeline(*model, "quant-lint", &report).ok());
  const nlohmann::json doc = report.ToJson();
  const auto& by_check = doc["analyses"]["quant-lint"]["by_check"];
  EXPECT_EQ(by_check["asymmetric-weights"], 1);
  EXPECT_EQ(by_check["u8u8"], 1);
  EXPECT_EQ(report.CountFindings(Severity::kError), 0);
}

TEST(QuantLint, CleanQuantizedModelHasNoFindings) {
  auto model = ConvUnit({0.5, 0.25}, {1.0, 2.0});
  Report report;
  ASSERT_TRUE(RunPipeline(*model, "quant-lint", &report).ok());
  EXPECT_TRUE(report.findings().empty());
}


// Conv (integer on ort-cpu) -> HardSigmoid (no integer kernel) -> Mul with
// the Conv output; plus the redundant pairs the report must find.
TEST(QdqBoundaries, UnitsReasonsIslandsAndRedundantPairs) {
  QdqModelBuilder builder;
  builder.Input("X", "float[1,1,2,2]").Output("Y", "float[1,2,2,2]").Output("Z", "float[1,2,2,2]");
  const QParams act = builder.PerTensor("s", 0.1, "z", "uint8", 128);
  const QParams weight = builder.PerTensor("ws", 0.01, "wz", "int8", 0);
  const QParams requantized("s2", "z");
  builder.Constant("s2", "float", {0.2}).Constant("C", "float[2]", {1.0, 2.0});
  builder.QDQ("X", act)
      .Weight("W", "int8[2,1,1,1]", {127, -127}, weight)
      .Unit("A = Conv(Xd, W)", act)
      .Dequantize("Ad2", "Aq", act)  // a duplicate of Ad
      .Unit("H = HardSigmoid(Ad)", act)
      .Unit("M = Mul(Ad2, Hd)", act)
      .Quantize("Rq", "Md", requantized)
      .Dequantize("Y", "Rq", requantized)
      .QDQ("C", act)  // a Q of a constant
      .Node("Z = Add(Md, Cd)");
  auto model = builder.Build();
  Report report;
  ASSERT_TRUE(testing::RunPipeline(*model, "qdq-boundaries", &report).ok());
  const nlohmann::json doc = report.ToJson();
  const auto& b = doc["analyses"]["qdq-boundaries"];
  EXPECT_EQ(b["target"], "ort-cpu");
  EXPECT_EQ(b["units"], 4);          // Conv, HardSigmoid, Mul, Add
  EXPECT_EQ(b["fusable_units"], 2);  // Conv, Mul
  EXPECT_EQ(b["reasons"]["no integer kernel for HardSigmoid on ort-cpu"], 1);
  EXPECT_EQ(b["reasons"]["float output needed by a graph output"], 1);  // Add -> Z
  // Conv and Mul are joined through Aq -> Ad2: one island of two units.
  EXPECT_EQ(b["islands"]["count"], 1);
  EXPECT_EQ(b["islands"]["sizes"][0], 2);
  EXPECT_EQ(b["redundant_counts"]["requantize"], 1);    // Md -> Rq (other scale)
  EXPECT_EQ(b["redundant_counts"]["duplicate-dq"], 1);  // Ad, Ad2
  EXPECT_EQ(b["redundant_counts"]["q-of-constant"], 1); // Cq
  EXPECT_EQ(b["transitions"]["float_to_int"], 5);       // Xq, Aq, Hq, Mq, Rq
  EXPECT_EQ(b["transitions"]["int_to_float"], 7);

  Report standard;
  ASSERT_TRUE(testing::RunPipeline(*model, "qdq-boundaries{target=onnx-standard}", &standard).ok());
  const nlohmann::json doc2 = standard.ToJson();
  EXPECT_EQ(doc2["analyses"]["qdq-boundaries"]["fusable_units"], 1);  // only the Conv
}

TEST(QdqBoundaries, DynamicQuantizationSites) {
  auto model = testing::Parse(R"(
<ir_version: 8, opset_import: ["" : 13]>
g (float[2,4] A) => (float[2,3] M) <float[4,3] K = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}> {
  M = MatMul(A, K)
}
)");
  ASSERT_TRUE(testing::RunPipeline(*model, "quantize{mode=dynamic}").ok());
  Report report;
  ASSERT_TRUE(testing::RunPipeline(*model, "qdq-boundaries", &report).ok());
  const nlohmann::json doc = report.ToJson();
  EXPECT_EQ(doc["analyses"]["qdq-boundaries"]["dynamic_quantize_sites"].size(), 1u);
  EXPECT_NE(report.ToText().find("dynamic quantization sites: 1 DynamicQuantizeLinear"), std::string::npos);
}


TEST(OpCountMacs, FromShapesWithIntegerShareAndInputShapes) {
  // Conv: Y [1,3,4,4] x K (2 * 3 * 3) = 48 * 18 = 864 MACs, quantized (DQ on
  // data and weight); MatMul: [2,4] x [4,3] = 6 * 4 = 24 MACs, float.
  QdqModelBuilder builder;
  builder.Input("X", "float[N,2,4,4]").Input("A", "float[2,4]").Output("Y", "float[N,3,4,4]").Output("M", "float[2,3]");
  const QParams act = builder.PerTensor("s", 0.1, "z", "uint8", 128);
  const QParams weight = builder.PerTensor("ws", 0.01, "wz", "int8", 0);
  builder.Constant("K", "float[4,3]", {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12});
  builder.QDQ("X", act)
      .Weight("W", "int8[3,2,3,3]", std::vector<double>(54, 1), weight)
      .Node("Y = Conv <pads = [1, 1, 1, 1]> (Xd, W)")
      .Node("M = MatMul(A, K)");
  auto model = builder.Build();
  Report report;
  ASSERT_TRUE(testing::RunPipeline(*model, "op-count", &report).ok());
  nlohmann::json doc = report.ToJson();
  EXPECT_EQ(doc["analyses"]["op-count"]["macs"]["total"], 24);  // N unknown: the Conv is not counted
  EXPECT_EQ(doc["analyses"]["op-count"]["macs"]["nodes_with_unknown_shape"], 1);

  Report fixed;
  ASSERT_TRUE(testing::RunPipeline(*model, "op-count{input-shape=X:1x2x4x4}", &fixed).ok());
  doc = fixed.ToJson();
  const auto& macs = doc["analyses"]["op-count"]["macs"];
  EXPECT_EQ(macs["total"], 888);
  EXPECT_EQ(macs["integer"], 864);
  EXPECT_EQ(macs["by_op"]["Conv"], 864);
  EXPECT_EQ(macs["nodes_with_unknown_shape"], 0);
  EXPECT_NE(fixed.ToText().find("97.3% in integer"), std::string::npos) << fixed.ToText();
  // The model itself keeps its symbolic dim.
  EXPECT_EQ((*model->graph().FindValue("X")->shape())[0].param, "N");

  absl::Status bad = testing::RunPipeline(*model, "op-count{input-shape=X:1xZ}");
  EXPECT_NE(bad.message().find("expected NAME:1x3x224x224"), absl::string_view::npos) << bad;
}


TEST(QuantLint, ZeroPointTypeAndConflictingQuantizeLinear) {
  auto model = testing::Parse(R"(
<ir_version: 8, opset_import: ["" : 13]>
g (float[2] X) => (float[2] Y, float[2] A, float[2] B)
  <int8[2] Wq = {1, 2}, float s = {0.1}, float s2 = {0.3}, int32 zp32 = {200}, uint8 z = {128}> {
  Y = DequantizeLinear(Wq, s, zp32)
  Q1 = QuantizeLinear(X, s, z)
  Q2 = QuantizeLinear(X, s2, z)
  A = DequantizeLinear(Q1, s, z)
  B = DequantizeLinear(Q2, s2, z)
}
)");
  Report report;
  ASSERT_TRUE(testing::RunPipeline(*model, "quant-lint", &report).ok());
  const nlohmann::json doc = report.ToJson();
  const auto& by_check = doc["analyses"]["quant-lint"]["by_check"];
  EXPECT_EQ(by_check["zero-point-type"], 1);
  EXPECT_EQ(by_check["conflicting-q"], 1);
  EXPECT_NE(report.ToText().find("zero point 200 is outside int8's range [-128, 127]"), std::string::npos)
      << report.ToText();
}


// Scales the text syntax cannot write (NaN, negative zero-ish, subnormal)
// are set through the builder API after parsing.
void SetScale(ir::Model& model, const std::string& name, float value) {
  ir::Value* v = model.graph().FindValue(name);
  ASSERT_NE(v, nullptr);
  v->SetInitializerData(std::string(reinterpret_cast<const char*>(&value), sizeof(value)));
}

TEST(QuantLint, NotFiniteNegativeSubnormalScalesAndAxisRange) {
  auto model = testing::Parse(R"(
<ir_version: 8, opset_import: ["" : 13]>
g (float[2] X) => (float[2] A, float[2] B, float[2] C, float[2,3] D)
  <float s1 = {1.0}, float s2 = {1.0}, float s3 = {1.0}, uint8 z = {0},
   int8[2,3] Wq = {1, 2, 3, 4, 5, 6}, float[2] ws = {0.1, 0.1}, int8[2] wz = {0, 0}> {
  A = DequantizeLinear(QA, s1, z)
  QA = QuantizeLinear(X, s1, z)
  QB = QuantizeLinear(X, s2, z)
  B = DequantizeLinear(QB, s2, z)
  QC = QuantizeLinear(X, s3, z)
  C = DequantizeLinear(QC, s3, z)
  D = DequantizeLinear <axis = 2> (Wq, ws, wz)
}
)");
  SetScale(*model, "s1", std::numeric_limits<float>::quiet_NaN());
  SetScale(*model, "s2", -0.5f);
  SetScale(*model, "s3", 1e-40f);
  Report report;
  ASSERT_TRUE(testing::RunPipeline(*model, "quant-lint", &report).ok());
  const nlohmann::json doc = report.ToJson();
  const auto& by_check = doc["analyses"]["quant-lint"]["by_check"];
  EXPECT_EQ(by_check["scale-not-finite"], 2);
  EXPECT_EQ(by_check["scale-negative"], 2);
  EXPECT_EQ(by_check["scale-subnormal"], 2);
  EXPECT_EQ(by_check["axis-range"], 1);
  EXPECT_EQ(report.CountFindings(Severity::kError), 5);  // subnormal scales are warnings
}

TEST(BiasOverflow, LossyAccumulatorAndScaleMismatch) {
  // Lossy: bias 1e-4 at bias_scale 0.01 * 0.5 = 5e-3 rounds to 0 (100% off).
  auto lossy = ConvUnit({0.5, 0.25}, {0.0001, 2.0});
  Report report;
  ASSERT_TRUE(testing::RunPipeline(*lossy, "bias-overflow", &report).ok());
  nlohmann::json doc = report.ToJson();
  EXPECT_EQ(doc["analyses"]["bias-overflow"]["entries"][0]["lossy"], 1);
  EXPECT_EQ(report.CountFindings(Severity::kError), 0);

  // Accumulator: K = 4096 inputs of |x_q| <= 128 and |w_q| = 127 -> 6.7e7 is
  // fine; a K of 2^18 is not.
  QdqModelBuilder wide_builder;
  wide_builder.Input("X", "float[1,262144]").Output("Y", "float[1,1]");
  const QParams act = wide_builder.PerTensor("s", 0.1, "z", "uint8", 128);
  const QParams weight = wide_builder.PerTensor("ws", 0.01, "wz", "int8", 0);
  wide_builder.QDQ("X", act)
      .Weight("W", "int8[1,262144]", std::vector<double>(262144, 127), weight)
      .Node("Y = Gemm <transB = 1> (Xd, W)");
  auto wide = wide_builder.Build();
  Report acc;
  ASSERT_TRUE(testing::RunPipeline(*wide, "bias-overflow", &acc).ok());
  doc = acc.ToJson();
  ASSERT_EQ(doc["analyses"]["bias-overflow"]["entries"].size(), 1u);
  EXPECT_EQ(doc["analyses"]["bias-overflow"]["entries"][0]["accumulator"]["k"], 262144);
  EXPECT_EQ(doc["analyses"]["bias-overflow"]["entries"][0]["accumulator"]["risk"], true);

  // Scale mismatch: an int32 bias whose scale is not x_scale * w_scale.
  auto mismatch = Int32BiasConvUnit(100, 0.5);
  Report mm;
  ASSERT_TRUE(testing::RunPipeline(*mismatch, "bias-overflow", &mm).ok());
  doc = mm.ToJson();
  EXPECT_EQ(doc["analyses"]["bias-overflow"]["entries"][0]["scale_mismatch"], true);
  EXPECT_EQ(mm.CountFindings(Severity::kError), 0);
}

TEST(QdqBoundaries, IdenticalPairAndWeightReasons) {
  QdqModelBuilder builder;
  builder.Input("X", "float[1,1,2,2]").Output("Y", "float[1,2,2,2]");
  const QParams act = builder.PerTensor("s", 0.1, "z", "uint8", 128);
  const QParams asymmetric = builder.PerChannel("ws", {0.01, 0.02}, "wz", "int8", {1, 0}, /*axis=*/0);
  builder.QDQ("X", act)
      .Quantize("Xq2", "Xd", act)  // DQ -> Q with the same parameters
      .Dequantize("Xd2", "Xq2", act)
      .Weight("W", "int8[2,1,1,1]", {127, -127}, asymmetric)
      .Unit("C = Conv(Xd2, W)", act, "Y");
  auto model = builder.Build();
  Report report;
  ASSERT_TRUE(testing::RunPipeline(*model, "qdq-boundaries", &report).ok());
  const nlohmann::json doc = report.ToJson();
  const auto& b = doc["analyses"]["qdq-boundaries"];
  EXPECT_EQ(b["redundant_counts"]["dq-q-identical"], 1);
  EXPECT_EQ(b["reasons"]["asymmetric int8 weights"], 1);
  EXPECT_EQ(b["fusable_units"], 0);
}


TEST(QdqBoundaries, FloatInputPerChannelAxisPassthroughParamsAndDuplicateQ) {
  QdqModelBuilder builder;
  builder.Input("X", "float[1,2,2,2]").Input("F", "float[1,2,2,2]");
  builder.Output("Y", "float[1,2,2,2]").Output("Z", "float[1,2,2,2]").Output("R", "float[8]");
  const QParams act = builder.PerTensor("s", 0.1, "z", "uint8", 128);
  const QParams on_axis_1 = builder.PerChannel("ws", {0.1, 0.2}, "wz", "int8", {0, 0}, /*axis=*/1);
  builder.Constant("s2", "float", {0.2}).Constant("shape", "int64[1]", {8});
  builder.QDQ("X", act)
      .Quantize("Xq2", "X", act)  // a duplicate of Xq
      .Weight("W", "int8[2,2,1,1]", {1, 2, 3, 4}, on_axis_1)
      .Unit("C = Conv(Xd, W)", act, "Y")
      .Unit("A = Add(Xd, F)", act, "Z")
      .Dequantize("Xd2", "Xq2", act)
      .Unit("Rs = Reshape(Xd2, shape)", QParams("s2", "z"), "R");
  auto model = builder.Build();
  Report report;
  ASSERT_TRUE(testing::RunPipeline(*model, "qdq-boundaries", &report).ok());
  const nlohmann::json doc = report.ToJson();
  const auto& b = doc["analyses"]["qdq-boundaries"];
  EXPECT_EQ(b["reasons"]["per-channel weights on an axis other than 0"], 1) << b["reasons"].dump();
  EXPECT_EQ(b["reasons"]["Add: a float input (no DequantizeLinear)"], 1) << b["reasons"].dump();
  EXPECT_EQ(b["reasons"]["Reshape: input and output quantized differently"], 1) << b["reasons"].dump();
  EXPECT_EQ(b["redundant_counts"]["duplicate-q"], 1);  // Xq, Xq2
  EXPECT_EQ(b["fusable_units"], 0);
}


TEST(QdqBoundaries, TrafficNeedsStaticShapes) {
  QdqModelBuilder builder;
  builder.Input("X", "float[N,4]").Output("Y", "float[N,4]");
  builder.QDQ("X", builder.PerTensor("s", 0.1, "z", "uint8", 128), "Y");
  auto model = builder.Build();
  Report symbolic;
  ASSERT_TRUE(testing::RunPipeline(*model, "qdq-boundaries", &symbolic).ok());
  nlohmann::json doc = symbolic.ToJson();
  EXPECT_EQ(doc["analyses"]["qdq-boundaries"]["boundary_traffic"]["bytes"], 0);
  EXPECT_EQ(doc["analyses"]["qdq-boundaries"]["boundary_traffic"]["ops_with_unknown_size"], 2);
  // 8 elements through the Q (4 float bytes in, 1 out) and the DQ (1 in, 4 out).
  Report fixed;
  ASSERT_TRUE(testing::RunPipeline(*model, "qdq-boundaries{input-shape=X:2x4}", &fixed).ok());
  doc = fixed.ToJson();
  EXPECT_EQ(doc["analyses"]["qdq-boundaries"]["boundary_traffic"]["bytes"], 80);
  EXPECT_EQ(doc["analyses"]["qdq-boundaries"]["boundary_traffic"]["ops_with_unknown_size"], 0);
}


TEST(QuantLint, QOperatorScaleInputs) {
  // QLinearConv(x, x_scale, x_zp, w, w_scale, w_zp, y_scale, y_zp) with a
  // zero weight scale; a healthy com.microsoft QLinearSigmoid beside it.
  auto model = testing::Parse(R"(
<ir_version: 8, opset_import: ["" : 13, "com.microsoft" : 1]>
g (uint8[1,1,2,2] X) => (uint8[1,1,2,2] Y, uint8[1,1,2,2] Z)
  <float xs = {0.1}, uint8 xz = {128}, int8[1,1,1,1] W = {3}, float ws = {0.0}, int8 wz = {0},
   float ys = {0.2}, uint8 yz = {128}> {
  Y = QLinearConv(X, xs, xz, W, ws, wz, ys, yz)
  Z = com.microsoft.QLinearSigmoid(X, xs, xz, ys, yz)
}
)");
  Report report;
  ASSERT_TRUE(testing::RunPipeline(*model, "quant-lint", &report).ok());
  ASSERT_EQ(report.CountFindings(Severity::kError), 1) << report.ToText();
  EXPECT_NE(report.ToText().find("(QLinearConv #0): scale is 0 (w_scale)"), std::string::npos) << report.ToText();
}


TEST(QdqBoundaries, FloatRegionsNameTheIntegerOpsAroundThemAndOutputSteps) {
  // Conv -> [HardSigmoid] -> Mul: the squeeze-excitation gate; the Add reads
  // a Q of a constant and feeds a graph output in float.
  QdqModelBuilder builder;
  builder.Input("X", "float[1,1,2,2]").Output("Y", "float[1,1,2,2]").Output("Z", "float[1,1,2,2]");
  const QParams act = builder.PerTensor("s", 0.1, "z", "uint8", 128);
  const QParams out = builder.PerTensor("s2", 0.25, "z2", "uint8", 3);
  const QParams weight = builder.PerTensor("ws", 0.01, "wz", "int8", 0);
  builder.Constant("C", "float[1]", {1.0});
  builder.QDQ("X", act)
      .Weight("W", "int8[1,1,1,1]", {127}, weight)
      .Unit("A = Conv(Xd, W)", act)
      .Unit("H = HardSigmoid(Ad)", act)
      .Unit("M = Mul(Ad, Hd)", out, "Y")
      .Node("Z = Add(Y, C)");
  auto model = builder.Build();
  Report report;
  ASSERT_TRUE(testing::RunPipeline(*model, "qdq-boundaries", &report).ok());
  const nlohmann::json doc = report.ToJson();
  const auto& b = doc["analyses"]["qdq-boundaries"];
  ASSERT_EQ(b["float_regions"].size(), 2u) << b["float_regions"].dump();
  EXPECT_EQ(b["float_region_patterns"]["Conv -> [HardSigmoid] -> Mul"], 1) << b["float_region_patterns"].dump();
  EXPECT_EQ(b["float_region_patterns"]["Mul -> [Add] -> output"], 1) << b["float_region_patterns"].dump();
  EXPECT_EQ(b["float_regions"][0]["nodes"][0], "(HardSigmoid #6)");
  EXPECT_NE(report.ToText().find("Conv -> [HardSigmoid] -> Mul"), std::string::npos) << report.ToText();
  // Y is made by a DQ of step 0.25; Z is computed in float.
  ASSERT_EQ(b["graph_outputs"].size(), 2u);
  EXPECT_EQ(b["graph_outputs"][0]["name"], "Y");
  EXPECT_EQ(b["graph_outputs"][0]["scale"], 0.25);
  EXPECT_EQ(b["graph_outputs"][0]["zero_point"], 3);
  EXPECT_EQ(b["graph_outputs"][0]["type"], "uint8");
  EXPECT_TRUE(b["graph_outputs"][1]["scale"].is_null());
}

// Concat of two DQ inputs with scales s1 = 0.1 and `s2`, quantized with s1.
std::unique_ptr<ir::Model> ConcatUnit(double s2) {
  QdqModelBuilder builder;
  builder.Input("X1", "float[1,2]").Input("X2", "float[1,2]").Output("Y", "float[1,4]");
  const QParams first = builder.PerTensor("s1", 0.1, "z", "uint8", 128);
  builder.Constant("s2", "float", {s2});
  builder.QDQ("X1", first).QDQ("X2", QParams("s2", "z")).Unit("C = Concat <axis = 1> (X1d, X2d)", first, "Y");
  return builder.Build();
}

TEST(QdqBoundaries, MixedScalesOnConcatWhereTheTargetHasNoQLinearConcat) {
  auto mixed = ConcatUnit(0.2);
  Report ort, standard;
  ASSERT_TRUE(testing::RunPipeline(*mixed, "qdq-boundaries", &ort).ok());
  ASSERT_TRUE(testing::RunPipeline(*mixed, "qdq-boundaries{target=onnx-standard}", &standard).ok());
  // ONNX Runtime's QLinearConcat takes a scale per input.
  EXPECT_EQ(ort.ToJson()["analyses"]["qdq-boundaries"]["fusable_units"], 1);
  const nlohmann::json doc = standard.ToJson();
  const auto& b = doc["analyses"]["qdq-boundaries"];
  EXPECT_EQ(b["fusable_units"], 0);
  EXPECT_EQ(b["reasons"]["mixed scales on Concat"], 1) << b["reasons"].dump();
  EXPECT_NE(b["units_left_float"][0]["reason"].get<std::string>().find("input 1 and the output"), std::string::npos);

  // Equal parameters: standard Concat moves the uint8 data as it is.
  auto equal = ConcatUnit(0.1);
  Report equal_report;
  ASSERT_TRUE(testing::RunPipeline(*equal, "qdq-boundaries{target=onnx-standard}", &equal_report).ok());
  EXPECT_EQ(equal_report.ToJson()["analyses"]["qdq-boundaries"]["fusable_units"], 1);
}

TEST(QdqBoundaries, QOperatorModelIslandsJoinThroughIntegerEdges) {
  // QLinearConv -> QLinearConv stay integer end to end; the HardSigmoid is
  // reached through a DQ and leaves through a Q into QLinearMul.
  auto model = testing::Parse(R"(
<ir_version: 8, opset_import: ["" : 13, "com.microsoft" : 1]>
g (float[1,1,2,2] X) => (float[1,1,2,2] Y)
  <float xs = {0.1}, uint8 xz = {128}, int8[1,1,1,1] W = {3}, float ws = {0.01}, int8 wz = {0},
   float ys = {0.2}, uint8 yz = {128}> {
  Xq = QuantizeLinear(X, xs, xz)
  A = QLinearConv(Xq, xs, xz, W, ws, wz, ys, yz)
  B = QLinearConv(A, ys, yz, W, ws, wz, ys, yz)
  Bd = DequantizeLinear(B, ys, yz)
  H = HardSigmoid(Bd)
  Hq = QuantizeLinear(H, ys, yz)
  C = com.microsoft.QLinearMul(Hq, ys, yz, Hq, ys, yz, ys, yz)
  Y = DequantizeLinear(C, ys, yz)
}
)");
  Report report;
  ASSERT_TRUE(testing::RunPipeline(*model, "qdq-boundaries", &report).ok());
  const nlohmann::json doc = report.ToJson();
  const auto& b = doc["analyses"]["qdq-boundaries"];
  EXPECT_EQ(b["units"], 4);
  EXPECT_EQ(b["fusable_units"], 3);
  EXPECT_EQ(b["islands"]["count"], 2);  // {QLinearConv, QLinearConv}, {QLinearMul}
  EXPECT_EQ(b["islands"]["sizes"][0], 2);
  EXPECT_EQ(b["transitions"]["float_to_int"], 2);  // Xq, Hq
  EXPECT_EQ(b["transitions"]["int_to_float"], 2);  // Bd, Y
  EXPECT_EQ(b["float_region_patterns"]["QLinearConv -> [HardSigmoid] -> QLinearMul"], 1)
      << b["float_region_patterns"].dump();
}

// A constant of a type libonnx 1.12's text parser cannot write (int4,
// float8), put in place of input `index` of the node that defines `output`.
void ReplaceInputWithConstant(ir::Graph& graph, const std::string& output, int index, ir::ElementType type,
                              std::vector<int64_t> dims, const std::string& raw) {
  ir::Tensor t(type, std::move(dims));
  t.SetRawData(raw);
  ir::Value* v = graph.AddInitializer(output + "_input" + std::to_string(index), std::move(t));
  graph.FindValue(output)->producer()->SetInput(index, v);
}

TEST(Analyses, Opset21QuantizationForms) {
  // Per unit one form ONNX Runtime's CPU kernels do not take: block-wise
  // int8 weights, int16 activations, int4 weights, float8 activations.
  QdqModelBuilder builder(/*opset=*/21, /*ir_version=*/10);
  builder.Input("X", "float[1,4]").Input("X2", "float[1,4]");
  for (const char* y : {"Y1", "Y2", "Y3", "Y4"}) builder.Output(y, "float[1,2]");
  const QParams u8 = builder.PerTensor("s", 0.1, "z", "uint8", 128);
  const QParams weight = builder.PerTensor("ws", 0.01, "wz", "int8", 0);
  builder.Constant("z16", "int16", {0}).Constant("f8z", "uint8", {0});  // f8z becomes float8 below
  builder.Constant("Wq", "int8[4,2]", {1, 2, 3, 4, 5, 6, 7, 8});
  builder.Constant("wbs", "float[2,2]", {0.1, 0.2, 0.3, 0.4}).Constant("wbz", "int8[2,2]", {0, 0, 0, 0});
  builder.Constant("W4", "int8[4,2]", {1, 2, 3, 4, 5, 6, 7, -8}).Constant("w4z", "int8", {0});  // int4 below
  builder.QDQ("X", u8)
      .Dequantize("Wb", "Wq", QParams("wbs", "wbz").Axis(0).BlockSize(2))
      .Unit("M1 = MatMul(Xd, Wb)", u8, "Y1")
      .QDQ("X2", QParams("s", "z16"))
      .Dequantize("W", "Wq", weight)
      .Unit("M2 = MatMul(X2d, W)", QParams("s", "z16"), "Y2")
      .Dequantize("W4d", "W4", QParams("ws", "w4z"))
      .Unit("M3 = MatMul(Xd, W4d)", u8, "Y3")
      .Unit("M4 = MatMul(Xd, W)", QParams("s", "f8z"), "Y4");
  auto model = builder.Build();
  ASSERT_NE(model, nullptr);
  ir::Graph& graph = model->graph();
  // int4 weights: 8 values packed two per byte, and an int4 zero point.
  ReplaceInputWithConstant(graph, "W4d", 0, ir::ElementType::kInt4, {4, 2},
                           analysis::PackIntegers({1, 2, 3, 4, 5, 6, 7, -8}, ir::ElementType::kInt4));
  ReplaceInputWithConstant(graph, "W4d", 2, ir::ElementType::kInt4, {}, std::string(1, '\0'));
  // float8e4m3fn activations: the zero point's type says so.
  ReplaceInputWithConstant(graph, "M4q", 2, ir::ElementType::kFloat8E4M3FN, {}, std::string(1, '\0'));
  ReplaceInputWithConstant(graph, "Y4", 2, ir::ElementType::kFloat8E4M3FN, {}, std::string(1, '\0'));

  Report report;
  ASSERT_TRUE(testing::RunPipeline(*model, "qdq-boundaries,quant-lint,bias-overflow", &report).ok());
  const nlohmann::json doc = report.ToJson();
  const auto& reasons = doc["analyses"]["qdq-boundaries"]["reasons"];
  EXPECT_EQ(reasons["block-wise quantization (block_size)"], 1) << reasons.dump();
  EXPECT_EQ(reasons["no integer kernel for int16 data on ort-cpu"], 1) << reasons.dump();
  EXPECT_EQ(reasons["no integer kernel for int4 data on ort-cpu"], 1) << reasons.dump();
  EXPECT_EQ(reasons["no integer kernel for float8e4m3fn data on ort-cpu"], 1) << reasons.dump();
  EXPECT_EQ(doc["analyses"]["qdq-boundaries"]["fusable_units"], 0);
  // Well-formed: the lint finds nothing wrong with any of these forms.
  EXPECT_EQ(report.CountFindings(Severity::kError), 0) << report.ToText();
  EXPECT_EQ(report.CountFindings(Severity::kWarning), 0) << report.ToText();
}

TEST(QuantLint, BlockWiseScaleShape) {
  // Blocks of 2 along axis 0 of a [4,2] weight: the scale must be [2,2].
  auto model = testing::Parse(R"(
<ir_version: 10, opset_import: ["" : 21]>
g (float[1,4] X) => (float[1,2] Y)
  <int8[4,2] Wq = {1, 2, 3, 4, 5, 6, 7, 8}, float[3,2] wbs = {0.1, 0.2, 0.3, 0.4, 0.5, 0.6}> {
  W = DequantizeLinear <axis = 0, block_size = 2> (Wq, wbs)
  Y = MatMul(X, W)
}
)");
  Report report;
  ASSERT_TRUE(testing::RunPipeline(*model, "quant-lint", &report).ok());
  ASSERT_EQ(report.CountFindings(Severity::kError), 1) << report.ToText();
  EXPECT_NE(report.ToText().find("block-wise scale dim 0 is 3, expected 2 (data dim 4, block_size 2)"),
            std::string::npos)
      << report.ToText();
}


TEST(QdqBoundaries, ShapeArithmeticIsNoUnit) {
  // Cast/Slice of a Shape, and a Cast of a constant, carry no activations.
  auto model = testing::Parse(R"(
<ir_version: 8, opset_import: ["" : 13]>
g (float[1,4] X) => (float[1,4] Y) <int32 c = {1}, int64[1] starts = {0}, int64[1] ends = {2}> {
  Sh = Shape(X)
  C = Cast <to = 6> (Sh)
  S = Slice(C, starts, ends)
  C2 = Cast <to = 7> (S)
  K = Cast <to = 1> (c)
  Y = Reshape(X, C2)
}
)");
  Report report;
  ASSERT_TRUE(testing::RunPipeline(*model, "qdq-boundaries", &report).ok());
  const nlohmann::json doc = report.ToJson();
  EXPECT_EQ(doc["analyses"]["qdq-boundaries"]["units"], 1);  // the Reshape
  EXPECT_EQ(doc["analyses"]["qdq-boundaries"]["units_left_float"][0]["op_type"], "Reshape");
}


TEST(OpCountMacs, ShapesFlowThroughComMicrosoftQLinearOps) {
  // QLinearConv -> QLinearAdd -> QLinearGlobalAveragePool -> QLinearConv,
  // shapes inferred on a copy (input-shape=): libonnx knows none of the
  // contrib ops; qopt's rules carry the shapes through them to the second
  // conv, whose output C is declared nowhere.
  auto model = testing::Parse(R"(
<ir_version: 8, opset_import: ["" : 13, "com.microsoft" : 1]>
g (uint8[N,2,4,4] X) => (uint8[N,2,1,1] Y)
  <float s = {0.1}, uint8 z = {128}, int8[2,2,1,1] W = {1, 2, 3, 4}, float ws = {0.01}, int8 wz = {0}> {
  A = QLinearConv(X, s, z, W, ws, wz, s, z)
  B = com.microsoft.QLinearAdd(A, s, z, X, s, z, s, z)
  G = com.microsoft.QLinearGlobalAveragePool <channels_last = 0> (B, s, z, s, z)
  C = QLinearConv(G, s, z, W, ws, wz, s, z)
  Y = com.microsoft.QLinearSigmoid(C, s, z, s, z)
}
)");
  Report report;
  ASSERT_TRUE(testing::RunPipeline(*model, "op-count{input-shape=X:1x2x4x4}", &report).ok());
  const nlohmann::json doc = report.ToJson();
  const auto& macs = doc["analyses"]["op-count"]["macs"];
  // First conv: 1*2*4*4 outputs x 2 = 64; second: 1*2*1*1 x 2 = 4.
  EXPECT_EQ(macs["total"], 68) << macs.dump();
  EXPECT_EQ(macs["integer"], 68) << macs.dump();
  EXPECT_EQ(macs["nodes_with_unknown_shape"], 0) << macs.dump();
}

}  // namespace
}  // namespace qopt

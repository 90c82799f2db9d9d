// The quantize pass reproduces ONNX Runtime's quantize_static QDQ layout; the
// expected layouts below are written out by hand from
// docs/ort-quantizer-layout.md.
#include <filesystem>
#include <fstream>
#include <map>

#include "gtest/gtest.h"
#include "ir/verifier.h"
#include "tests/unit/test_util.h"

namespace qopt {
namespace {

namespace fs = std::filesystem;
using testing::OpSequence;
using testing::Parse;
using testing::RunPipeline;

std::string WriteCalibration(const std::string& name, const std::map<std::string, std::pair<double, double>>& ranges) {
  const fs::path path = fs::temp_directory_path() / (name + "_" + std::to_string(::getpid()) + ".calib.json");
  std::ofstream out(path);
  out << "{\"schema\": \"qopt-calib/1\", \"tensors\": {";
  bool first = true;
  for (const auto& [tensor, range] : ranges) {
    out << (first ? "" : ",") << "\"" << tensor << "\": {\"min\": " << range.first << ", \"max\": " << range.second
        << "}";
    first = false;
  }
  out << "}}";
  return path.string();
}

std::map<std::string, int> CountOps(const ir::Graph& g) {
  std::map<std::string, int> counts;
  for (const ir::Node* n : g.node_list()) ++counts[n->op_type()];
  return counts;
}

// X -> Conv(W, B) -> Relu -> Reshape -> MatMul(W2) -> Add(A) -> Softmax -> Y
constexpr char kModel[] = R"(
<ir_version: 8, opset_import: ["" : 13]>
g (float[1,2,2,2] X) => (float[1,3] Y)
  <float[2,2,1,1] W = {1, -2, 0.5, 3}, float[2] B = {0.1, -0.2}, int64[2] shape = {1, 8},
   float[8,3] W2 = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24},
   float[3] A = {0.5, -1, 2}> {
  C = Conv(X, W, B)
  R = Relu(C)
  F = Reshape(R, shape)
  M = MatMul(F, W2)
  S = Add(M, A)
  Y = Softmax(S)
}
)";

std::map<std::string, std::pair<double, double>> Ranges() {
  return {{"X", {-1, 1}}, {"C", {-4, 4}}, {"R", {0, 4}}, {"F", {0, 4}},
          {"M", {-10, 50}}, {"S", {-9, 52}}, {"Y", {0, 1}}};
}

TEST(Quantize, OrtDefaultLayoutOnASmallModel) {
  auto model = Parse(kModel);
  const std::string calib = WriteCalibration("layout", Ranges());
  Report report;
  absl::Status s = RunPipeline(*model, "quantize{calibration=" + calib + "}", &report);
  ASSERT_TRUE(s.ok()) << s;
  const ir::Graph& g = model->graph();
  // Relu is folded into the Conv's output Q; six activation Q/DQ pairs (X,
  // R, F shares R's parameters, M, S, Y) and four constants stored quantized
  // behind a DequantizeLinear (W, W2, A as uint8 activation-typed constant,
  // B as int32).
  std::map<std::string, int> counts = CountOps(g);
  EXPECT_EQ(counts["Relu"], 0);
  EXPECT_EQ(counts["QuantizeLinear"], 6);
  EXPECT_EQ(counts["DequantizeLinear"], 10);
  EXPECT_EQ(counts["Conv"], 1);
  EXPECT_EQ(counts["Softmax"], 1);

  // The Conv writes the Relu's output name now.
  const ir::Value* r = g.FindValue("R");
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(r->producer()->op_type(), "Conv");
  // Reshape's output shares R's scale and zero point initializers.
  const ir::Node* f_q = g.FindValue("F")->uses()[0].user;
  ASSERT_EQ(f_q->op_type(), "QuantizeLinear");
  const ir::Node* r_q = r->uses()[0].user;
  ASSERT_EQ(r_q->op_type(), "QuantizeLinear");
  EXPECT_EQ(f_q->input(1), r_q->input(1));
  EXPECT_EQ(f_q->input(1)->name(), "R_scale");
  // Activations u8 asymmetric: R in [0, 4] -> scale 4/255, zero point 0.
  EXPECT_FLOAT_EQ(static_cast<float>((*r_q->input(1)->constant()->ToDoubles())[0]), 4.0f / 255);
  EXPECT_EQ(r_q->input(2)->constant()->type(), ir::ElementType::kUint8);
  EXPECT_EQ((*r_q->input(2)->constant()->ToDoubles())[0], 0);
  // X in [-1, 1]: zero point round(0 + 1 / (2/255)) = 128 (127.5 to even).
  const ir::Node* x_q = g.FindValue("X")->uses()[0].user;
  EXPECT_EQ((*x_q->input(2)->constant()->ToDoubles())[0], 128);

  // Weights: int8 symmetric per tensor, no QuantizeLinear.
  const ir::Value* w = g.FindValue("W_quantized");
  ASSERT_NE(w, nullptr);
  EXPECT_EQ(w->constant()->type(), ir::ElementType::kInt8);
  // |w| max 3 -> scale 3/127; 1 -> round(42.33) = 42, -2 -> -85, 0.5 -> 21, 3 -> 127.
  EXPECT_EQ(*w->constant()->ToDoubles(), (std::vector<double>{42, -85, 21, 127}));
  EXPECT_EQ(w->uses()[0].user->op_type(), "DequantizeLinear");
  EXPECT_EQ(g.FindValue("W"), nullptr);  // the float weight is gone

  // Bias: int32, scale = x_scale * w_scale, its DequantizeLinear writes "B".
  const ir::Value* b = g.FindValue("B");
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(b->producer()->op_type(), "DequantizeLinear");
  EXPECT_EQ(b->producer()->input(0)->constant()->type(), ir::ElementType::kInt32);
  const float x_scale = 2.0f / 255, w_scale = 3.0f / 127;
  const double bias_scale = (*b->producer()->input(1)->constant()->ToDoubles())[0];
  EXPECT_FLOAT_EQ(static_cast<float>(bias_scale), x_scale * w_scale);
  EXPECT_EQ((*b->producer()->input(0)->constant()->ToDoubles())[0], std::nearbyint(0.1 / bias_scale));

  // The Add's constant is quantized with the activation type.
  EXPECT_EQ(g.FindValue("A_quantized")->constant()->type(), ir::ElementType::kUint8);
  // Graph output Y keeps its name on the DequantizeLinear; Softmax's range is [0, 1].
  ASSERT_EQ(g.outputs()[0]->name(), "Y");
  const ir::Node* y_dq = g.outputs()[0]->producer();
  EXPECT_EQ(y_dq->op_type(), "DequantizeLinear");
  EXPECT_EQ(y_dq->input(0)->producer()->input(0)->name(), "Y_QuantizeLinear_Input");
  EXPECT_EQ(y_dq->input(0)->producer()->input(0)->producer()->op_type(), "Softmax");
  EXPECT_FLOAT_EQ(static_cast<float>((*y_dq->input(1)->constant()->ToDoubles())[0]), 1.0f / 255);
  EXPECT_TRUE(ir::Verify(*model).ok());
  fs::remove(calib);
}

// Weights already behind a DequantizeLinear of integers (a weight-only QDQ
// file, or dynamic-to-static's first step) stay exactly as they are; the
// bias takes their per-channel scale; a weight scale that would saturate
// the bias is not enlarged (that would change the integers).
TEST(Quantize, KeepsWeightsAlreadyQuantized) {
  auto model = Parse(R"(
<ir_version: 8, opset_import: ["" : 13]>
g (float[1,2,2,2] X) => (float[1,2,2,2] C)
  <int8[2,2,1,1] Wq = {127, -64, 3, -127}, float[2] ws = {0.5, 1e-9}, int8[2] wz = {0, 0}, float[2] B = {0.1, 300}> {
  W = DequantizeLinear<axis = 0>(Wq, ws, wz)
  C = Conv(X, W, B)
}
)");
  const std::string calib = WriteCalibration("kept", {{"X", {-1, 1}}, {"C", {-4, 4}}});
  absl::Status s = RunPipeline(*model, "quantize{calibration=" + calib + "}");
  ASSERT_TRUE(s.ok()) << s;
  const ir::Graph& g = model->graph();
  EXPECT_EQ(CountOps(g)["DequantizeLinear"], 4);  // W (kept), B, X, C
  const ir::Node* conv = g.FindValue("C_QuantizeLinear_Input") != nullptr
                             ? g.FindValue("C_QuantizeLinear_Input")->producer()
                             : nullptr;
  ASSERT_NE(conv, nullptr);
  ASSERT_EQ(conv->op_type(), "Conv");
  const ir::Node* w_dq = conv->input(1)->producer();
  ASSERT_EQ(w_dq->op_type(), "DequantizeLinear");
  EXPECT_EQ(w_dq->input(0)->name(), "Wq");
  EXPECT_EQ(*w_dq->input(0)->constant()->ToInt64s(), (std::vector<int64_t>{127, -64, 3, -127}));
  EXPECT_EQ(w_dq->input(1)->name(), "ws");
  // Bias: int32 with scale x_scale * ws per channel (x_scale = 2/255).
  const ir::Node* b_dq = conv->input(2)->producer();
  ASSERT_EQ(b_dq->op_type(), "DequantizeLinear");
  std::vector<double> bias_scale = *b_dq->input(1)->constant()->ToDoubles();
  ASSERT_EQ(bias_scale.size(), 2u);
  EXPECT_FLOAT_EQ(static_cast<float>(bias_scale[0]), (2.0f / 255) * 0.5f);
  EXPECT_FLOAT_EQ(static_cast<float>(bias_scale[1]), (2.0f / 255) * 1e-9f);
  EXPECT_EQ(b_dq->GetInt("axis").value_or(-1), 0);
}

TEST(Quantize, PerChannelSymmetricWeightsAndSignedActivations) {
  auto model = Parse(kModel);
  const std::string calib = WriteCalibration("perchannel", Ranges());
  ASSERT_TRUE(RunPipeline(*model, "quantize{calibration=" + calib + " per-channel=true activation=s8}").ok());
  const ir::Graph& g = model->graph();
  const ir::Node* w_dq = g.FindValue("W_quantized")->uses()[0].user;
  EXPECT_EQ(w_dq->GetInt("axis"), 0);
  // Channel 0 |max| 2 -> scale 2/127: {1, -2} -> {64 (63.5 to even), -127};
  // channel 1 |max| 3 -> {0.5, 3} -> {21, 127}.
  EXPECT_EQ(*g.FindValue("W_quantized")->constant()->ToDoubles(), (std::vector<double>{64, -127, 21, 127}));
  EXPECT_EQ(w_dq->input(1)->constant()->dims(), (std::vector<int64_t>{2}));
  // MatMul weight [8,3]: per channel on axis 1 (3 scales).
  const ir::Node* w2_dq = g.FindValue("W2_quantized")->uses()[0].user;
  EXPECT_EQ(w2_dq->GetInt("axis"), 1);
  EXPECT_EQ(w2_dq->input(1)->constant()->num_elements(), 3);
  // Bias per channel: two scales, axis 0.
  const ir::Node* b_dq = g.FindValue("B")->producer();
  EXPECT_EQ(b_dq->GetInt("axis"), 0);
  EXPECT_EQ(b_dq->input(1)->constant()->num_elements(), 2);
  // s8 activations: X zero point round(-128 + 1 / (2/255)) = 0 (-0.5 to even).
  const ir::Node* x_q = g.FindValue("X")->uses()[0].user;
  EXPECT_EQ(x_q->input(2)->constant()->type(), ir::ElementType::kInt8);
  EXPECT_EQ((*x_q->input(2)->constant()->ToDoubles())[0], 0);
  fs::remove(calib);
}

TEST(Quantize, SymmetricActivationsKeepRelu) {
  auto model = Parse(kModel);
  const std::string calib = WriteCalibration("symmetric", Ranges());
  ASSERT_TRUE(RunPipeline(*model, "quantize{calibration=" + calib + " activation=s8 activation-symmetric=true}").ok());
  std::map<std::string, int> counts = CountOps(model->graph());
  EXPECT_EQ(counts["Relu"], 1);
  EXPECT_EQ(counts["QuantizeLinear"], 7);  // C gets its own pair now
  fs::remove(calib);
}

TEST(Quantize, ExclusionsLeaveNodesFloat) {
  auto model = Parse(kModel);
  const std::string calib = WriteCalibration("exclude", Ranges());
  Report report;
  ASSERT_TRUE(RunPipeline(*model, "quantize{calibration=" + calib + " exclude-ops=MatMul,Add,Softmax}", &report).ok());
  std::map<std::string, int> counts = CountOps(model->graph());
  EXPECT_EQ(counts["QuantizeLinear"], 3);  // X, R, F
  EXPECT_EQ(report.passes()[0].statistics["nodes-excluded"], 3);
  EXPECT_NE(model->graph().FindValue("W2"), nullptr);  // MatMul weight stays float
  fs::remove(calib);
}

TEST(Quantize, MissingOrBadCalibrationIsAnErrorNamingTheTensor) {
  auto model = Parse(kModel);
  auto ranges = Ranges();
  ranges.erase("M");
  const std::string calib = WriteCalibration("missing", ranges);
  absl::Status s = RunPipeline(*model, "quantize{calibration=" + calib + "}");
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("tensor 'M' has no range"), absl::string_view::npos) << s;
  fs::remove(calib);

  auto again = Parse(kModel);
  absl::Status missing_file = RunPipeline(*again, "quantize{calibration=/nonexistent/calib.json}");
  EXPECT_NE(missing_file.message().find("cannot read calibration file '/nonexistent/calib.json'"),
            absl::string_view::npos)
      << missing_file;

  auto old_opset = Parse(R"(
<ir_version: 8, opset_import: ["" : 9]>
g (float[2] X) => (float[2] Y) { Y = Relu(X) }
)");
  absl::Status opset = RunPipeline(*old_opset, "quantize{calibration=" + calib + "}");
  EXPECT_NE(opset.message().find("run 'canonicalize' first"), absl::string_view::npos) << opset;
}


// quantize_dynamic's layout, written out by hand (ORT names included).
TEST(QuantizeDynamic, MatMulAndConvLayout) {
  auto model = testing::Parse(R"(
<ir_version: 8, opset_import: ["" : 13]>
g (float[1,1,2,2] X, float[2,4] A) => (float[1,2,2,2] Y, float[2,3] M, float[2,3] N)
  <float[2,1,1,1] W = {1, -2}, float[2] B = {0.5, 1}, float[4,3] K = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, -12}> {
  Y = Conv <pads = [0, 0, 0, 0]> (X, W, B)
  M = MatMul(A, K)
  N = MatMul(A, M2)
  M2 = Identity(K)
}
)");
  Report report;
  ASSERT_TRUE(testing::RunPipeline(*model, "quantize{mode=dynamic}", &report).ok());
  const ir::Graph& g = model->graph();
  std::map<std::string, int> counts;
  for (const ir::Node* n : g.node_list()) ++counts[n->op_type()];
  // One DynamicQuantizeLinear per activation (A is shared by two MatMuls,
  // but the second MatMul's B is not constant: MatMulConstBOnly keeps it).
  EXPECT_EQ(counts["DynamicQuantizeLinear"], 2);
  EXPECT_EQ(counts["MatMulInteger"], 1);
  EXPECT_EQ(counts["ConvInteger"], 1);
  EXPECT_EQ(counts["MatMul"], 1);
  EXPECT_EQ(counts["Cast"], 2);
  EXPECT_EQ(counts["Mul"], 4);
  EXPECT_EQ(counts["Reshape"], 1);
  EXPECT_EQ(counts["Add"], 1);
  // M: MatMulInteger -> Cast -> Mul(scales) ; the output keeps its name.
  ASSERT_NE(g.FindValue("M"), nullptr);
  ASSERT_EQ(g.outputs()[1]->name(), "M");
  const ir::Node* m_mul = g.FindValue("M")->producer();
  ASSERT_EQ(m_mul->op_type(), "Mul");
  EXPECT_EQ(m_mul->input(0)->producer()->op_type(), "Cast");
  const ir::Node* mmi = m_mul->input(0)->producer()->input(0)->producer();
  ASSERT_EQ(mmi->op_type(), "MatMulInteger");
  EXPECT_EQ(mmi->input(0)->name(), "A_quantized");
  EXPECT_EQ(mmi->input(2)->name(), "A_zero_point");
  EXPECT_EQ(mmi->input(1)->name(), "K_quantized");
  // K symmetric int8: |max| 12 -> scale 12/127; 1 -> round(10.58) = 11, -12 -> -127.
  auto k = *g.FindValue("K_quantized")->constant()->ToDoubles();
  EXPECT_EQ(k[0], 11);
  EXPECT_EQ(k[11], -127);
  EXPECT_EQ(m_mul->input(1)->producer()->input(0)->name(), "A_scale");
  // Y: ConvInteger (attributes copied) -> Cast -> Mul -> Add(Reshape(B)).
  ASSERT_NE(g.FindValue("Y"), nullptr);
  const ir::Node* add = g.FindValue("Y")->producer();
  ASSERT_EQ(add->op_type(), "Add");
  EXPECT_EQ(add->input(1)->producer()->op_type(), "Reshape");
  EXPECT_EQ(*add->input(1)->producer()->input(1)->constant()->ToInt64s(), (std::vector<int64_t>{1, -1, 1, 1}));
  const ir::Node* conv = add->input(0)->producer()->input(0)->producer()->input(0)->producer();
  ASSERT_EQ(conv->op_type(), "ConvInteger");
  EXPECT_TRUE(conv->GetInts("pads").has_value());
  EXPECT_EQ(report.passes()[0].statistics["dynamic-quantize-added"], 2);
  EXPECT_TRUE(ir::Verify(*model).ok());
}


std::string WriteText(const std::string& name, const std::string& text) {
  const std::filesystem::path path = std::filesystem::temp_directory_path() / (name + std::to_string(::getpid()));
  std::ofstream(path) << text;
  return path.string();
}

TEST(QuantizeOverrides, TypeRangeAndFixedParameters) {
  auto model = testing::Parse(kModel);
  const std::string calib = WriteCalibration("overrides", Ranges());
  const std::string overrides = WriteText("overrides.json", R"({
    "R": {"quant_type": "u16"},
    "M": {"scale": 0.5, "zero_point": 10},
    "S": [{"rmin": -20, "rmax": 60}]
  })");
  Report report;
  absl::Status s = testing::RunPipeline(
      *model, "quantize{calibration=" + calib + " overrides=" + overrides + "}", &report);
  ASSERT_TRUE(s.ok()) << s;
  const ir::Graph& g = model->graph();
  const ir::Node* r_q = g.FindValue("R")->uses()[0].user;
  ASSERT_EQ(r_q->op_type(), "QuantizeLinear");
  EXPECT_EQ(r_q->input(2)->constant()->type(), ir::ElementType::kUint16);
  // 16-bit below opset 21: ORT switches every Q/DQ to com.microsoft.
  EXPECT_EQ(r_q->domain(), "com.microsoft");
  EXPECT_EQ(model->OpsetVersion("com.microsoft"), 1);
  const ir::Node* m_q = g.FindValue("M")->uses()[0].user;
  EXPECT_FLOAT_EQ(static_cast<float>((*m_q->input(1)->constant()->ToDoubles())[0]), 0.5f);
  EXPECT_EQ((*m_q->input(2)->constant()->ToDoubles())[0], 10);
  const ir::Node* s_q = g.FindValue("S")->uses()[0].user;
  EXPECT_FLOAT_EQ(static_cast<float>((*s_q->input(1)->constant()->ToDoubles())[0]), 80.0f / 255);
  EXPECT_EQ(report.passes()[0].statistics["overrides-applied"], 3);

  for (const auto& [text, expect] : std::vector<std::pair<std::string, std::string>>{
           {R"({"nope": {"quant_type": "u8"}})", "tensor 'nope' is not in the model"},
           {R"({"R": {"bits": 8}})", "tensor 'R': key 'bits' is not known"},
           {R"({"R": {"scale": 0.1}})", "scale and zero_point must be given together"},
           {R"({"R": {"quant_type": "u7"}})", "unknown quantized type 'u7'"}}) {
    auto again = testing::Parse(kModel);
    const std::string bad = WriteText("bad_overrides.json", text);
    absl::Status e = testing::RunPipeline(*again, "quantize{calibration=" + calib + " overrides=" + bad + "}");
    EXPECT_FALSE(e.ok()) << text;
    EXPECT_NE(e.message().find(expect), absl::string_view::npos) << e;
    std::filesystem::remove(bad);
  }
  std::filesystem::remove(calib);
  std::filesystem::remove(overrides);
}

// range= picks which calibrated range each tensor uses: X's own min/max, its
// mse range, or its recorded choice; a missing one names the tensor and flag.
TEST(Quantize, RangeOptionPicksTheCalibratedRange) {
  std::string text = R"({"schema": "qopt-calib/1", "tensors": {
    "X": {"min": -1, "max": 1, "mse": {"min": -0.5, "max": 0.5}, "entropy": {"min": -0.25, "max": 0.25},
          "choice": {"method": "entropy", "min": -0.25, "max": 0.25}})";
  for (const auto& [tensor, range] : Ranges()) {
    if (tensor == "X") continue;
    text += ", \"" + tensor + "\": {\"min\": " + std::to_string(range.first) +
            ", \"max\": " + std::to_string(range.second) + ", \"mse\": {\"min\": " + std::to_string(range.first) +
            ", \"max\": " + std::to_string(range.second) +
            "}, \"choice\": {\"method\": \"minmax\", \"min\": " + std::to_string(range.first) +
            ", \"max\": " + std::to_string(range.second) + "}}";
  }
  const std::string calib = WriteText("range_option.calib.json", text + "}}");
  for (const auto& [range, scale] : std::vector<std::pair<std::string, float>>{
           {"minmax", 2.0f / 255}, {"mse", 1.0f / 255}, {"choice", 0.5f / 255}}) {
    auto model = Parse(kModel);
    absl::Status s = RunPipeline(*model, "quantize{calibration=" + calib + " range=" + range + "}");
    ASSERT_TRUE(s.ok()) << range << ": " << s;
    const ir::Node* x_q = model->graph().FindValue("X")->uses()[0].user;
    ASSERT_EQ(x_q->op_type(), "QuantizeLinear");
    EXPECT_FLOAT_EQ(static_cast<float>((*x_q->input(1)->constant()->ToDoubles())[0]), scale) << range;
  }
  auto model = Parse(kModel);
  absl::Status e = RunPipeline(*model, "quantize{calibration=" + calib + " range=entropy}");
  ASSERT_FALSE(e.ok());
  EXPECT_NE(e.message().find("has no entropy range (calibrate with qopt-calibrate --methods=entropy)"),
            absl::string_view::npos)
      << e;
  e = RunPipeline(*model, "quantize{calibration=" + calib + " range=kl}");
  ASSERT_FALSE(e.ok());
  std::filesystem::remove(calib);
}

}  // namespace
}  // namespace qopt

// fuse-qdq-units on small QDQ units that must NOT be fused, each with the
// reason the pass records (the positive cases are in
// tests/lit/passes/fuse-qdq.onnxtxt, the numbers in tests/ort/pipeline_parity.sh).
#include "gtest/gtest.h"
#include "tests/unit/test_util.h"

namespace qopt {
namespace {

using testing::OpSequence;
using testing::Parse;
using testing::RunPipeline;

// Fuses and returns the "not_fused" reasons of the report.
nlohmann::json NotFused(ir::Model& model, const std::string& pipeline = "fuse-qdq-units") {
  Report report;
  EXPECT_TRUE(RunPipeline(model, pipeline, &report).ok());
  return report.ToJson()["analyses"]["fuse-qdq-units"]["not_fused"];
}

TEST(FuseQdqUnits, ConvWhoseBiasScaleIsNotInputTimesWeightScaleStays) {
  // 0.5 x 0.25 = 0.125, but the bias says 0.1: taking Bq as it is would
  // change the numbers.
  auto model = Parse(R"(
<ir_version: 8, opset_import: ["" : 13]>
g (float[1,1,2,2] X) => (float[1,1,2,2] Y)
  <float s = {0.5}, uint8 z = {128}, int8[1,1,1,1] Wq = {3}, float ws = {0.25}, int8 wz = {0},
   int32[1] Bq = {7}, float[1] bs = {0.1}, int32[1] bz = {0}> {
  Xq = QuantizeLinear(X, s, z)
  Xd = DequantizeLinear(Xq, s, z)
  W = DequantizeLinear(Wq, ws, wz)
  B = DequantizeLinear(Bq, bs, bz)
  A = Conv(Xd, W, B)
  Aq = QuantizeLinear(A, s, z)
  Y = DequantizeLinear(Aq, s, z)
}
)");
  const nlohmann::json not_fused = NotFused(*model);
  EXPECT_EQ(OpSequence(model->graph()),
            "QuantizeLinear DequantizeLinear DequantizeLinear DequantizeLinear Conv QuantizeLinear DequantizeLinear");
  ASSERT_EQ(not_fused.size(), 1u) << not_fused.dump();
  EXPECT_NE(not_fused.begin().key().find("is not input scale x weight scale"), std::string::npos);
}

TEST(FuseQdqUnits, AddOfUint8AndInt8Stays) {
  // QLinearAdd has one type T for A, B and C.
  auto model = Parse(R"(
<ir_version: 8, opset_import: ["" : 13]>
g (float[4] X1, float[4] X2) => (float[4] Y)
  <float s = {0.5}, uint8 z = {128}, int8 z8 = {0}> {
  Aq = QuantizeLinear(X1, s, z)
  Ad = DequantizeLinear(Aq, s, z)
  Bq = QuantizeLinear(X2, s, z8)
  Bd = DequantizeLinear(Bq, s, z8)
  S = Add(Ad, Bd)
  Sq = QuantizeLinear(S, s, z)
  Y = DequantizeLinear(Sq, s, z)
}
)");
  const nlohmann::json not_fused = NotFused(*model);
  EXPECT_NE(OpSequence(model->graph()).find(" Add "), std::string::npos);
  EXPECT_EQ(not_fused["inputs and output are quantized to different integer types"], 1) << not_fused.dump();
}

TEST(FuseQdqUnits, ReshapeWithOtherOutputParametersStays) {
  // Moving uint8 data through a Reshape is exact only with one scale.
  auto model = Parse(R"(
<ir_version: 8, opset_import: ["" : 13]>
g (float[4] X) => (float[2,2] Y)
  <float s = {0.5}, float s2 = {0.25}, uint8 z = {128}, int64[2] shape = {2, 2}> {
  Xq = QuantizeLinear(X, s, z)
  Xd = DequantizeLinear(Xq, s, z)
  R = Reshape(Xd, shape)
  Rq = QuantizeLinear(R, s2, z)
  Y = DequantizeLinear(Rq, s2, z)
}
)");
  NotFused(*model);
  EXPECT_EQ(OpSequence(model->graph()), "QuantizeLinear DequantizeLinear Reshape QuantizeLinear DequantizeLinear");
}

TEST(FuseQdqUnits, MatMulPerChannelOnTheWrongAxisStays) {
  // Per row (axis 0) of a [K, N] weight: QLinearMatMul scales per column.
  auto model = Parse(R"(
<ir_version: 8, opset_import: ["" : 13]>
g (float[1,2] X) => (float[1,2] Y)
  <float s = {0.5}, uint8 z = {128}, int8[2,2] Wq = {1, 2, 3, 4}, float[2] ws = {0.25, 0.5}, int8[2] wz = {0, 0}> {
  Xq = QuantizeLinear(X, s, z)
  Xd = DequantizeLinear(Xq, s, z)
  W = DequantizeLinear <axis = 0> (Wq, ws, wz)
  M = MatMul(Xd, W)
  Mq = QuantizeLinear(M, s, z)
  Y = DequantizeLinear(Mq, s, z)
}
)");
  const nlohmann::json not_fused = NotFused(*model);
  EXPECT_EQ(not_fused["per-channel MatMul weights are not per column of a 2-D constant"], 1) << not_fused.dump();

  // Per column (axis 1) is fused.
  auto columns = Parse(R"(
<ir_version: 8, opset_import: ["" : 13]>
g (float[1,2] X) => (float[1,2] Y)
  <float s = {0.5}, uint8 z = {128}, int8[2,2] Wq = {1, 2, 3, 4}, float[2] ws = {0.25, 0.5}, int8[2] wz = {0, 0}> {
  Xq = QuantizeLinear(X, s, z)
  Xd = DequantizeLinear(Xq, s, z)
  W = DequantizeLinear <axis = 1> (Wq, ws, wz)
  M = MatMul(Xd, W)
  Mq = QuantizeLinear(M, s, z)
  Y = DequantizeLinear(Mq, s, z)
}
)");
  ASSERT_TRUE(RunPipeline(*columns, "fuse-qdq-units,dce").ok());
  EXPECT_EQ(OpSequence(columns->graph()), "QuantizeLinear QLinearMatMul DequantizeLinear");
}

TEST(FuseQdqUnits, SoftmaxGetsTheOpsetAndItsDefaultAxis) {
  auto model = Parse(R"(
<ir_version: 8, opset_import: ["" : 11]>
g (float[2,4] X) => (float[2,4] Y)
  <float s = {0.5}, float so = {0.00390625}, uint8 z = {128}, uint8 zo = {0}> {
  Xq = QuantizeLinear(X, s, z)
  Xd = DequantizeLinear(Xq, s, z)
  S = Softmax(Xd)
  Sq = QuantizeLinear(S, so, zo)
  Y = DequantizeLinear(Sq, so, zo)
}
)");
  ASSERT_TRUE(RunPipeline(*model, "fuse-qdq-units,dce").ok());
  EXPECT_EQ(OpSequence(model->graph()), "QuantizeLinear QLinearSoftmax DequantizeLinear");
  const ir::Node* softmax = model->graph().node_list()[1];
  EXPECT_EQ(softmax->domain(), "com.microsoft");
  EXPECT_EQ(softmax->GetInt("opset"), 11);
  EXPECT_EQ(softmax->GetInt("axis"), 1);  // opset 11's default
}


TEST(FuseQdq, PipelineSummaryCountsFromThePipelineStart) {
  // Conv -> Div by 4 (scale only) -> Add: the Div's DQ/Q go in
  // fold-qdq-identity, the rest in fuse-qdq-units; the summary counts from
  // before the first pass.
  auto model = Parse(R"(
<ir_version: 8, opset_import: ["" : 13]>
g (float[1,1,2,2] X) => (float[1,1,2,2] Y)
  <float s = {0.5}, float s8 = {0.125}, uint8 z = {128}, int8[1,1,1,1] Wq = {3}, float ws = {0.25}, int8 wz = {0},
   float c4 = {4.0}> {
  Xq = QuantizeLinear(X, s, z)
  Xd = DequantizeLinear(Xq, s, z)
  W = DequantizeLinear(Wq, ws, wz)
  A = Conv(Xd, W)
  Aq = QuantizeLinear(A, s, z)
  Ad = DequantizeLinear(Aq, s, z)
  D = Div(Ad, c4)
  Dq = QuantizeLinear(D, s8, z)
  Dd = DequantizeLinear(Dq, s8, z)
  S = Add(Dd, Xd)
  Sq = QuantizeLinear(S, s, z)
  Y = DequantizeLinear(Sq, s, z)
}
)");
  Report report;
  ASSERT_TRUE(RunPipeline(*model, "fuse-qdq", &report).ok());
  EXPECT_EQ(OpSequence(model->graph()), "QuantizeLinear QLinearConv QLinearAdd DequantizeLinear");
  const nlohmann::json doc = report.ToJson();
  const auto& summary = doc["analyses"]["fuse-qdq-units"];
  EXPECT_EQ(summary["before"]["nodes"], 12);
  EXPECT_EQ(summary["after"]["nodes"], 4);
  EXPECT_EQ(summary["before"]["float_to_int"], 4);  // Xq, Aq, Dq, Sq
  EXPECT_EQ(summary["after"]["float_to_int"], 1);   // Xq
  EXPECT_EQ(summary["after"]["int_to_float"], 1);   // Y
  EXPECT_EQ(summary["fused_by_op"]["Conv"], 1);
  EXPECT_EQ(summary["fused_by_op"]["Add"], 1);
  // Every pass run carries its census: fold-qdq-identity took 3 nodes.
  bool found = false;
  for (const auto& run : doc["passes"]) {
    if (run["name"] != "fold-qdq-identity") continue;
    found = true;
    EXPECT_EQ(run["census"]["before"]["nodes"].get<int>() - run["census"]["after"]["nodes"].get<int>(), 3);
  }
  EXPECT_TRUE(found);
  EXPECT_NE(report.ToText().find("nodes                            12 -> 4"), std::string::npos) << report.ToText();
}


// DQ(s 0.25) -> HardSigmoid(alpha 0.2, beta 0.5) -> Q(s 0.25, zero point 0)
// with a uint8 or int8 input of zero point `zp`.
std::string HardSigmoidSite(const std::string& type, const std::string& zp) {
  return R"(
<ir_version: 8, opset_import: ["" : 13]>
g (float[4] X) => (float[4] Y)
  <float s = {0.25}, )" + type + R"( z = {)" + zp + R"(}, uint8 zo = {0}> {
  Xq = QuantizeLinear(X, s, z)
  Xd = DequantizeLinear(Xq, s, z)
  H = HardSigmoid <alpha = 0.2, beta = 0.5> (Xd)
  Hq = QuantizeLinear(H, s, zo)
  Y = DequantizeLinear(Hq, s, zo)
}
)";
}

std::vector<double> LookupTable(const ir::Model& model) {
  for (const ir::Value* v : model.graph().initializers()) {
    if (v->name().find("_lookup") != std::string::npos) return *v->constant()->ToDoubles();
  }
  return {};
}

TEST(QdqLookup, HardSigmoidBecomesATableOfItsQuantizedValues) {
  auto model = Parse(HardSigmoidSite("uint8", "128"));
  ASSERT_TRUE(RunPipeline(*model, "qdq-lookup").ok());
  EXPECT_EQ(OpSequence(model->graph()), "QuantizeLinear Cast Gather DequantizeLinear");
  const std::vector<double> table = LookupTable(*model);
  ASSERT_EQ(table.size(), 256u);
  // q -> x = (q - 128) / 4 -> clamp(0.2 x + 0.5, 0, 1) -> round(/ 0.25).
  EXPECT_EQ(table[0], 0);    // x = -32: 0
  EXPECT_EQ(table[125], 1);  // x = -0.75: 0.35 -> 1.4
  EXPECT_EQ(table[128], 2);  // x = 0: 0.5
  EXPECT_EQ(table[131], 3);  // x = 0.75: 0.65 -> 2.6
  EXPECT_EQ(table[255], 4);  // x = 31.75: 1
}

TEST(QdqLookup, Int8InputsIndexFromTheEndForNegativeValues) {
  auto model = Parse(HardSigmoidSite("int8", "0"));
  ASSERT_TRUE(RunPipeline(*model, "qdq-lookup").ok());
  const std::vector<double> table = LookupTable(*model);
  ASSERT_EQ(table.size(), 256u);
  EXPECT_EQ(table[0], 2);    // q = 0: x = 0
  EXPECT_EQ(table[10], 4);   // q = 10: x = 2.5 -> 1
  EXPECT_EQ(table[255], 2);  // q = -1: x = -0.25 -> 0.45 -> 1.8
  EXPECT_EQ(table[128], 0);  // q = -128: x = -32 -> 0
}

TEST(QdqLookup, SixteenBitAndGraphOutputsStay) {
  auto wide = Parse(HardSigmoidSite("uint16", "0"));
  ASSERT_TRUE(RunPipeline(*wide, "qdq-lookup").ok());
  EXPECT_EQ(OpSequence(wide->graph()), "QuantizeLinear DequantizeLinear HardSigmoid QuantizeLinear DequantizeLinear");
  auto output = Parse(R"(
<ir_version: 8, opset_import: ["" : 13]>
g (float[4] X) => (float[4] H)
  <float s = {0.25}, uint8 z = {128}> {
  Xq = QuantizeLinear(X, s, z)
  Xd = DequantizeLinear(Xq, s, z)
  H = HardSigmoid(Xd)
}
)");
  ASSERT_TRUE(RunPipeline(*output, "qdq-lookup").ok());
  EXPECT_EQ(OpSequence(output->graph()), "QuantizeLinear DequantizeLinear HardSigmoid");
}


TEST(QdqLookup, ReluWithEqualParametersIsAClipOnIntegers) {
  // Zero point 128: the Relu cuts (not an identity), but with equal
  // parameters it is max(q, 128), one Clip on uint8 and no table.
  auto model = Parse(R"(
<ir_version: 8, opset_import: ["" : 13]>
g (float[4] X) => (float[4] Y)
  <float s = {0.5}, uint8 z = {128}> {
  Xq = QuantizeLinear(X, s, z)
  Xd = DequantizeLinear(Xq, s, z)
  R = Relu(Xd)
  Rq = QuantizeLinear(R, s, z)
  Y = DequantizeLinear(Rq, s, z)
}
)");
  Report report;
  ASSERT_TRUE(RunPipeline(*model, "qdq-lookup", &report).ok());
  EXPECT_EQ(OpSequence(model->graph()), "QuantizeLinear Clip DequantizeLinear");
  const ir::Node* clip = model->graph().node_list()[1];
  EXPECT_EQ(*clip->input(1)->constant()->ToDoubles(), std::vector<double>{128});
  EXPECT_EQ(*clip->input(2)->constant()->ToDoubles(), std::vector<double>{255});
  EXPECT_EQ(clip->input(1)->constant()->type(), ir::ElementType::kUint8);
  EXPECT_EQ(report.passes()[0].statistics["sites-clamped"], 1);
}

}  // namespace
}  // namespace qopt

// fuse-qdq-units on small QDQ units that must NOT be fused, each with the
// reason the pass records (the positive cases are in
// tests/lit/passes/fuse-qdq.onnxtxt, the numbers in tests/ort/pipeline_parity.sh).
#include "gtest/gtest.h"
#include "tests/unit/qdq_model_builder.h"
#include "tests/unit/test_util.h"

namespace qopt {
namespace {

using testing::OpSequence;
using testing::QdqModelBuilder;
using testing::QParams;
using testing::RunPipeline;

// Fuses and returns the "not_fused" reasons of the report.
nlohmann::json NotFused(ir::Model& model, const std::string& pipeline = "fuse-qdq-units") {
  Report report;
  EXPECT_TRUE(RunPipeline(model, pipeline, &report).ok());
  return report.ToJson()["analyses"]["fuse-qdq-units"]["not_fused"];
}

// Graph input X [1,1,2,2] -> Q -> DQ (scale 0.5, zero point 128: the
// parameters returned) and an int8 weight W [1,1,1,1] = 3 x 0.25 behind its
// DQ; the graph output Y is [1,1,2,2].
QParams ConvInputs(QdqModelBuilder& b) {
  b.Input("X", "float[1,1,2,2]").Output("Y", "float[1,1,2,2]");
  const QParams act = b.PerTensor("s", 0.5, "z", "uint8", 128);
  b.QDQ("X", act).Weight("W", "int8[1,1,1,1]", {3}, b.PerTensor("ws", 0.25, "wz", "int8", 0));
  return act;
}

TEST(FuseQdqUnits, ConvWhoseBiasScaleIsNotInputTimesWeightScaleStays) {
  // 0.5 x 0.25 = 0.125, but the bias says 0.1: taking Bq as it is would
  // change the numbers.
  QdqModelBuilder b;
  const QParams act = ConvInputs(b);
  b.Constant("bs", "float[1]", {0.1}).Constant("bz", "int32[1]", {0});
  b.Weight("B", "int32[1]", {7}, QParams("bs", "bz")).Unit("A = Conv(Xd, W, B)", act, "Y");
  auto model = b.Build();
  const nlohmann::json not_fused = NotFused(*model);
  EXPECT_EQ(OpSequence(model->graph()),
            "QuantizeLinear DequantizeLinear DequantizeLinear DequantizeLinear Conv QuantizeLinear DequantizeLinear");
  ASSERT_EQ(not_fused.size(), 1u) << not_fused.dump();
  EXPECT_NE(not_fused.begin().key().find("is not input scale x weight scale"), std::string::npos);
}

TEST(FuseQdqUnits, AddOfUint8AndInt8Stays) {
  // QLinearAdd has one type T for A, B and C.
  QdqModelBuilder b;
  b.Input("X1", "float[4]").Input("X2", "float[4]").Output("Y", "float[4]");
  const QParams u8 = b.PerTensor("s", 0.5, "z", "uint8", 128);
  b.Constant("z8", "int8", {0});
  b.QDQ("X1", u8).QDQ("X2", QParams("s", "z8")).Unit("S = Add(X1d, X2d)", u8, "Y");
  auto model = b.Build();
  const nlohmann::json not_fused = NotFused(*model);
  EXPECT_NE(OpSequence(model->graph()).find(" Add "), std::string::npos);
  EXPECT_EQ(not_fused["inputs and output are quantized to different integer types"], 1) << not_fused.dump();
}

TEST(FuseQdqUnits, ReshapeWithOtherOutputParametersStays) {
  // Moving uint8 data through a Reshape is exact only with one scale.
  QdqModelBuilder b;
  b.Input("X", "float[4]").Output("Y", "float[2,2]");
  const QParams in = b.PerTensor("s", 0.5, "z", "uint8", 128);
  b.Constant("s2", "float", {0.25}).Constant("shape", "int64[2]", {2, 2});
  b.QDQ("X", in).Unit("R = Reshape(Xd, shape)", QParams("s2", "z"), "Y");
  auto model = b.Build();
  NotFused(*model);
  EXPECT_EQ(OpSequence(model->graph()), "QuantizeLinear DequantizeLinear Reshape QuantizeLinear DequantizeLinear");
}

// X [1,2] -> Q -> DQ -> MatMul(W: int8 [2,2] per channel along `weight_axis`) -> Q -> DQ -> Y.
std::unique_ptr<ir::Model> PerChannelMatMul(int64_t weight_axis) {
  QdqModelBuilder b;
  b.Input("X", "float[1,2]").Output("Y", "float[1,2]");
  const QParams act = b.PerTensor("s", 0.5, "z", "uint8", 128);
  const QParams weight = b.PerChannel("ws", {0.25, 0.5}, "wz", "int8", {0, 0}, weight_axis);
  b.QDQ("X", act).Weight("W", "int8[2,2]", {1, 2, 3, 4}, weight).Unit("M = MatMul(Xd, W)", act, "Y");
  return b.Build();
}

TEST(FuseQdqUnits, MatMulPerChannelOnTheWrongAxisStays) {
  // Per row (axis 0) of a [K, N] weight: QLinearMatMul scales per column.
  auto model = PerChannelMatMul(0);
  const nlohmann::json not_fused = NotFused(*model);
  EXPECT_EQ(not_fused["per-channel MatMul weights are not per column of a 2-D constant"], 1) << not_fused.dump();

  // Per column (axis 1) is fused.
  auto columns = PerChannelMatMul(1);
  ASSERT_TRUE(RunPipeline(*columns, "fuse-qdq-units,dce").ok());
  EXPECT_EQ(OpSequence(columns->graph()), "QuantizeLinear QLinearMatMul DequantizeLinear");
}

TEST(FuseQdqUnits, SoftmaxGetsTheOpsetAndItsDefaultAxis) {
  QdqModelBuilder b(/*opset=*/11);
  b.Input("X", "float[2,4]").Output("Y", "float[2,4]");
  const QParams in = b.PerTensor("s", 0.5, "z", "uint8", 128);
  const QParams probabilities = b.PerTensor("so", 0.00390625, "zo", "uint8", 0);
  b.QDQ("X", in).Unit("S = Softmax(Xd)", probabilities, "Y");
  auto model = b.Build();
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
  QdqModelBuilder b;
  const QParams act = ConvInputs(b);
  b.Constant("s8", "float", {0.125}).Constant("c4", "float", {4.0});
  b.Unit("A = Conv(Xd, W)", act)
      .Unit("D = Div(Ad, c4)", QParams("s8", "z"))
      .Unit("S = Add(Dd, Xd)", act, "Y");
  auto model = b.Build();
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
// with an input of `type` and zero point `zp`.
std::unique_ptr<ir::Model> HardSigmoidSite(const std::string& type, int64_t zp) {
  // 16-bit Q/DQ exist from opset 21 (and need IR version 10).
  const bool wide = type == "uint16" || type == "int16";
  QdqModelBuilder b(wide ? 21 : 13, wide ? 10 : 8);
  b.Input("X", "float[4]").Output("Y", "float[4]");
  const QParams in = b.PerTensor("s", 0.25, "z", type, zp);
  b.Constant("zo", "uint8", {0});
  b.QDQ("X", in).Unit("H = HardSigmoid <alpha = 0.2, beta = 0.5> (Xd)", QParams("s", "zo"), "Y");
  return b.Build();
}

std::vector<double> LookupTable(const ir::Model& model) {
  for (const ir::Value* v : model.graph().initializers()) {
    if (v->name().find("_lookup") != std::string::npos) return *v->constant()->ToDoubles();
  }
  return {};
}

TEST(QdqLookup, HardSigmoidBecomesATableOfItsQuantizedValues) {
  auto model = HardSigmoidSite("uint8", 128);
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
  auto model = HardSigmoidSite("int8", 0);
  ASSERT_TRUE(RunPipeline(*model, "qdq-lookup").ok());
  const std::vector<double> table = LookupTable(*model);
  ASSERT_EQ(table.size(), 256u);
  EXPECT_EQ(table[0], 2);    // q = 0: x = 0
  EXPECT_EQ(table[10], 4);   // q = 10: x = 2.5 -> 1
  EXPECT_EQ(table[255], 2);  // q = -1: x = -0.25 -> 0.45 -> 1.8
  EXPECT_EQ(table[128], 0);  // q = -128: x = -32 -> 0
}

TEST(QdqLookup, SixteenBitAndGraphOutputsStay) {
  auto wide = HardSigmoidSite("uint16", 0);
  ASSERT_TRUE(RunPipeline(*wide, "qdq-lookup").ok());
  EXPECT_EQ(OpSequence(wide->graph()), "QuantizeLinear DequantizeLinear HardSigmoid QuantizeLinear DequantizeLinear");
  QdqModelBuilder b;
  b.Input("X", "float[4]").Output("H", "float[4]");
  b.QDQ("X", b.PerTensor("s", 0.25, "z", "uint8", 128)).Node("H = HardSigmoid(Xd)");
  auto output = b.Build();
  ASSERT_TRUE(RunPipeline(*output, "qdq-lookup").ok());
  EXPECT_EQ(OpSequence(output->graph()), "QuantizeLinear DequantizeLinear HardSigmoid");
}


TEST(QdqLookup, ReluWithEqualParametersIsAClipOnIntegers) {
  // Zero point 128: the Relu cuts (not an identity), but with equal
  // parameters it is max(q, 128), one Clip on uint8 and no table.
  QdqModelBuilder b;
  b.Input("X", "float[4]").Output("Y", "float[4]");
  const QParams act = b.PerTensor("s", 0.5, "z", "uint8", 128);
  b.QDQ("X", act).Unit("R = Relu(Xd)", act, "Y");
  auto model = b.Build();
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

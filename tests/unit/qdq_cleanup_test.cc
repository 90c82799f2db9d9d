// qdq-cleanup on small QDQ models: for every rule a case it must rewrite and
// one it must leave, with the integer values of folded constants worked out
// by hand (float32 x / scale, rounded half to even, plus the zero point,
// saturated).
#include <string>
#include <vector>

#include "analysis/quant_math.h"
#include "gtest/gtest.h"
#include "ir/verifier.h"
#include "tests/unit/qdq_model_builder.h"
#include "tests/unit/test_util.h"

namespace qopt {
namespace {

using testing::OpSequence;
using testing::Parse;
using testing::QdqModelBuilder;
using testing::QParams;

// Runs qdq-cleanup, expecting success; returns the report.
Report Cleanup(ir::Model& model, const std::string& pipeline = "qdq-cleanup") {
  return testing::RunExpectingSuccess(model, pipeline);
}

int64_t Stat(const Report& report, const std::string& name) {
  return testing::PassStatistic(report, "qdq-cleanup", name);
}

std::vector<int64_t> IntsOf(const ir::Graph& graph, const std::string& name) {
  const ir::Value* v = graph.FindValue(name);
  EXPECT_NE(v, nullptr) << name;
  if (v == nullptr || v->constant() == nullptr) return {};
  auto values = v->constant()->ToInt64s();
  EXPECT_TRUE(values.ok()) << values.status();
  return values.ok() ? *values : std::vector<int64_t>{};
}

// ---- rule 1: DQ -> Q with identical parameters ------------------------------

TEST(QdqCleanup, IdenticalDqQPairIsBypassed) {
  QdqModelBuilder b;
  b.Input("X", "float[4]").Output("Y", "float[4]");
  const QParams act = b.PerTensor("s", 0.1, "z", "uint8", 128);
  b.QDQ("X", act).QDQ("Xd", act, "Y");
  auto model = b.Build();
  Report report = Cleanup(*model);
  const ir::Graph& g = model->graph();
  EXPECT_EQ(OpSequence(g), "QuantizeLinear DequantizeLinear");
  EXPECT_EQ(g.FindValue("Y")->producer()->input(0)->name(), "Xq");
  EXPECT_EQ(Stat(report, "dq-q-pairs-removed"), 1);
  EXPECT_EQ(Stat(report, "qdq-nodes-removed"), 2);  // the Q and its now unused DQ
  EXPECT_EQ(Stat(report, "requantize-pairs-left"), 0);
  EXPECT_TRUE(report.passes()[0].changed);
}

TEST(QdqCleanup, PairWhoseDqHasOtherUsersKeepsTheDq) {
  // After the bypass Yd reads Xq like Xd: a duplicate, merged in the same run.
  QdqModelBuilder b;
  b.Input("X", "float[4]").Output("Y", "float[4]").Output("Z", "float[4]");
  const QParams act = b.PerTensor("s", 0.1, "z", "int8", 0);
  b.QDQ("X", act).Node("Z = Relu(Xd)").QDQ("Xd", act, "Yd").Node("Y = Neg(Yd)");
  auto model = b.Build();
  Report report = Cleanup(*model);
  const ir::Graph& g = model->graph();
  EXPECT_EQ(OpSequence(g), "QuantizeLinear DequantizeLinear Relu Neg");
  EXPECT_EQ(g.FindValue("Y")->producer()->input(0)->name(), "Xd");
  EXPECT_EQ(Stat(report, "dq-q-pairs-removed"), 1);
  EXPECT_EQ(Stat(report, "duplicate-dq-merged"), 1);
  EXPECT_EQ(Stat(report, "qdq-nodes-removed"), 2);  // Rq and Yd; Xd stays for Relu
}

TEST(QdqCleanup, PairWithOtherScaleOrZeroPointStaysAndIsCountedAsRequantize) {
  // Rq: other scale; Sq: other zero point; Tq: other integer type (same
  // values). None is exact to remove.
  QdqModelBuilder b;
  b.Input("X1", "float[4]").Input("X2", "float[4]").Input("X3", "float[4]");
  b.Output("Y", "float[4]").Output("Z", "float[4]").Output("W", "float[4]");
  const QParams act = b.PerTensor("s", 0.1, "z", "uint8", 0);
  b.Constant("s2", "float", {0.2}).Constant("z2", "uint8", {1}).Constant("zi", "int8", {0});
  b.QDQ("X1", act).QDQ("X1d", QParams("s2", "z"), "Y");
  b.QDQ("X2", QParams("s", "z2")).QDQ("X2d", act, "Z");
  b.QDQ("X3", act).QDQ("X3d", QParams("s", "zi"), "W");
  auto model = b.Build();
  Report report = Cleanup(*model);
  EXPECT_EQ(model->graph().num_nodes(), 12);
  EXPECT_EQ(Stat(report, "dq-q-pairs-removed"), 0);
  EXPECT_EQ(Stat(report, "requantize-pairs-left"), 3);
  EXPECT_FALSE(report.passes()[0].changed);
}

TEST(QdqCleanup, RequantizeIsOnlyCountedWhenTheChainHasNoOtherUsers) {
  // Xd also feeds Z: the chain Xq -> Xd -> Rq is not a plain requantization.
  QdqModelBuilder b;
  b.Input("X", "float[4]").Output("Y", "float[4]").Output("Z", "float[4]");
  const QParams act = b.PerTensor("s", 0.1, "z", "uint8", 0);
  b.Constant("s2", "float", {0.2});
  b.QDQ("X", act).Node("Z = Relu(Xd)").QDQ("Xd", QParams("s2", "z"), "Y");
  auto model = b.Build();
  Report report = Cleanup(*model);
  EXPECT_EQ(Stat(report, "requantize-pairs-left"), 0);
  EXPECT_EQ(model->graph().num_nodes(), 5);
}

TEST(QdqCleanup, IdenticalPairsWithUnsafeScalesAreSkipped) {
  // A zero scale (0 / 0 in the Q), a scale so large that (x - z) * s
  // overflows, and a subnormal one (set below: the text parser rejects
  // 1e-40) break the round-trip argument.
  QdqModelBuilder b;
  b.Input("X", "float[4]").Output("Y", "float[4]").Output("Z", "float[4]").Output("V", "float[4]");
  b.Constant("zero", "float", {0.0}).Constant("huge", "float", {1e38}).Constant("tiny", "float", {1.0});
  b.Constant("z", "uint8", {128});
  // X -> Q -> DQ -> Q -> DQ -> `out`, all with `scale`.
  const auto chain = [&b](const std::string& scale, const std::string& out) {
    const QParams p(scale, "z");
    b.Quantize("Xq_" + scale, "X", p).Dequantize("Xd_" + scale, "Xq_" + scale, p).QDQ("Xd_" + scale, p, out);
  };
  chain("zero", "Y");
  chain("huge", "Z");
  chain("tiny", "V");
  auto model = b.Build();
  const float subnormal = 1e-40f;
  model->graph().FindValue("tiny")->SetInitializerData(
      std::string(reinterpret_cast<const char*>(&subnormal), sizeof(subnormal)));
  Report report = Cleanup(*model);
  EXPECT_EQ(model->graph().num_nodes(), 12);
  EXPECT_EQ(Stat(report, "dq-q-pairs-skipped"), 3);
  EXPECT_EQ(Stat(report, "requantize-pairs-left"), 0);
}

TEST(QdqCleanup, GraphOutputOfARemovedPairKeepsItsName) {
  QdqModelBuilder b;
  b.Input("X", "float[4]").Output("Yq", "uint8[4]");
  const QParams act = b.PerTensor("s", 0.1, "z", "uint8", 128);
  b.QDQ("X", act).Quantize("Yq", "Xd", act);
  auto model = b.Build();
  Report report = Cleanup(*model);
  const ir::Graph& g = model->graph();
  EXPECT_EQ(OpSequence(g), "QuantizeLinear");
  ASSERT_EQ(g.outputs().size(), 1u);
  EXPECT_EQ(g.outputs()[0]->name(), "Yq");
  EXPECT_EQ(g.outputs()[0]->producer()->input(0)->name(), "X");  // the first Q now defines Yq
  EXPECT_EQ(Stat(report, "dq-q-pairs-removed"), 1);
}

TEST(QdqCleanup, GraphOutputFedFromAGraphInputGetsAnIdentity) {
  QdqModelBuilder b;
  b.Input("Xq", "uint8[4]").Output("Yq", "uint8[4]");
  const QParams act = b.PerTensor("s", 0.1, "z", "uint8", 128);
  b.Dequantize("Xd", "Xq", act).Quantize("Yq", "Xd", act);
  auto model = b.Build();
  Cleanup(*model);
  const ir::Graph& g = model->graph();
  EXPECT_EQ(OpSequence(g), "Identity");
  EXPECT_EQ(g.outputs()[0]->name(), "Yq");
  EXPECT_EQ(g.outputs()[0]->producer()->input(0)->name(), "Xq");
  EXPECT_EQ(g.initializers().size(), 0u);  // s and z went with the nodes
}

// ---- rule 3: duplicates -----------------------------------------------------

TEST(QdqCleanup, DuplicateDqAndQAreMergedIntoTheFirst) {
  auto model = Parse(R"(
<ir_version: 8, opset_import: ["" : 13]>
g (float[4] X) => (float[4] Y)
  <float s = {0.1}, float s_copy = {0.1}, uint8 z = {128}> {
  Aq = QuantizeLinear(X, s, z)
  Bq = QuantizeLinear(X, s_copy, z)
  Ad = DequantizeLinear(Aq, s, z)
  Ad2 = DequantizeLinear(Aq, s_copy, z)
  Bd = DequantizeLinear(Bq, s, z)
  S1 = Add(Ad, Ad2)
  Y = Add(S1, Bd)
}
)");
  Report report = Cleanup(*model);
  const ir::Graph& g = model->graph();
  EXPECT_EQ(OpSequence(g), "QuantizeLinear DequantizeLinear Add Add");
  EXPECT_EQ(Stat(report, "duplicate-q-merged"), 1);   // Bq into Aq
  EXPECT_EQ(Stat(report, "duplicate-dq-merged"), 2);  // Ad2, then Bd (reading Aq now) into Ad
  const ir::Node* add = g.FindValue("S1")->producer();
  EXPECT_EQ(add->input(0)->name(), "Ad");
  EXPECT_EQ(add->input(1)->name(), "Ad");
  EXPECT_EQ(g.FindValue("s_copy"), nullptr);  // unused now, removed with the duplicates
}

TEST(QdqCleanup, DuplicatesWithOtherParametersStay) {
  auto model = Parse(R"(
<ir_version: 8, opset_import: ["" : 13]>
g (float[4] X) => (float[4] Y)
  <float s = {0.1}, float s2 = {0.2}, uint8 z = {128}, uint8 z2 = {127}> {
  Aq = QuantizeLinear(X, s, z)
  Bq = QuantizeLinear(X, s2, z)
  Ad = DequantizeLinear(Aq, s, z)
  Ad2 = DequantizeLinear(Aq, s, z2)
  Bd = DequantizeLinear(Bq, s2, z)
  S1 = Add(Ad, Ad2)
  Y = Add(S1, Bd)
}
)");
  Report report = Cleanup(*model);
  EXPECT_EQ(model->graph().num_nodes(), 7);
  EXPECT_EQ(Stat(report, "duplicate-q-merged"), 0);
  EXPECT_EQ(Stat(report, "duplicate-dq-merged"), 0);
  EXPECT_FALSE(report.passes()[0].changed);
}

TEST(QdqCleanup, PerChannelDuplicatesOnOtherAxesStay) {
  auto model = Parse(R"(
<ir_version: 8, opset_import: ["" : 13]>
g () => (float[2,2] Y)
  <int8[2,2] Wq = {1, 2, 3, 4}, float[2] s = {0.1, 0.2}, int8[2] z = {0, 0}> {
  A = DequantizeLinear <axis = 0> (Wq, s, z)
  B = DequantizeLinear <axis = 1> (Wq, s, z)
  Y = Add(A, B)
}
)");
  Report report = Cleanup(*model);
  EXPECT_EQ(model->graph().num_nodes(), 3);
  EXPECT_EQ(Stat(report, "duplicate-dq-merged"), 0);
}

TEST(QdqCleanup, RulesRunToAFixedPoint) {
  // Xd2 merges into Xd; bypassing Rq then makes Yd read Xq: another
  // duplicate of Xd, merged in the next round of the same run.
  QdqModelBuilder b;
  b.Input("X", "float[4]").Output("Y", "float[4]");
  const QParams act = b.PerTensor("s", 0.1, "z", "uint8", 128);
  b.QDQ("X", act).Dequantize("Xd2", "Xq", act).QDQ("Xd", act, "Yd").Node("Y = Add(Yd, Xd2)");
  auto model = b.Build();
  Report report = Cleanup(*model, "qdq-cleanup,qdq-cleanup");
  EXPECT_EQ(OpSequence(model->graph()), "QuantizeLinear DequantizeLinear Add");
  EXPECT_EQ(report.passes()[0].statistics.at("dq-q-pairs-removed"), 1);
  EXPECT_FALSE(report.passes()[1].changed);  // nothing left for a second run
}

// ---- rule 4: Q of a constant ------------------------------------------------

TEST(QdqCleanup, QOfConstantBecomesInt8Initializer) {
  // x / 0.1 in float32: 2.5, -3.5, 3.5, 1.5, 0.5, 1000, -1000, 10; rounded
  // half to even and saturated to int8. (Dividing in double would give 3
  // for 0.35: 0.35f / 0.1f = 3.4999998882 in double, 3.5 in float.)
  QdqModelBuilder b;
  b.Input("X", "float[8]").Output("Y", "float[8]");
  b.Constant("W", "float[8]", {0.25, -0.35, 0.35, 0.15, 0.05, 100.0, -100.0, 1.0});
  b.QDQ("W", b.PerTensor("s", 0.1, "z", "int8", 0)).Node("Y = Mul(X, Wd)");
  auto model = b.Build();
  Report report = Cleanup(*model);
  const ir::Graph& g = model->graph();
  EXPECT_EQ(OpSequence(g), "DequantizeLinear Mul");
  EXPECT_EQ(IntsOf(g, "Wq"), (std::vector<int64_t>{2, -4, 4, 2, 0, 127, -128, 10}));
  EXPECT_EQ(g.FindValue("Wq")->constant()->type(), ir::ElementType::kInt8);
  EXPECT_EQ(g.FindValue("Wq")->kind(), ir::Value::Kind::kInitializer);
  EXPECT_EQ(g.FindValue("W"), nullptr);  // the float weight is gone
  EXPECT_EQ(Stat(report, "q-of-constant-folded"), 1);
  EXPECT_EQ(Stat(report, "constants-removed"), 1);
}

TEST(QdqCleanup, QOfConstantNodeWithUint8ZeroPoint) {
  QdqModelBuilder b;
  b.Input("X", "float[4]").Output("Y", "float[4]");
  const QParams act = b.PerTensor("s", 0.1, "z", "uint8", 128);
  b.Constant("W", "float[4]", {0.25, 0.35, -100.0, 1.0}, QdqModelBuilder::Storage::kConstantNode);
  b.QDQ("W", act).Node("Y = Mul(X, Wd)");
  auto model = b.Build();
  Report report = Cleanup(*model);
  EXPECT_EQ(OpSequence(model->graph()), "DequantizeLinear Mul");
  EXPECT_EQ(IntsOf(model->graph(), "Wq"), (std::vector<int64_t>{130, 132, 0, 138}));
  EXPECT_EQ(Stat(report, "constants-removed"), 1);  // the Constant node
}

// W [2,3] -> Q -> DQ per channel (int8) along `axis` -> Y = Mul(X, Wd).
std::unique_ptr<ir::Model> PerChannelQOfConstant(const std::vector<double>& scales,
                                                 const std::vector<int64_t>& zero_points, int64_t axis) {
  QdqModelBuilder b;
  b.Input("X", "float[2,3]").Output("Y", "float[2,3]");
  b.Constant("W", "float[2,3]", {0.35, 1.0, -0.7, 0.35, 1.0, -0.7});
  b.QDQ("W", b.PerChannel("s", scales, "z", "int8", zero_points, axis)).Node("Y = Mul(X, Wd)");
  return b.Build();
}

TEST(QdqCleanup, QOfConstantPerChannelAxis0) {
  // Row 0: scale 0.1, zero point 0; row 1: scale 0.2, zero point 1
  // (0.35 / 0.2 = 1.75 -> 2, 1 / 0.2 = 5, -0.7 / 0.2 = -3.5 -> -4).
  auto model = PerChannelQOfConstant({0.1, 0.2}, {0, 1}, /*axis=*/0);
  Cleanup(*model);
  EXPECT_EQ(IntsOf(model->graph(), "Wq"), (std::vector<int64_t>{4, 10, -7, 3, 6, -3}));
  EXPECT_EQ(model->graph().FindValue("Wq")->constant()->dims(), (std::vector<int64_t>{2, 3}));
}

TEST(QdqCleanup, QOfConstantPerChannelAxis1) {
  // Columns: scales 0.1, 0.2, 0.5 (-0.7 / 0.5 = -1.4 -> -1).
  auto model = PerChannelQOfConstant({0.1, 0.2, 0.5}, {0, 0, 0}, /*axis=*/1);
  Cleanup(*model);
  EXPECT_EQ(IntsOf(model->graph(), "Wq"), (std::vector<int64_t>{4, 5, -1, 4, 5, -1}));
}

TEST(QdqCleanup, QOfConstantInt4Blocked) {
  // Opset 21, int4, blocks of 2 along axis 1. The text parser knows no int4,
  // so the zero point is written as int8 and turned into int4 here.
  QdqModelBuilder b(/*opset=*/21, /*ir_version=*/10);
  b.Input("X", "float[2,4]").Output("Y", "float[2,4]");
  b.Constant("W", "float[2,4]", {0.35, 0.05, 1.0, -0.7, 0.15, 0.25, -100.0, 0.45});
  b.Constant("s", "float[2,2]", {0.1, 0.2, 0.1, 0.5}).Constant("z", "int8[2,2]", {0, 1, -1, 0});
  b.QDQ("W", QParams("s", "z").Axis(1).BlockSize(2)).Node("Y = Mul(X, Wd)");
  auto model = b.Build();
  ir::Value* z = model->graph().FindValue("z");
  z->ResetInitializer(ir::ElementType::kInt4, {2, 2}, analysis::PackIntegers({0, 1, -1, 0}, ir::ElementType::kInt4));
  Report report = Cleanup(*model);
  const ir::Graph& g = model->graph();
  EXPECT_EQ(OpSequence(g), "DequantizeLinear Mul");
  // Row 0: [0.35 0.05] / 0.1 + 0 -> 4 0; [1.0 -0.7] / 0.2 + 1 -> 6 -3.
  // Row 1: [0.15 0.25] / 0.1 - 1 -> 1 1; [-100 0.45] / 0.5 + 0 -> -8 (saturated) 1.
  EXPECT_EQ(IntsOf(g, "Wq"), (std::vector<int64_t>{4, 0, 6, -3, 1, 1, -8, 1}));
  const ir::Tensor* t = g.FindValue("Wq")->constant();
  EXPECT_EQ(t->type(), ir::ElementType::kInt4);
  auto bytes = t->RawBytes();
  ASSERT_TRUE(bytes.ok());
  EXPECT_EQ(std::string(*bytes), std::string("\x04\xd6\x11\x18", 4));  // low nibble first
  EXPECT_EQ(Stat(report, "q-of-constant-folded"), 1);
}

TEST(QdqCleanup, QOfConstantPerTensorUint4WithoutZeroPoint) {
  // Opset 21: no zero point, output_dtype uint4 (21): zero point 0, range [0, 15].
  QdqModelBuilder b(/*opset=*/21, /*ir_version=*/10);
  b.Input("X", "float[3]").Output("Y", "float[3]");
  b.Constant("W", "float[3]", {0.35, 100.0, -1.0}).Constant("s", "float", {0.1});
  b.QDQ("W", QParams("s").OutputDtype(21)).Node("Y = Mul(X, Wd)");
  auto model = b.Build();
  Cleanup(*model);
  EXPECT_EQ(IntsOf(model->graph(), "Wq"), (std::vector<int64_t>{4, 15, 0}));
  EXPECT_EQ(model->graph().FindValue("Wq")->constant()->type(), ir::ElementType::kUint4);
}

TEST(QdqCleanup, QOfConstantThatCannotBeReproducedIsSkipped) {
  // A zero scale (x / 0 is infinite or NaN), a non-constant scale and a
  // float8 output are left as they are.
  QdqModelBuilder b(/*opset=*/21, /*ir_version=*/10);
  b.Input("X", "float[2]").Input("S", "float").Output("Y", "float[2]").Output("Z", "float[2]").Output("V", "float[2]");
  b.Constant("W", "float[2]", {1.0, -1.0}).Constant("zero", "float", {0.0}).Constant("z", "int8", {0});
  b.Constant("s", "float", {0.1});
  // W -> Q -> DQ (named `name`q, `name`d) -> `out` = Mul(X, ..).
  const auto site = [&b](const std::string& name, const QParams& p, const std::string& out) {
    b.Quantize(name + "q", "W", p).Dequantize(name + "d", name + "q", p).Node(out + " = Mul(X, " + name + "d)");
  };
  site("A", QParams("zero", "z"), "Y");
  site("B", QParams("S", "z"), "Z");  // S is a graph input
  site("C", QParams("s").OutputDtype(17), "V");
  auto model = b.Build();
  Report report = Cleanup(*model);
  EXPECT_EQ(model->graph().num_nodes(), 9);
  EXPECT_EQ(Stat(report, "q-of-constant-folded"), 0);
  EXPECT_EQ(Stat(report, "q-of-constant-skipped"), 3);
  EXPECT_NE(model->graph().FindValue("W"), nullptr);
}

TEST(QdqCleanup, QOfConstantAsGraphOutputKeepsTheName) {
  QdqModelBuilder b;
  b.Output("Wq", "int8[2]").Constant("W", "float[2]", {0.35, -0.35});
  b.Quantize("Wq", "W", b.PerTensor("s", 0.1, "z", "int8", 0));
  auto model = b.Build();
  Cleanup(*model);
  const ir::Graph& g = model->graph();
  EXPECT_EQ(g.num_nodes(), 0);
  ASSERT_EQ(g.outputs().size(), 1u);
  EXPECT_EQ(g.outputs()[0]->name(), "Wq");
  EXPECT_EQ(IntsOf(g, "Wq"), (std::vector<int64_t>{4, -4}));
  EXPECT_TRUE(ir::Verify(*model).ok());
}

// ---- rule 5: dead Q/DQ ------------------------------------------------------

TEST(QdqCleanup, DeadQdqPairsGoOtherDeadNodesStay) {
  QdqModelBuilder b;
  b.Input("X", "float[4]").Output("Y", "float[4]");
  b.Node("Y = Relu(X)").QDQ("X", b.PerTensor("s", 0.1, "z", "uint8", 128)).Node("DeadNeg = Neg(X)");
  auto model = b.Build();
  Report report = Cleanup(*model);
  EXPECT_EQ(OpSequence(model->graph()), "Relu Neg");  // Neg is dce's business
  EXPECT_EQ(Stat(report, "qdq-nodes-removed"), 2);
  EXPECT_EQ(Stat(report, "constants-removed"), 2);  // s and z
}

TEST(QdqCleanup, ModelWithoutRedundancyIsUnchanged) {
  QdqModelBuilder b;
  b.Input("X", "float[1,1,2,2]").Output("Y", "float[1,2,2,2]");
  const QParams weight = b.PerChannel("ws", {0.5, 0.25}, "wz", "int8", {0, 0}, /*axis=*/0);
  b.QDQ("X", b.PerTensor("xs", 0.01, "xz", "uint8", 128))
      .Weight("W", "int8[2,1,1,1]", {127, -127}, weight)
      .Node("Y = Conv(Xd, W)");
  auto model = b.Build();
  Report report = Cleanup(*model);
  EXPECT_FALSE(report.passes()[0].changed);
  EXPECT_EQ(OpSequence(model->graph()), "QuantizeLinear DequantizeLinear DequantizeLinear Conv");
}

}  // namespace
}  // namespace qopt

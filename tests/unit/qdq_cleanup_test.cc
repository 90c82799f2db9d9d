// qdq-cleanup on small QDQ models: for every rule a case it must rewrite and
// one it must leave, with the integer values of folded constants worked out
// by hand (float32 x / scale, rounded half to even, plus the zero point,
// saturated).
#include <string>
#include <vector>

#include "analysis/quant_math.h"
#include "gtest/gtest.h"
#include "ir/verifier.h"
#include "tests/unit/test_util.h"

namespace qopt {
namespace {

using testing::OpSequence;
using testing::Parse;

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
  auto model = Parse(R"(
<ir_version: 8, opset_import: ["" : 13]>
g (float[4] X) => (float[4] Y)
  <float s = {0.1}, uint8 z = {128}> {
  Xq = QuantizeLinear(X, s, z)
  Xd = DequantizeLinear(Xq, s, z)
  Rq = QuantizeLinear(Xd, s, z)
  Y = DequantizeLinear(Rq, s, z)
}
)");
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
  auto model = Parse(R"(
<ir_version: 8, opset_import: ["" : 13]>
g (float[4] X) => (float[4] Y, float[4] Z)
  <float s = {0.1}, int8 z = {0}> {
  Xq = QuantizeLinear(X, s, z)
  Xd = DequantizeLinear(Xq, s, z)
  Z = Relu(Xd)
  Rq = QuantizeLinear(Xd, s, z)
  Yd = DequantizeLinear(Rq, s, z)
  Y = Neg(Yd)
}
)");
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
  auto model = Parse(R"(
<ir_version: 8, opset_import: ["" : 13]>
g (float[4] X1, float[4] X2, float[4] X3) => (float[4] Y, float[4] Z, float[4] W)
  <float s = {0.1}, float s2 = {0.2}, uint8 z = {0}, uint8 z2 = {1}, int8 zi = {0}> {
  Xq = QuantizeLinear(X1, s, z)
  Xd = DequantizeLinear(Xq, s, z)
  Rq = QuantizeLinear(Xd, s2, z)
  Y = DequantizeLinear(Rq, s2, z)
  Aq = QuantizeLinear(X2, s, z2)
  Ad = DequantizeLinear(Aq, s, z2)
  Sq = QuantizeLinear(Ad, s, z)
  Z = DequantizeLinear(Sq, s, z)
  Bq = QuantizeLinear(X3, s, z)
  Bd = DequantizeLinear(Bq, s, z)
  Tq = QuantizeLinear(Bd, s, zi)
  W = DequantizeLinear(Tq, s, zi)
}
)");
  Report report = Cleanup(*model);
  EXPECT_EQ(model->graph().num_nodes(), 12);
  EXPECT_EQ(Stat(report, "dq-q-pairs-removed"), 0);
  EXPECT_EQ(Stat(report, "requantize-pairs-left"), 3);
  EXPECT_FALSE(report.passes()[0].changed);
}

TEST(QdqCleanup, RequantizeIsOnlyCountedWhenTheChainHasNoOtherUsers) {
  // Xd also feeds Z: the chain Xq -> Xd -> Rq is not a plain requantization.
  auto model = Parse(R"(
<ir_version: 8, opset_import: ["" : 13]>
g (float[4] X) => (float[4] Y, float[4] Z)
  <float s = {0.1}, float s2 = {0.2}, uint8 z = {0}> {
  Xq = QuantizeLinear(X, s, z)
  Xd = DequantizeLinear(Xq, s, z)
  Z = Relu(Xd)
  Rq = QuantizeLinear(Xd, s2, z)
  Y = DequantizeLinear(Rq, s2, z)
}
)");
  Report report = Cleanup(*model);
  EXPECT_EQ(Stat(report, "requantize-pairs-left"), 0);
  EXPECT_EQ(model->graph().num_nodes(), 5);
}

TEST(QdqCleanup, IdenticalPairsWithUnsafeScalesAreSkipped) {
  // A zero scale (0 / 0 in the Q), a scale so large that (x - z) * s
  // overflows, and a subnormal one (set below: the text parser rejects
  // 1e-40) break the round-trip argument.
  auto model = Parse(R"(
<ir_version: 8, opset_import: ["" : 13]>
g (float[4] X) => (float[4] Y, float[4] Z, float[4] V)
  <float zero = {0.0}, float huge = {1e38}, float tiny = {1.0}, uint8 z = {128}> {
  Aq = QuantizeLinear(X, zero, z)
  Ad = DequantizeLinear(Aq, zero, z)
  Rq = QuantizeLinear(Ad, zero, z)
  Y = DequantizeLinear(Rq, zero, z)
  Bq = QuantizeLinear(X, huge, z)
  Bd = DequantizeLinear(Bq, huge, z)
  Sq = QuantizeLinear(Bd, huge, z)
  Z = DequantizeLinear(Sq, huge, z)
  Cq = QuantizeLinear(X, tiny, z)
  Cd = DequantizeLinear(Cq, tiny, z)
  Tq = QuantizeLinear(Cd, tiny, z)
  V = DequantizeLinear(Tq, tiny, z)
}
)");
  const float subnormal = 1e-40f;
  model->graph().FindValue("tiny")->mutable_initializer()->SetRawData(
      std::string(reinterpret_cast<const char*>(&subnormal), sizeof(subnormal)));
  Report report = Cleanup(*model);
  EXPECT_EQ(model->graph().num_nodes(), 12);
  EXPECT_EQ(Stat(report, "dq-q-pairs-skipped"), 3);
  EXPECT_EQ(Stat(report, "requantize-pairs-left"), 0);
}

TEST(QdqCleanup, GraphOutputOfARemovedPairKeepsItsName) {
  auto model = Parse(R"(
<ir_version: 8, opset_import: ["" : 13]>
g (float[4] X) => (uint8[4] Yq)
  <float s = {0.1}, uint8 z = {128}> {
  Xq = QuantizeLinear(X, s, z)
  Xd = DequantizeLinear(Xq, s, z)
  Yq = QuantizeLinear(Xd, s, z)
}
)");
  Report report = Cleanup(*model);
  const ir::Graph& g = model->graph();
  EXPECT_EQ(OpSequence(g), "QuantizeLinear");
  ASSERT_EQ(g.outputs().size(), 1u);
  EXPECT_EQ(g.outputs()[0]->name(), "Yq");
  EXPECT_EQ(g.outputs()[0]->producer()->input(0)->name(), "X");  // the first Q now defines Yq
  EXPECT_EQ(Stat(report, "dq-q-pairs-removed"), 1);
}

TEST(QdqCleanup, GraphOutputFedFromAGraphInputGetsAnIdentity) {
  auto model = Parse(R"(
<ir_version: 8, opset_import: ["" : 13]>
g (uint8[4] Xq) => (uint8[4] Yq)
  <float s = {0.1}, uint8 z = {128}> {
  Xd = DequantizeLinear(Xq, s, z)
  Yq = QuantizeLinear(Xd, s, z)
}
)");
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
  auto model = Parse(R"(
<ir_version: 8, opset_import: ["" : 13]>
g (float[4] X) => (float[4] Y)
  <float s = {0.1}, uint8 z = {128}> {
  Xq = QuantizeLinear(X, s, z)
  Xd = DequantizeLinear(Xq, s, z)
  Xd2 = DequantizeLinear(Xq, s, z)
  Rq = QuantizeLinear(Xd, s, z)
  Yd = DequantizeLinear(Rq, s, z)
  Y = Add(Yd, Xd2)
}
)");
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
  auto model = Parse(R"(
<ir_version: 8, opset_import: ["" : 13]>
g (float[8] X) => (float[8] Y)
  <float[8] W = {0.25, -0.35, 0.35, 0.15, 0.05, 100.0, -100.0, 1.0}, float s = {0.1}, int8 z = {0}> {
  Wq = QuantizeLinear(W, s, z)
  Wd = DequantizeLinear(Wq, s, z)
  Y = Mul(X, Wd)
}
)");
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
  auto model = Parse(R"(
<ir_version: 8, opset_import: ["" : 13]>
g (float[4] X) => (float[4] Y)
  <float s = {0.1}, uint8 z = {128}> {
  W = Constant <value = float[4] {0.25, 0.35, -100.0, 1.0}> ()
  Wq = QuantizeLinear(W, s, z)
  Wd = DequantizeLinear(Wq, s, z)
  Y = Mul(X, Wd)
}
)");
  Report report = Cleanup(*model);
  EXPECT_EQ(OpSequence(model->graph()), "DequantizeLinear Mul");
  EXPECT_EQ(IntsOf(model->graph(), "Wq"), (std::vector<int64_t>{130, 132, 0, 138}));
  EXPECT_EQ(Stat(report, "constants-removed"), 1);  // the Constant node
}

TEST(QdqCleanup, QOfConstantPerChannelAxis0) {
  // Row 0: scale 0.1, zero point 0; row 1: scale 0.2, zero point 1
  // (0.35 / 0.2 = 1.75 -> 2, 1 / 0.2 = 5, -0.7 / 0.2 = -3.5 -> -4).
  auto model = Parse(R"(
<ir_version: 8, opset_import: ["" : 13]>
g (float[2,3] X) => (float[2,3] Y)
  <float[2,3] W = {0.35, 1.0, -0.7, 0.35, 1.0, -0.7}, float[2] s = {0.1, 0.2}, int8[2] z = {0, 1}> {
  Wq = QuantizeLinear <axis = 0> (W, s, z)
  Wd = DequantizeLinear <axis = 0> (Wq, s, z)
  Y = Mul(X, Wd)
}
)");
  Cleanup(*model);
  EXPECT_EQ(IntsOf(model->graph(), "Wq"), (std::vector<int64_t>{4, 10, -7, 3, 6, -3}));
  EXPECT_EQ(model->graph().FindValue("Wq")->constant()->dims(), (std::vector<int64_t>{2, 3}));
}

TEST(QdqCleanup, QOfConstantPerChannelAxis1) {
  // Columns: scales 0.1, 0.2, 0.5 (-0.7 / 0.5 = -1.4 -> -1).
  auto model = Parse(R"(
<ir_version: 8, opset_import: ["" : 13]>
g (float[2,3] X) => (float[2,3] Y)
  <float[2,3] W = {0.35, 1.0, -0.7, 0.35, 1.0, -0.7}, float[3] s = {0.1, 0.2, 0.5}, int8[3] z = {0, 0, 0}> {
  Wq = QuantizeLinear <axis = 1> (W, s, z)
  Wd = DequantizeLinear <axis = 1> (Wq, s, z)
  Y = Mul(X, Wd)
}
)");
  Cleanup(*model);
  EXPECT_EQ(IntsOf(model->graph(), "Wq"), (std::vector<int64_t>{4, 5, -1, 4, 5, -1}));
}

TEST(QdqCleanup, QOfConstantInt4Blocked) {
  // Opset 21, int4, blocks of 2 along axis 1. The text parser knows no int4,
  // so the zero point is written as int8 and turned into int4 here.
  auto model = Parse(R"(
<ir_version: 10, opset_import: ["" : 21]>
g (float[2,4] X) => (float[2,4] Y)
  <float[2,4] W = {0.35, 0.05, 1.0, -0.7, 0.15, 0.25, -100.0, 0.45},
   float[2,2] s = {0.1, 0.2, 0.1, 0.5}, int8[2,2] z = {0, 1, -1, 0}> {
  Wq = QuantizeLinear <axis = 1, block_size = 2> (W, s, z)
  Wd = DequantizeLinear <axis = 1, block_size = 2> (Wq, s, z)
  Y = Mul(X, Wd)
}
)");
  ir::Value* z = model->graph().FindValue("z");
  z->mutable_initializer()->Reset(ir::ElementType::kInt4, {2, 2},
                                  analysis::PackIntegers({0, 1, -1, 0}, ir::ElementType::kInt4));
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
  auto model = Parse(R"(
<ir_version: 10, opset_import: ["" : 21]>
g (float[3] X) => (float[3] Y)
  <float[3] W = {0.35, 100.0, -1.0}, float s = {0.1}> {
  Wq = QuantizeLinear <output_dtype = 21> (W, s)
  Wd = DequantizeLinear(Wq, s)
  Y = Mul(X, Wd)
}
)");
  Cleanup(*model);
  EXPECT_EQ(IntsOf(model->graph(), "Wq"), (std::vector<int64_t>{4, 15, 0}));
  EXPECT_EQ(model->graph().FindValue("Wq")->constant()->type(), ir::ElementType::kUint4);
}

TEST(QdqCleanup, QOfConstantThatCannotBeReproducedIsSkipped) {
  // A zero scale (x / 0 is infinite or NaN), a non-constant scale and a
  // float8 output are left as they are.
  auto model = Parse(R"(
<ir_version: 10, opset_import: ["" : 21]>
g (float[2] X, float S) => (float[2] Y, float[2] Z, float[2] V)
  <float[2] W = {1.0, -1.0}, float zero = {0.0}, int8 z = {0}, float s = {0.1}> {
  Aq = QuantizeLinear(W, zero, z)
  Ad = DequantizeLinear(Aq, zero, z)
  Y = Mul(X, Ad)
  Bq = QuantizeLinear(W, S, z)
  Bd = DequantizeLinear(Bq, S, z)
  Z = Mul(X, Bd)
  Cq = QuantizeLinear <output_dtype = 17> (W, s)
  Cd = DequantizeLinear(Cq, s)
  V = Mul(X, Cd)
}
)");
  Report report = Cleanup(*model);
  EXPECT_EQ(model->graph().num_nodes(), 9);
  EXPECT_EQ(Stat(report, "q-of-constant-folded"), 0);
  EXPECT_EQ(Stat(report, "q-of-constant-skipped"), 3);
  EXPECT_NE(model->graph().FindValue("W"), nullptr);
}

TEST(QdqCleanup, QOfConstantAsGraphOutputKeepsTheName) {
  auto model = Parse(R"(
<ir_version: 8, opset_import: ["" : 13]>
g () => (int8[2] Wq)
  <float[2] W = {0.35, -0.35}, float s = {0.1}, int8 z = {0}> {
  Wq = QuantizeLinear(W, s, z)
}
)");
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
  auto model = Parse(R"(
<ir_version: 8, opset_import: ["" : 13]>
g (float[4] X) => (float[4] Y)
  <float s = {0.1}, uint8 z = {128}> {
  Y = Relu(X)
  Dq = QuantizeLinear(X, s, z)
  Dd = DequantizeLinear(Dq, s, z)
  DeadNeg = Neg(X)
}
)");
  Report report = Cleanup(*model);
  EXPECT_EQ(OpSequence(model->graph()), "Relu Neg");  // Neg is dce's business
  EXPECT_EQ(Stat(report, "qdq-nodes-removed"), 2);
  EXPECT_EQ(Stat(report, "constants-removed"), 2);  // s and z
}

TEST(QdqCleanup, ModelWithoutRedundancyIsUnchanged) {
  auto model = Parse(R"(
<ir_version: 8, opset_import: ["" : 13]>
g (float[1,1,2,2] X) => (float[1,2,2,2] Y)
  <float xs = {0.01}, uint8 xz = {128}, int8[2,1,1,1] Wq = {127, -127}, float[2] ws = {0.5, 0.25},
   int8[2] wz = {0, 0}> {
  Xq = QuantizeLinear(X, xs, xz)
  Xd = DequantizeLinear(Xq, xs, xz)
  W = DequantizeLinear <axis = 0> (Wq, ws, wz)
  Y = Conv(Xd, W)
}
)");
  Report report = Cleanup(*model);
  EXPECT_FALSE(report.passes()[0].changed);
  EXPECT_EQ(OpSequence(model->graph()), "QuantizeLinear DequantizeLinear DequantizeLinear Conv");
}

}  // namespace
}  // namespace qopt

// Structural regression tests for rewrites that once changed a model's
// outputs (issue #11); the same models run in ONNX Runtime in
// tests/ort/regressions/.
#include "analysis/qdq_params.h"
#include "gtest/gtest.h"
#include "ir/verifier.h"
#include "tests/unit/test_util.h"

namespace qopt {
namespace {

using testing::OpSequence;
using testing::Parse;
using testing::RunExpectingSuccess;

nlohmann::json BoundaryReasons(ir::Model& model) {
  Report report = RunExpectingSuccess(model, "qdq-boundaries");
  return report.ToJson()["analyses"]["qdq-boundaries"]["reasons"];
}

TEST(Regressions, SplitWithAnOutputQuantizedDifferentlyIsNotFused) {
  const std::string text = R"(
<ir_version: 8, opset_import: ["" : 13]>
g (float[1,8] X) => (float[1,4] A, float[1,4] B)
  <float s = {0.05}, float s2 = {0.1}, uint8 z = {128}, int64[2] sizes = {4, 4}> {
  Xq = QuantizeLinear(X, s, z)
  Xd = DequantizeLinear(Xq, s, z)
  P, R = Split <axis = 1> (Xd, sizes)
  Pq = QuantizeLinear(P, s, z)
  Rq = QuantizeLinear(R, s2, z)
  A = DequantizeLinear(Pq, s, z)
  B = DequantizeLinear(Rq, s2, z)
}
)";
  auto model = Parse(text);
  ASSERT_NE(model, nullptr);
  EXPECT_EQ(BoundaryReasons(*model)["Split: outputs quantized differently"], 1);
  RunExpectingSuccess(*model, "fuse-qdq");
  EXPECT_EQ(OpSequence(model->graph()),
            "QuantizeLinear DequantizeLinear Split QuantizeLinear QuantizeLinear DequantizeLinear DequantizeLinear");

  // With equal parameters on both outputs the Split runs on the integers.
  std::string same = text;
  same.replace(same.find("Rq = QuantizeLinear(R, s2, z)"), 29, "Rq = QuantizeLinear(R, s, z) ");
  same.replace(same.find("B = DequantizeLinear(Rq, s2, z)"), 31, "B = DequantizeLinear(Rq, s, z) ");
  auto fused = Parse(same);
  ASSERT_NE(fused, nullptr);
  RunExpectingSuccess(*fused, "fuse-qdq");
  EXPECT_EQ(OpSequence(fused->graph()), "QuantizeLinear Split DequantizeLinear DequantizeLinear");
}

constexpr const char* kComputedScales = R"(
<ir_version: 8, opset_import: ["" : 13]>
g (float[1,4] X) => (float[4] Y)
  <float c1 = {0.05}, float c2 = {0.1}, uint8 z = {128}, int64[1] shape = {4}> {
  s1 = Identity(c1)
  s2 = Identity(c2)
  Xq = QuantizeLinear(X, s1, z)
  Xd = DequantizeLinear(Xq, s1, z)
  R = Reshape(Xd, shape)
  Rq = QuantizeLinear(R, s2, z)
  Y = DequantizeLinear(Rq, s2, z)
}
)";

TEST(Regressions, ScalesThatAreNotConstantsNeverCompareEqual) {
  auto model = Parse(kComputedScales);
  ASSERT_NE(model, nullptr);
  const ir::Node* dq = model->graph().FindValue("Xd")->producer();
  auto p = analysis::ReadQdqParams(*dq);
  ASSERT_TRUE(p.has_value());
  EXPECT_FALSE(p->scale_constant);
  EXPECT_FALSE(analysis::SameQuantization(*p, *p));
  EXPECT_EQ(BoundaryReasons(*model)["quantization parameters computed at run time"], 1);
  RunExpectingSuccess(*model, "fuse-qdq");
  EXPECT_EQ(OpSequence(model->graph()),
            "Identity Identity QuantizeLinear DequantizeLinear Reshape QuantizeLinear DequantizeLinear");
}

TEST(Regressions, ConvWithAComputedScaleSaysWhy) {
  auto model = Parse(R"(
<ir_version: 8, opset_import: ["" : 13]>
g (float[1,1,2,2] X) => (float[1,1,2,2] Y)
  <float c = {0.5}, uint8 z = {128}, int8[1,1,1,1] Wq = {3}, float ws = {0.25}, int8 wz = {0}> {
  s = Identity(c)
  Xq = QuantizeLinear(X, s, z)
  Xd = DequantizeLinear(Xq, s, z)
  W = DequantizeLinear(Wq, ws, wz)
  A = Conv(Xd, W)
  Aq = QuantizeLinear(A, c, z)
  Y = DequantizeLinear(Aq, c, z)
}
)");
  ASSERT_NE(model, nullptr);
  EXPECT_EQ(BoundaryReasons(*model)["quantization parameters computed at run time"], 1);
}

std::string DivModel(const std::string& divisor_type) {
  return R"(
<ir_version: 8, opset_import: ["" : 13]>
g (float[4] X) => (float[)" +
         std::string(divisor_type == "float[1,1,1]" ? "1,1,4" : "4") + R"(] Y)
  <float s = {0.06}, float s6 = {0.01}, uint8 z = {0}, )" +
         divisor_type + R"( six = {6}> {
  Xq = QuantizeLinear(X, s, z)
  Xd = DequantizeLinear(Xq, s, z)
  D = Div(Xd, six)
  Dq = QuantizeLinear(D, s6, z)
  Y = DequantizeLinear(Dq, s6, z)
}
)";
}

TEST(Regressions, FoldQdqIdentityKeepsADivisorThatBroadcasts) {
  // x[4] / c[1,1,1] is [1,1,4]: removing the Div would change the shape.
  auto model = Parse(DivModel("float[1,1,1]"));
  ASSERT_NE(model, nullptr);
  RunExpectingSuccess(*model, "fold-qdq-identity");
  EXPECT_EQ(OpSequence(model->graph()), "QuantizeLinear DequantizeLinear Div QuantizeLinear DequantizeLinear");
  // A divisor of no higher rank than the data keeps its shape: folded.
  for (const std::string type : {"float", "float[1]"}) {
    auto folded = Parse(DivModel(type));
    ASSERT_NE(folded, nullptr);
    RunExpectingSuccess(*folded, "fold-qdq-identity");
    EXPECT_EQ(OpSequence(folded->graph()), "QuantizeLinear DequantizeLinear") << type;
  }
}


std::string MaxPoolModel(int opset) {
  return R"(
<ir_version: 7, opset_import: ["" : )" +
         std::to_string(opset) + R"(]>
g (float[1,2,4,4] X) => (float[1,2,2,2] Y) <float s = {0.05}, uint8 z = {128}> {
  Xq = QuantizeLinear(X, s, z)
  Xd = DequantizeLinear(Xq, s, z)
  M = MaxPool <kernel_shape = [2, 2], strides = [2, 2]> (Xd)
  Mq = QuantizeLinear(M, s, z)
  Y = DequantizeLinear(Mq, s, z)
}
)";
}

TEST(Regressions, MaxPoolTakesEightBitDataOnlyFromOpset12) {
  auto old = Parse(MaxPoolModel(11));
  ASSERT_NE(old, nullptr);
  EXPECT_EQ(BoundaryReasons(*old)["MaxPool: no 8-bit data at this opset"], 1);
  RunExpectingSuccess(*old, "propagate-qdq");
  EXPECT_EQ(OpSequence(old->graph()), "QuantizeLinear DequantizeLinear MaxPool QuantizeLinear DequantizeLinear");
  RunExpectingSuccess(*old, "fuse-qdq");
  EXPECT_EQ(OpSequence(old->graph()), "QuantizeLinear DequantizeLinear MaxPool QuantizeLinear DequantizeLinear");

  auto current = Parse(MaxPoolModel(12));
  ASSERT_NE(current, nullptr);
  RunExpectingSuccess(*current, "propagate-qdq");
  EXPECT_EQ(OpSequence(current->graph()), "QuantizeLinear MaxPool DequantizeLinear QuantizeLinear DequantizeLinear");
}

// Issue #12: a QDQ file with float16 scales (opset 19 Q/DQ may carry them,
// and DQ then makes float16). com.microsoft.QLinearAdd, like every QLinear
// op, takes float32 scales: fusing the Add made a file ONNX Runtime refuses.
// libonnx 1.12's parser has no float16 literals, so the scale is made
// float16 here.
TEST(Regressions, Float16ScalesKeepTheUnitQdq) {
  auto model = Parse(R"(
<ir_version: 9, opset_import: ["" : 19]>
g (float16[1,8] A, float16[1,8] B) => (float16[1,8] Y) <float s32 = {0.05}, uint8 z = {128}> {
  Aq = QuantizeLinear(A, s32, z)
  Ad = DequantizeLinear(Aq, s32, z)
  Bq = QuantizeLinear(B, s32, z)
  Bd = DequantizeLinear(Bq, s32, z)
  S = Add(Ad, Bd)
  Sq = QuantizeLinear(S, s32, z)
  Y = DequantizeLinear(Sq, s32, z)
}
)");
  ASSERT_NE(model, nullptr);
  ir::Graph& g = model->graph();
  ir::Tensor half(ir::ElementType::kFloat16, {});
  half.SetRawData(std::string("\x66\x2a", 2));  // 0x2a66: 0.05 in IEEE half
  g.ReplaceAllUsesWith(g.FindValue("s32"), g.AddInitializer("s", std::move(half)));
  for (const char* name : {"Ad", "Bd", "S"}) {
    ir::Value* v = g.FindValue(name);
    onnx::ValueInfoProto info;
    info.mutable_type()->mutable_tensor_type()->set_elem_type(static_cast<int32_t>(ir::ElementType::kFloat16));
    v->set_type_info(info);
  }
  ASSERT_TRUE(ir::Verify(*model).ok()) << ir::Verify(*model);
  EXPECT_EQ(BoundaryReasons(*model)["float16 scales"], 1);
  RunExpectingSuccess(*model, "fuse-qdq");
  EXPECT_EQ(OpSequence(g),
            "QuantizeLinear DequantizeLinear QuantizeLinear DequantizeLinear Add QuantizeLinear "
            "DequantizeLinear");
  EXPECT_TRUE(ir::Verify(*model).ok()) << ir::Verify(*model);
}

}  // namespace
}  // namespace qopt

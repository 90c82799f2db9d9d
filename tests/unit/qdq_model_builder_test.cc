// The QDQ test-model builder writes the text the tests used to write by hand.
#include "tests/unit/qdq_model_builder.h"

#include "gtest/gtest.h"
#include "ir/printer.h"
#include "tests/unit/test_util.h"

namespace qopt::testing {
namespace {

TEST(QdqModelBuilder, ChainedUnitsWithInt8WeightsAndInt32Bias) {
  QdqModelBuilder b;
  b.Input("X", "float[1,2,2,2]").Output("Y", "float[1,1,2,2]");
  const QParams act = b.PerTensor("xs", 0.125, "xz", "uint8", 3);
  b.Constant("bs", "float[1]", {0.0625}).Constant("bz", "int32[1]", {0});
  b.QDQ("X", act)
      .Weight("W", "int8[1,2,1,1]", {3, -1}, b.PerTensor("ws", 0.5, "wz", "int8", 0))
      .Weight("B", "int32[1]", {-7}, QParams("bs", "bz"))
      .Unit("A = Conv <pads = [0, 0, 0, 0]> (Xd, W, B)", act)
      .Unit("R = Relu(Ad)", act, "Y");
  EXPECT_EQ(b.Text(), R"(<ir_version: 8, opset_import: ["" : 13]>
g (float[1,2,2,2] X) => (float[1,1,2,2] Y)
  <float xs = {0.125},
   uint8 xz = {3},
   float[1] bs = {0.0625},
   int32[1] bz = {0},
   float ws = {0.5},
   int8 wz = {0},
   int8[1,2,1,1] Wq = {3, -1},
   int32[1] Bq = {-7}> {
  Xq = QuantizeLinear(X, xs, xz)
  Xd = DequantizeLinear(Xq, xs, xz)
  W = DequantizeLinear(Wq, ws, wz)
  B = DequantizeLinear(Bq, bs, bz)
  A = Conv <pads = [0, 0, 0, 0]> (Xd, W, B)
  Aq = QuantizeLinear(A, xs, xz)
  Ad = DequantizeLinear(Aq, xs, xz)
  R = Relu(Ad)
  Rq = QuantizeLinear(R, xs, xz)
  Y = DequantizeLinear(Rq, xs, xz)
}
)");
  auto model = b.Build();
  ASSERT_NE(model, nullptr);
  EXPECT_EQ(OpSequence(model->graph()),
            "QuantizeLinear DequantizeLinear DequantizeLinear DequantizeLinear Conv QuantizeLinear DequantizeLinear Relu "
            "QuantizeLinear DequantizeLinear");
  // The printer writes the same model back.
  auto again = Parse(ir::PrintModel(*model));
  ASSERT_NE(again, nullptr);
  EXPECT_EQ(ir::PrintModel(*again), ir::PrintModel(*model));
}

TEST(QdqModelBuilder, PerChannelConstantNodesGraphInputScalesAndAttributes) {
  QdqModelBuilder b(21, 10);
  b.Opset("com.microsoft", 1).Input("X", "float[2,2]").Input("S", "float").Output("Y", "float[2,2]");
  const QParams rows = b.PerChannel("ws", {0.25, 1e-05}, "wz", "int8", {0, -1}, 0);
  const QParams node = b.PerTensor("s", 0.1, "z", "uint8", 3, QdqModelBuilder::Storage::kConstantNode);
  b.Constant("C", "float[2,2]", {1, -2.5, 1e38, 0.35});
  b.Weight("W", "int8[2,2]", {1, -2, 3, -4}, rows)
      .QDQ("C", QParams("S").OutputDtype(17))
      .Quantize("Xq", "X", node.Axis(1).BlockSize(2))
      .Node("Y = Add(W, Cd)");
  EXPECT_EQ(b.Text(), R"(<ir_version: 10, opset_import: ["" : 21, "com.microsoft" : 1]>
g (float[2,2] X, float S) => (float[2,2] Y)
  <float[2] ws = {0.25, 1e-05},
   int8[2] wz = {0, -1},
   float[2,2] C = {1, -2.5, 1e+38, 0.35},
   int8[2,2] Wq = {1, -2, 3, -4}> {
  s = Constant <value = float {0.1}> ()
  z = Constant <value = uint8 {3}> ()
  W = DequantizeLinear <axis = 0> (Wq, ws, wz)
  Cq = QuantizeLinear <output_dtype = 17> (C, S)
  Cd = DequantizeLinear(Cq, S)
  Xq = QuantizeLinear <axis = 1, block_size = 2> (X, s, z)
  Y = Add(W, Cd)
}
)");
  auto model = b.Build();
  ASSERT_NE(model, nullptr);
  // Every number reads back as the float32 it was written from.
  EXPECT_EQ(*model->graph().FindValue("ws")->constant()->ToDoubles(),
            (std::vector<double>{0.25, static_cast<double>(1e-05f)}));
  EXPECT_EQ((*model->graph().FindValue("C")->constant()->ToDoubles())[3], static_cast<double>(0.35f));
  EXPECT_EQ(model->graph().FindValue("s")->producer()->op_type(), "Constant");
}

}  // namespace
}  // namespace qopt::testing

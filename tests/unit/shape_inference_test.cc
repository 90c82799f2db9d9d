// libonnx's shape inference as qopt runs it (ir/shape_inference.h): inputs
// on which libonnx 1.12 crashed, found by fuzzing, are node-level inference
// errors now.
#include "ir/shape_inference.h"

#include <string>

#include "gtest/gtest.h"
#include "ir/serialization.h"
#include "tests/unit/test_util.h"

namespace qopt {
namespace {

const onnx::ValueInfoProto* Inferred(const onnx::ModelProto& proto, const std::string& name) {
  for (const onnx::ValueInfoProto& info : proto.graph().value_info()) {
    if (info.name() == name) return &info;
  }
  return nullptr;
}

// `text` parsed and exported for inference with the graph output's declared
// type dropped; inferred.
onnx::ModelProto InferWithUntypedOutput(const std::string& text) {
  auto model = testing::Parse(text);
  EXPECT_NE(model, nullptr);
  if (model == nullptr) return {};
  onnx::ModelProto proto = ir::ExportModelForShapeInference(*model);
  proto.mutable_graph()->mutable_output(0)->clear_type();
  EXPECT_TRUE(ir::RunShapeInference(proto, /*data_propagation=*/false).ok());
  return proto;
}

// The inferred shape of the graph's output as "d0,d1,..." with "?" for an
// unknown dim, "" when inference left no shape.
std::string OutputShape(const onnx::ModelProto& proto) {
  if (proto.graph().output_size() == 0) return "no output";
  std::string dims;
  for (const auto& dim : proto.graph().output(0).type().tensor_type().shape().dim()) {
    if (!dims.empty()) dims += ",";
    dims += dim.has_dim_value() ? std::to_string(dim.dim_value()) : "?";
  }
  return dims;
}

// DynamicQuantizeLinear of an input of `dims`, then a ConvInteger with a
// rank-4 weight; inferred with the output's type dropped.
onnx::ModelProto InferConvOfDynamicQuantize(const std::string& dims) {
  return InferWithUntypedOutput(R"(<ir_version: 8, opset_import: ["" : 13]>
g (float[)" + dims + R"(] x) => (int32 y) <int8[4,3,1,1] w = {1,2,3,4,5,6,7,8,9,10,11,12}> {
  q, s, z = DynamicQuantizeLinear(x)
  y = ConvInteger(q, w)
}
)");
}

// An input rank (2) that differs from the weight's (4), which no check
// before inference can see: libonnx 1.12 read out of bounds on it (SIGSEGV).
TEST(ShapeInference, AConvInputRankKnownOnlyDuringInferenceIsANodeError) {
  onnx::ModelProto proto = InferConvOfDynamicQuantize("1,3");
  const onnx::ValueInfoProto* q = Inferred(proto, "q");
  ASSERT_NE(q, nullptr);  // inference went on around the failing node
  EXPECT_EQ(q->type().tensor_type().shape().dim_size(), 2);
  ASSERT_EQ(proto.graph().output_size(), 1);
  EXPECT_FALSE(proto.graph().output(0).type().has_tensor_type());  // the conv's output stays unknown
}

// The same conv with ranks that agree is inferred as before.
TEST(ShapeInference, AConvWithRanksThatAgreeIsInferred) {
  onnx::ModelProto proto = InferConvOfDynamicQuantize("1,3,2,2");
  ASSERT_EQ(proto.graph().output_size(), 1);
  const auto& y = proto.graph().output(0).type().tensor_type();
  ASSERT_EQ(y.shape().dim_size(), 4);
  EXPECT_EQ(y.shape().dim(1).dim_value(), 4);
  EXPECT_EQ(y.shape().dim(3).dim_value(), 2);
}

// com.microsoft.QLinearAveragePool over a [1,1,8,8] input with the given
// attributes: the inferred output shape (OutputShape).
std::string PooledShape(const std::string& attributes) {
  return OutputShape(InferWithUntypedOutput(R"(<ir_version: 8, opset_import: ["" : 13, "com.microsoft" : 1]>
g (uint8[1,1,8,8] x) => (uint8 y) <float s = {0.5}, uint8 z = {128}> {
  y = com.microsoft.QLinearAveragePool <)" + attributes +
                                            R"(> (x, s, z, s, z)
}
)"));
}

TEST(ContribShapeRules, AveragePoolWithStridesAndPadsIsInferred) {
  EXPECT_EQ(PooledShape("kernel_shape = [3, 3], strides = [2, 2], pads = [1, 1, 1, 1]"), "1,1,4,4");
  EXPECT_EQ(PooledShape("kernel_shape = [2, 2], strides = [3, 3], ceil_mode = 1"), "1,1,3,3");
  EXPECT_EQ(PooledShape("kernel_shape = [2, 2], strides = [3, 3]"), "1,1,3,3");
  EXPECT_EQ(PooledShape("kernel_shape = [3, 3], strides = [2, 2]"), "1,1,3,3");
  EXPECT_EQ(PooledShape("kernel_shape = [3, 3], strides = [2, 2], ceil_mode = 1"), "1,1,4,4");
}

// Attributes no runtime accepts, as fuzzing found them in files: a zero
// stride divided by zero (UBSan, and SIGFPE in a plain build), short
// strides or pads lists were read past their end. The spatial dims stay
// unknown and inference goes on.
TEST(ContribShapeRules, AveragePoolAttributesThatMakeNoSenseLeaveDimsUnknown) {
  EXPECT_EQ(PooledShape("kernel_shape = [3, 3], strides = [0, 0]"), "1,1,?,?");
  EXPECT_EQ(PooledShape("kernel_shape = [3, 3], strides = [-1, 2]"), "1,1,?,3");
  EXPECT_EQ(PooledShape("kernel_shape = [0, 3]"), "1,1,?,6");
  EXPECT_EQ(PooledShape("kernel_shape = [9, 3]"), "1,1,?,6");
  EXPECT_EQ(PooledShape("kernel_shape = [3, 3], pads = [-2, 0, 0, 0]"), "1,1,?,6");
  EXPECT_EQ(PooledShape("kernel_shape = [3, 3], pads = [9223372036854775807, 0, 1, 0]"), "1,1,?,6");
  EXPECT_EQ(PooledShape("kernel_shape = [3, 3], strides = [1]"), "");
  EXPECT_EQ(PooledShape("kernel_shape = [3, 3], pads = [1, 1]"), "");
}

// Concat of two inputs whose axis dims sum past int64 leaves that dim unknown.
TEST(ContribShapeRules, ConcatWhoseAxisSumOverflowsLeavesItUnknown) {
  EXPECT_EQ(OutputShape(InferWithUntypedOutput(R"(<ir_version: 8, opset_import: ["" : 13, "com.microsoft" : 1]>
g (uint8[9223372036854775807,2] a, uint8[2,2] b) => (uint8 y) <float s = {0.5}, uint8 z = {128}> {
  y = com.microsoft.QLinearConcat <axis = 0> (s, z, a, s, z, b, s, z)
}
)")),
            "?,2");
}

}  // namespace
}  // namespace qopt

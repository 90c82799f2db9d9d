// Work run in a child process (ir/child_process.h), and libonnx's shape
// inference through it: a crash in the child is an error, not qopt's end.
#include "ir/child_process.h"

#include <csignal>
#include <string>

#include "absl/status/status.h"
#include "gtest/gtest.h"
#include "ir/serialization.h"
#include "ir/shape_inference.h"
#include "tests/unit/test_util.h"

namespace qopt {
namespace {

TEST(ChildProcess, ReturnsTheChildsBytes) {
  std::string big(200000, 'x');  // more than a pipe holds at once
  big[123456] = 'y';
  absl::StatusOr<std::string> answer = ir::RunInChildProcess("test",
                                                             [&]() -> absl::StatusOr<std::string> { return big; });
  ASSERT_TRUE(answer.ok()) << answer.status();
  EXPECT_EQ(*answer, big);
}

TEST(ChildProcess, ReturnsTheChildsErrorWithItsCode) {
  absl::StatusOr<std::string> answer = ir::RunInChildProcess(
      "test", []() -> absl::StatusOr<std::string> { return absl::InvalidArgumentError("no such thing"); });
  EXPECT_EQ(answer.status(), absl::InvalidArgumentError("no such thing"));
}

TEST(ChildProcess, TheChildsSideEffectsStayInTheChild) {
  int counter = 0;
  absl::StatusOr<std::string> answer = ir::RunInChildProcess("test", [&]() -> absl::StatusOr<std::string> {
    ++counter;
    return std::string("done");
  });
  ASSERT_TRUE(answer.ok());
  EXPECT_EQ(counter, 0);
}

TEST(ChildProcess, ACrashInTheChildIsAnError) {
  absl::StatusOr<std::string> answer = ir::RunInChildProcess("the crashing step", []() -> absl::StatusOr<std::string> {
    std::raise(SIGABRT);
    return std::string("unreachable");
  });
  ASSERT_FALSE(answer.ok());
  EXPECT_EQ(answer.status().code(), absl::StatusCode::kInternal);
  EXPECT_EQ(std::string(answer.status().message()).rfind("the crashing step crashed (signal 6", 0), 0)
      << answer.status();
}

// A conv whose input rank (2, from DynamicQuantizeLinear) differs from its
// weight's (4): libonnx 1.12 reads out of bounds on it (found by fuzzing).
constexpr char kConvRankMismatch[] = R"(<ir_version: 8, opset_import: ["" : 13]>
g (float[1,3] x) => (int32[1,4,1,1] y) <int8[4,3,1,1] w = {1,2,3,4,5,6,7,8,9,10,11,12}> {
  q, s, z = DynamicQuantizeLinear(x)
  y = ConvInteger(q, w)
}
)";

TEST(ShapeInferenceInAChild, ALibOnnxCrashIsAnError) {
  auto model = testing::Parse(kConvRankMismatch);
  ASSERT_NE(model, nullptr);
  onnx::ModelProto proto = ir::ExportModelForShapeInference(*model);
  absl::Status s = ir::RunShapeInference(proto, /*data_propagation=*/false);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(std::string(s.message()).rfind("ONNX shape inference crashed (", 0), 0) << s;
  EXPECT_EQ(proto.graph().value_info_size(), 0);  // nothing half-inferred came back
}

TEST(ShapeInferenceInAChild, TypesInferredInSubgraphsComeBack) {
  auto model = testing::Parse(R"(<ir_version: 8, opset_import: ["" : 13]>
g (bool c, float[2,3] x) => (float[2,3] y) {
  t = Relu(x)
  y = If (c) <
    then_branch = then_g () => (float[2,3] a) { a = Neg(t) },
    else_branch = else_g () => (float[2,3] b) { b1 = Abs(t)  b = Neg(b1) }
  >
}
)");
  ASSERT_NE(model, nullptr);
  onnx::ModelProto proto = ir::ExportModelForShapeInference(*model);
  proto.mutable_graph()->clear_value_info();
  ASSERT_TRUE(ir::RunShapeInference(proto, /*data_propagation=*/false).ok());
  const onnx::GraphProto& graph = proto.graph();
  ASSERT_EQ(graph.value_info_size(), 1);
  EXPECT_EQ(graph.value_info(0).name(), "t");
  EXPECT_EQ(graph.value_info(0).type().tensor_type().shape().dim_size(), 2);
  const onnx::NodeProto& if_node = graph.node(1);
  const onnx::GraphProto* else_branch = nullptr;
  for (const onnx::AttributeProto& a : if_node.attribute()) {
    if (a.name() == "else_branch") else_branch = &a.g();
  }
  ASSERT_NE(else_branch, nullptr);
  ASSERT_EQ(else_branch->value_info_size(), 1);
  EXPECT_EQ(else_branch->value_info(0).name(), "b1");
  EXPECT_EQ(else_branch->value_info(0).type().tensor_type().shape().dim(1).dim_value(), 3);
}

}  // namespace
}  // namespace qopt

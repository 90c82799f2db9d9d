// The passes that prepare an FP32 model for quantization: fold-batchnorm,
// upgrade-opset, infer-shapes and the `canonicalize` named pipeline.
#include <cmath>

#include "gtest/gtest.h"
#include "ir/verifier.h"
#include "pass/pass_manager.h"
#include "pass/pipeline.h"
#include "pass/registry.h"
#include "passes/builtin_passes.h"
#include "tests/unit/test_util.h"

namespace qopt {
namespace {

using testing::OpSequence;
using testing::Parse;

using testing::RunPipeline;

std::vector<double> Values(const ir::Value* v) {
  EXPECT_NE(v, nullptr);
  EXPECT_NE(v->constant(), nullptr) << v->name();
  return *v->constant()->ToDoubles();
}

TEST(FoldBatchNorm, FoldsIntoConvWeightsAndBias) {
  // Two output channels, 1x1 kernels over one input channel.
  auto model = Parse(R"(
<ir_version: 8, opset_import: ["" : 13]>
g (float[1,1,2,2] X) => (float[1,2,2,2] Y)
  <float[2,1,1,1] W = {2, 3}, float[2] Bc = {1, -1}, float[2] S = {4, 0.5}, float[2] B = {0.25, 1},
   float[2] M = {1, 2}, float[2] V = {3, 0.25}> {
  C = Conv(X, W, Bc)
  Y = BatchNormalization <epsilon = 1.0> (C, S, B, M, V)
}
)");
  ASSERT_TRUE(RunPipeline(*model, "fold-batchnorm,dce").ok());
  EXPECT_EQ(OpSequence(model->graph()), "Conv");
  const ir::Node* conv = model->graph().outputs()[0]->producer();
  EXPECT_EQ(conv->output()->name(), "Y");
  // s = S / sqrt(V + eps) = {4/2, 0.5/sqrt(1.25)}
  const double s1 = 0.5 / std::sqrt(1.25);
  std::vector<double> w = Values(conv->input(1));
  EXPECT_DOUBLE_EQ(w[0], 4.0);
  EXPECT_NEAR(w[1], 3 * s1, 1e-6);
  std::vector<double> b = Values(conv->input(2));
  EXPECT_DOUBLE_EQ(b[0], (1 - 1) * 2.0 + 0.25);
  EXPECT_NEAR(b[1], (-1 - 2) * s1 + 1, 1e-6);
  EXPECT_EQ(model->graph().FindValue("W"), nullptr);  // old weights removed by dce
}

TEST(FoldBatchNorm, ConvTransposeWithGroupsScalesTheOutputAxis) {
  // ConvTranspose weights are [C_in, C_out/group, k, k]: group 2, C_in 2,
  // C_out 2 -> one output channel per group, the scale follows axis 0 here.
  auto model = Parse(R"(
<ir_version: 8, opset_import: ["" : 13]>
g (float[1,2,1,1] X) => (float[1,2,1,1] Y)
  <float[2,1,1,1] W = {1, 1}, float[2] S = {2, 3}, float[2] B = {0, 0}, float[2] M = {0, 0}, float[2] V = {1, 1}> {
  C = ConvTranspose <group = 2> (X, W)
  Y = BatchNormalization <epsilon = 0.0> (C, S, B, M, V)
}
)");
  ASSERT_TRUE(RunPipeline(*model, "fold-batchnorm").ok());
  const ir::Node* conv = model->graph().outputs()[0]->producer();
  EXPECT_EQ(Values(conv->input(1)), (std::vector<double>{2, 3}));
  EXPECT_EQ(Values(conv->input(2)), (std::vector<double>{0, 0}));
}

TEST(FoldBatchNorm, LeavesBatchNormWhoseConvOutputIsShared) {
  auto model = Parse(R"(
<ir_version: 8, opset_import: ["" : 13]>
g (float[1,1,1,1] X) => (float[1,1,1,1] Y, float[1,1,1,1] Z)
  <float[1,1,1,1] W = {2}, float[1] S = {2}, float[1] B = {0}, float[1] M = {0}, float[1] V = {1}> {
  C = Conv(X, W)
  Y = BatchNormalization(C, S, B, M, V)
  Z = Relu(C)
}
)");
  Report report;
  ASSERT_TRUE(RunPipeline(*model, "fold-batchnorm", &report).ok());
  EXPECT_EQ(OpSequence(model->graph()), "Conv BatchNormalization Relu");
  EXPECT_EQ(report.passes()[0].statistics["batchnorms-kept"], 1);
  EXPECT_FALSE(report.passes()[0].changed);
}

TEST(UpgradeOpset, MovesAttributesToInputs) {
  auto model = Parse(R"(
<ir_version: 8, opset_import: ["" : 9]>
g (float[2,3] X) => (float[3] Y) {
  C = Clip <min = -1.0, max = 6.0> (X)
  S = Slice <starts = [1], ends = [2], axes = [0]> (C)
  Y = Squeeze <axes = [0]> (S)
}
)");
  ASSERT_TRUE(RunPipeline(*model, "upgrade-opset").ok());
  EXPECT_EQ(model->OpsetVersion(""), 13);
  const ir::Node* clip = model->graph().FindValue("C")->producer();
  EXPECT_FALSE(clip->GetFloat("min").has_value());
  ASSERT_EQ(clip->num_inputs(), 3);
  EXPECT_EQ(Values(clip->input(1)), (std::vector<double>{-1}));
  EXPECT_EQ(Values(clip->input(2)), (std::vector<double>{6}));
  const ir::Node* slice = model->graph().FindValue("S")->producer();
  ASSERT_EQ(slice->num_inputs(), 4);
  EXPECT_EQ(*slice->input(1)->constant()->ToInt64s(), (std::vector<int64_t>{1}));
  EXPECT_EQ(*slice->input(3)->constant()->ToInt64s(), (std::vector<int64_t>{0}));
  const ir::Node* squeeze = model->graph().FindValue("Y")->producer();
  EXPECT_FALSE(squeeze->GetInts("axes").has_value());
  EXPECT_EQ(*squeeze->input(1)->constant()->ToInt64s(), (std::vector<int64_t>{0}));
}

TEST(UpgradeOpset, SoftmaxKeepsItsOldMeaning) {
  // Axis 1 of a rank-3 tensor: before 13 it normalised over dims 1 and 2
  // together, so the rewrite must flatten; on the last axis it must not.
  auto model = Parse(R"(
<ir_version: 8, opset_import: ["" : 11]>
g (float[2,3,4] X) => (float[2,3,4] Y, float[2,3,4] Z) {
  Y = Softmax <axis = 1> (X)
  Z = Softmax <axis = 2> (X)
}
)");
  Report report;
  ASSERT_TRUE(RunPipeline(*model, "upgrade-opset", &report).ok()) << ir::Verify(*model);
  EXPECT_EQ(OpSequence(model->graph()), "Flatten Shape Softmax Reshape Softmax");
  EXPECT_EQ(model->graph().outputs()[0]->name(), "Y");
  EXPECT_EQ(model->graph().outputs()[0]->producer()->op_type(), "Reshape");
  EXPECT_EQ(model->graph().outputs()[1]->producer()->GetInt("axis"), -1);
  EXPECT_EQ(report.passes()[0].statistics["softmax-reshaped"], 1);
}

TEST(UpgradeOpset, UnknownOpsAreErrorsAndHigherOpsetsAreLeftAlone) {
  auto model = Parse(R"(
<ir_version: 8, opset_import: ["" : 9]>
g (float[2] X) => (float[2] Y) { Y = Upsample(X) }
)");
  absl::Status s = RunPipeline(*model, "upgrade-opset");
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("no rule to upgrade Upsample"), absl::string_view::npos) << s;

  auto newer = Parse(R"(
<ir_version: 8, opset_import: ["" : 17]>
g (float[2] X) => (float[2] Y) { Y = Relu(X) }
)");
  Report report;
  ASSERT_TRUE(RunPipeline(*newer, "upgrade-opset", &report).ok());
  EXPECT_EQ(newer->OpsetVersion(""), 17);
  EXPECT_FALSE(report.passes()[0].changed);
}

TEST(InferShapes, AnnotatesWhereLibOnnxKnowsTheOpset) {
  auto model = Parse(R"(
<ir_version: 8, opset_import: ["" : 13]>
g (float[2,3] X) => (float[3,2] Y) { A = Relu(X)  Y = Transpose(A) }
)");
  ASSERT_TRUE(RunPipeline(*model, "infer-shapes").ok());
  auto shape = model->graph().FindValue("A")->shape();
  ASSERT_TRUE(shape.has_value());
  ASSERT_EQ(shape->size(), 2u);
  EXPECT_EQ((*shape)[1].value, 3);

  auto newer = Parse(R"(
<ir_version: 8, opset_import: ["" : 21]>
g (float[2,3] X) => (float[2,3] Y) { A = Relu(X)  Y = Relu(A) }
)");
  Report report;
  ASSERT_TRUE(RunPipeline(*newer, "infer-shapes", &report).ok());
  EXPECT_FALSE(newer->graph().FindValue("A")->has_type_info());
  ASSERT_EQ(report.findings().size(), 1u);
  EXPECT_NE(report.findings()[0].message.find("newer than libonnx"), std::string::npos);
}

TEST(Canonicalize, NamedPipelineExpands) {
  auto model = Parse(R"(
<ir_version: 8, opset_import: ["" : 9]>
g (float[1,1,2,2] X) => (float[1,1,2,2] Y) {
  W = Constant <value = float[1,1,1,1] {2}> ()
  S = Constant <value = float[1] {1}> ()
  B = Constant <value = float[1] {0}> ()
  M = Constant <value = float[1] {0}> ()
  V = Constant <value = float[1] {1}> ()
  C = Conv(X, W)
  N = BatchNormalization(C, S, B, M, V)
  Y = Clip <min = 0.0, max = 6.0> (N)
}
)");
  Report report;
  ASSERT_TRUE(RunPipeline(*model, "canonicalize", &report).ok());
  EXPECT_EQ(OpSequence(model->graph()), "Conv Clip");
  EXPECT_EQ(model->OpsetVersion(""), 13);
  EXPECT_EQ(report.passes().size(), 8u);
  EXPECT_TRUE(model->graph().FindValue("C")->has_type_info());

  PassRegistry registry;
  RegisterBuiltinPasses(registry);
  // An option of a named pipeline goes to the passes in it that have it;
  // one none of them has is an error.
  auto with_options = BuildPipeline("canonicalize{x=1}", registry);
  ASSERT_FALSE(with_options.ok());
  EXPECT_NE(with_options.status().message().find("no pass in named pipeline 'canonicalize' has an option 'x'"),
            absl::string_view::npos)
      << with_options.status();
  auto forwarded = BuildPipeline("canonicalize{direction=to-nodes}", registry);
  ASSERT_TRUE(forwarded.ok()) << forwarded.status();
  EXPECT_EQ((*forwarded)[0]->FindOption("direction")->value_text(), "to-nodes");
  auto bad_value = BuildPipeline("canonicalize{direction=sideways}", registry);
  EXPECT_FALSE(bad_value.ok());
}


TEST(FoldBiasAdd, PerChannelConstantBecomesTheBiasOthersStay) {
  // [2,1,1] lands on the channel axis of the [1,2,2,2] output; [2] would
  // broadcast along W and must stay an Add.
  auto model = Parse(R"(
<ir_version: 8, opset_import: ["" : 13]>
g (float[1,1,2,2] X) => (float[1,2,2,2] Y, float[1,2,2,2] Z)
  <float[2,1,1,1] W = {1.0, 2.0}, float[2,1,1] C = {0.5, -0.5}, float[2] D = {3.0, 4.0}> {
  A = Conv(X, W)
  Y = Add(A, C)
  B = Conv(X, W)
  Z = Add(B, D)
}
)");
  Report report;
  ASSERT_TRUE(RunPipeline(*model, "fold-bias-add", &report).ok());
  EXPECT_EQ(OpSequence(model->graph()), "Conv Conv Add");
  const ir::Node* conv = model->graph().node_list()[0];
  ASSERT_NE(conv->input(2), nullptr);
  EXPECT_EQ(*conv->input(2)->constant()->ToDoubles(), (std::vector<double>{0.5, -0.5}));
  EXPECT_EQ(conv->output()->name(), "Y");  // the graph output keeps its name
}

TEST(ConvTransposeToConv, NonOverlappingKernelBecomesConvAndDepthToSpace) {
  // W[c_in=1, c_out=2, 2, 2]: W'[(i*2 + j)*2 + o, 0] = W[0, o, i, j].
  auto model = Parse(R"(
<ir_version: 8, opset_import: ["" : 13]>
g (float[1,1,3,3] X) => (float[1,2,6,6] Y, float[1,2,4,4] Z)
  <float[1,2,2,2] W = {1, 2, 3, 4, 5, 6, 7, 8}, float[2] B = {0.5, -0.5}> {
  T = ConvTranspose <kernel_shape = [2, 2], strides = [2, 2]> (X, W, B)
  Y = Relu(T)
  Z = ConvTranspose <kernel_shape = [2, 2], strides = [1, 1]> (X, W, B)
}
)");
  Report report;
  ASSERT_TRUE(RunPipeline(*model, "convtranspose-to-conv", &report).ok());
  // The Relu moves between the Conv and the DepthToSpace; stride 1 stays.
  EXPECT_EQ(OpSequence(model->graph()), "Conv Relu DepthToSpace ConvTranspose");
  const ir::Node* conv = model->graph().node_list()[0];
  EXPECT_EQ(conv->input(1)->constant()->dims(), (std::vector<int64_t>{8, 1, 1, 1}));
  // rows (i, j, o): (0,0,0)=W[0,0,0,0]=1, (0,0,1)=W[0,1,0,0]=5, (0,1,0)=2, (0,1,1)=6, ...
  EXPECT_EQ(*conv->input(1)->constant()->ToDoubles(), (std::vector<double>{1, 5, 2, 6, 3, 7, 4, 8}));
  EXPECT_EQ(*conv->input(2)->constant()->ToDoubles(), (std::vector<double>{0.5, -0.5, 0.5, -0.5, 0.5, -0.5, 0.5, -0.5}));
  const ir::Node* d2s = model->graph().node_list()[2];
  EXPECT_EQ(d2s->GetInt("blocksize"), 2);
  EXPECT_EQ(d2s->GetString("mode"), "DCR");
  EXPECT_EQ(d2s->output()->name(), "Y");
}

}  // namespace
}  // namespace qopt

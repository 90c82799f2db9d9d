// The first passes, run through the pass manager as qopt-opt runs them.
#include <filesystem>

#include "gtest/gtest.h"
#include "ir/verifier.h"
#include "pass/pass_manager.h"
#include "pass/pipeline.h"
#include "pass/registry.h"
#include "passes/convert/fp32_weights.h"
#include "tests/unit/test_util.h"

namespace qopt {
namespace {

using testing::OpSequence;
using testing::Parse;

// Runs `pipeline` on `model`, expecting success; returns the report.
Report RunPipeline(ir::Model& model, const std::string& pipeline) {
  return testing::RunExpectingSuccess(model, pipeline);
}

int64_t Stat(const Report& report, const std::string& pass, const std::string& name) {
  return testing::PassStatistic(report, pass, name);
}

TEST(Dce, RemovesDeadChainsAndUnusedConstants) {
  auto model = Parse(R"(
<ir_version: 8, opset_import: ["" : 13]>
g (float[2] X, float[2] Unused) => (float[2] Y) <float[2] W = {1, 2}, float[2] Dead = {3, 4}> {
  A = Add(X, W)
  D1 = Mul(A, Dead)
  D2 = Relu(D1)
  Y = Relu(A)
}
)");
  Report report = RunPipeline(*model, "dce");
  EXPECT_EQ(OpSequence(model->graph()), "Add Relu");
  EXPECT_EQ(Stat(report, "dce", "nodes-removed"), 2);
  EXPECT_EQ(Stat(report, "dce", "constants-removed"), 1);
  EXPECT_EQ(model->graph().FindValue("Dead"), nullptr);
  EXPECT_NE(model->graph().FindValue("Unused"), nullptr);  // graph inputs stay
  EXPECT_TRUE(report.passes()[0].changed);
}

TEST(Dce, CleansInsideSubgraphsAndKeepsWhatTheyUse) {
  auto model = Parse(R"(
<ir_version: 8, opset_import: ["" : 13]>
g (bool C, float[2] X) => (float[2] Y) {
  A = Relu(X)
  Y = If(C) <then_branch = t () => (float[2] T) { Dead = Neg(A)  T = Abs(A) },
              else_branch = e () => (float[2] E) { E = Neg(A) }>
}
)");
  Report report = RunPipeline(*model, "dce");
  EXPECT_EQ(Stat(report, "dce", "nodes-removed"), 1);
  EXPECT_EQ(OpSequence(model->graph()), "Relu If");
  const ir::Node* if_node = model->graph().FindValue("Y")->producer();
  EXPECT_EQ(OpSequence(*if_node->subgraphs()[0]), "Abs");
}

TEST(Dce, UnchangedModelReportsNoChange) {
  auto model = Parse(R"(
<ir_version: 8, opset_import: ["" : 13]>
g (float[2] X) => (float[2] Y) { Y = Relu(X) }
)");
  Report report = RunPipeline(*model, "dce");
  EXPECT_FALSE(report.passes()[0].changed);
}

constexpr char kConstants[] = R"(
<ir_version: 8, opset_import: ["" : 13]>
g (float[2] X) => (float[2] Y, float[2] C) <float[2] W = {1, 2}> {
  C = Constant <value = float[2] {3, 4}> ()
  A = Add(X, W)
  Y = Mul(A, C)
}
)";

TEST(CanonicalizeConstants, NodesBecomeInitializersKeepingNames) {
  auto model = Parse(kConstants);
  Report report = RunPipeline(*model, "canonicalize-constants");
  EXPECT_EQ(OpSequence(model->graph()), "Add Mul");
  const ir::Value* c = model->graph().FindValue("C");
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->kind(), ir::Value::Kind::kInitializer);
  EXPECT_EQ(*c->constant()->ToDoubles(), (std::vector<double>{3, 4}));
  EXPECT_EQ(model->graph().outputs()[1], c);  // still the second output, same name
  EXPECT_EQ(Stat(report, "canonicalize-constants", "constants-moved"), 1);
}

TEST(CanonicalizeConstants, InitializersBecomeNodes) {
  auto model = Parse(kConstants);
  RunPipeline(*model, "canonicalize-constants{direction=to-nodes}");
  EXPECT_EQ(OpSequence(model->graph()), "Constant Constant Add Mul");
  EXPECT_TRUE(model->graph().initializers().empty());
  const ir::Value* w = model->graph().FindValue("W");
  ASSERT_NE(w, nullptr);
  EXPECT_EQ(w->producer()->op_type(), "Constant");
  EXPECT_EQ(*w->constant()->ToDoubles(), (std::vector<double>{1, 2}));
}

TEST(CanonicalizeConstants, BothDirectionsRoundTrip) {
  auto model = Parse(kConstants);
  RunPipeline(*model, "canonicalize-constants,canonicalize-constants{direction=to-nodes},canonicalize-constants");
  EXPECT_EQ(OpSequence(model->graph()), "Add Mul");
  EXPECT_EQ(model->graph().initializers().size(), 2u);
  EXPECT_TRUE(ir::Verify(*model).ok());
}

TEST(OpCount, ReportsHistogramAndCategories) {
  auto model = Parse(R"(
<ir_version: 8, opset_import: ["" : 13, "com.microsoft" : 1]>
g (float[2] X) => (float[2] Y) <float S = {0.1}, uint8 Z = {128}> {
  Q = QuantizeLinear(X, S, Z)
  D = DequantizeLinear(Q, S, Z)
  R = Relu(D)
  Y = com.microsoft.Gelu(R)
}
)");
  Report report = RunPipeline(*model, "op-count");
  nlohmann::json j = report.ToJson();
  EXPECT_EQ(j["schema"], "qopt-report/1");
  const auto& counts = j["analyses"]["op-count"];
  EXPECT_EQ(counts["total_nodes"], 4);
  EXPECT_EQ(counts["by_op"]["QuantizeLinear"], 1);
  EXPECT_EQ(counts["by_op"]["com.microsoft::Gelu"], 1);
  EXPECT_EQ(counts["by_category"]["quantization"], 2);
  EXPECT_EQ(counts["initializers"], 2);
  EXPECT_NE(report.ToText().find("com.microsoft::Gelu"), std::string::npos);
}

// A pass that breaks the IR (uses a value before its definition): the pass
// manager's verifier must catch it and name the pass.
class BreakOrder : public Pass {
 public:
  absl::string_view name() const override { return "break-order"; }
  absl::string_view summary() const override { return "test"; }
  absl::StatusOr<bool> Run(ir::Model& model, PassContext&) override {
    ir::Graph& g = model.graph();
    g.FindValue("A")->producer()->SetInput(0, g.FindValue("Y"));
    return true;
  }
};

TEST(PassManager, VerifierCatchesABrokenPass) {
  auto model = Parse(R"(
<ir_version: 8, opset_import: ["" : 13]>
g (float[2] X) => (float[2] Y) { A = Relu(X)  Y = Neg(A) }
)");
  PassManager manager;
  manager.AddPass(std::make_unique<BreakOrder>());
  Report report;
  PassContext context{&report};
  absl::Status s = manager.Run(*model, context);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code(), absl::StatusCode::kInternal);
  EXPECT_NE(s.message().find("after pass 'break-order'"), absl::string_view::npos) << s;

  auto again = Parse(R"(
<ir_version: 8, opset_import: ["" : 13]>
g (float[2] X) => (float[2] Y) { A = Relu(X)  Y = Neg(A) }
)");
  PassManager unverified;
  unverified.set_verify_each(false);
  unverified.AddPass(std::make_unique<BreakOrder>());
  EXPECT_TRUE(unverified.Run(*again, context).ok());
}

// per-channel finds the FP32 weights by the node's name and op type where
// the weight names do not match (qopt's lit tests cannot name nodes), and
// the FP32 bias with them.
TEST(PerChannel, MatchesFp32WeightsByNodeName) {
  auto fp32 = Parse(R"(
<ir_version: 8, opset_import: ["" : 13]>
g (float[1,2,1,1] X) => (float[1,2,1,1] C) <float[2,2,1,1] Wfp = {1.2, -2.54, 0.5, 0.254}, float[2] Bfp = {0.1, -0.2}> {
  C = Conv(X, Wfp, Bfp)
}
)");
  auto model = Parse(R"(
<ir_version: 8, opset_import: ["" : 13]>
g (float[1,2,1,1] X) => (float[1,2,1,1] C)
<int8[2,2,1,1] Wq = {60, -127, 25, 13}, float Ws = {0.02}, int8 Wz = {0}, float Xs = {0.01}, uint8 Xz = {0},
 int32[2] Bq = {500, -1000}, float Bs = {2e-4}, int32 Bz = {0}> {
  XQ = QuantizeLinear(X, Xs, Xz)
  XD = DequantizeLinear(XQ, Xs, Xz)
  WD = DequantizeLinear(Wq, Ws, Wz)
  BD = DequantizeLinear(Bq, Bs, Bz)
  C = Conv(XD, WD, BD)
}
)");
  ASSERT_TRUE(fp32 && model);
  fp32->graph().FindValue("C")->producer()->set_name("conv1");
  model->graph().FindValue("C")->producer()->set_name("conv1");
  const std::string path =
      (std::filesystem::temp_directory_path() / ("per_channel_" + std::to_string(::getpid()) + ".onnx")).string();
  ASSERT_TRUE(ir::SaveModel(*fp32, path).ok());
  Report report = RunPipeline(*model, "per-channel{weights-from=" + path + "}");
  std::filesystem::remove(path);
  EXPECT_EQ(Stat(report, "per-channel", "weights-converted"), 1);
  EXPECT_EQ(Stat(report, "per-channel", "biases-requantized"), 1);
  EXPECT_EQ(*model->graph().FindValue("Wq")->constant()->ToInt64s(), (std::vector<int64_t>{60, -127, 127, 65}));
  EXPECT_EQ(*model->graph().FindValue("Bq")->constant()->ToInt64s(), (std::vector<int64_t>{500, -5080}));
  ASSERT_EQ(report.analyses().size(), 1u);
  const nlohmann::json& converted = report.analyses()[0].data["converted"];
  ASSERT_EQ(converted.size(), 1u);
  EXPECT_EQ(converted[0]["source"], "FP32 'Wfp'");
  EXPECT_EQ(converted[0]["bias"], "requantized from FP32 'Bfp'");
}

// The structural check's tolerance for rounding ties: off by one in at most
// 0.1% of the elements, never further.
TEST(PerChannel, SameSourceToleratesRareTies) {
  const analysis::IntRange s8{-128, 127};
  std::vector<double> values(2000, 0.5);
  std::vector<int64_t> quantized(2000, 50);
  EXPECT_EQ(convert::CompareWithQuantized(values, quantized, 0.01f, 0, s8).total(), 0);
  quantized[0] = 51;
  quantized[1] = 49;
  convert::QuantizedMismatch m = convert::CompareWithQuantized(values, quantized, 0.01f, 0, s8);
  EXPECT_EQ(m.off_by_one, 2);
  EXPECT_TRUE(convert::SameSource(m, values.size()));
  quantized[2] = 51;
  EXPECT_FALSE(convert::SameSource(convert::CompareWithQuantized(values, quantized, 0.01f, 0, s8), values.size()));
  quantized = std::vector<int64_t>(2000, 50);
  quantized[0] = 52;
  m = convert::CompareWithQuantized(values, quantized, 0.01f, 0, s8);
  EXPECT_EQ(m.worse, 1);
  EXPECT_FALSE(convert::SameSource(m, values.size()));
}

}  // namespace
}  // namespace qopt

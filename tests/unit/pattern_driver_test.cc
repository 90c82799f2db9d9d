// The greedy pattern driver (pass/pattern.h): fixed points, the
// non-convergence report, match-failure reasons, dead-node cleanup; and the
// one verdict qdq-boundaries and fuse-qdq-units give a unit the target runs
// in integer that qopt has no rewrite for.
#include "gtest/gtest.h"
#include "pass/pattern.h"
#include "tests/unit/test_util.h"

namespace qopt {
namespace {

using testing::OpSequence;
using testing::Parse;

// Identity -> users read its input; the Identity is left dead.
RewritePattern BypassIdentity() {
  return {"bypass-identity", {"Identity"}, [](ir::Node& node, PatternRewriter& rewriter) {
            if (node.output()->is_graph_output()) return rewriter.NotifyMatchFailure("a graph output");
            rewriter.ReplaceAllUsesWith(node.output(), node.input(0));
            return true;
          }};
}

TEST(PatternDriver, RunsToAFixedPointAndErasesWhatDied) {
  auto model = Parse(R"(
<ir_version: 8, opset_import: ["" : 13]>
g (float[4] X) => (float[4] Y) {
  A = Identity(X)
  B = Identity(A)
  C = Identity(B)
  Y = Relu(C)
}
)");
  PatternSet patterns;
  patterns.Add(BypassIdentity());
  const DriverResult result = ApplyPatternsGreedily(model->graph(), patterns);
  EXPECT_TRUE(result.changed);
  EXPECT_TRUE(result.converged);
  EXPECT_EQ(result.rewrites, 3);
  EXPECT_EQ(result.rewrites_by_pattern.at("bypass-identity"), 3);
  EXPECT_EQ(result.nodes_erased, 3);
  EXPECT_TRUE(result.failures.empty());
  EXPECT_EQ(OpSequence(model->graph()), "Relu");
}

// A pattern that always rewrites: Relu -> a new Relu, forever.
RewritePattern EndlessRelu() {
  return {"endless-relu", {"Relu"}, [](ir::Node& node, PatternRewriter& rewriter) {
            ir::Node* again = rewriter.AddNode("Relu", {node.input(0)}, 1, &node);
            again->output()->set_type_info(node.output()->type_info());
            rewriter.ReplaceAllUsesWith(node.output(), again->output());
            return true;
          }};
}

class EndlessPass : public Pass {
 public:
  absl::string_view name() const override { return "endless-test"; }
  absl::string_view summary() const override { return "test"; }
  absl::StatusOr<bool> Run(ir::Model& model, PassContext& context) override {
    PatternSet patterns;
    patterns.Add(EndlessRelu());
    DriverConfig config;
    config.max_rewrites = 10;
    result = ApplyPatternsGreedily(model.graph(), patterns, config);
    message = ReportDriverResult(result, *this, context);
    return result.changed;
  }
  DriverResult result;
  std::string message;
};

TEST(PatternDriver, ReportsWhenItDoesNotConverge) {
  auto model = Parse(R"(
<ir_version: 8, opset_import: ["" : 13]>
g (float[4] X) => (float[4] Y) {
  R = Relu(X)
  Y = Neg(R)
}
)");
  EndlessPass pass;
  Report report;
  PassContext context{&report};
  ASSERT_TRUE(pass.Run(*model, context).ok());
  EXPECT_FALSE(pass.result.converged);
  EXPECT_EQ(pass.result.rewrites, 10);
  EXPECT_EQ(OpSequence(model->graph()), "Relu Neg");  // each replaced Relu was erased
  ASSERT_EQ(report.findings().size(), 1u);
  const Finding& finding = report.findings()[0];
  EXPECT_EQ(finding.severity, Severity::kWarning);
  EXPECT_EQ(finding.pass, "endless-test");
  EXPECT_NE(finding.message.find("without reaching a fixed point"), std::string::npos) << finding.message;
  EXPECT_NE(pass.message.find("endless-test"), std::string::npos) << pass.message;
}

TEST(PatternDriver, KeepsTheLastMatchFailurePerNode) {
  auto model = Parse(R"(
<ir_version: 8, opset_import: ["" : 13]>
g (float[4] X) => (float[4] Y) {
  A = Identity(X)
  Y = Identity(A)
}
)");
  PatternSet patterns;
  patterns.Add(BypassIdentity());
  const DriverResult result = ApplyPatternsGreedily(model->graph(), patterns);
  // A is bypassed; Y's Identity is a graph output and says so, once
  // although it is visited again after A went.
  EXPECT_EQ(result.rewrites, 1);
  ASSERT_EQ(result.failures.size(), 1u);
  EXPECT_EQ(result.failures[0].first->output()->name(), "Y");
  EXPECT_EQ(result.failures[0].second, "a graph output");
}

TEST(PatternDriver, ErasesDeadQdqOnceAfterTheRewrite) {
  auto model = Parse(R"(
<ir_version: 8, opset_import: ["" : 13]>
g (float[4] X) => (float[4] Y) <float s = {0.5}, uint8 z = {128}> {
  Xq = QuantizeLinear(X, s, z)
  Xd = DequantizeLinear(Xq, s, z)
  Y = Relu(Xd)
}
)");
  PatternSet patterns;
  // Reads X directly: the DQ dies, and with it the Q only it read.
  patterns.Add({"skip-qdq", {"Relu"}, [](ir::Node& relu, PatternRewriter& rewriter) {
                  if (relu.input(0)->producer() == nullptr) return false;
                  rewriter.SetInput(relu, 0, relu.graph()->FindValue("X"));
                  return true;
                }});
  const DriverResult result = ApplyPatternsGreedily(model->graph(), patterns);
  EXPECT_EQ(result.rewrites, 1);
  EXPECT_EQ(result.nodes_erased, 2);
  EXPECT_TRUE(result.converged);
  EXPECT_EQ(OpSequence(model->graph()), "Relu");
}

// ort-cpu runs Gemm in integer (com.microsoft.QGemm) but fuse-qdq-units has
// no action for it: both passes say so in the same words, and the unit still
// counts as running in integer in the boundary report.
TEST(PatternDriver, GemmIsNoRewriteYetInBothReports) {
  auto model = Parse(R"(
<ir_version: 8, opset_import: ["" : 13]>
g (float[1,2] X) => (float[1,2] Y)
  <float s = {0.5}, uint8 z = {128}, int8[2,2] Wq = {1, 2, 3, 4}, float ws = {0.25}, int8 wz = {0}> {
  Xq = QuantizeLinear(X, s, z)
  Xd = DequantizeLinear(Xq, s, z)
  W = DequantizeLinear(Wq, ws, wz)
  A = Gemm(Xd, W)
  Aq = QuantizeLinear(A, s, z)
  Y = DequantizeLinear(Aq, s, z)
}
)");
  const std::string expected = "ort-cpu runs Gemm in integer (com.microsoft.QGemm); qopt has no rewrite for it yet";
  const Report report = testing::RunExpectingSuccess(*model, "qdq-boundaries,fuse-qdq-units");
  const nlohmann::json j = report.ToJson()["analyses"];
  EXPECT_EQ(j["qdq-boundaries"]["fusable_units"], 1) << j["qdq-boundaries"].dump();
  EXPECT_EQ(j["qdq-boundaries"]["no_rewrite_yet"][expected], 1) << j["qdq-boundaries"].dump();
  EXPECT_EQ(j["fuse-qdq-units"]["not_fused"][expected], 1) << j["fuse-qdq-units"].dump();
  EXPECT_EQ(testing::PassStatistic(report, "qdq-boundaries", "units-no-rewrite-yet"), 1);
  EXPECT_EQ(testing::PassStatistic(report, "fuse-qdq-units", "units-refused"), 1);
  EXPECT_NE(OpSequence(model->graph()).find("Gemm"), std::string::npos);
}

}  // namespace
}  // namespace qopt

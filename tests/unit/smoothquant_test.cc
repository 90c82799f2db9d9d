// smoothquant on small models: each fold pattern with its numbers, each
// refusal with its reason, the ranges handed to a later quantize, and
// alpha=auto. Every activation has channel maxima {16, 1} and every weight
// input-channel maxima {1, 4}, so alpha 0.5 gives s = {4, 0.5} exactly.
#include <filesystem>
#include <fstream>

#include "gtest/gtest.h"
#include "tests/unit/test_util.h"

namespace qopt {
namespace {

namespace fs = std::filesystem;
using testing::OpSequence;
using testing::Parse;
using testing::PassStatistic;
using testing::RunExpectingSuccess;

// calib.json with channel maxima {16, 1} for `tensors` along `rule`.
std::string WriteCalibration(const std::string& name, const std::vector<std::string>& tensors, bool channels_last,
                             double min = -16) {
  const fs::path path = fs::temp_directory_path() / (name + "_" + std::to_string(::getpid()) + ".calib.json");
  std::ofstream out(path);
  out << "{\"schema\": \"qopt-calib/1\", \"tensors\": {";
  for (size_t i = 0; i < tensors.size(); ++i) {
    out << (i ? "," : "") << "\"" << tensors[i] << "\": {\"min\": " << min << ", \"max\": 16, \"channel\": {"
        << (channels_last ? "\"axis\": 2, \"rule\": \"channels-last\"" : "\"axis\": 1, \"rule\": \"channels-first\"")
        << ", \"absmax\": [16, 1]}}";
  }
  out << "}}";
  return path.string();
}

std::vector<double> Values(const ir::Graph& /*graph*/, const ir::Node* node, int input) {
  const ir::Tensor* t = node->input(input)->constant();
  EXPECT_NE(t, nullptr);
  return t ? *t->ToDoubles() : std::vector<double>{};
}

const ir::Node* Producer(const ir::Graph& g, const std::string& value) { return g.FindValue(value)->producer(); }

// Runs smoothquant through the pass manager with a context of our own, so
// the derived ranges can be read.
PassContext RunSmooth(ir::Model& model, const std::string& options, Report& report) {
  PassRegistry registry;
  RegisterBuiltinPasses(registry);
  auto passes = BuildPipeline("smoothquant{" + options + "}", registry);
  EXPECT_TRUE(passes.ok()) << passes.status();
  PassManager manager;
  for (auto& p : *passes) manager.AddPass(std::move(p));
  PassContext context{&report};
  absl::Status s = manager.Run(model, context);
  EXPECT_TRUE(s.ok()) << s;
  return context;
}

constexpr char kLayerNorm[] = R"(
<ir_version: 8, opset_import: ["" : 17]>
g (float[1,3,2] X) => (float[1,3,2] Y)
<float[2] g = {1, 2}, float[2] b = {0.5, 1}, float[2,2] W = {1, -1, 4, 2}> {
  H = LayerNormalization(X, g, b)
  Y = MatMul(H, W)
}
)";

TEST(SmoothQuant, FoldsIntoLayerNormalizationAndPublishesRanges) {
  auto model = Parse(kLayerNorm);
  ASSERT_NE(model, nullptr);
  const std::string calib = WriteCalibration("sq_ln", {"H"}, true);
  Report report;
  PassContext context = RunSmooth(*model, "calibration=" + calib, report);
  const ir::Graph& g = model->graph();
  EXPECT_EQ(OpSequence(g), "LayerNormalization MatMul");
  const ir::Node* ln = Producer(g, "H");
  EXPECT_EQ(Values(g, ln, 1), (std::vector<double>{0.25, 4}));
  EXPECT_EQ(Values(g, ln, 2), (std::vector<double>{0.125, 2}));
  EXPECT_EQ(Values(g, Producer(g, "Y"), 1), (std::vector<double>{4, -4, 2, 1}));
  // New absmax = max(16 / 4, 1 / 0.5) = 4; the old min was negative.
  ASSERT_EQ(context.results.derived_ranges.count("H"), 1u);
  EXPECT_EQ(context.results.derived_ranges.at("H"), (std::pair<double, double>{-4, 4}));
  fs::remove(calib);
}

TEST(SmoothQuant, QuantizeUsesTheDerivedRange) {
  auto model = Parse(kLayerNorm);
  ASSERT_NE(model, nullptr);
  const std::string calib = WriteCalibration("sq_q", {"X", "H", "Y"}, true);
  RunExpectingSuccess(*model, "smoothquant{calibration=" + calib + "},quantize{calibration=" + calib + "}");
  const ir::Value* scale = model->graph().FindValue("H_scale");
  ASSERT_NE(scale, nullptr);
  ASSERT_NE(scale->constant(), nullptr);
  // [-4, 4] in uint8: 8 / 255, not the table's 32 / 255.
  EXPECT_FLOAT_EQ(static_cast<float>((*scale->constant()->ToDoubles())[0]), 8.0f / 255);
  fs::remove(calib);
}

TEST(SmoothQuant, FoldsIntoDecomposedLayerNorm) {
  auto model = Parse(R"(
<ir_version: 8, opset_import: ["" : 17]>
g (float[1,3,2] X) => (float[1,3,2] Y)
<float[2] g = {1, 2}, float[2] b = {0.5, 1}, float[2,2] W = {1, -1, 4, 2}> {
  M = Mul(X, g)
  A = Add(M, b)
  Y = MatMul(A, W)
}
)");
  ASSERT_NE(model, nullptr);
  const std::string calib = WriteCalibration("sq_dln", {"M", "A"}, true, 0);
  Report report;
  PassContext context = RunSmooth(*model, "calibration=" + calib, report);
  const ir::Graph& g = model->graph();
  EXPECT_EQ(Values(g, Producer(g, "M"), 1), (std::vector<double>{0.25, 4}));
  EXPECT_EQ(Values(g, Producer(g, "A"), 1), (std::vector<double>{0.125, 2}));
  // Both M and A changed; their old min was 0, so the new one is too.
  EXPECT_EQ(context.results.derived_ranges.at("M"), (std::pair<double, double>{0, 4}));
  EXPECT_EQ(context.results.derived_ranges.at("A"), (std::pair<double, double>{0, 4}));
  fs::remove(calib);
}

TEST(SmoothQuant, FoldsIntoBatchNormalizationAndConv) {
  auto model = Parse(R"(
<ir_version: 8, opset_import: ["" : 17]>
g (float[1,2,1,1] X, float[1,2,1,1] X2) => (float[1,2,1,1] Y, float[1,2,1,1] Y2)
<float[2] g = {1, 2}, float[2] b = {0.5, 1}, float[2] mean = {0, 0}, float[2] var = {1, 1},
 float[2,2,1,1] V = {1, 4, -1, 2}, float[2,2,1,1] V2 = {1, 4, -1, 2},
 float[2,1,1,1] Wc = {1, 2}, float[2] bc = {1, 1}> {
  B = BatchNormalization(X, g, b, mean, var)
  Y = Conv(B, V)
  C = Conv <group = 2> (X2, Wc, bc)
  Y2 = Conv(C, V2)
}
)");
  ASSERT_NE(model, nullptr);
  const std::string calib = WriteCalibration("sq_bn", {"B", "C"}, false);
  Report report;
  RunSmooth(*model, "calibration=" + calib, report);
  const ir::Graph& g = model->graph();
  EXPECT_EQ(Values(g, Producer(g, "B"), 1), (std::vector<double>{0.25, 4}));
  EXPECT_EQ(Values(g, Producer(g, "B"), 2), (std::vector<double>{0.125, 2}));
  EXPECT_EQ(Values(g, Producer(g, "Y"), 1), (std::vector<double>{4, 2, -4, 1}));
  EXPECT_EQ(Values(g, Producer(g, "C"), 1), (std::vector<double>{0.25, 4}));
  EXPECT_EQ(Values(g, Producer(g, "C"), 2), (std::vector<double>{0.25, 2}));
  EXPECT_EQ(Values(g, Producer(g, "Y2"), 1), (std::vector<double>{4, 2, -4, 1}));
  fs::remove(calib);
}

TEST(SmoothQuant, FoldsIntoProducerMatMulAndGemm) {
  auto model = Parse(R"(
<ir_version: 8, opset_import: ["" : 17]>
g (float[3,2] X, float[3,2] X2) => (float[3,2] Y, float[3,2] Y2)
<float[2,2] Wp = {1, 2, 3, 4}, float[2,2] W = {1, -1, 4, 2}, float[2,2] Wg = {1, 2, 3, 4}, float[2] c = {1, 1},
 float[2,2] W2 = {1, -1, 4, 2}> {
  P = MatMul(X, Wp)
  Y = MatMul(P, W)
  G = Gemm <transB = 1> (X2, Wg, c)
  Y2 = Gemm(G, W2)
}
)");
  ASSERT_NE(model, nullptr);
  const std::string calib = WriteCalibration("sq_mm", {"P", "G"}, true);
  Report report;
  RunSmooth(*model, "calibration=" + calib, report);
  const ir::Graph& g = model->graph();
  // MatMul [K, N]: column n is channel n.
  EXPECT_EQ(Values(g, Producer(g, "P"), 1), (std::vector<double>{0.25, 4, 0.75, 8}));
  // Gemm transB [N, K]: row n is channel n; the bias too.
  EXPECT_EQ(Values(g, Producer(g, "G"), 1), (std::vector<double>{0.25, 0.5, 6, 8}));
  EXPECT_EQ(Values(g, Producer(g, "G"), 2), (std::vector<double>{0.25, 2}));
  EXPECT_EQ(Values(g, Producer(g, "Y2"), 1), (std::vector<double>{4, -4, 2, 1}));
  fs::remove(calib);
}

TEST(SmoothQuant, InsertsAMulWhereNothingCanFold) {
  auto model = Parse(R"(
<ir_version: 8, opset_import: ["" : 17]>
g (float[1,3,2] X) => (float[1,3,2] Y, float[1,3,2] Z)
<float[2,2] W = {1, -1, 4, 2}, float[2,2] W2 = {1, -1, 2, 2}> {
  S = Softmax(X)
  Y = MatMul(S, W)
  Z = MatMul(S, W2)
}
)");
  ASSERT_NE(model, nullptr);
  const std::string calib = WriteCalibration("sq_mul", {"S"}, true, 0);
  Report report;
  PassContext context = RunSmooth(*model, "calibration=" + calib, report);
  const ir::Graph& g = model->graph();
  EXPECT_EQ(OpSequence(g), "Softmax Mul MatMul MatMul");
  // One s for both consumers, from max|W_j| over both: still {1, 4}.
  const ir::Node* mul = Producer(g, "Y")->input(0)->producer();
  ASSERT_EQ(mul->op_type(), "Mul");
  EXPECT_EQ(Values(g, mul, 1), (std::vector<double>{0.25, 2}));
  EXPECT_EQ(Producer(g, "Z")->input(0), mul->output(0));
  EXPECT_EQ(Values(g, Producer(g, "Z"), 1), (std::vector<double>{4, -4, 1, 1}));
  EXPECT_EQ(context.results.derived_ranges.at(mul->output(0)->name()), (std::pair<double, double>{0, 4}));
  EXPECT_EQ(context.results.derived_ranges.count("S"), 0u);  // S itself is unchanged
  EXPECT_EQ(PassStatistic(report, "smoothquant", "muls-inserted"), 1);
  fs::remove(calib);
}

// Each refusal leaves the model alone and says why.
struct RefusalCase {
  const char* name;
  const char* body;
  const char* options;
  const char* reason;
};

TEST(SmoothQuant, Refusals) {
  const RefusalCase cases[] = {
      {"relu_no_mul", "S = Relu(X)\n Y = MatMul(S, W)\n", " insert-mul=none", "cannot fold 1/s"},
      {"mixed", "S = Relu(X)\n Y = MatMul(S, W)\n Z = Sigmoid(S)\n", "", "also read by"},
      {"no_stats", "T = Relu(X)\n Y = MatMul(T, W)\n", "", "no per-channel statistics for 'T'"},
  };
  for (const RefusalCase& c : cases) {
    SCOPED_TRACE(c.name);
    auto model = Parse(std::string(R"(
<ir_version: 8, opset_import: ["" : 17]>
g (float[2,2] X) => (float[2,2] Y)
<float[2,2] W = {1, -1, 4, 2}> {
  )") + c.body + "}\n");
    ASSERT_NE(model, nullptr);
    const std::string calib = WriteCalibration(std::string("sq_") + c.name, {"S"}, true);
    Report report;
    RunSmooth(*model, "calibration=" + calib + c.options, report);
    ASSERT_EQ(report.analyses().size(), 1u);
    const nlohmann::json& data = report.analyses()[0].data;
    EXPECT_EQ(data["smoothed"].size(), 0u);
    ASSERT_EQ(data["refused"].size(), 1u);
    EXPECT_NE(data["refused"][0]["reason"].get<std::string>().find(c.reason), std::string::npos)
        << data["refused"][0]["reason"];
    EXPECT_EQ(Values(model->graph(), model->graph().FindValue("Y")->producer(), 1).size(), 4u);
    fs::remove(calib);
  }
}

TEST(SmoothQuant, RefusesGroupedConvAndConvWithoutFold) {
  auto model = Parse(R"(
<ir_version: 8, opset_import: ["" : 17]>
g (float[1,2,1,1] X, float[1,2,1,1] X2) => (float[1,2,1,1] Y, float[1,2,1,1] Y2)
<float[2,1,1,1] Vd = {1, 4}, float[2,2,1,1] V = {1, 4, -1, 2}> {
  E = Relu(X)
  Y = Conv <group = 2> (E, Vd)
  D = Relu(X2)
  Y2 = Conv(D, V)
}
)");
  ASSERT_NE(model, nullptr);
  const std::string calib = WriteCalibration("sq_gc", {"E", "D"}, false);
  Report report;
  RunSmooth(*model, "calibration=" + calib, report);
  const nlohmann::json& data = report.analyses()[0].data;
  ASSERT_EQ(data["refused"].size(), 2u);
  EXPECT_NE(data["refused"][0]["reason"].get<std::string>().find("grouped or depthwise"), std::string::npos);
  EXPECT_NE(data["refused"][1]["reason"].get<std::string>().find("insert-mul=matmul"), std::string::npos);
  // insert-mul=all inserts a Mul of shape [2, 1, 1] in front of the dense conv.
  auto again = Parse(R"(
<ir_version: 8, opset_import: ["" : 17]>
g (float[1,2,1,1] X2) => (float[1,2,1,1] Y2)
<float[2,2,1,1] V = {1, 4, -1, 2}> {
  D = Relu(X2)
  Y2 = Conv(D, V)
}
)");
  Report report2;
  RunSmooth(*again, "calibration=" + calib + " insert-mul=all", report2);
  EXPECT_EQ(OpSequence(again->graph()), "Relu Mul Conv");
  const ir::Node* mul = again->graph().FindValue("Y2")->producer()->input(0)->producer();
  EXPECT_EQ(mul->input(1)->constant()->dims(), (std::vector<int64_t>{2, 1, 1}));
  fs::remove(calib);
}

TEST(SmoothQuant, AutoAlphaPicksFromTheGrid) {
  auto model = Parse(kLayerNorm);
  ASSERT_NE(model, nullptr);
  const std::string calib = WriteCalibration("sq_auto", {"H"}, true);
  Report report;
  RunSmooth(*model, "calibration=" + calib + " alpha=auto", report);
  const nlohmann::json& data = report.analyses()[0].data;
  ASSERT_EQ(data["smoothed"].size(), 1u);
  const double alpha = data["smoothed"][0]["alpha"].get<double>();
  EXPECT_GE(alpha, 0.0);
  EXPECT_LE(alpha, 1.0);
  EXPECT_LT(data["smoothed"][0]["estimate_ratio"].get<double>(), 1.0);
  fs::remove(calib);
}

}  // namespace
}  // namespace qopt

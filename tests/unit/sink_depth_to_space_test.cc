// sink-depth-to-space on small models: the float form evaluated before and
// after with a reference DepthToSpace written from the ONNX specification
// (reshape, transpose, reshape) and a reference 1x1 Conv; the QDQ form
// (per tensor, per channel, DCR and CRD) checked element by element against
// the layout W'[s*Co + o, s*C + c] = W[o, c] (DCR) with the weight zero point
// off the blocks; and every case the pass must decline, with its statistic.
// ONNX Runtime runs the rewritten models in tests/ort/sink_depth_to_space.sh.
#include <array>
#include <functional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "gtest/gtest.h"
#include "tests/unit/qdq_model_builder.h"
#include "tests/unit/test_util.h"

namespace qopt {
namespace {

using testing::OpSequence;
using testing::Parse;
using testing::QdqModelBuilder;
using testing::QParams;

constexpr char kPass[] = "sink-depth-to-space";

Report RunPass(ir::Model& model, const std::string& pipeline = kPass) {
  return testing::RunExpectingSuccess(model, pipeline);
}

int64_t Stat(const Report& report, const std::string& name) { return testing::PassStatistic(report, kPass, name); }

// Every statistic of the pass that is not zero, as "name=value ...".
std::string NonZeroStats(const Report& report) {
  std::string out;
  for (const PassRun& run : report.passes()) {
    if (run.name != kPass) continue;
    for (const auto& [name, value] : run.statistics.items()) {
      if (value.get<int64_t>() != 0) absl::StrAppend(&out, out.empty() ? "" : " ", name, "=", value.get<int64_t>());
    }
  }
  return out;
}

const ir::Node* FirstNode(const ir::Graph& graph, const std::string& op) {
  for (const ir::Node* n : graph.node_list()) {
    if (n->op_type() == op) return n;
  }
  ADD_FAILURE() << "no " << op;
  return nullptr;
}

std::vector<double> Doubles(const ir::Value* v) {
  EXPECT_TRUE(v != nullptr && v->constant() != nullptr);
  if (v == nullptr || v->constant() == nullptr) return {};
  auto values = v->constant()->ToDoubles();
  EXPECT_TRUE(values.ok()) << values.status();
  return values.ok() ? *values : std::vector<double>{};
}

std::vector<int64_t> Ints(const ir::Value* v) {
  EXPECT_TRUE(v != nullptr && v->constant() != nullptr);
  if (v == nullptr || v->constant() == nullptr) return {};
  auto values = v->constant()->ToInt64s();
  EXPECT_TRUE(values.ok()) << values.status();
  return values.ok() ? *values : std::vector<int64_t>{};
}

// "{1, 2, ..., n}"
std::string Iota(int n) {
  std::string out = "{";
  for (int i = 1; i <= n; ++i) absl::StrAppend(&out, i == 1 ? "" : ", ", i);
  return out + "}";
}

// ---- a reference evaluator for the float form (batch 1) ---------------------

struct Image {
  int64_t c = 0, h = 0, w = 0;
  std::vector<double> v;
  double at(int64_t ci, int64_t y, int64_t x) const { return v[(ci * h + y) * w + x]; }
  double& at(int64_t ci, int64_t y, int64_t x) { return v[(ci * h + y) * w + x]; }
};

// DepthToSpace as the ONNX specification writes it, without the batch axis:
// DCR views x as [b, b, C, H, W] and transposes it by (2, 3, 0, 4, 1), CRD
// views it as [C, b, b, H, W] and transposes by (0, 3, 1, 4, 2); the result
// [C, H, b, W, b] is read as [C, H*b, W*b].
Image DepthToSpaceRef(const Image& in, int64_t b, const std::string& mode) {
  const int64_t c = in.c / (b * b);
  const bool dcr = mode == "DCR";
  const std::array<int64_t, 5> view = dcr ? std::array<int64_t, 5>{b, b, c, in.h, in.w}
                                          : std::array<int64_t, 5>{c, b, b, in.h, in.w};
  const std::array<int, 5> perm = dcr ? std::array<int, 5>{2, 3, 0, 4, 1} : std::array<int, 5>{0, 3, 1, 4, 2};
  Image out{c, in.h * b, in.w * b, std::vector<double>(in.v.size())};
  for (int64_t co = 0; co < c; ++co) {
    for (int64_t h = 0; h < in.h; ++h) {
      for (int64_t i = 0; i < b; ++i) {
        for (int64_t w = 0; w < in.w; ++w) {
          for (int64_t j = 0; j < b; ++j) {
            const std::array<int64_t, 5> out_index = {co, h, i, w, j};
            std::array<int64_t, 5> in_index{};
            for (int k = 0; k < 5; ++k) in_index[perm[k]] = out_index[k];
            int64_t linear = 0;
            for (int k = 0; k < 5; ++k) linear = linear * view[k] + in_index[k];
            out.at(co, h * b + i, w * b + j) = in.v[linear];
          }
        }
      }
    }
  }
  return out;
}

// y[o] = B[o] + sum_c W[o, c] x[c], pixel by pixel.
Image Conv1x1Ref(const Image& in, const std::vector<double>& weights, const std::vector<double>& bias) {
  const int64_t co = static_cast<int64_t>(bias.size());
  EXPECT_EQ(static_cast<int64_t>(weights.size()), co * in.c);
  Image out{co, in.h, in.w, std::vector<double>(co * in.h * in.w)};
  for (int64_t o = 0; o < co; ++o) {
    for (int64_t y = 0; y < in.h; ++y) {
      for (int64_t x = 0; x < in.w; ++x) {
        double sum = bias[o];
        for (int64_t c = 0; c < in.c; ++c) sum += weights[o * in.c + c] * in.at(c, y, x);
        out.at(o, y, x) = sum;
      }
    }
  }
  return out;
}

// A float site: X [1, b*b*2, H, W] -> DepthToSpace -> Conv1x1 (2 -> 3).
std::string FloatSite(const std::string& d2s_attrs, const std::string& conv_attrs, const std::string& x_dims,
                      const std::string& w = "float[3,2,1,1] W = {1, -2, 3, 4, -5, 6}") {
  return absl::StrReplaceAll(R"(
<ir_version: 8, opset_import: ["" : 13]>
g (float[X_DIMS] X) => (float[n,c,h,w] Y) <W_DECL, float[3] B = {0.5, -1, 2}> {
  D = DepthToSpace <D2S_ATTRS> (X)
  Y = Conv CONV_ATTRS (D, W, B)
}
)",
                             {{"X_DIMS", x_dims},
                              {"W_DECL", w},
                              {"D2S_ATTRS", d2s_attrs},
                              {"CONV_ATTRS", conv_attrs.empty() ? "" : "<" + conv_attrs + ">"}});
}

// Evaluates the site before and after the pass on a ramp input and expects
// the same numbers (they are sums of exact products: integers times quarters).
void ExpectSameNumbers(const std::string& text, int64_t b, const std::string& mode, int64_t h, int64_t w) {
  auto model = Parse(text);
  ASSERT_NE(model, nullptr);
  const int64_t c = 2;
  Image x{b * b * c, h, w, {}};
  for (int64_t i = 0; i < x.c * h * w; ++i) x.v.push_back(0.25 * static_cast<double>(i) - 3);
  const std::vector<double> weights = Doubles(model->graph().FindValue("W"));
  const std::vector<double> bias = Doubles(model->graph().FindValue("B"));
  const Image before = Conv1x1Ref(DepthToSpaceRef(x, b, mode), weights, bias);

  Report report = RunPass(*model);
  EXPECT_EQ(Stat(report, "sunk-float"), 1) << NonZeroStats(report);
  ASSERT_EQ(OpSequence(model->graph()), "Conv DepthToSpace");
  const ir::Node* conv = FirstNode(model->graph(), "Conv");
  const ir::Node* d2s = FirstNode(model->graph(), "DepthToSpace");
  EXPECT_EQ(conv->input(0)->name(), "X");
  EXPECT_EQ(d2s->output()->name(), "Y");  // the graph output keeps its name
  EXPECT_EQ(d2s->GetInt("blocksize"), b);
  EXPECT_EQ(d2s->GetString("mode").value_or("DCR"), mode);
  const std::vector<double> wide_w = Doubles(conv->input(1));
  const std::vector<double> wide_b = Doubles(conv->input(2));
  EXPECT_EQ(conv->input(1)->constant()->dims(), (std::vector<int64_t>{b * b * 3, b * b * c, 1, 1}));
  const Image after = DepthToSpaceRef(Conv1x1Ref(x, wide_w, wide_b), b, mode);
  EXPECT_EQ(after.c, before.c);
  EXPECT_EQ(after.v, before.v);
  // The old constants are untouched (dce removes them).
  EXPECT_EQ(Doubles(model->graph().FindValue("W")), weights);
}

TEST(SinkDepthToSpace, FloatDcrGivesTheSameNumbers) {
  ExpectSameNumbers(FloatSite(R"(blocksize = 2, mode = "DCR")", "kernel_shape = [1, 1]", "1,8,2,3"), 2, "DCR", 2, 3);
}

TEST(SinkDepthToSpace, FloatCrdGivesTheSameNumbers) {
  ExpectSameNumbers(FloatSite(R"(blocksize = 2, mode = "CRD")", "kernel_shape = [1, 1]", "1,8,2,3"), 2, "CRD", 2, 3);
  ExpectSameNumbers(FloatSite(R"(blocksize = 3, mode = "CRD")", "kernel_shape = [1, 1]", "1,18,2,1"), 3, "CRD", 2, 1);
}

TEST(SinkDepthToSpace, FloatDefaultModeAndTrivialAttributesKept) {
  // No mode attribute means DCR; explicit trivial strides, pads, dilations,
  // group and auto_pad VALID are kept on the new Conv as they were.
  const std::string conv_attrs =
      R"(auto_pad = "VALID", dilations = [1, 1], group = 1, kernel_shape = [1, 1], strides = [1, 1])";
  ExpectSameNumbers(FloatSite("blocksize = 2", conv_attrs, "1,8,3,2"), 2, "DCR", 3, 2);
  auto model = Parse(FloatSite("blocksize = 2", "pads = [0, 0, 0, 0], strides = [1, 1]", "1,8,3,2"));
  RunPass(*model);
  const ir::Node* conv = FirstNode(model->graph(), "Conv");
  EXPECT_EQ(conv->GetInts("pads"), (std::vector<int64_t>{0, 0, 0, 0}));
  EXPECT_EQ(conv->GetInts("strides"), (std::vector<int64_t>{1, 1}));
  EXPECT_EQ(conv->attributes().size(), 2u);
  EXPECT_EQ(FirstNode(model->graph(), "DepthToSpace")->FindAttribute("mode"), nullptr);
}

TEST(SinkDepthToSpace, FloatChainMovesThroughTwoConvs) {
  // D -> Conv (2 -> 3) -> Conv (3 -> 1): the DepthToSpace ends after both,
  // and the internal value Z keeps its name as the first new DepthToSpace's
  // output until that one moves on.
  auto model = Parse(R"(
<ir_version: 8, opset_import: ["" : 13]>
g (float[1,8,2,3] X) => (float[1,1,4,6] Y)
  <float[3,2,1,1] W = {1, -2, 3, 4, -5, 6}, float[1,3,1,1] W2 = {1, 2, 3}> {
  D = DepthToSpace <blocksize = 2> (X)
  Z = Conv(D, W)
  Y = Conv(Z, W2)
}
)");
  Report report = RunPass(*model, "sink-depth-to-space,dce");
  EXPECT_EQ(Stat(report, "sunk-float"), 2);
  EXPECT_EQ(OpSequence(model->graph()), "Conv Conv DepthToSpace");
  const ir::Node* last = FirstNode(model->graph(), "DepthToSpace");
  EXPECT_EQ(last->output()->name(), "Y");
  EXPECT_EQ(last->input(0)->producer()->input(1)->constant()->dims(), (std::vector<int64_t>{4, 12, 1, 1}));
}

// ---- the QDQ form -----------------------------------------------------------

// Declares the 1x1 Conv's weight W [3,2,1,1] (stored as Wq, scale ws, zero
// point wz) and bias B [3] (Bq, bs, bz) behind DequantizeLinear nodes.
using ConvConstants = std::function<void(QdqModelBuilder&)>;

constexpr char kConvWeights[] = "int8[3,2,1,1]";
const std::vector<double> kWeightValues = {1, -2, 3, -4, 5, -6};
const std::vector<double> kBiasValues = {10, -20, 30};

void PerTensorInt8(QdqModelBuilder& b) {
  b.Weight("W", kConvWeights, kWeightValues, b.PerTensor("ws", 0.25, "wz", "int8", 0))
      .Weight("B", "int32[3]", kBiasValues, b.PerTensor("bs", 0.125, "bz", "int32", 0));
}

// Per output channel: W and B along axis 0.
void PerChannelInt8(QdqModelBuilder& b) {
  b.Weight("W", kConvWeights, kWeightValues, b.PerChannel("ws", {0.25, 0.5, 0.125}, "wz", "int8", {0, 0, 0}, 0))
      .Weight("B", "int32[3]", kBiasValues, b.PerChannel("bs", {0.125, 0.25, 0.0625}, "bz", "int32", {0, 0, 0}, 0));
}

void PerTensorUint8(QdqModelBuilder& b) {
  b.Weight("W", "uint8[3,2,1,1]", {1, 200, 3, 40, 5, 60}, b.PerTensor("ws", 0.25, "wz", "uint8", 7))
      .Weight("B", "int32[3]", kBiasValues, b.PerTensor("bs", 0.125, "bz", "int32", 0));
}

// The Conv with its output quantized by `y` into Zq, and Y = DQ(Zq).
void QuantizedConv(QdqModelBuilder& b, const QParams& y) {
  b.Unit("Z = Conv <kernel_shape = [1, 1]> (D, W, B)", y, "Y");
}

// Xq [1, 8, 2, 3] -> DepthToSpace(2) -> DQ -> Conv1x1 (2 -> 3) -> Q -> DQ -> Y.
QdqModelBuilder QdqSite(const ConvConstants& constants, const std::string& mode = "DCR", int64_t opset = 13) {
  QdqModelBuilder b(opset);
  b.Input("Xq", "uint8[1,8,2,3]").Output("Y", "float[1,3,4,6]");
  const QParams x = b.PerTensor("xs", 0.5, "xz", "uint8", 128);
  const QParams y = b.PerTensor("ys", 0.75, "yz", "uint8", 100);
  b.Node(absl::StrCat("Dq = DepthToSpace <blocksize = 2, mode = \"", mode, "\"> (Xq)")).Dequantize("D", "Dq", x);
  constants(b);
  QuantizedConv(b, y);
  return b;
}

// Checks the rewritten QDQ site: the op order, the names, and W' element by
// element: row r of sub-pixel s and output channel o, column k of sub-pixel
// s' and input channel c hold Wq[o, c] when s == s', else the zero point.
// The old constants stay as they were (dce removes them).
void ExpectQdqRewrite(ir::Model& model, const std::string& mode, const std::vector<int64_t>& zero_points) {
  const std::vector<int64_t> w = Ints(model.graph().FindValue("Wq"));
  const std::vector<int64_t> b = Ints(model.graph().FindValue("Bq"));
  const std::vector<double> ws = Doubles(model.graph().FindValue("ws"));
  Report report = RunPass(model);
  EXPECT_EQ(Stat(report, "sunk-qdq"), 1) << NonZeroStats(report);
  EXPECT_EQ(Ints(model.graph().FindValue("Wq")), w);
  EXPECT_EQ(Ints(model.graph().FindValue("Bq")), b);
  EXPECT_EQ(Doubles(model.graph().FindValue("ws")), ws);
  RunPass(model, "dce");
  ASSERT_EQ(OpSequence(model.graph()),
            "DequantizeLinear DequantizeLinear DequantizeLinear Conv QuantizeLinear DepthToSpace DequantizeLinear");
  const ir::Graph& g = model.graph();
  const ir::Node* dq = FirstNode(g, "DequantizeLinear");
  const ir::Node* conv = FirstNode(g, "Conv");
  const ir::Node* d2s = FirstNode(g, "DepthToSpace");
  EXPECT_EQ(dq->input(0)->name(), "Xq");
  EXPECT_EQ(dq->input(1)->name(), "xs");
  EXPECT_EQ(conv->input(0), dq->output());
  EXPECT_EQ(conv->GetInts("kernel_shape"), (std::vector<int64_t>{1, 1}));
  EXPECT_EQ(d2s->output()->name(), "Zq");  // keeps its name and its reader
  EXPECT_EQ(d2s->GetString("mode"), mode);
  EXPECT_EQ(d2s->output()->uses().size(), 1u);
  EXPECT_EQ(d2s->input(0)->producer()->input(1)->name(), "ys");

  const ir::Node* wdq = conv->input(1)->producer();
  ASSERT_NE(wdq, nullptr);
  const std::vector<int64_t> wide = Ints(wdq->input(0));
  ASSERT_EQ(wdq->input(0)->constant()->dims(), (std::vector<int64_t>{12, 8, 1, 1}));
  const bool dcr = mode == "DCR";
  for (int64_t r = 0; r < 12; ++r) {
    const int64_t s = dcr ? r / 3 : r % 4, o = dcr ? r % 3 : r / 4;
    for (int64_t k = 0; k < 8; ++k) {
      const int64_t s2 = dcr ? k / 2 : k % 4, c = dcr ? k % 2 : k / 4;
      const int64_t zero = zero_points.size() == 1 ? zero_points[0] : zero_points[o];
      EXPECT_EQ(wide[r * 8 + k], s == s2 ? w[o * 2 + c] : zero) << "row " << r << " column " << k;
    }
  }
  const ir::Node* bdq = conv->input(2)->producer();
  ASSERT_NE(bdq, nullptr);
  const std::vector<int64_t> wide_b = Ints(bdq->input(0));
  ASSERT_EQ(wide_b.size(), 12u);
  for (int64_t r = 0; r < 12; ++r) EXPECT_EQ(wide_b[r], b[dcr ? r % 3 : r / 4]) << "bias row " << r;
}

TEST(SinkDepthToSpace, QdqPerTensorInt8) {
  auto model = QdqSite(PerTensorInt8).Build();
  ExpectQdqRewrite(*model, "DCR", {0});
  // Per tensor: the scale and zero point are the old ones.
  const ir::Node* wdq = FirstNode(model->graph(), "Conv")->input(1)->producer();
  EXPECT_EQ(wdq->input(1)->name(), "ws");
  EXPECT_EQ(wdq->input(2)->name(), "wz");
}

TEST(SinkDepthToSpace, QdqPerTensorUint8FillsTheZeroPoint) {
  auto model = QdqSite(PerTensorUint8, "CRD").Build();
  ExpectQdqRewrite(*model, "CRD", {7});
}

TEST(SinkDepthToSpace, QdqPerChannelSpreadsScalesWithTheRows) {
  for (const std::string mode : {"DCR", "CRD"}) {
    SCOPED_TRACE(mode);
    auto model = QdqSite(PerChannelInt8, mode).Build();
    ExpectQdqRewrite(*model, mode, {0, 0, 0});
    const ir::Node* conv = FirstNode(model->graph(), "Conv");
    const ir::Node* wdq = conv->input(1)->producer();
    const ir::Node* bdq = conv->input(2)->producer();
    EXPECT_EQ(wdq->GetInt("axis"), 0);
    const std::vector<double> ws = {0.25, 0.5, 0.125}, bs = {0.125, 0.25, 0.0625};
    const std::vector<double> wide_ws = Doubles(wdq->input(1)), wide_bs = Doubles(bdq->input(1));
    ASSERT_EQ(wide_ws.size(), 12u);
    ASSERT_EQ(wide_bs.size(), 12u);
    EXPECT_EQ(Ints(wdq->input(2)).size(), 12u);
    for (int r = 0; r < 12; ++r) {
      const int o = mode == "DCR" ? r % 3 : r / 4;  // DCR: s*Co + o; CRD: o*b*b + s
      EXPECT_EQ(wide_ws[r], ws[o]) << r;
      EXPECT_EQ(wide_bs[r], bs[o]) << r;
    }
  }
}

TEST(SinkDepthToSpace, QdqSharedWeightDequantizeStaysForItsOtherReader) {
  // W also feeds another Conv: that one still reads the old W and Wq.
  QdqModelBuilder b;
  b.Input("Xq", "uint8[1,8,2,3]").Input("X2", "float[1,2,4,6]");
  b.Output("Zq", "uint8[1,3,4,6]").Output("Z2", "float[1,3,4,6]");
  const QParams x = b.PerTensor("xs", 0.5, "xz", "uint8", 128);
  const QParams y = b.PerTensor("ys", 0.75, "yz", "uint8", 100);
  const QParams weight = b.PerTensor("ws", 0.25, "wz", "int8", 0);
  b.Node("Dq = DepthToSpace <blocksize = 2> (Xq)")
      .Dequantize("D", "Dq", x)
      .Weight("W", kConvWeights, kWeightValues, weight)
      .Node("Z = Conv(D, W)")
      .Quantize("Zq", "Z", y)
      .Node("Z2 = Conv(X2, W)");
  auto model = b.Build();
  Report report = RunPass(*model, "sink-depth-to-space,dce");
  EXPECT_EQ(Stat(report, "sunk-qdq"), 1);
  EXPECT_EQ(OpSequence(model->graph()),
            "DequantizeLinear DequantizeLinear DequantizeLinear Conv QuantizeLinear DepthToSpace Conv");
  const ir::Value* w = model->graph().FindValue("W");
  ASSERT_NE(w, nullptr);
  ASSERT_EQ(w->uses().size(), 1u);
  EXPECT_EQ(w->uses()[0].user->output()->name(), "Z2");
  EXPECT_EQ(Ints(model->graph().FindValue("Wq")), (std::vector<int64_t>{1, -2, 3, -4, 5, -6}));
  // Zq was a graph output: it keeps its name (and its type), now from the DepthToSpace.
  EXPECT_EQ(model->graph().outputs()[0]->name(), "Zq");
  EXPECT_EQ(model->graph().outputs()[0]->producer()->op_type(), "DepthToSpace");
}

TEST(SinkDepthToSpace, QdqThroughThePipelineAfterPropagateQdq) {
  // The det head as quantize writes it: the DQ sits above the DepthToSpace
  // until propagate-qdq sinks it and qdq-cleanup drops the Q/DQ pair.
  QdqModelBuilder b;
  b.Input("X", "float[1,8,2,3]").Output("Y", "float[1,3,4,6]");
  const QParams x = b.PerTensor("xs", 0.5, "xz", "uint8", 128);
  const QParams y = b.PerTensor("ys", 0.75, "yz", "uint8", 100);
  b.QDQ("X", x)
      .Node(R"(Dd = DepthToSpace <blocksize = 2, mode = "DCR"> (Xd))")
      .Quantize("Dq", "Dd", x)
      .Dequantize("D", "Dq", x);
  PerTensorInt8(b);
  QuantizedConv(b, y);
  auto model = b.Build();
  Report report = RunPass(*model, "qdq-cleanup,propagate-qdq,qdq-cleanup,sink-depth-to-space,fuse-qdq-units,dce");
  EXPECT_EQ(Stat(report, "sunk-qdq"), 1);
  EXPECT_EQ(OpSequence(model->graph()), "QuantizeLinear QLinearConv DepthToSpace DequantizeLinear");
}

TEST(SinkDepthToSpace, FloatInputQuantizedOutputPutsTheDepthToSpaceAfterTheQ) {
  // A DepthToSpace on floats between a DQ and a QDQ Conv unit: the Conv
  // keeps its Q right after it (fuse-qdq-units can still fuse it).
  QdqModelBuilder b;
  b.Input("Xf", "float[1,8,2,3]").Output("Y", "float[1,3,4,6]");
  const QParams y = b.PerTensor("ys", 0.75, "yz", "uint8", 100);
  b.Node(R"(D = DepthToSpace <blocksize = 2, mode = "DCR"> (Xf))");
  PerTensorInt8(b);
  QuantizedConv(b, y);
  auto model = b.Build();
  ASSERT_NE(model, nullptr);
  ASSERT_EQ(OpSequence(model->graph()),
            "DepthToSpace DequantizeLinear DequantizeLinear Conv QuantizeLinear DequantizeLinear");
  Report report = RunPass(*model, "sink-depth-to-space,dce");
  EXPECT_EQ(Stat(report, "sunk-float"), 1) << NonZeroStats(report);
  EXPECT_EQ(OpSequence(model->graph()),
            "DequantizeLinear DequantizeLinear Conv QuantizeLinear DepthToSpace DequantizeLinear");
  EXPECT_EQ(FirstNode(model->graph(), "DepthToSpace")->output()->name(), "Zq");
}

// ---- declined sites -----------------------------------------------------------

// Runs the pass on `text`, expects nothing to change and exactly
// `statistic` = 1 among the pass's statistics.
void ExpectDeclined(const std::string& text, const std::string& statistic) {
  auto model = Parse(text);
  ASSERT_NE(model, nullptr);
  const std::string before = OpSequence(model->graph());
  Report report = RunPass(*model);
  EXPECT_EQ(OpSequence(model->graph()), before);
  EXPECT_FALSE(report.passes()[0].changed);
  EXPECT_EQ(NonZeroStats(report), statistic.empty() ? "" : statistic + "=1");
}

TEST(SinkDepthToSpace, DeclinesKernelsOtherThanOneByOne) {
  ExpectDeclined(FloatSite("blocksize = 2", "kernel_shape = [3, 3]", "1,8,4,4", "float[3,2,3,3] W = " + Iota(54)),
                 "declined-kernel");
  // No kernel_shape attribute: the weight's dims say 3x3.
  ExpectDeclined(FloatSite("blocksize = 2", "", "1,8,4,4", "float[3,2,3,3] W = " + Iota(54)),
                 "declined-kernel");
  // A bias that is not [Co].
  ExpectDeclined(absl::StrReplaceAll(FloatSite("blocksize = 2", "", "1,8,2,3"),
                                     {{"float[3] B = {0.5, -1, 2}", "float[2] B = {0.5, -1}"}}),
                 "declined-kernel");
}

TEST(SinkDepthToSpace, DeclinesGroups) {
  ExpectDeclined(FloatSite("blocksize = 2", "group = 2", "1,8,2,3", "float[4,1,1,1] W = {1, 2, 3, 4}"),
                 "declined-group");
}

TEST(SinkDepthToSpace, DeclinesNonTrivialGeometry) {
  for (const std::string attrs : {"strides = [2, 2]", "dilations = [1, 2]", "pads = [0, 0, 1, 1]",
                                  R"(auto_pad = "SAME_UPPER")", R"(auto_pad = "SAME_LOWER")"}) {
    SCOPED_TRACE(attrs);
    ExpectDeclined(FloatSite("blocksize = 2", attrs, "1,8,2,3"), "declined-geometry");
  }
}

TEST(SinkDepthToSpace, DeclinesWeightsOrBiasNotConstant) {
  // W and B as graph inputs (a caller may feed them).
  ExpectDeclined(R"(
<ir_version: 8, opset_import: ["" : 13]>
g (float[1,8,2,3] X, float[3,2,1,1] W) => (float Y) {
  D = DepthToSpace <blocksize = 2> (X)
  Y = Conv(D, W)
}
)",
                 "declined-not-constant");
  ExpectDeclined(R"(
<ir_version: 8, opset_import: ["" : 13]>
g (float[1,8,2,3] X, float[3] B) => (float Y) <float[3,2,1,1] W = {1, 2, 3, 4, 5, 6}> {
  D = DepthToSpace <blocksize = 2> (X)
  Y = Conv(D, W, B)
}
)",
                 "declined-not-constant");
  // A DQ of an integer graph input.
  QdqModelBuilder b;
  b.Input("Xq", "uint8[1,8,2,3]").Input("Wq", kConvWeights).Output("Zq", "uint8");
  const QParams x = b.PerTensor("xs", 0.5, "xz", "uint8", 128);
  const QParams weight = b.PerTensor("ws", 0.25, "wz", "int8", 0);
  const QParams y = b.PerTensor("ys", 0.75, "yz", "uint8", 100);
  b.Node("Dq = DepthToSpace <blocksize = 2> (Xq)")
      .Dequantize("D", "Dq", x)
      .Dequantize("W", "Wq", weight)
      .Node("Z = Conv(D, W)")
      .Quantize("Zq", "Z", y);
  ExpectDeclined(b.Text(), "declined-not-constant");
}

TEST(SinkDepthToSpace, DeclinesWhenTheDepthToSpaceOutputHasOtherReaders) {
  // Also a graph output.
  ExpectDeclined(R"(
<ir_version: 8, opset_import: ["" : 13]>
g (float[1,8,2,3] X) => (float Y, float D) <float[3,2,1,1] W = {1, 2, 3, 4, 5, 6}> {
  D = DepthToSpace <blocksize = 2> (X)
  Y = Conv(D, W)
}
)",
                 "declined-other-users");
  // Also read by a Relu.
  ExpectDeclined(R"(
<ir_version: 8, opset_import: ["" : 13]>
g (float[1,8,2,3] X) => (float Y, float R) <float[3,2,1,1] W = {1, 2, 3, 4, 5, 6}> {
  D = DepthToSpace <blocksize = 2> (X)
  Y = Conv(D, W)
  R = Relu(D)
}
)",
                 "declined-other-users");
  // The DQ after it is read twice.
  ExpectDeclined(QdqSite(PerTensorInt8).Output("D", "float").Text(), "declined-other-users");
}

TEST(SinkDepthToSpace, DeclinesUnknownModes) {
  ExpectDeclined(FloatSite(R"(blocksize = 2, mode = "RDC")", "", "1,8,2,3"), "declined-mode");
  ExpectDeclined(FloatSite(R"(mode = "DCR")", "", "1,8,2,3"), "declined-mode");  // no blocksize
}

TEST(SinkDepthToSpace, DeclinesBlockWiseQuantization) {
  const auto block_wise = [](QdqModelBuilder& b) {
    b.Constant("ws", "float[3,1,1,1]", {0.25, 0.25, 0.25}).Constant("wz", "int8[3,1,1,1]", {0, 0, 0});
    b.Weight("W", kConvWeights, kWeightValues, QParams("ws", "wz").Axis(1).BlockSize(2))
        .Weight("B", "int32[3]", kBiasValues, b.PerTensor("bs", 0.125, "bz", "int32", 0));
  };
  ExpectDeclined(QdqSite(block_wise, "DCR", /*opset=*/21).Text(), "declined-block-wise");
}

TEST(SinkDepthToSpace, DeclinesWeightTypesItDoesNotHandle) {
  // int4 weights (packed two per byte): set after parsing, as libonnx 1.12's
  // parser does not know int4.
  auto model = QdqSite(PerTensorInt8).Build();
  ASSERT_NE(model, nullptr);
  model->graph().FindValue("Wq")->ResetInitializer(ir::ElementType::kInt4, {3, 2, 1, 1},
                                                   std::string("\x21\x43\x65", 3));
  model->graph().FindValue("wz")->ResetInitializer(ir::ElementType::kInt4, {}, std::string(1, '\0'));
  Report report = RunPass(*model);
  EXPECT_EQ(NonZeroStats(report), "declined-type=1");
  // An integer constant read as float weights.
  ExpectDeclined(FloatSite("blocksize = 2", "", "1,8,2,3", "int64[3,2,1,1] W = {1, 2, 3, 4, 5, 6}"),
                 "declined-type");
}

TEST(SinkDepthToSpace, DeclinesQuantizationItCannotMove) {
  // Weights per channel along axis 1.
  const auto input_channels = [](QdqModelBuilder& b) {
    b.Weight("W", kConvWeights, kWeightValues, b.PerChannel("ws", {0.25, 0.5}, "wz", "int8", {0, 0}, /*axis=*/1))
        .Weight("B", "int32[3]", kBiasValues, b.PerChannel("bs", {0.125, 0.25, 0.0625}, "bz", "int32", {0, 0, 0}, 0));
  };
  ExpectDeclined(QdqSite(input_channels).Text(), "declined-quantization");
  // The Conv's output is also read by something other than its Q.
  ExpectDeclined(QdqSite(PerTensorInt8).Output("Z", "float").Text(), "declined-quantization");
  // A per-channel Q after the Conv (a DepthToSpace moves channels).
  QdqModelBuilder b;
  b.Input("Xq", "uint8[1,8,2,3]").Output("Y", "float[1,3,4,6]");
  const QParams x = b.PerTensor("xs", 0.5, "xz", "uint8", 128);
  const QParams y = b.PerChannel("ys3", {0.75, 0.5, 0.25}, "yz3", "uint8", {100, 100, 100}, /*axis=*/1);
  b.Node(R"(Dq = DepthToSpace <blocksize = 2, mode = "DCR"> (Xq))").Dequantize("D", "Dq", x);
  PerTensorInt8(b);
  QuantizedConv(b, y);
  ExpectDeclined(b.Text(), "declined-quantization");
}

TEST(SinkDepthToSpace, IgnoresDepthToSpaceWithoutAConvBehindIt) {
  ExpectDeclined(R"(
<ir_version: 8, opset_import: ["" : 13]>
g (float[1,8,2,3] X) => (float Y) {
  D = DepthToSpace <blocksize = 2> (X)
  Y = Sigmoid(D)
}
)",
                 "");
}

}  // namespace
}  // namespace qopt

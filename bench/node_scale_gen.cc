// Writes a synthetic s8s8 QDQ model of about NODES nodes with qopt itself,
// for bench/node_scale.sh: a chain of blocks shaped like what ONNX Runtime's
// quantize_static emits (int8 activations and weights, one scale and zero
// point initializer per quantized tensor), so that every step of the
// fuse-qdq pipeline finds work in every block. Tensors are tiny ([1,8]
// activations, 8x8 weights): the point is the node count, not the bytes.
//
// One block (21 nodes), reading the int8 tensor xq of the block before:
//
//   a   = DQ(xq)                         the activation input
//   w   = DQ(Wq)                         int8 weight, per tensor
//   m   = Q(MatMul(a, w)) -> DQ          a QLinearMatMul unit
//   r   = Q(Relu(Reshape(m)))            propagate-qdq sinks the DQ below
//                                        the Reshape; fold-qdq-identity or
//                                        qdq-lookup takes the Relu
//   g   = DQ(Q(Sigmoid(DQ(r))))          a QLinearSigmoid unit
//   e   = DQ(Q(Mul(DQ(r), g)))           the squeeze-excitation product; the
//                                        second DQ(r) is a duplicate
//   y   = Q(Add(e, DQ(xq)))              the residual (another duplicate DQ)
//   xq' = Q(DQ(y))                       a DQ -> Q pair with equal
//                                        parameters (qdq-cleanup removes it)
//
// Every other block's Relu output keeps the MatMul output's parameters with
// zero point -128 (fold-qdq-identity folds it); the others requantize (a
// lookup table for qdq-lookup).
//
// With --float=CALIB.json it writes the float model those blocks come from
// (6 nodes a block: MatMul with a float weight, Reshape, Relu, Sigmoid, Mul,
// Add of the block's input) and a calibration table of every tensor in it,
// for the passes that start from FP32 (quantize, smoothquant, int8):
// bench/pass_scale.sh times every pass on both models.
//
//   qopt_node_scale_gen OUT.onnx NODES [--float=CALIB.json]
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "bench/float_info.h"
#include "ir/serialization.h"

namespace {

using qopt::bench::FloatInfo;
using qopt::ir::ElementType;
using qopt::ir::Graph;
using qopt::ir::Node;
using qopt::ir::Tensor;
using qopt::ir::Value;

constexpr int64_t kWidth = 8;
constexpr int64_t kNodesPerBlock = 21;
constexpr int64_t kNodesPerFloatBlock = 6;

Tensor Int8s(std::vector<int64_t> dims, const std::vector<int8_t>& values) {
  Tensor t(ElementType::kInt8, std::move(dims));
  t.SetRawData(std::string(reinterpret_cast<const char*>(values.data()), values.size()));
  return t;
}

// A tensor's quantization parameters: two scalar initializers, as ONNX
// Runtime's quantizer writes them (one pair for every quantized tensor).
struct QParams {
  Value* scale;
  Value* zero_point;
};

class Builder {
 public:
  explicit Builder(Graph& graph) : graph_(graph) {}

  QParams Params(const std::string& name, float scale, int8_t zero_point) {
    return QParams{graph_.AddInitializer(name + "_scale", Tensor::Scalar(scale)),
                   graph_.AddInitializer(name + "_zero_point", Int8s({}, {zero_point}))};
  }
  Value* Q(Value* x, QParams p, const std::string& name) {
    return graph_.AddNode("QuantizeLinear", {x, p.scale, p.zero_point}, 1, nullptr, "", name)->output(0);
  }
  Value* DQ(Value* x, QParams p, const std::string& name) {
    return graph_.AddNode("DequantizeLinear", {x, p.scale, p.zero_point}, 1, nullptr, "", name)->output(0);
  }
  Value* Op(const char* op, const std::vector<Value*>& inputs, const std::string& name) {
    return graph_.AddNode(op, inputs, 1, nullptr, "", name)->output(0);
  }
  Graph& graph() { return graph_; }

 private:
  Graph& graph_;
};

int Usage() {
  std::cerr << "usage: qopt_node_scale_gen OUT.onnx NODES [--float=CALIB.json]\n";
  return 2;
}

void BuildQdqModel(Graph& graph, int64_t blocks) {
  Builder b(graph);
  Value* x = graph.AddInput("input", FloatInfo({1, kWidth}));
  QParams xp = b.Params("input_q", 0.05f, 0);
  Value* xq = b.Q(x, xp, "input_QuantizeLinear");
  Value* shape = graph.AddInitializer("reshape_shape", Tensor::FromInt64s({2}, {1, kWidth}));
  std::vector<int8_t> weight(kWidth * kWidth);
  for (int64_t i = 0; i < blocks; ++i) {
    const std::string p = absl::StrCat("/block", i, "/");
    for (size_t k = 0; k < weight.size(); ++k) weight[k] = static_cast<int8_t>((k * 37 + i * 11) % 255 - 127);
    Value* wq = graph.AddInitializer(p + "MatMul_weight_quantized", Int8s({kWidth, kWidth}, weight));
    QParams wp = b.Params(p + "MatMul_weight", 0.01f, 0);
    QParams mp = b.Params(p + "MatMul_output_0", 0.1f, -128);
    const bool identity_relu = i % 2 == 0;
    QParams rp = identity_relu ? mp : b.Params(p + "Relu_output_0", 0.07f, -128);
    QParams gp = b.Params(p + "Sigmoid_output_0", 1.0f / 256, -128);
    QParams ep = b.Params(p + "Mul_output_0", 0.06f, -128);
    QParams yp = b.Params(p + "Add_output_0", 0.05f, 0);

    Value* a = b.DQ(xq, xp, p + "input_DequantizeLinear");
    Value* w = b.DQ(wq, wp, p + "MatMul_weight_DequantizeLinear");
    Value* m = b.Op("MatMul", {a, w}, p + "MatMul");
    m = b.DQ(b.Q(m, mp, p + "MatMul_output_0_QuantizeLinear"), mp, p + "MatMul_output_0_DequantizeLinear");
    Value* r = b.Op("Reshape", {m, shape}, p + "Reshape");
    r = b.Q(b.Op("Relu", {r}, p + "Relu"), rp, p + "Relu_output_0_QuantizeLinear");
    Value* g = b.Op("Sigmoid", {b.DQ(r, rp, p + "Relu_output_0_DequantizeLinear")}, p + "Sigmoid");
    g = b.DQ(b.Q(g, gp, p + "Sigmoid_output_0_QuantizeLinear"), gp, p + "Sigmoid_output_0_DequantizeLinear");
    Value* e = b.Op("Mul", {b.DQ(r, rp, p + "Relu_output_0_DequantizeLinear_1"), g}, p + "Mul");
    e = b.DQ(b.Q(e, ep, p + "Mul_output_0_QuantizeLinear"), ep, p + "Mul_output_0_DequantizeLinear");
    Value* y = b.Op("Add", {e, b.DQ(xq, xp, p + "input_DequantizeLinear_1")}, p + "Add");
    y = b.Q(y, yp, p + "Add_output_0_QuantizeLinear");
    xq = b.Q(b.DQ(y, yp, p + "Add_output_0_DequantizeLinear"), yp, p + "Add_output_0_QuantizeLinear_1");
    xp = yp;
  }
  graph.AddOutput(b.DQ(xq, xp, "output_DequantizeLinear"));
  graph.set_output_info(0, FloatInfo({1, kWidth}));
}

// The float blocks, and a calibration table (schema qopt-calib/1, the
// fields quantize and smoothquant read) giving every tensor the range
// [-4, 4] and per-channel maxima along its last axis.
void BuildFloatModel(Graph& graph, int64_t blocks, std::ostream& calibration) {
  Builder b(graph);
  std::vector<std::string> tensors;
  Value* x = graph.AddInput("input", FloatInfo({1, kWidth}));
  tensors.push_back(x->name());
  Value* shape = graph.AddInitializer("reshape_shape", Tensor::FromInt64s({2}, {1, kWidth}));
  std::vector<float> weight(kWidth * kWidth);
  for (int64_t i = 0; i < blocks; ++i) {
    const std::string p = absl::StrCat("/block", i, "/");
    for (size_t k = 0; k < weight.size(); ++k) weight[k] = static_cast<float>((k * 37 + i * 11) % 255) / 127 - 1;
    Value* w = graph.AddInitializer(p + "MatMul_weight", Tensor::FromFloats({kWidth, kWidth}, weight));
    Value* m = b.Op("MatMul", {x, w}, p + "MatMul");
    Value* r = b.Op("Relu", {b.Op("Reshape", {m, shape}, p + "Reshape")}, p + "Relu");
    Value* g = b.Op("Sigmoid", {r}, p + "Sigmoid");
    Value* e = b.Op("Mul", {r, g}, p + "Mul");
    Value* y = b.Op("Add", {e, x}, p + "Add");
    for (Value* v : {m, r->producer()->input(0), r, g, e, y}) tensors.push_back(v->name());
    x = y;
  }
  graph.AddOutput(x);
  graph.set_output_info(0, FloatInfo({1, kWidth}));

  calibration << "{\"schema\": \"qopt-calib/1\", \"tensors\": {";
  const std::string channel_maxima = absl::StrCat("[", absl::StrJoin(std::vector<int>(kWidth, 4), ", "), "]");
  for (size_t i = 0; i < tensors.size(); ++i) {
    calibration
        << (i ? ",\n" : "\n") << "  \"" << tensors[i]
        << "\": {\"min\": -4, \"max\": 4, \"absmax\": 4, \"channel\": {\"axis\": 1, \"rule\": \"channels-last\", "
        << "\"absmax\": " << channel_maxima << "}}";
  }
  calibration << "\n}}\n";
}

}  // namespace

int main(int argc, char** argv) {
  int64_t nodes = 0;
  if (argc < 3 || argc > 4 || !absl::SimpleAtoi(argv[2], &nodes) || nodes < kNodesPerBlock) return Usage();
  std::string calibration_path;
  if (argc == 4) {
    if (!absl::StartsWith(argv[3], "--float=")) return Usage();
    calibration_path = std::string(argv[3]).substr(8);
  }
  const bool float_model = !calibration_path.empty();
  const int64_t blocks = (nodes - 2) / (float_model ? kNodesPerFloatBlock : kNodesPerBlock);

  qopt::ir::Model model;
  model.mutable_proto_shell()->set_ir_version(8);
  model.mutable_proto_shell()->set_producer_name("qopt_node_scale_gen");
  model.SetOpsetVersion("", 13);
  Graph& graph = model.graph();
  graph.mutable_proto_shell()->set_name("node_scale");
  if (float_model) {
    std::ofstream calibration(calibration_path);
    BuildFloatModel(graph, blocks, calibration);
    if (!calibration.flush()) {
      std::cerr << "qopt_node_scale_gen: cannot write " << calibration_path << "\n";
      return 1;
    }
  } else {
    BuildQdqModel(graph, blocks);
  }

  if (absl::Status s = qopt::ir::SaveModel(model, argv[1]); !s.ok()) {
    std::cerr << "qopt_node_scale_gen: " << s.message() << "\n";
    return 1;
  }
  std::cerr << "qopt_node_scale_gen: " << argv[1] << ": " << graph.num_nodes() << " nodes, " << blocks << " blocks\n";
  return 0;
}

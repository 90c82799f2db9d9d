// Writes a large transformer-like FP32 model with qopt itself, for
// bench/io_scale.sh: LAYERS blocks of MatMul (a DIMxDIM weight) -> Add (bias)
// -> Relu -> Mul (a scale from a Constant node) -> Add (residual), so that
// the file is mostly tensor payloads (64 blocks of 2048 = 64 weights of
// 16 MiB, about 1 GiB) around a few hundred small nodes.
//
//   qopt_io_scale_gen OUT.onnx [LAYERS=64] [DIM=2048]
#include <cstdint>
#include <cstdlib>
#include <iostream>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "bench/float_info.h"
#include "ir/serialization.h"

namespace {

using qopt::bench::FloatInfo;
using qopt::ir::ElementType;
using qopt::ir::Tensor;
using qopt::ir::Value;

// Deterministic, cheap, not constant (so no tool could compress it away):
// small floats from a linear congruential sequence.
std::string Floats(int64_t count, uint32_t seed) {
  std::vector<float> values(static_cast<size_t>(count));
  uint32_t state = seed * 2654435761u + 1;
  for (float& v : values) {
    state = state * 1664525u + 1013904223u;
    v = static_cast<float>(static_cast<int32_t>(state >> 8) - (1 << 23)) * (1.0f / (1 << 30));
  }
  return std::string(reinterpret_cast<const char*>(values.data()), values.size() * sizeof(float));
}

int Usage() {
  std::cerr << "usage: qopt_io_scale_gen OUT.onnx [LAYERS=64] [DIM=2048]\n";
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || argc > 4) return Usage();
  int64_t layers = 64;
  int64_t dim = 2048;
  if ((argc > 2 && !absl::SimpleAtoi(argv[2], &layers)) || (argc > 3 && !absl::SimpleAtoi(argv[3], &dim)) ||
      layers < 1 || dim < 1) {
    return Usage();
  }

  qopt::ir::Model model;
  model.mutable_proto_shell()->set_ir_version(8);
  model.mutable_proto_shell()->set_producer_name("qopt_io_scale_gen");
  model.SetOpsetVersion("", 13);
  qopt::ir::Graph& graph = model.graph();
  graph.mutable_proto_shell()->set_name("io_scale");

  Value* x = graph.AddInput("x", FloatInfo({1, dim}));
  for (int64_t i = 0; i < layers; ++i) {
    const uint32_t seed = static_cast<uint32_t>(i);
    Tensor weight(ElementType::kFloat, {dim, dim});
    weight.SetRawData(Floats(dim * dim, 2 * seed));
    Value* w = graph.AddInitializer(absl::StrCat("block", i, ".weight"), std::move(weight));
    Tensor bias(ElementType::kFloat, {dim});
    bias.SetRawData(Floats(dim, 2 * seed + 1));
    Value* b = graph.AddInitializer(absl::StrCat("block", i, ".bias"), std::move(bias));

    qopt::ir::Node* scale = graph.AddNode("Constant", {}, 1);
    Tensor scale_value(ElementType::kFloat, {dim});
    scale_value.SetRawData(Floats(dim, 7 * seed + 3));
    scale->SetTensor("value", std::move(scale_value));

    Value* y = graph.AddNode("MatMul", {x, w}, 1)->output(0);
    y = graph.AddNode("Add", {y, b}, 1)->output(0);
    y = graph.AddNode("Relu", {y}, 1)->output(0);
    y = graph.AddNode("Mul", {y, scale->output(0)}, 1)->output(0);
    x = graph.AddNode("Add", {y, x}, 1)->output(0);
  }
  graph.AddOutput(x);
  graph.set_output_info(0, FloatInfo({1, dim}));

  if (absl::Status s = qopt::ir::SaveModel(model, argv[1]); !s.ok()) {
    std::cerr << "qopt_io_scale_gen: " << s.message() << "\n";
    return 1;
  }
  return 0;
}

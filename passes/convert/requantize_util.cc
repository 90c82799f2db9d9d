#include "passes/convert/requantize_util.h"

#include <utility>

#include "ir/op_traits.h"

namespace qopt::convert {

int WeightChannelAxis(const ir::Node& node) {
  if (node.Is("Gemm")) return node.GetInt("transB").value_or(0) != 0 ? 0 : 1;
  return ir::FindOpTraits(node)->channel_axis;
}

void ReplaceConstantInput(ir::Graph& graph, ir::Node& node, int index, ir::Tensor tensor, const std::string& name) {
  while (node.num_inputs() <= index) node.AddInput(nullptr);
  ir::Value* old = node.input(index);
  if (old != nullptr && old->kind() == ir::Value::Kind::kInitializer && old->uses().size() == 1 &&
      !old->is_graph_output() && !old->has_type_info()) {
    auto raw = tensor.RawBytes();
    old->ResetInitializer(tensor.type(), tensor.dims(), std::string(*raw));
    return;
  }
  node.SetInput(index, graph.AddInitializer(name, std::move(tensor)));
  if (old != nullptr) EraseIfUnused(graph, old);
}

void EraseIfUnused(ir::Graph& graph, ir::Value* v) {
  if (v->kind() == ir::Value::Kind::kInitializer && !v->has_uses() && !v->is_graph_output()) graph.EraseValue(v);
}

}  // namespace qopt::convert

// dequantize-weights: a dynamically quantized file (ONNX Runtime's
// quantize_dynamic layout) runs at FP32 speed again, for users without
// calibration data. Each
//
//   x -> DynamicQuantizeLinear -> ConvInteger(xq, wq, xz, wz) -> Cast(float)
//     -> Mul(., x_scale * w_scale)
//
// (MatMulInteger likewise) becomes Conv(x, W) with W = (wq - wz) * w_scale,
// the float values the integer weights stand for (per output channel where
// the scales are). The activations are no longer quantized at run time: the
// result carries the weights' quantization error only. Not exact, and
// opt-in. A Conv takes the site's bias as its bias input (the float Add after
// the Mul, or the older recipe's int32 Add); a MatMul's bias Add stays. The
// DynamicQuantizeLinear nodes and integer weights nobody reads any more go.
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "passes/builtin_passes.h"
#include "passes/convert/dynamic_sites.h"
#include "passes/fuse_qdq/rewrite_util.h"

namespace qopt {
namespace {

class DequantizeWeights : public Pass {
 public:
  absl::string_view name() const override { return "dequantize-weights"; }
  absl::string_view summary() const override {
    return "Turn dynamically quantized ConvInteger/MatMulInteger sites into float Conv/MatMul with the integer "
           "weights' float values (FP32 speed, weight quantization error only; not exact)";
  }

  absl::StatusOr<bool> Run(ir::Model& model, PassContext& context) override {
    left_.clear();
    sites_.clear();
    converted_by_op_.clear();
    ir::Graph& graph = model.graph();
    bool changed = false;
    for (ir::Node* node : graph.node_list()) {
      if (node->is_erased() || !convert::StartsDynamicSite(*node)) continue;
      const std::string why = Convert(graph, *node);
      if (why.empty()) {
        changed = true;
      } else {
        left_.push_back({fuse_qdq::NodeLabel(*node), why});
        ++left_count_;
      }
    }
    if (context.report != nullptr) {
      nlohmann::json left = nlohmann::json::array();
      for (const auto& [node, why] : left_) left.push_back({{"node", node}, {"why", why}});
      nlohmann::json sites = nlohmann::json::array();
      for (const auto& [node, what] : sites_) sites.push_back({{"node", node}, {"became", what}});
      std::string text = absl::StrCat("dequantize-weights: ", converted_.value(), " sites now float");
      for (const auto& [op, n] : converted_by_op_) absl::StrAppend(&text, ", ", op, " ", n);
      absl::StrAppend(&text, "; ", left_.size(), " left\n");
      for (const auto& [node, what] : sites_) absl::StrAppend(&text, "  ", node, ": ", what, "\n");
      for (const auto& [node, why] : left_) absl::StrAppend(&text, "  left: ", node, ": ", why, "\n");
      context.report->AddAnalysis("dequantize-weights",
                                  {{"converted", converted_by_op_}, {"sites", sites}, {"left", left}}, text);
    }
    return changed;
  }

 private:
  std::string Convert(ir::Graph& graph, ir::Node& op) {
    absl::StatusOr<convert::DynamicSite> site = convert::MatchDynamicSite(op);
    if (!site.ok()) return std::string(site.status().message());
    const ir::Tensor& wq = *site->weights->constant();
    ir::Value* weights = graph.AddInitializer(absl::StrCat(site->weights->name(), "_float"),
                                              ir::Tensor::FromFloats(wq.dims(), convert::FloatWeights(*site)));
    ir::Value* replacement = convert::AddFloatOp(graph, *site, weights);
    ++converted_by_op_[op.op_type()];
    ++converted_;
    sites_.push_back(
        {fuse_qdq::NodeLabel(op),
         absl::StrCat(op.op_type(), " -> ", site->conv ? "Conv" : "MatMul", ", ", ir::ElementTypeName(wq.type()),
                      site->channel_axis ? " per-channel" : " per-tensor", " weights now float",
                      site->bias.empty() ? ""
                      : site->conv       ? ", bias folded in"
                                         : ", bias as an Add",
                      ", input '", site->x->name(), "' no longer quantized")});
    convert::ReplaceDynamicSite(graph, *site, replacement);
    return "";
  }

  std::map<std::string, int64_t> converted_by_op_;
  std::vector<std::pair<std::string, std::string>> left_;
  std::vector<std::pair<std::string, std::string>> sites_;  // node, what it became
  Statistic converted_{this, "sites-converted", "ConvInteger/MatMulInteger sites now float Conv/MatMul"};
  Statistic left_count_{this, "sites-left", "Integer sites left as they are (see the report)"};
};

}  // namespace

std::unique_ptr<Pass> CreateDequantizeWeightsPass() { return std::make_unique<DequantizeWeights>(); }

}  // namespace qopt

// upgrade-opset: moves a model's default-domain opset up to at least a version
// (13 by default: the first with per-channel QuantizeLinear/DequantizeLinear
// and the version quantizers expect), rewriting the nodes whose signature or
// semantics changed on the way. Every op the model uses must be known: either
// unchanged in meaning between the two versions, or handled by a rule below;
// anything else is an error naming the op, never a silent guess.
#include <set>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "ir/op_traits.h"
#include "passes/builtin_passes.h"

namespace qopt {
namespace {

// Ops whose meaning did not change from opset 7 to 21 (new versions only
// widened types or added optional attributes with backward-compatible
// defaults): `StableSince7` in ir/op_traits.def.
const std::set<std::string>& UnchangedOps() {
  static const auto* ops = [] {
    std::vector<std::string> stable = ir::OpsWithTrait(ir::kStableSince7);
    return new std::set<std::string>(stable.begin(), stable.end());
  }();
  return *ops;
}

// Version at which an op's signature or meaning changed, when the change
// needs a rewrite; ops above with no entry here need none.
const absl::flat_hash_map<std::string, std::vector<int64_t>>& BreakingVersions() {
  static const auto* table = new absl::flat_hash_map<std::string, std::vector<int64_t>>{
      {"Clip", {11}},       // min/max attributes -> inputs
      {"Slice", {10}},      // starts/ends/axes attributes -> inputs
      {"Pad", {11}},        // pads/value attributes -> inputs
      {"Dropout", {12}},    // ratio attribute -> input
      {"Resize", {11}},     // roi input inserted before scales
      {"Squeeze", {13}},    // axes attribute -> input
      {"Unsqueeze", {13}},  // axes attribute -> input
      {"Split", {13, 18}},  // split attribute -> input; 18: num_outputs
      {"Softmax", {13}},    // 2-D coercion -> single axis
      {"LogSoftmax", {13}},
      {"ReduceSum", {13}},  // axes attribute -> input
      {"ReduceMean", {18}}, {"ReduceMax", {18}}, {"ReduceMin", {18}}, {"ReduceProd", {18}}, {"ReduceL2", {18}},
      {"Gelu", {20}},       // introduced at 20: needs opset >= 20 anyway
      {"TopK", {10}},       // k attribute -> input
      {"Upsample", {10}},
  };
  return *table;
}

class UpgradeOpset : public Pass {
 public:
  absl::string_view name() const override { return "upgrade-opset"; }
  absl::string_view summary() const override {
    return "Raise the default-domain opset (default 13), rewriting ops whose signature changed";
  }

  absl::StatusOr<bool> Run(ir::Model& model, PassContext&) override {
    const int64_t target = opset_.value();
    const int64_t from = model.OpsetVersion("").value_or(1);
    if (target <= from) return false;  // never downgrades: the target is a minimum
    if (from < 7 || target > 21) {
      return absl::InvalidArgumentError(absl::StrCat("upgrading from opset ", from, " to ", target,
                                                     " is outside the supported range 7..21"));
    }
    if (target == from) return false;
    if (absl::Status s = CheckKnown(model.graph(), from, target); !s.ok()) return s;
    if (absl::Status s = Rewrite(model.graph(), from, target); !s.ok()) return s;
    model.SetOpsetVersion("", target);
    return true;
  }

 private:
  absl::Status CheckKnown(const ir::Graph& graph, int64_t from, int64_t target) {
    for (const ir::Node* node : graph.node_list()) {
      for (const ir::Graph* sub : node->subgraphs()) {
        if (absl::Status s = CheckKnown(*sub, from, target); !s.ok()) return s;
      }
      if (!node->is_default_domain()) continue;
      const std::string& op = node->op_type();
      auto breaking = BreakingVersions().find(op);
      bool crosses = false;
      if (breaking != BreakingVersions().end()) {
        for (int64_t v : breaking->second) crosses |= from < v && v <= target;
      }
      if (crosses && !HasRule(op, from, target)) {
        return absl::UnimplementedError(absl::StrCat("no rule to upgrade ", op, " (node ", node->Describe(),
                                                     ") from opset ", from, " to ", target));
      }
      if (!crosses && !UnchangedOps().contains(op)) {
        return absl::UnimplementedError(absl::StrCat("op ", op, " (node ", node->Describe(),
                                                     ") is not known to be unchanged between opset ", from, " and ",
                                                     target));
      }
    }
    return absl::OkStatus();
  }

  static bool HasRule(const std::string& op, int64_t from, int64_t target) {
    static const std::set<std::string> kRules = {"Clip", "Slice", "Pad", "Dropout", "Squeeze", "Unsqueeze",
                                                 "Softmax", "LogSoftmax", "ReduceSum", "Split", "Resize"};
    if (op == "Split" && target >= 18) return false;
    if (op == "Resize" && from < 10) return false;
    return kRules.contains(op) && !(op.rfind("Reduce", 0) == 0 && op != "ReduceSum");
  }

  // Moves attribute `attr` (ints) into a new int64 initializer input.
  static ir::Value* IntsToInput(ir::Graph& graph, ir::Node* node, const std::string& attr) {
    auto values = node->GetInts(attr);
    if (!values) return nullptr;
    node->RemoveAttribute(attr);
    std::string prefix = node->name().empty() ? node->op_type() : node->name();
    return graph.AddInitializer(absl::StrCat(prefix, "_", attr),
                                ir::Tensor::FromInt64s({static_cast<int64_t>(values->size())}, *values));
  }

  static void SetInputAt(ir::Node* node, int index, ir::Value* value) {
    while (node->num_inputs() <= index) node->AddInput(nullptr);
    node->SetInput(index, value);
  }

  absl::Status Rewrite(ir::Graph& graph, int64_t from, int64_t target) {
    auto crosses = [&](int64_t v) { return from < v && v <= target; };
    for (ir::Node* node : graph.nodes()) {
      for (ir::Graph* sub : node->subgraphs()) {
        if (absl::Status s = Rewrite(*sub, from, target); !s.ok()) return s;
      }
      if (!node->is_default_domain()) continue;
      const std::string op = node->op_type();
      const std::string prefix = node->name().empty() ? op : node->name();
      if (op == "Clip" && crosses(11)) {
        float lo = node->GetFloat("min").value_or(-3.402823466e38f);
        float hi = node->GetFloat("max").value_or(3.402823466e38f);
        const bool has_min = node->GetFloat("min").has_value(), has_max = node->GetFloat("max").has_value();
        node->RemoveAttribute("min");
        node->RemoveAttribute("max");
        if (has_min) SetInputAt(node, 1, graph.AddInitializer(absl::StrCat(prefix, "_min"), ir::Tensor::Scalar(lo)));
        if (has_max) SetInputAt(node, 2, graph.AddInitializer(absl::StrCat(prefix, "_max"), ir::Tensor::Scalar(hi)));
        ++rewritten_;
      } else if (op == "Slice" && crosses(10)) {
        ir::Value* starts = IntsToInput(graph, node, "starts");
        ir::Value* ends = IntsToInput(graph, node, "ends");
        ir::Value* axes = IntsToInput(graph, node, "axes");
        SetInputAt(node, 1, starts);
        SetInputAt(node, 2, ends);
        if (axes) SetInputAt(node, 3, axes);
        ++rewritten_;
      } else if (op == "Pad" && crosses(11)) {
        ir::Value* pads = IntsToInput(graph, node, "pads");
        SetInputAt(node, 1, pads);
        if (auto value = node->GetFloat("value")) {
          node->RemoveAttribute("value");
          SetInputAt(node, 2, graph.AddInitializer(absl::StrCat(prefix, "_value"), ir::Tensor::Scalar(*value)));
        }
        ++rewritten_;
      } else if (op == "Dropout" && crosses(12)) {
        if (auto ratio = node->GetFloat("ratio")) {
          node->RemoveAttribute("ratio");
          SetInputAt(node, 1, graph.AddInitializer(absl::StrCat(prefix, "_ratio"), ir::Tensor::Scalar(*ratio)));
        }
        node->RemoveAttribute("is_test");
        ++rewritten_;
      } else if ((op == "Squeeze" || op == "Unsqueeze" || op == "ReduceSum") && crosses(13)) {
        if (ir::Value* axes = IntsToInput(graph, node, "axes")) SetInputAt(node, 1, axes);
        ++rewritten_;
      } else if (op == "Split" && crosses(13)) {
        if (ir::Value* split = IntsToInput(graph, node, "split")) SetInputAt(node, 1, split);
        ++rewritten_;
      } else if (op == "Resize" && crosses(11)) {
        // Resize-10 (X, scales) -> Resize-11 (X, roi, scales); the default
        // coordinate mode of 11 (half_pixel) differs from 10's asymmetric.
        ir::Value* scales = node->input(1);
        node->SetInput(1, nullptr);
        SetInputAt(node, 2, scales);
        node->SetString("coordinate_transformation_mode", "asymmetric");
        if (node->GetString("mode").value_or("nearest") == "nearest") node->SetString("nearest_mode", "floor");
        ++rewritten_;
      } else if ((op == "Softmax" || op == "LogSoftmax") && crosses(13)) {
        if (absl::Status s = UpgradeSoftmax(graph, node); !s.ok()) return s;
      }
    }
    return absl::OkStatus();
  }

  // Before 13, Softmax flattened its input to 2-D at `axis` (default 1) and
  // normalised over everything from `axis` on; from 13 it normalises over the
  // one `axis` (default -1). Same result when `axis` is the last dimension;
  // otherwise Flatten -> Softmax(axis=-1) -> Reshape(original shape) keeps
  // the old meaning exactly.
  absl::Status UpgradeSoftmax(ir::Graph& graph, ir::Node* node) {
    int64_t axis = node->GetInt("axis").value_or(1);
    auto shape = node->input(0) ? node->input(0)->shape() : std::nullopt;
    const int64_t rank = shape ? static_cast<int64_t>(shape->size()) : -1;
    if (axis == -1 || (rank > 0 && (axis == rank - 1 || axis + rank == rank - 1))) {
      node->SetInt("axis", -1);
      ++rewritten_;
      return absl::OkStatus();
    }
    ir::Value* x = node->input(0);
    ir::Node* flatten = graph.AddNode("Flatten", {x}, 1, node);
    flatten->SetInt("axis", axis);
    ir::Node* shape_of = graph.AddNode("Shape", {x}, 1, node);
    node->SetInput(0, flatten->output());
    node->SetInt("axis", -1);
    ir::Value* out = node->output();
    // Right after the softmax: insert before it, then move the softmax up.
    ir::Node* reshape = graph.AddNode("Reshape", {out, shape_of->output()}, 1, node);
    graph.MoveBefore(node, reshape);
    // `out` is used by the Reshape now too: point every other use at the
    // Reshape's output.
    ir::UseList uses = out->uses();
    for (const ir::Use& use : uses) {
      if (use.user == reshape) continue;
      if (use.is_graph_output()) continue;
      use.user->SetInput(use.index, reshape->output());
    }
    if (out->is_graph_output()) {
      // Keep the output name on the final value.
      const std::string name = out->name();
      graph.RenameValue(out, graph.model()->UniqueName(absl::StrCat(name, "_2d")));
      for (const ir::Use& use : uses) {
        if (use.is_graph_output()) use.output_of->SetOutput(use.index, reshape->output());
      }
      graph.RenameValue(reshape->output(), name);
    }
    ++rewritten_;
    ++softmax_reshaped_;
    return absl::OkStatus();
  }

  Option<int64_t> opset_{this, "opset", "Minimum default-domain opset (never downgrades)", 13};
  Statistic rewritten_{this, "nodes-rewritten", "Nodes rewritten for the new opset"};
  Statistic softmax_reshaped_{this, "softmax-reshaped",
                              "Softmax nodes wrapped in Flatten/Reshape to keep pre-13 semantics"};
};

}  // namespace

std::unique_ptr<Pass> CreateUpgradeOpsetPass() { return std::make_unique<UpgradeOpset>(); }

}  // namespace qopt

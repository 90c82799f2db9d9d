// fuse-hardswish: hard-swish written out in primitive ops becomes one
// HardSwish (or, below opset 14, Mul(x, HardSigmoid(x))). For quantization
// this matters more than for speed: ONNX Runtime's quantizer quantizes Add
// and Mul but not Div or HardSwish, so the written-out form
// `Div(Mul(x, Clip(Add(x, 3), 0, 6)), 6)` gets a QuantizeLinear on `x + 3`
// and on `x * relu6(x + 3)`, whose range is about six times the result's:
// two extra roundings per activation, one of them six times coarser than the
// value it feeds. As one HardSwish only its input and output are quantized,
// and fuse-qdq's qdq-lookup turns DQ -> HardSwish -> Q into a table.
#include "absl/strings/str_cat.h"
#include "passes/builtin_passes.h"
#include "passes/canonicalize/hard_swish.h"

namespace qopt {
namespace {

class FuseHardSwish : public Pass {
 public:
  absl::string_view name() const override { return "fuse-hardswish"; }
  absl::string_view summary() const override {
    return "Hard-swish written out (x * Clip(x + 3, 0, 6) / 6, x * HardSigmoid(x)) as one HardSwish op";
  }

  absl::StatusOr<bool> Run(ir::Model& model, PassContext&) override {
    const int64_t opset = model.OpsetVersion("").value_or(1);
    bool single_op = opset >= 14;
    if (form_.value() == "hardswish" && !single_op) {
      return absl::InvalidArgumentError(absl::StrCat(
          "fuse-hardswish: form=hardswish needs default-domain opset >= 14 (the model has ", opset,
          "; run upgrade-opset{opset=14} first)"));
    }
    if (form_.value() == "two-op") single_op = false;
    bool changed = false;
    ir::Graph& graph = model.graph();
    for (ir::Node* node : graph.nodes()) {
      if (node->is_erased()) continue;
      std::optional<canonicalize::HardSwishMatch> match = canonicalize::MatchHardSwish(*node);
      // Mul(x, HardSigmoid(x)) (one interior node) is already the two-op form.
      if (!match || (!single_op && match->interior.size() == 1)) continue;
      canonicalize::RewriteHardSwish(graph, *match, single_op);
      ++fused_;
      changed = true;
    }
    return changed;
  }

 private:
  Option<std::string> form_{this, "form",
                            "auto: HardSwish at opset >= 14, else Mul(x, HardSigmoid(x)); hardswish; two-op", "auto",
                            {"auto", "hardswish", "two-op"}};
  Statistic fused_{this, "hard-swish-fused", "Written-out hard-swish chains replaced"};
};

}  // namespace

std::unique_ptr<Pass> CreateFuseHardSwishPass() { return std::make_unique<FuseHardSwish>(); }

}  // namespace qopt

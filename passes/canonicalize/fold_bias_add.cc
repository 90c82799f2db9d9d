// fold-bias-add: Add(conv(x), C) where C is a float constant holding one
// value per output channel (shape [C_out, 1, 1], [1, C_out, 1, 1], or one
// value for all) becomes the conv's bias. Exporters such as paddle2onnx
// write ConvTranspose without its bias and add it afterwards; folded, the
// conv and a BatchNormalization after it can fold further, and a quantizer
// sees one unit instead of two. Exact up to float rounding (the bias is
// added inside the conv instead of after it).
#include "absl/strings/str_cat.h"
#include "ir/op_traits.h"
#include "passes/builtin_passes.h"

namespace qopt {
namespace {

class FoldBiasAdd : public Pass {
 public:
  absl::string_view name() const override { return "fold-bias-add"; }
  absl::string_view summary() const override {
    return "Fold Add of a per-channel constant after Conv/ConvTranspose into the conv's bias";
  }

  absl::StatusOr<bool> Run(ir::Model& model, PassContext&) override {
    bool changed = false;
    for (ir::Node* add : model.graph().nodes()) {
      if (add->Is("Add") && TryFold(model.graph(), *add)) {
        ++folded_;
        changed = true;
      }
    }
    return changed;
  }

 private:
  static bool TryFold(ir::Graph& graph, ir::Node& add) {
    for (int side = 0; side < 2; ++side) {
      ir::Value* conv_out = add.input(side);
      const ir::Value* c = add.input(1 - side);
      ir::Node* conv = conv_out ? conv_out->producer() : nullptr;
      if (conv == nullptr || !ir::IsConvolution(*conv) || c == nullptr) continue;
      if (conv_out->uses().size() != 1 || conv_out->is_graph_output()) continue;
      const ir::Tensor* w = conv->input(1) ? conv->input(1)->constant() : nullptr;
      const ir::Tensor* ct = c->constant();
      if (w == nullptr || ct == nullptr || ct->type() != ir::ElementType::kFloat || w->dims().size() < 3) continue;
      const int64_t out_channels = ir::ConvolutionOutputChannels(*conv, w->dims());
      const int64_t rank = static_cast<int64_t>(w->dims().size());  // the output's rank
      // Right-aligned broadcasting: the constant's channel dim must land on
      // output axis 1, every other dim be 1.
      const std::vector<int64_t>& dims = ct->dims();
      if (static_cast<int64_t>(dims.size()) > rank) continue;
      bool per_channel = true;
      for (size_t i = 0; i < dims.size(); ++i) {
        const int64_t axis = rank - static_cast<int64_t>(dims.size()) + static_cast<int64_t>(i);
        if (dims[i] != 1 && !(axis == 1 && dims[i] == out_channels)) per_channel = false;
      }
      if (!per_channel) continue;
      auto values = ct->ToDoubles();
      if (!values.ok()) continue;
      std::vector<float> bias(out_channels, 0.0f);
      if (conv->input(2) != nullptr) {
        const ir::Tensor* b = conv->input(2)->constant();
        auto old = b ? b->ToDoubles() : absl::StatusOr<std::vector<double>>(absl::NotFoundError(""));
        if (!old.ok() || static_cast<int64_t>(old->size()) != out_channels) continue;
        for (int64_t i = 0; i < out_channels; ++i) bias[i] = static_cast<float>((*old)[i]);
      }
      for (int64_t i = 0; i < out_channels; ++i) {
        bias[i] += static_cast<float>((*values)[values->size() == 1 ? 0 : i]);
      }
      ir::Value* b = graph.AddInitializer(absl::StrCat(conv->input(1)->name(), "_bias"),
                                         ir::Tensor::FromFloats({out_channels}, bias));
      if (conv->num_inputs() < 3) {
        conv->AddInput(b);
      } else {
        conv->SetInput(2, b);
      }
      graph.ReplaceAllUsesWith(add.output(), conv_out);
      graph.EraseNode(&add);
      return true;
    }
    return false;
  }

  Statistic folded_{this, "adds-folded", "Per-channel constant Adds folded into a conv bias"};
};

}  // namespace

std::unique_ptr<Pass> CreateFoldBiasAddPass() { return std::make_unique<FoldBiasAdd>(); }

}  // namespace qopt

// fold-batchnorm: BatchNormalization (inference mode) right after a Conv or
// ConvTranspose whose weights are constants becomes part of that conv:
//   y = s * (conv(x, W) + b - mean) + B,  s = scale / sqrt(var + eps)
//   => conv(x, W * s[oc]) + (b - mean) * s + B
// The arithmetic is done on the constants here, in double precision, and
// stored as float: the result differs from the unfolded model only by float
// rounding. New tensors are written (the old ones may be shared), and dce
// removes the ones nobody uses any more.
#include <cmath>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "ir/op_traits.h"
#include "passes/builtin_passes.h"

namespace qopt {
namespace {

absl::StatusOr<std::vector<double>> FloatConstant(const ir::Value* v, int64_t expected_size, const char* what,
                                                  const ir::Node& bn) {
  const ir::Tensor* t = v ? v->constant() : nullptr;
  if (t == nullptr || t->type() != ir::ElementType::kFloat) {
    return absl::FailedPreconditionError(absl::StrCat(what, " is not a float constant"));
  }
  auto values = t->ToDoubles();
  if (!values.ok()) return values.status();
  if (static_cast<int64_t>(values->size()) != expected_size) {
    return absl::InvalidArgumentError(absl::StrCat("node ", bn.Describe(), ": ", what, " has ", values->size(),
                                                   " values, expected ", expected_size));
  }
  return values;
}

std::string FloatBytes(const std::vector<double>& values) {
  std::string bytes(values.size() * sizeof(float), '\0');
  for (size_t i = 0; i < values.size(); ++i) {
    float f = static_cast<float>(values[i]);
    std::memcpy(bytes.data() + i * sizeof(float), &f, sizeof(float));
  }
  return bytes;
}

class FoldBatchNorm : public Pass {
 public:
  absl::string_view name() const override { return "fold-batchnorm"; }
  absl::string_view summary() const override {
    return "Fold inference-mode BatchNormalization into the preceding Conv/ConvTranspose weights and bias";
  }

  absl::StatusOr<bool> Run(ir::Model& model, PassContext&) override {
    const int64_t before = folded_.value();
    for (ir::Node* bn : model.graph().nodes()) {
      if (!bn->Is("BatchNormalization")) continue;
      absl::StatusOr<bool> done = TryFold(model.graph(), bn);
      if (!done.ok()) return done.status();
      if (*done) {
        ++folded_;
      } else {
        ++skipped_;
      }
    }
    return folded_.value() > before;
  }

 private:
  // Returns false (not an error) when the pattern does not apply.
  absl::StatusOr<bool> TryFold(ir::Graph& graph, ir::Node* bn) {
    if (bn->GetInt("training_mode").value_or(0) != 0) return false;
    for (int i = 1; i < bn->num_outputs(); ++i) {
      if (bn->output(i) && bn->output(i)->has_uses()) return false;  // running stats are used
    }
    ir::Value* conv_out = bn->input(0);
    ir::Node* conv = conv_out ? conv_out->producer() : nullptr;
    if (conv == nullptr || !ir::IsConvolution(*conv)) return false;
    if (conv_out->uses().size() != 1 || conv_out->is_graph_output()) return false;
    const ir::Tensor* w = conv->input(1) ? conv->input(1)->constant() : nullptr;
    if (w == nullptr || w->type() != ir::ElementType::kFloat || w->dims().size() < 2) return false;
    const bool transpose = ir::FindOpTraits(*conv)->channel_axis == 1;  // [C_in, C_out / group, ...]
    const int64_t group = conv->GetInt("group").value_or(1);
    const int64_t out_channels = ir::ConvolutionOutputChannels(*conv, w->dims());
    if (group <= 0 || (transpose && w->dims()[0] % group != 0)) return false;

    auto scale = FloatConstant(bn->input(1), out_channels, "scale", *bn);
    auto bias = FloatConstant(bn->input(2), out_channels, "B", *bn);
    auto mean = FloatConstant(bn->input(3), out_channels, "mean", *bn);
    auto var = FloatConstant(bn->input(4), out_channels, "var", *bn);
    for (const auto* r : {&scale, &bias, &mean, &var}) {
      if (!r->ok()) {
        if (r->status().code() == absl::StatusCode::kFailedPrecondition) return false;
        return r->status();
      }
    }
    std::vector<double> conv_bias(out_channels, 0.0);
    if (conv->input(2) != nullptr) {
      auto b = FloatConstant(conv->input(2), out_channels, "conv bias", *bn);
      if (!b.ok()) {
        if (b.status().code() == absl::StatusCode::kFailedPrecondition) return false;
        return b.status();
      }
      conv_bias = *b;
    }
    const double epsilon = bn->GetFloat("epsilon").value_or(1e-5f);
    std::vector<double> s(out_channels);
    std::vector<double> new_bias(out_channels);
    for (int64_t c = 0; c < out_channels; ++c) {
      double denom = std::sqrt((*var)[c] + epsilon);
      if (!(denom > 0) || !std::isfinite(denom)) {
        return absl::InvalidArgumentError(absl::StrCat("node ", bn->Describe(), ": var + epsilon of channel ", c,
                                                       " is not positive"));
      }
      s[c] = (*scale)[c] / denom;
      new_bias[c] = (conv_bias[c] - (*mean)[c]) * s[c] + (*bias)[c];
    }
    auto weights = w->ToDoubles();
    if (!weights.ok()) return weights.status();
    // Output channel of each weight element: axis 0 for Conv; for
    // ConvTranspose, [C_in, C_out/group, ...] with group g owning input
    // channels g*C_in/group.. and output channels g*C_out/group...
    const int64_t inner = w->num_elements() / (w->dims()[0] * w->dims()[1]);
    for (int64_t i = 0; i < w->dims()[0]; ++i) {
      for (int64_t j = 0; j < w->dims()[1]; ++j) {
        int64_t oc = transpose ? (i / (w->dims()[0] / group)) * w->dims()[1] + j : i;
        double factor = s[oc];
        for (int64_t k = 0; k < inner; ++k) (*weights)[(i * w->dims()[1] + j) * inner + k] *= factor;
      }
    }
    ir::Tensor new_w(ir::ElementType::kFloat, w->dims());
    new_w.SetRawData(FloatBytes(*weights));
    ir::Tensor new_b(ir::ElementType::kFloat, {out_channels});
    new_b.SetRawData(FloatBytes(new_bias));
    const std::string base = conv->input(1)->name();
    conv->SetInput(1, graph.AddInitializer(absl::StrCat(base, "_bnfolded"), std::move(new_w)));
    ir::Value* b_value = graph.AddInitializer(absl::StrCat(base, "_bnfolded_bias"), std::move(new_b));
    if (conv->num_inputs() < 3) {
      conv->AddInput(b_value);
    } else {
      conv->SetInput(2, b_value);
    }
    graph.ReplaceAllUsesWith(bn->output(0), conv_out);
    graph.EraseNode(bn);
    return true;
  }

  Statistic folded_{this, "batchnorms-folded", "BatchNormalization nodes folded into a conv"};
  Statistic skipped_{this, "batchnorms-kept", "BatchNormalization nodes left (no constant conv before them)"};
};

}  // namespace

std::unique_ptr<Pass> CreateFoldBatchNormPass() { return std::make_unique<FoldBatchNorm>(); }

}  // namespace qopt

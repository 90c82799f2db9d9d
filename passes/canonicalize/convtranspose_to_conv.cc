// convtranspose-to-conv: a 2-D ConvTranspose whose kernel equals its stride
// (k x k, stride k, no padding, dilation 1, group 1, no output_padding) never
// overlaps its windows: each input pixel writes its own k x k output block,
// y[n, o, k*h + i, k*w + j] = b[o] + sum_c x[n, c, h, w] * W[c, o, i, j].
// That is a 1x1 Conv to k*k*C_out channels followed by DepthToSpace (DCR):
//   W'[(i*k + j)*C_out + o, c, 0, 0] = W[c, o, i, j],  b'[(i*k + j)*C_out + o] = b[o].
// Same sums, the same order over c; ONNX Runtime's CPU provider and
// quantizers then treat it as a Conv (QLinearConv) and a data-movement op,
// where ConvTranspose has no integer kernel. PaddleOCR's detection head
// upsamples this way (2x2, stride 2). A Relu or Clip right after it moves
// between the Conv and the DepthToSpace, where a quantizer folds it.
#include "absl/strings/str_cat.h"
#include "passes/builtin_passes.h"

namespace qopt {
namespace {

bool AllEqual(const std::optional<std::vector<int64_t>>& v, int64_t value) {
  if (!v) return true;
  for (int64_t x : *v) {
    if (x != value) return false;
  }
  return true;
}

class ConvTransposeToConv : public Pass {
 public:
  absl::string_view name() const override { return "convtranspose-to-conv"; }
  absl::string_view summary() const override {
    return "Rewrite a non-overlapping ConvTranspose (kernel = stride) as a 1x1 Conv and DepthToSpace";
  }

  absl::StatusOr<bool> Run(ir::Model& model, PassContext&) override {
    bool changed = false;
    for (ir::Node* node : model.graph().nodes()) {
      if (node->Is("ConvTranspose") && TryRewrite(model.graph(), *node)) {
        ++rewritten_;
        changed = true;
      }
    }
    return changed;
  }

 private:
  static bool TryRewrite(ir::Graph& graph, ir::Node& ct) {
    const ir::Tensor* w = ct.input(1) ? ct.input(1)->constant() : nullptr;
    if (w == nullptr || w->type() != ir::ElementType::kFloat || w->dims().size() != 4) return false;
    const int64_t c_in = w->dims()[0], c_out = w->dims()[1], k = w->dims()[2];
    if (w->dims()[3] != k || k < 2) return false;
    if (ct.GetInt("group").value_or(1) != 1) return false;
    if (ct.GetString("auto_pad").value_or("NOTSET") != "NOTSET" || ct.FindAttribute("output_shape") != nullptr) {
      return false;
    }
    if (!AllEqual(ct.GetInts("pads"), 0) || !AllEqual(ct.GetInts("dilations"), 1) ||
        !AllEqual(ct.GetInts("output_padding"), 0)) {
      return false;
    }
    auto strides = ct.GetInts("strides");
    auto kernel = ct.GetInts("kernel_shape");
    if (!strides || !AllEqual(strides, k) || (kernel && !AllEqual(kernel, k))) return false;
    auto weights = w->ToDoubles();
    if (!weights.ok()) return false;
    std::vector<float> w2(static_cast<size_t>(k * k * c_out * c_in));
    for (int64_t c = 0; c < c_in; ++c) {
      for (int64_t o = 0; o < c_out; ++o) {
        for (int64_t i = 0; i < k; ++i) {
          for (int64_t j = 0; j < k; ++j) {
            const int64_t row = (i * k + j) * c_out + o;
            w2[row * c_in + c] = static_cast<float>((*weights)[((c * c_out + o) * k + i) * k + j]);
          }
        }
      }
    }
    std::vector<ir::Value*> inputs = {
        ct.input(0), graph.AddInitializer(absl::StrCat(ct.input(1)->name(), "_as_conv"),
                                          ir::Tensor::FromFloats({k * k * c_out, c_in, 1, 1}, w2))};
    if (ct.input(2) != nullptr) {
      const ir::Tensor* b = ct.input(2)->constant();
      auto bias = b ? b->ToDoubles() : absl::StatusOr<std::vector<double>>(absl::NotFoundError(""));
      if (!bias.ok() || static_cast<int64_t>(bias->size()) != c_out) return false;
      std::vector<float> b2(static_cast<size_t>(k * k * c_out));
      for (int64_t r = 0; r < k * k; ++r) {
        for (int64_t o = 0; o < c_out; ++o) b2[r * c_out + o] = static_cast<float>((*bias)[o]);
      }
      inputs.push_back(graph.AddInitializer(absl::StrCat(ct.input(2)->name(), "_as_conv"),
                                            ir::Tensor::FromFloats({k * k * c_out}, b2)));
    }
    ir::Node* conv = graph.AddNode("Conv", inputs, 1, &ct, "", ct.name());
    conv->SetInts("kernel_shape", {1, 1});
    ir::Node* d2s = graph.AddNode("DepthToSpace", {conv->output()}, 1, &ct, "", absl::StrCat(ct.name(), "_depth_to_space"));
    d2s->SetInt("blocksize", k);
    d2s->SetString("mode", "DCR");
    graph.ReplaceAllUsesWith(ct.output(), d2s->output());
    graph.EraseNode(&ct);
    HoistActivation(graph, *conv, *d2s);
    return true;
  }

  // Conv -> DepthToSpace -> Relu/Clip becomes Conv -> Relu/Clip ->
  // DepthToSpace: an element-wise op commutes with moving elements, and
  // next to the Conv a quantizer folds it into the Conv's output range.
  static void HoistActivation(ir::Graph& graph, ir::Node& conv, ir::Node& d2s) {
    ir::Value* out = d2s.output();
    if (out->is_graph_output() || out->uses().size() != 1) return;
    ir::Node* act = out->uses()[0].user;
    if (!(act->Is("Relu") || act->Is("Clip")) || out->uses()[0].index != 0) return;
    for (int i = 1; i < act->num_inputs(); ++i) {
      if (act->input(i) != nullptr && act->input(i)->constant() == nullptr) return;  // bounds must be constants
    }
    // Users of the activation (and a graph output named by it) now read the
    // DepthToSpace, which reads the activation.
    ir::Value* act_out = act->output();
    graph.ReplaceAllUsesWith(act_out, out);
    act->SetInput(0, conv.output());
    d2s.SetInput(0, act_out);
    // The activation now sees the Conv's [N, k*k*C, H, W]: its declared
    // shape no longer holds (shape inference fills it in again).
    onnx::ValueInfoProto untyped_shape;
    untyped_shape.mutable_type()->mutable_tensor_type()->set_elem_type(static_cast<int32_t>(ir::ElementType::kFloat));
    act_out->set_type_info(untyped_shape);
    graph.MoveBefore(act, &d2s);
  }

  Statistic rewritten_{this, "rewritten", "ConvTranspose nodes rewritten as Conv + DepthToSpace"};
};

}  // namespace

std::unique_ptr<Pass> CreateConvTransposeToConvPass() { return std::make_unique<ConvTransposeToConv>(); }

}  // namespace qopt

#include "passes/quantize/dynamic.h"

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "analysis/quant_math.h"

namespace qopt::quantize {
namespace {

struct QuantizedWeight {
  ir::Value* data = nullptr;
  ir::Value* scale = nullptr;
  ir::Value* zero_point = nullptr;
};

class DynamicQuantizer {
 public:
  DynamicQuantizer(ir::Model& model, const DynamicOptions& options, DynamicStats* stats)
      : graph_(model.graph()), options_(options), stats_(stats) {}

  absl::Status Run() {
    for (ir::Node* node : graph_.nodes()) {
      if (!node->is_default_domain() || !options_.op_types.contains(node->op_type())) continue;
      if (options_.exclude_nodes && RE2::PartialMatch(node->name_or_output(), *options_.exclude_nodes)) {
        ++stats_->nodes_excluded;
        continue;
      }
      if (node->Is("MatMul")) {
        if (absl::Status s = QuantizeMatMul(node); !s.ok()) return s;
      } else if (node->Is("Conv")) {
        if (absl::Status s = QuantizeConv(node); !s.ok()) return s;
      }
    }
    for (ir::Value* v : std::vector<ir::Value*>(graph_.initializers())) {
      if (v->kind() == ir::Value::Kind::kInitializer && !v->has_uses()) graph_.EraseValue(v);
    }
    return absl::OkStatus();
  }

 private:
  static bool IsFloatConstant(const ir::Value* v) {
    return v != nullptr && v->constant() != nullptr && v->constant()->type() == ir::ElementType::kFloat;
  }

  // One DynamicQuantizeLinear per activation, shared by all its consumers.
  ir::Node* DynamicQuantize(ir::Value* a) {
    if (auto it = dql_.find(a); it != dql_.end()) return it->second;
    ir::Node* before = a->producer() ? graph_.NextNode(a->producer()) : graph_.FirstNode();
    const std::string name = a->name();
    ir::Model& m = *graph_.model();
    ir::Node* dql = graph_.AddNodeWithOutputNames(
        "DynamicQuantizeLinear", {a},
        {m.UniqueName(absl::StrCat(name, "_quantized")), m.UniqueName(absl::StrCat(name, "_scale")),
         m.UniqueName(absl::StrCat(name, "_zero_point"))},
        before, "", m.UniqueName(absl::StrCat(name, "_QuantizeLinear")));
    dql_[a] = dql;
    ++stats_->dynamic_quantize_nodes;
    return dql;
  }

  // Symmetric for signed types; per channel along `axis` (or per tensor).
  absl::StatusOr<QuantizedWeight> QuantizeWeight(ir::Value* w, int axis) {
    if (auto it = weights_.find(w); it != weights_.end()) return it->second;
    const ir::Tensor* t = w->constant();
    auto data = t->ToDoubles();
    if (!data.ok()) return data.status();
    const bool symmetric = ir::IsSignedInteger(options_.weight_type) || axis >= 0;
    auto range = analysis::QuantizedRange(options_.weight_type, symmetric, options_.reduce_range);
    if (!range.ok()) return range.status();
    auto clip = analysis::FullRange(options_.weight_type);
    const auto& dims = t->dims();
    analysis::TensorParams params = analysis::ComputeTensorParams(*data, dims, axis, *range, symmetric);
    std::vector<int64_t> q = analysis::QuantizeTensor(*data, dims, params, *clip);
    const std::vector<float>& scales = params.scales;
    const std::vector<int64_t>& zero_points = params.zero_points;
    const int64_t channels = static_cast<int64_t>(scales.size());
    const std::string name = w->name();
    ir::Tensor qt(options_.weight_type, dims);
    qt.SetRawData(analysis::PackIntegers(q, options_.weight_type));
    std::vector<int64_t> param_dims = params.axis >= 0 ? std::vector<int64_t>{channels} : std::vector<int64_t>{};
    ir::Tensor zp(options_.weight_type, param_dims);
    zp.SetRawData(analysis::PackIntegers(zero_points, options_.weight_type));
    QuantizedWeight out{graph_.AddInitializer(absl::StrCat(name, "_quantized"), std::move(qt)),
                        graph_.AddInitializer(absl::StrCat(name, "_scale"), ir::Tensor::FromFloats(param_dims, scales)),
                        graph_.AddInitializer(absl::StrCat(name, "_zero_point"), std::move(zp))};
    weights_[w] = out;
    ++stats_->weights_quantized;
    return out;
  }

  // integer op -> Cast(float) -> Mul(a_scale * w_scale); returns the last Mul.
  ir::Node* Rescale(ir::Node* integer_op, ir::Node* dql, const QuantizedWeight& w, const std::string& base,
                    const std::string& y_name, const std::string& output_name, ir::Node* before) {
    ir::Model& m = *graph_.model();
    ir::Node* cast = graph_.AddNodeWithOutputNames("Cast", {integer_op->output()},
                                                   {m.UniqueName(absl::StrCat(y_name, "_output_quantized_cast_output"))},
                                                   before, "", m.UniqueName(absl::StrCat(y_name, "_output_quantized_cast")));
    cast->SetInt("to", static_cast<int64_t>(ir::ElementType::kFloat));
    ir::Node* scales = graph_.AddNodeWithOutputNames("Mul", {dql->output(1), w.scale},
                                                     {m.UniqueName(absl::StrCat(base, "_quant_scales_mul:0"))}, before,
                                                     "", m.UniqueName(absl::StrCat(base, "_quant_scales_mul")));
    return graph_.AddNodeWithOutputNames("Mul", {cast->output(), scales->output()}, {output_name}, before, "",
                                         m.UniqueName(absl::StrCat(base, "_quant_output_scale_mul")));
  }

  // Frees Y's name for the replacement: the float node's output is renamed
  // and erased once nothing reads it.
  std::string TakeOutputName(ir::Node* node) {
    ir::Value* y = node->output();
    const std::string name = y->name();
    graph_.RenameValue(y, graph_.model()->UniqueName(absl::StrCat(name, "_float")));
    return name;
  }

  // Every use of the float node's output, graph outputs included, now reads
  // `result` (which already carries the output's name).
  void Replace(ir::Node* node, ir::Value* result) {
    ir::Value* y = node->output();
    if (y->has_type_info() && !result->has_type_info()) result->set_type_info(y->type_info());
    for (const ir::Use& use : ir::UseList(y->uses())) {
      if (use.is_graph_output()) {
        use.output_of->SetOutput(use.index, result);
      } else {
        use.user->SetInput(use.index, result);
      }
    }
    graph_.EraseNode(node);
    ++stats_->nodes_quantized;
  }

  absl::Status QuantizeMatMul(ir::Node* node) {
    ir::Value* a = node->input(0);
    ir::Value* b = node->input(1);
    if (!IsFloatConstant(b) || a == nullptr || b->constant()->dims().size() != 2) return absl::OkStatus();
    auto w = QuantizeWeight(b, options_.per_channel ? 1 : -1);
    if (!w.ok()) return w.status();
    ir::Node* dql = DynamicQuantize(a);
    const std::string base = node->name_or_output();
    const std::string y_name = TakeOutputName(node);
    ir::Model& m = *graph_.model();
    ir::Node* integer = graph_.AddNodeWithOutputNames(
        "MatMulInteger", {dql->output(0), w->data, dql->output(2), w->zero_point},
        {m.UniqueName(absl::StrCat(y_name, "_output_quantized"))}, node, "", m.UniqueName(absl::StrCat(base, "_quant")));
    ir::Node* out = Rescale(integer, dql, *w, base, y_name, y_name, node);
    Replace(node, out->output());
    return absl::OkStatus();
  }

  absl::Status QuantizeConv(ir::Node* node) {
    ir::Value* x = node->input(0);
    ir::Value* weight = node->input(1);
    ir::Value* bias = node->input(2);
    if (x == nullptr || !IsFloatConstant(weight)) return absl::OkStatus();
    auto w = QuantizeWeight(weight, -1);  // ConvInteger takes a per-tensor weight here
    if (!w.ok()) return w.status();
    ir::Node* dql = DynamicQuantize(x);
    const std::string base = node->name_or_output();
    const std::string y_name = TakeOutputName(node);
    ir::Model& m = *graph_.model();
    ir::Node* integer = graph_.AddNodeWithOutputNames(
        "ConvInteger", {dql->output(0), w->data, dql->output(2), w->zero_point},
        {m.UniqueName(absl::StrCat(y_name, "_output_quantized"))}, node, "", m.UniqueName(absl::StrCat(base, "_quant")));
    for (const ir::Attribute& a : node->attributes()) integer->mutable_attributes().emplace_back(a.proto());
    const std::string scaled = bias ? m.UniqueName(absl::StrCat(y_name, "quant_scaled_output")) : y_name;
    ir::Node* out = Rescale(integer, dql, *w, base, y_name, scaled, node);
    ir::Value* result = out->output();
    if (bias != nullptr) {
      const int64_t rank = static_cast<int64_t>(weight->constant()->dims().size());
      std::vector<int64_t> shape(rank, 1);
      shape[1] = -1;
      ir::Value* shape_value = graph_.AddInitializer(absl::StrCat(y_name, "_bias_reshape_shape"),
                                                     ir::Tensor::FromInt64s({rank}, shape));
      ir::Node* reshape = graph_.AddNodeWithOutputNames(
          "Reshape", {bias, shape_value}, {m.UniqueName(absl::StrCat(y_name, "_bias_reshape_output"))}, node);
      ir::Node* add = graph_.AddNodeWithOutputNames("Add", {result, reshape->output()}, {y_name}, node, "",
                                                    m.UniqueName(absl::StrCat(y_name, "_bias_add")));
      result = add->output();
    }
    Replace(node, result);
    return absl::OkStatus();
  }

  ir::Graph& graph_;
  const DynamicOptions& options_;
  DynamicStats* stats_;
  absl::flat_hash_map<const ir::Value*, ir::Node*> dql_;
  absl::flat_hash_map<const ir::Value*, QuantizedWeight> weights_;
};

}  // namespace

absl::Status QuantizeDynamic(ir::Model& model, const DynamicOptions& options, DynamicStats* stats) {
  if (model.OpsetVersion("").value_or(0) < 11) {
    return absl::FailedPreconditionError("dynamic quantization needs opset >= 11; run 'canonicalize' first");
  }
  return DynamicQuantizer(model, options, stats).Run();
}

}  // namespace qopt::quantize

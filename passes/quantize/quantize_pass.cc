// quantize: static QDQ quantization of an FP32 model from calibration
// ranges, laid out as ONNX Runtime's quantize_static lays it out
// (docs/ort-quantizer-layout.md): one QuantizeLinear/DequantizeLinear pair per
// activation tensor shared by all its consumers, weights stored as integer
// initializers behind a DequantizeLinear, biases as int32 with scale
// input_scale * weight_scale, Relu/Clip folded into the preceding Q, and the
// op types of ORT's QDQ registry. Weights already behind a DequantizeLinear
// of integer constants stay as they are (their scale sets the bias scale).
// The model should first go through
// `canonicalize` and be calibrated in that form (qopt-calibrate).
#include <algorithm>
#include <cmath>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "analysis/quant_math.h"
#include "nlohmann/json.hpp"
#include "passes/builtin_passes.h"
#include "passes/shape_inference.h"
#include "passes/quantize/calibration_table.h"
#include "passes/quantize/dynamic.h"
#include "passes/quantize/overrides.h"
#include "passes/quantize/qdq_marking.h"

namespace qopt {
namespace {

std::set<std::string> SplitList(const std::string& text) {
  std::set<std::string> out;
  for (absl::string_view item : absl::StrSplit(text, ',', absl::SkipEmpty())) out.insert(std::string(item));
  return out;
}

using analysis::IntRange;
using analysis::ScaleZeroPoint;
using quantize::TensorMark;
using Kind = TensorMark::Kind;
using quantize::ParseQuantType;

// Quantization parameters of one tensor: one entry per tensor, or per
// channel along `axis`.
struct Params {
  std::vector<float> scales;
  std::vector<int64_t> zero_points;
  int axis = -1;
  ir::ElementType type = ir::ElementType::kUint8;
  ir::Value* scale_value = nullptr;       // the emitted initializers
  ir::Value* zero_point_value = nullptr;
  bool kept = false;  // a weight or activation the model already quantizes: its own parameters
};

// The parameters a DequantizeLinear or QuantizeLinear already in the model
// uses (its scale, zero point and axis), for a tensor of `type`.
absl::StatusOr<Params> KeptParams(const ir::Node& dq, ir::ElementType type) {
  Params p;
  p.kept = true;
  p.type = type;
  auto scales = dq.input(1)->constant()->ToDoubles();
  if (!scales.ok()) return scales.status();
  p.scales.assign(scales->begin(), scales->end());
  if (dq.num_inputs() > 2 && dq.input(2) != nullptr) {
    auto zero_points = dq.input(2)->constant()->ToInt64s();
    if (!zero_points.ok()) return zero_points.status();
    p.zero_points = *zero_points;
  } else {
    p.zero_points.assign(p.scales.size(), 0);
  }
  if (p.scales.size() > 1) p.axis = static_cast<int>(dq.GetInt("axis").value_or(1));
  p.scale_value = dq.input(1);
  p.zero_point_value = dq.num_inputs() > 2 ? dq.input(2) : nullptr;
  return p;
}

// The parameters of a weight already quantized (quantize::WeightDequantize).
absl::StatusOr<Params> KeptWeightParams(const ir::Node& dq) { return KeptParams(dq, dq.input(0)->constant()->type()); }

// The parameters of an activation already quantized
// (quantize::ExistingQuantization), of the element type of the quantized side
// of its DequantizeLinear (that node's input) or QuantizeLinear (its zero
// point's type, uint8 without one).
absl::StatusOr<Params> KeptActivationParams(const ir::Node& existing) {
  if (existing.Is("DequantizeLinear")) return KeptParams(existing, existing.input(0)->elem_type());
  if (existing.num_inputs() > 2 && existing.input(2) != nullptr) {
    return KeptParams(existing, existing.input(2)->constant()->type());
  }
  return KeptParams(existing, ir::ElementType::kUint8);
}

class Quantize : public Pass {
 public:
  absl::string_view name() const override { return "quantize"; }
  absl::string_view summary() const override {
    return "Static QDQ quantization from calibration ranges, in ONNX Runtime's quantize_static layout";
  }

  absl::StatusOr<bool> Run(ir::Model& model, PassContext& context) override {
    if (mode_.value() == "dynamic") return RunDynamic(model);
    if (absl::Status s = Configure(model); !s.ok()) return s;
    derived_ranges_ = context.results.derived_ranges;
    // Like ONNX Runtime's quantizer, decide what is float from types, and
    // infer them first where the model does not declare them.
    auto inferred = AnnotateInferredShapes(model);
    if (!inferred.ok()) return inferred.status();
    quantize::MarkingOptions marking;
    marking.op_types = op_types_.value().empty() ? quantize::DefaultQuantizedOpTypes() : SplitList(op_types_.value());
    marking.exclude_op_types = SplitList(exclude_ops_.value());
    auto exclude_nodes = CompileExcludePattern();
    if (!exclude_nodes.ok()) return exclude_nodes.status();
    marking.exclude_nodes = exclude_nodes->get();
    marking.activation_symmetric = activation_symmetric_.value();
    marking.keep_removable_activations = keep_activations_.value();
    marking.force_quantize_no_input_check = force_.value();
    marking.per_channel = per_channel_.value();
    marking.has_range = [this](const ir::Value* v) { return RangeOf(v).has_value(); };

    auto plan = quantize::MarkTensors(model, marking);
    if (!plan.ok()) return plan.status();
    for (const auto& [in, out] : plan->range_from_output) {
      if (auto r = RangeOf(out)) range_overrides_[in->name()] = *r;
    }
    nodes_quantized_ += plan->nodes_quantized;
    nodes_excluded_ += plan->nodes_excluded;
    activations_removed_ += plan->activations_removed;

    // Parameters first (weights may be adjusted for their biases), then
    // nodes: activations and weights, shared tensors, biases last.
    for (const TensorMark& mark : plan->marks) {
      if (mark.value != nullptr && mark.kind == Kind::kShared) shared_provider_[mark.value] = Provider(mark.provider);
    }
    for (const TensorMark& mark : plan->marks) {
      if (mark.value == nullptr) continue;
      if (mark.kind == Kind::kActivation || mark.kind == Kind::kWeight) {
        if (absl::Status s = ComputeParams(mark); !s.ok()) return s;
      }
    }
    if (adjust_weight_for_bias_.value()) AdjustWeightScalesForBias(*plan);
    ir::Graph& graph = model.graph();
    original_position_.clear();
    for (ir::Node* n : graph.node_list()) original_position_.emplace(n, original_position_.size());
    for (Kind pass_kind : {Kind::kActivation, Kind::kShared, Kind::kBias}) {
      for (const TensorMark& mark : plan->marks) {
        if (mark.value == nullptr) continue;
        const bool now = pass_kind == Kind::kActivation ? (mark.kind == Kind::kActivation || mark.kind == Kind::kWeight)
                                                        : mark.kind == pass_kind;
        if (!now) continue;
        absl::Status s = mark.kind == Kind::kShared ? EmitShared(graph, mark)
                         : mark.kind == Kind::kBias ? EmitBias(graph, mark)
                                                    : Emit(graph, mark);
        if (!s.ok()) return s;
      }
    }
    original_position_.clear();
    // Float weights and biases nobody reads any more.
    for (ir::Value* v : std::vector<ir::Value*>(graph.initializers())) {
      if (v->kind() == ir::Value::Kind::kInitializer && !v->has_uses()) graph.EraseValue(v);
    }
    if (!domain_.empty() && !model.OpsetVersion(domain_)) model.SetOpsetVersion(domain_, 1);
    if (context.report) {
      nlohmann::json data;
      data["left_float"] = plan->left_float;
      data["activation_type"] = ir::ElementTypeName(activation_type_);
      data["weight_type"] = ir::ElementTypeName(weight_type_);
      context.report->AddAnalysis("quantize", std::move(data), "");
    }
    return q_added_.value() + dq_added_.value() > 0;
  }

 private:
  // The exclude-nodes pattern (null when none is given).
  absl::StatusOr<std::unique_ptr<RE2>> CompileExcludePattern() const {
    if (exclude_nodes_.value().empty()) return std::unique_ptr<RE2>();
    auto pattern = std::make_unique<RE2>(exclude_nodes_.value(), RE2::Quiet);
    if (!pattern->ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("exclude-nodes: bad pattern '", exclude_nodes_.value(), "': ", pattern->error()));
    }
    return pattern;
  }

  absl::StatusOr<bool> RunDynamic(ir::Model& model) {
    quantize::DynamicOptions options;
    auto w = ParseQuantType(weight_.value());
    if (!w.ok()) return w.status();
    if (ir::ElementTypeBits(*w) != 8) return absl::InvalidArgumentError("mode=dynamic supports weight=s8 or u8 only");
    options.weight_type = *w;
    options.per_channel = per_channel_.value();
    options.reduce_range = reduce_range_.value();
    if (!op_types_.value().empty()) options.op_types = SplitList(op_types_.value());
    for (const std::string& op : SplitList(exclude_ops_.value())) options.op_types.erase(op);
    auto exclude_nodes = CompileExcludePattern();
    if (!exclude_nodes.ok()) return exclude_nodes.status();
    options.exclude_nodes = exclude_nodes->get();
    quantize::DynamicStats stats;
    if (absl::Status s = quantize::QuantizeDynamic(model, options, &stats); !s.ok()) return s;
    nodes_quantized_ += stats.nodes_quantized;
    nodes_excluded_ += stats.nodes_excluded;
    weights_quantized_ += stats.weights_quantized;
    dynamic_quantize_added_ += stats.dynamic_quantize_nodes;
    return stats.nodes_quantized > 0;
  }

  absl::Status Configure(ir::Model& model) {
    auto a = ParseQuantType(activation_.value());
    if (!a.ok()) return a.status();
    auto w = ParseQuantType(weight_.value());
    if (!w.ok()) return w.status();
    activation_type_ = *a;
    weight_type_ = *w;
    if (activation_type_ == ir::ElementType::kInt8 && weight_type_ == ir::ElementType::kUint8) {
      return absl::InvalidArgumentError("activation=s8 with weight=u8 is not supported (ONNX Runtime rejects it)");
    }
    weight_symmetric_ = weight_symmetric_option_.value() == "auto" ? ir::IsSignedInteger(weight_type_)
                                                                    : weight_symmetric_option_.value() == "true";
    const int64_t opset = model.OpsetVersion("").value_or(0);
    if (opset < 10) {
      return absl::FailedPreconditionError(
          absl::StrCat("opset ", opset, " has no QuantizeLinear; run 'canonicalize' first (upgrades to 13)"));
    }
    if (per_channel_.value() && opset < 13) {
      return absl::FailedPreconditionError(
          absl::StrCat("per-channel Q/DQ needs opset >= 13 (the model has ", opset, "); run 'canonicalize' first"));
    }
    if (!overrides_file_.value().empty()) {
      auto overrides = quantize::LoadOverrides(overrides_file_.value());
      if (!overrides.ok()) return overrides.status();
      overrides_ = *std::move(overrides);
      for (const auto& [tensor, o] : overrides_) {
        if (model.graph().FindValue(tensor) == nullptr) {
          return absl::InvalidArgumentError(absl::StrCat("'", overrides_file_.value(), "': tensor '", tensor,
                                                         "' is not in the model"));
        }
      }
    }
    const bool wide = [&] {
      for (ir::ElementType t : {activation_type_, weight_type_}) {
        if (ir::ElementTypeBits(t) != 8) return true;
      }
      for (const auto& [tensor, o] : overrides_) {
        if (o.quant_type && ir::ElementTypeBits(*o.quant_type) != 8) return true;
      }
      return false;
    }();
    domain_ = (wide && opset < 21) ? "com.microsoft" : "";
    if (calibration_.value().empty()) {
      return absl::InvalidArgumentError("quantize needs calibration=calib.json (from qopt-calibrate)");
    }
    auto table = quantize::CalibrationTable::Load(calibration_.value(), *quantize::ParseRangeMethod(range_.value()));
    if (!table.ok()) return table.status();
    table_ = *std::move(table);
    return absl::OkStatus();
  }

  std::optional<quantize::TensorRange> RangeOf(const ir::Value* v) const {
    if (auto it = range_overrides_.find(v->name()); it != range_overrides_.end()) return it->second;
    // A range an earlier pass derived wins over the table: smoothquant
    // rescales tensors the table measured before it ran.
    if (auto it = derived_ranges_.find(v->name()); it != derived_ranges_.end()) {
      return quantize::TensorRange{it->second.first, it->second.second};
    }
    if (auto range = table_.Find(v->name())) return range;
    return std::nullopt;
  }

  // Scale and zero point of an activation (from calibration), a constant
  // read as an activation (from its data, activation type), or a weight.
  absl::Status ComputeParams(const TensorMark& mark) {
    ir::Value* v = mark.value;
    if (const ir::Node* dq = quantize::WeightDequantize(v); dq != nullptr && mark.kind == Kind::kWeight) {
      auto kept = KeptWeightParams(*dq);
      if (!kept.ok()) return kept.status();
      params_[v] = *std::move(kept);
      return absl::OkStatus();
    }
    Params p;
    const ir::Tensor* constant = v->constant();
    const bool weight = mark.kind == Kind::kWeight;
    const quantize::TensorOverride* o = nullptr;
    if (auto it = overrides_.find(v->name()); it != overrides_.end()) o = &it->second;
    if (const ir::Node* existing = quantize::ExistingQuantization(v); existing != nullptr && !weight && o == nullptr) {
      auto kept = KeptActivationParams(*existing);
      if (!kept.ok()) return kept.status();
      params_[v] = *std::move(kept);
      return absl::OkStatus();
    }
    p.type = o && o->quant_type ? *o->quant_type : weight ? weight_type_ : activation_type_;
    if (o && o->scale) {  // parameters given outright
      p.scales = {*o->scale};
      p.zero_points = {*o->zero_point};
      params_[v] = std::move(p);
      ++overrides_applied_;
      return absl::OkStatus();
    }
    if (constant == nullptr) {
      auto range = RangeOf(v);
      if (mark.softmax_output) range = quantize::TensorRange{0.0, 1.0};
      if (o && o->rmin) range = quantize::TensorRange{*o->rmin, range ? range->max : *o->rmin};
      if (o && o->rmax) range = quantize::TensorRange{range ? range->min : *o->rmax, *o->rmax};
      if (!range) {
        return absl::InvalidArgumentError(absl::StrCat("tensor '", v->name(), "' has no range in '",
                                                       calibration_.value(), "' (calibrate this model first)"));
      }
      const bool symmetric = o && o->symmetric ? *o->symmetric : activation_symmetric_.value();
      auto q = analysis::QuantizedRange(p.type, symmetric, o && o->reduce_range.value_or(false));
      if (!q.ok()) return q.status();
      ScaleZeroPoint sz = analysis::ComputeScaleZeroPoint(range->min, range->max, *q, symmetric);
      p.scales = {sz.scale};
      p.zero_points = {sz.zero_point};
      params_[v] = std::move(p);
      if (o) ++overrides_applied_;
      return absl::OkStatus();
    }
    auto data = constant->ToDoubles();
    if (!data.ok()) return data.status();
    bool symmetric = weight ? (weight_symmetric_ || mark.per_channel_axis >= 0) : activation_symmetric_.value();
    if (o && o->symmetric) symmetric = *o->symmetric || mark.per_channel_axis >= 0;
    if (o) ++overrides_applied_;
    auto q = analysis::QuantizedRange(p.type, symmetric,
                                      o && o->reduce_range ? *o->reduce_range : weight && reduce_range_.value());
    if (!q.ok()) return q.status();
    analysis::TensorParams tp =
        analysis::ComputeTensorParams(*data, constant->dims(), mark.per_channel_axis, *q, symmetric);
    p.scales = std::move(tp.scales);
    p.zero_points = std::move(tp.zero_points);
    p.axis = tp.axis;
    params_[v] = std::move(p);
    return absl::OkStatus();
  }

  // ORT >= 1.20: an int8/int16 weight whose scale would make the int32 bias
  // scale (input_scale * weight_scale) too small for the bias is given a
  // larger scale, so the bias does not saturate.
  void AdjustWeightScalesForBias(const quantize::MarkingResult& plan) {
    for (const TensorMark& mark : plan.marks) {
      if (mark.value == nullptr || mark.kind != Kind::kBias) continue;
      auto in = params_.find(Provider(mark.bias_input));
      auto w = params_.find(mark.bias_weight);
      if (in == params_.end() || w == params_.end() || w->second.kept) continue;
      if (!(w->second.type == ir::ElementType::kInt8 || w->second.type == ir::ElementType::kInt16)) continue;
      bool zero_points_zero = true;
      for (int64_t zp : w->second.zero_points) zero_points_zero &= zp == 0;
      if (!zero_points_zero) continue;
      auto bias = mark.value->constant()->ToDoubles();
      if (!bias.ok()) continue;
      const double in_scale = in->second.scales[0];
      std::vector<float>& scales = w->second.scales;
      for (size_t c = 0; c < scales.size(); ++c) {
        double absmax = 0;
        if (scales.size() == 1) {
          for (double b : *bias) absmax = std::max(absmax, std::abs(b));
        } else if (c < bias->size()) {
          absmax = std::abs((*bias)[c]);
        }
        if (std::optional<float> enlarged = analysis::WeightScaleForBias(scales[c], in_scale, absmax)) {
          scales[c] = *enlarged;
          ++weight_scales_adjusted_;
        }
      }
    }
  }

  ir::Value* Provider(ir::Value* v) const {
    auto it = shared_provider_.find(v);
    return it == shared_provider_.end() ? v : it->second;
  }

  // Scale and zero-point initializers of `v`'s parameters, created once.
  void EmitParamInitializers(ir::Graph& graph, const std::string& base, Params& p) {
    if (p.scale_value != nullptr) return;
    std::vector<int64_t> dims = p.axis >= 0 ? std::vector<int64_t>{static_cast<int64_t>(p.scales.size())}
                                            : std::vector<int64_t>{};
    p.scale_value = graph.AddInitializer(absl::StrCat(base, "_scale"), ir::Tensor::FromFloats(dims, p.scales));
    ir::Tensor zp(p.type, dims);
    zp.SetRawData(analysis::PackIntegers(p.zero_points, p.type));
    p.zero_point_value = graph.AddInitializer(absl::StrCat(base, "_zero_point"), std::move(zp));
  }

  ir::Node* AddQdqNode(ir::Graph& graph, const char* op, ir::Value* x, const Params& p, const std::string& node_name,
                       const std::string& output_name, ir::Node* before) {
    ir::Node* n = graph.AddNodeWithOutputNames(op, {x, p.scale_value, p.zero_point_value},
                                               {graph.model()->UniqueName(output_name)}, before, domain_,
                                               graph.model()->UniqueName(node_name));
    if (p.axis >= 0) n->SetInt("axis", p.axis);
    ++(op[0] == 'Q' ? q_added_ : dq_added_);
    return n;
  }

  // The earliest node in graph order that reads `v` (null if none does).
  // Looked up among v's uses by the position each original node had before
  // emission began (one pass over the graph, not one per weight: a scan of
  // the node list per weight was quadratic in large graphs). A user added
  // since has no position, and then the list is scanned as before.
  ir::Node* FirstUser(const ir::Graph& graph, const ir::Value* v) const {
    ir::Node* first = nullptr;
    size_t first_position = 0;
    for (const ir::Use& use : v->uses()) {
      if (use.is_graph_output() || use.user->graph() != &graph) continue;
      auto found = original_position_.find(use.user);
      if (found == original_position_.end()) return FirstUserByScan(graph, v);
      if (first == nullptr || found->second < first_position) {
        first = use.user;
        first_position = found->second;
      }
    }
    return first;
  }

  static ir::Node* FirstUserByScan(const ir::Graph& graph, const ir::Value* v) {
    for (ir::Node* n : graph.node_list()) {
      for (const ir::Value* in : n->inputs()) {
        if (in == v) return n;
      }
    }
    return nullptr;
  }

  // Points every use of `from` (but `except`) at `to`.
  static void Rewire(ir::Value* from, ir::Value* to, const ir::Node* except) {
    ir::UseList uses = from->uses();
    for (const ir::Use& use : uses) {
      if (use.is_graph_output() || use.user == except) continue;
      use.user->SetInput(use.index, to);
    }
  }

  absl::Status Emit(ir::Graph& graph, const TensorMark& mark) {
    ir::Value* v = mark.value;
    Params& p = params_.at(v);
    if (p.kept) {
      ++(mark.kind == Kind::kWeight ? weights_kept_ : activations_kept_);
      return absl::OkStatus();
    }
    const std::string name = v->name();
    EmitParamInitializers(graph, name, p);
    if (const ir::Tensor* constant = v->constant()) {
      // Stored quantized: T_quantized -> DequantizeLinear, no QuantizeLinear.
      auto data = constant->ToDoubles();
      if (!data.ok()) return data.status();
      auto clip = analysis::FullRange(p.type);
      if (!clip.ok()) return clip.status();
      std::vector<int64_t> q =
          analysis::QuantizeTensor(*data, constant->dims(), {p.scales, p.zero_points, p.axis}, *clip);
      ir::Tensor tensor(p.type, constant->dims());
      tensor.SetRawData(analysis::PackIntegers(q, p.type));
      ir::Value* quantized = graph.AddInitializer(absl::StrCat(name, "_quantized"), std::move(tensor));
      ir::Node* dq = AddQdqNode(graph, "DequantizeLinear", quantized, p, absl::StrCat(name, "_DequantizeLinear"),
                                absl::StrCat(name, "_DequantizeLinear_Output"), FirstUser(graph, v));
      Rewire(v, dq->output(), dq);
      ++(mark.kind == Kind::kWeight ? weights_quantized_ : activations_quantized_);
      return absl::OkStatus();
    }
    return EmitActivationPair(graph, v, p);
  }

  // T -> QuantizeLinear -> DequantizeLinear -> every consumer of T. A graph
  // output keeps its name on the DequantizeLinear side.
  absl::Status EmitActivationPair(ir::Graph& graph, ir::Value* v, Params& p) {
    const std::string name = v->name();
    const bool is_output = v->is_graph_output();
    ir::Node* before = v->producer() ? graph.NextNode(v->producer()) : graph.FirstNode();
    if (is_output) graph.RenameValue(v, graph.model()->UniqueName(absl::StrCat(name, "_QuantizeLinear_Input")));
    ir::Node* q = AddQdqNode(graph, "QuantizeLinear", v, p, absl::StrCat(name, "_QuantizeLinear"),
                             absl::StrCat(name, "_QuantizeLinear_Output"), before);
    ir::Node* dq = graph.AddNodeWithOutputNames(
        "DequantizeLinear", {q->output(), p.scale_value, p.zero_point_value},
        {is_output ? name : graph.model()->UniqueName(absl::StrCat(name, "_DequantizeLinear_Output"))}, before, domain_,
        graph.model()->UniqueName(absl::StrCat(name, "_DequantizeLinear")));
    if (p.axis >= 0) dq->SetInt("axis", p.axis);
    ++dq_added_;
    Rewire(v, dq->output(), q);
    if (is_output) {
      for (const ir::Use& use : ir::UseList(v->uses())) {
        if (use.is_graph_output()) use.output_of->SetOutput(use.index, dq->output());
      }
    }
    ++activations_quantized_;
    return absl::OkStatus();
  }

  absl::Status EmitShared(ir::Graph& graph, const TensorMark& mark) {
    auto it = params_.find(Provider(mark.value));
    if (it == params_.end()) return absl::OkStatus();  // provider was not quantized after all
    Params p = it->second;  // same scale and zero-point initializers
    if (mark.value->constant() != nullptr) return absl::OkStatus();
    if (const ir::Node* existing = quantize::ExistingQuantization(mark.value)) {  // its own pair stays
      auto kept = KeptActivationParams(*existing);
      if (!kept.ok()) return kept.status();
      params_[mark.value] = *std::move(kept);
      ++activations_kept_;
      return absl::OkStatus();
    }
    absl::Status s = EmitActivationPair(graph, mark.value, p);
    params_[mark.value] = p;
    return s;
  }

  // int32 bias: scale = input_scale * weight_scale (* beta), zero point 0;
  // the DequantizeLinear writes the bias's original name.
  absl::Status EmitBias(ir::Graph& graph, const TensorMark& mark) {
    ir::Value* bias = mark.value;
    auto in = params_.find(Provider(mark.bias_input));
    auto w = params_.find(mark.bias_weight);
    if (in == params_.end() || w == params_.end()) return absl::OkStatus();  // stays float
    auto data = bias->constant()->ToDoubles();
    if (!data.ok()) return data.status();
    const size_t n = data->size();
    const bool per_channel = w->second.scales.size() > 1;
    if (per_channel && w->second.scales.size() != n) {
      return absl::InvalidArgumentError(absl::StrCat("bias '", bias->name(), "' has ", n, " values but weight '",
                                                     mark.bias_weight->name(), "' has ", w->second.scales.size(),
                                                     " channels"));
    }
    std::vector<float> scales;
    for (size_t c = 0; c < (per_channel ? n : 1); ++c) {
      scales.push_back(in->second.scales[0] * w->second.scales[per_channel ? c : 0] * mark.bias_beta);
    }
    std::vector<int64_t> q(n);
    for (size_t i = 0; i < n; ++i) {
      const double s = scales[per_channel ? i : 0];
      double v = s > 0 ? std::nearbyint((*data)[i] / s) : 0.0;
      if (v > INT32_MAX || v < INT32_MIN) ++biases_saturated_;
      q[i] = static_cast<int64_t>(std::clamp(v, double{INT32_MIN}, double{INT32_MAX}));
    }
    const std::string name = bias->name();
    ir::Tensor tensor(ir::ElementType::kInt32, bias->constant()->dims());
    tensor.SetRawData(analysis::PackIntegers(q, ir::ElementType::kInt32));
    ir::Value* quantized = graph.AddInitializer(absl::StrCat(name, "_quantized"), std::move(tensor));
    ir::Value* scale = graph.AddInitializer(absl::StrCat(name, "_quantized_scale"),
                                            ir::Tensor::FromFloats({static_cast<int64_t>(scales.size())}, scales));
    ir::Tensor zp(ir::ElementType::kInt32, per_channel ? std::vector<int64_t>{static_cast<int64_t>(n)}
                                                       : std::vector<int64_t>{});
    zp.SetRawData(analysis::PackIntegers(std::vector<int64_t>(per_channel ? n : 1, 0), ir::ElementType::kInt32));
    ir::Value* zero_point = graph.AddInitializer(absl::StrCat(name, "_quantized_zero_point"), std::move(zp));
    graph.RenameValue(bias, graph.model()->UniqueName(absl::StrCat(name, "_float")));
    ir::Node* dq = graph.AddNodeWithOutputNames("DequantizeLinear", {quantized, scale, zero_point}, {name},
                                                mark.bias_consumer, domain_,
                                                graph.model()->UniqueName(absl::StrCat(name, "_DequantizeLinear")));
    if (per_channel) dq->SetInt("axis", 0);
    ++dq_added_;
    Rewire(bias, dq->output(), dq);
    ++biases_quantized_;
    return absl::OkStatus();
  }

  Option<std::string> preset_{this, "preset",
                              "Which quantizer's layout and defaults to reproduce (docs/ort-quantizer-layout.md)",
                              "ort-default", {"ort-default"}};
  Option<std::string> mode_{this, "mode", "static: QDQ from calibration; dynamic: quantize_dynamic's layout",
                            "static", {"static", "dynamic"}};
  Option<std::string> calibration_{this, "calibration", "calib.json from qopt-calibrate (schema qopt-calib/1)", ""};
  Option<std::string> activation_{this, "activation", "Activation type", "u8", {"u8", "s8", "u16", "s16"}};
  Option<std::string> weight_{this, "weight", "Weight type", "s8", {"s8", "u8", "s16", "u16", "s4", "u4"}};
  Option<bool> per_channel_{this, "per-channel", "Per-channel weights (symmetric; needs opset >= 13)", false};
  Option<bool> activation_symmetric_{this, "activation-symmetric", "Symmetric activation ranges", false};
  Option<std::string> weight_symmetric_option_{this, "weight-symmetric",
                                               "Symmetric weights (auto: yes for signed types)", "auto",
                                               {"auto", "true", "false"}};
  Option<bool> reduce_range_{this, "reduce-range", "7-bit weights (for CPUs without VNNI)", false};
  Option<std::string> range_{this, "range", "Which calibrated range to use (choice: each tensor's recorded choice)",
                             "minmax", quantize::RangeMethodNames()};
  Option<bool> adjust_weight_for_bias_{this, "adjust-weight-for-bias",
                                       "Enlarge int8/int16 weight scales that would overflow the int32 bias", true};
  Option<bool> keep_activations_{this, "keep-removable-activations",
                                 "Keep Relu/Clip after a quantized tensor instead of folding them into its Q", false};
  Option<bool> force_{this, "force-quantize-no-input-check",
                      "Quantize Reshape-like ops even when their input is not quantized", false};
  Option<std::string> overrides_file_{this, "overrides",
                                      "JSON of per-tensor overrides (quant_type, symmetric, reduce_range, rmin, rmax, "
                                      "scale, zero_point)", ""};
  Option<std::string> op_types_{this, "op-types", "Comma-separated op types to quantize (default: ORT's list)", ""};
  Option<std::string> exclude_ops_{this, "exclude-ops", "Comma-separated op types to leave float", ""};
  Option<std::string> exclude_nodes_{this, "exclude-nodes",
                                     "re2 pattern: nodes whose name (if none, first output) matches stay float", ""};

  Statistic nodes_quantized_{this, "nodes-quantized", "Nodes whose tensors were quantized"};
  Statistic nodes_excluded_{this, "nodes-excluded", "Nodes left float by exclude-ops/exclude-nodes"};
  Statistic activations_quantized_{this, "activations-quantized", "Activation tensors given a Q/DQ pair"};
  Statistic weights_quantized_{this, "weights-quantized", "Weights stored as integers"};
  Statistic weights_kept_{this, "weights-kept", "Weights already behind a DequantizeLinear, kept as they are"};
  Statistic activations_kept_{this, "activations-kept",
                              "Activations the model already quantizes (DequantizeLinear outputs, QuantizeLinear "
                              "inputs), kept as they are"};
  Statistic biases_quantized_{this, "biases-quantized", "Biases stored as int32"};
  Statistic biases_saturated_{this, "bias-values-saturated", "int32 bias values clipped"};
  Statistic weight_scales_adjusted_{this, "weight-scales-adjusted", "Weight scales enlarged for the int32 bias"};
  Statistic activations_removed_{this, "relu-clip-removed", "Relu/Clip folded into the preceding Q"};
  Statistic overrides_applied_{this, "overrides-applied", "Tensors whose parameters came from overrides"};
  Statistic q_added_{this, "q-added", "QuantizeLinear nodes added"};
  Statistic dq_added_{this, "dq-added", "DequantizeLinear nodes added"};
  Statistic dynamic_quantize_added_{this, "dynamic-quantize-added", "DynamicQuantizeLinear nodes added (mode=dynamic)"};

  ir::ElementType activation_type_ = ir::ElementType::kUint8;
  ir::ElementType weight_type_ = ir::ElementType::kInt8;
  bool weight_symmetric_ = true;
  std::string domain_;
  quantize::CalibrationTable table_;
  std::map<std::string, quantize::TensorOverride> overrides_;
  std::map<std::string, quantize::TensorRange> range_overrides_;
  std::map<std::string, std::pair<double, double>> derived_ranges_;  // PassResults::derived_ranges
  absl::flat_hash_map<const ir::Value*, Params> params_;
  absl::flat_hash_map<const ir::Value*, ir::Value*> shared_provider_;
  // Each node's place in the graph before Q/DQ nodes were added (FirstUser).
  absl::flat_hash_map<const ir::Node*, size_t> original_position_;
};

}  // namespace

std::unique_ptr<Pass> CreateQuantizePass() { return std::make_unique<Quantize>(); }

}  // namespace qopt

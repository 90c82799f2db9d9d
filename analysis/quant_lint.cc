#include "analysis/quant_lint.h"

#include <cmath>
#include <limits>

#include "absl/strings/str_cat.h"
#include "analysis/qdq_params.h"
#include "analysis/quant_math.h"
#include "ir/op_traits.h"

namespace qopt::analysis {
namespace {

void CheckScaleValues(const ir::Node& node, const std::vector<double>& scales, const std::string& which,
                      std::vector<LintFinding>* out) {
  const std::string subject = node.Describe();
  for (size_t i = 0; i < scales.size(); ++i) {
    const double s = scales[i];
    const std::string where =
        absl::StrCat(which.empty() ? "" : absl::StrCat(" (", which, ")"),
                     scales.size() > 1 ? absl::StrCat(" (channel ", i, ")") : "");
    if (std::isnan(s) || std::isinf(s)) {
      out->push_back({Severity::kError, "scale-not-finite", subject, absl::StrCat("scale is ", s, where)});
    } else if (s == 0) {
      out->push_back({Severity::kError, "scale-zero", subject, absl::StrCat("scale is 0", where)});
    } else if (s < 0) {
      out->push_back({Severity::kError, "scale-negative", subject, absl::StrCat("scale is ", s, where)});
    } else if (s < std::numeric_limits<float>::min()) {
      out->push_back({Severity::kWarning, "scale-subnormal", subject,
                      absl::StrCat("scale ", s, " is subnormal", where, ": precision is lost and kernels may flush it")});
    } else {
      continue;
    }
    return;  // one finding per scale tensor is enough
  }
}

void CheckScales(const QdqParams& p, std::vector<LintFinding>* out) { CheckScaleValues(*p.node, p.scales, "", out); }

// QOperator nodes carry their scales as inputs: (input index, name) per op.
const std::vector<std::pair<int, const char*>>* QLinearScaleInputs(const ir::Node& node) {
  static const std::vector<std::pair<int, const char*>> kBinary = {{1, "x_scale"}, {4, "w_scale"}, {6, "y_scale"}};
  static const std::vector<std::pair<int, const char*>> kElementwise = {{1, "A_scale"}, {4, "B_scale"}, {6, "C_scale"}};
  static const std::vector<std::pair<int, const char*>> kUnary = {{1, "X_scale"}, {3, "Y_scale"}};
  const std::string& op = node.op_type();
  const bool ms = node.domain() == "com.microsoft";
  if ((node.is_default_domain() || ms) && (op == "QLinearConv" || op == "QLinearMatMul")) return &kBinary;
  if (ms && (op == "QLinearAdd" || op == "QLinearMul")) return &kElementwise;
  if (ms && (op == "QLinearSigmoid" || op == "QLinearLeakyRelu" || op == "QLinearAveragePool" ||
             op == "QLinearGlobalAveragePool" || op == "QLinearSoftmax")) {
    return &kUnary;
  }
  return nullptr;
}

void CheckQLinearScales(const ir::Node& node, std::vector<LintFinding>* out) {
  const auto* inputs = QLinearScaleInputs(node);
  if (inputs == nullptr) return;
  for (const auto& [index, name] : *inputs) {
    const ir::Value* v = node.input(index);
    if (v == nullptr || v->constant() == nullptr) continue;
    if (auto values = v->constant()->ToDoubles(); values.ok()) CheckScaleValues(node, *values, name, out);
  }
}

// Block-wise (opset 21): the scale has the data's rank and dims, except
// ceil(d / block_size) on the axis.
void CheckBlockShape(const QdqParams& p, std::vector<LintFinding>* out) {
  const ir::Value* data = p.node->input(0);
  const ir::Value* scale = p.node->input(1);
  auto shape = data ? data->shape() : std::nullopt;
  if (!shape || scale == nullptr || scale->constant() == nullptr) return;
  const std::vector<int64_t>& scale_dims = scale->constant()->dims();
  const int64_t rank = static_cast<int64_t>(shape->size());
  const int64_t axis = p.axis < 0 ? p.axis + rank : p.axis;
  const std::string subject = p.node->Describe();
  if (axis < 0 || axis >= rank) {
    out->push_back({Severity::kError, "axis-range", subject,
                    absl::StrCat("block axis ", p.axis, " is out of range for rank ", rank)});
    return;
  }
  if (static_cast<int64_t>(scale_dims.size()) != rank) {
    out->push_back({Severity::kError, "block-shape", subject,
                    absl::StrCat("block-wise scale has rank ", scale_dims.size(), ", the data rank ", rank)});
    return;
  }
  for (int64_t i = 0; i < rank; ++i) {
    const ir::Dim& dim = (*shape)[i];
    if (!dim.value) continue;
    const int64_t expected = i == axis ? (*dim.value + p.block_size - 1) / p.block_size : *dim.value;
    if (scale_dims[i] != expected) {
      out->push_back({Severity::kError, "block-shape", subject,
                      absl::StrCat("block-wise scale dim ", i, " is ", scale_dims[i], ", expected ", expected,
                                   " (data dim ", *dim.value, ", block_size ", p.block_size, ")")});
      return;
    }
  }
}

// Per-channel: the axis must exist and the scale length match its size.
void CheckAxis(const QdqParams& p, std::vector<LintFinding>* out) {
  if (p.block_size > 0) {
    CheckBlockShape(p, out);
    return;
  }
  if (!p.per_channel()) return;
  const ir::Value* data = p.node->input(0);
  auto shape = data ? data->shape() : std::nullopt;
  if (!shape) return;
  const int64_t rank = static_cast<int64_t>(shape->size());
  const int64_t axis = p.axis < 0 ? p.axis + rank : p.axis;
  const std::string subject = p.node->Describe();
  if (axis < 0 || axis >= rank) {
    out->push_back({Severity::kError, "axis-range", subject,
                    absl::StrCat("per-channel axis ", p.axis, " is out of range for rank ", rank)});
    return;
  }
  const ir::Dim& dim = (*shape)[axis];
  if (dim.value && *dim.value != static_cast<int64_t>(p.scales.size())) {
    out->push_back({Severity::kError, "scale-length", subject,
                    absl::StrCat(p.scales.size(), " scales for ", *dim.value, " channels on axis ", axis)});
  }
}

// A DequantizeLinear's zero point must have the type of its data, and a
// value that type can hold.
void CheckZeroPoint(const QdqParams& p, std::vector<LintFinding>* out) {
  if (!IsDequantizeLinear(*p.node) || p.node->input(2) == nullptr || p.node->input(2)->constant() == nullptr) return;
  const ir::Value* data = p.node->input(0);
  const ir::ElementType data_type = data ? data->elem_type() : ir::ElementType::kUndefined;
  const ir::ElementType zp_type = p.node->input(2)->constant()->type();
  if (data_type == ir::ElementType::kUndefined || data_type == zp_type) return;
  std::string message = absl::StrCat("zero point is ", ir::ElementTypeName(zp_type), " but the data is ",
                                     ir::ElementTypeName(data_type));
  auto range = FullRange(data_type);
  if (range.ok()) {
    for (int64_t zp : p.zero_points) {
      if (zp < range->min || zp > range->max) {
        absl::StrAppend(&message, "; zero point ", zp, " is outside ", ir::ElementTypeName(data_type), "'s range [",
                        range->min, ", ", range->max, "]");
        break;
      }
    }
  }
  out->push_back({Severity::kError, "zero-point-type", p.node->Describe(), message});
}

}  // namespace

std::vector<LintFinding> LintQuantization(const ir::Graph& graph) {
  std::vector<LintFinding> out;
  for (const ir::Node* node : graph.node_list()) {
    auto p = ReadQdqParams(*node);
    if (p) {
      CheckScales(*p, &out);
      CheckAxis(*p, &out);
      CheckZeroPoint(*p, &out);
      // Q -> DQ of the same tensor with other parameters.
      if (IsQuantizeLinear(*node) && node->output()) {
        for (const ir::Use& use : node->output()->uses()) {
          if (use.is_graph_output() || !IsDequantizeLinear(*use.user)) continue;
          auto dq = ReadQdqParams(*use.user);
          if (dq && !p->scales.empty() && !dq->scales.empty() && !SameQuantization(*p, *dq)) {
            out.push_back({Severity::kError, "qdq-mismatch", use.user->Describe(),
                           absl::StrCat("dequantizes '", node->output()->name(),
                                        "' with other parameters than its QuantizeLinear ", node->Describe(),
                                        " used: the values are silently rescaled")});
          }
        }
      }
      continue;
    }
    CheckQLinearScales(*node, &out);
    // Weights as the target wants them (ONNX Runtime's CPU provider).
    if (node->is_default_domain() && ir::HasWeightInput(*node)) {
      const ir::Node* x_dq = DequantizeProducer(node->input(0));
      const ir::Node* w_dq = DequantizeProducer(node->input(1));
      if (w_dq == nullptr || w_dq->input(0) == nullptr || w_dq->input(0)->constant() == nullptr) continue;
      auto w = ReadQdqParams(*w_dq);
      if (!w) continue;
      bool nonzero_zp = false;
      for (int64_t zp : w->zero_points) nonzero_zp |= zp != 0;
      if (w->quant_type == ir::ElementType::kInt8 && nonzero_zp) {
        out.push_back({Severity::kWarning, "asymmetric-weights", node->Describe(),
                       absl::StrCat("int8 weight '", w_dq->input(0)->name(),
                                    "' has a non-zero zero point; ONNX Runtime's integer kernels want symmetric "
                                    "int8 weights")});
      }
      auto x = x_dq ? ReadQdqParams(*x_dq) : std::nullopt;
      if (x && x->quant_type == ir::ElementType::kUint8 && w->quant_type == ir::ElementType::kUint8) {
        out.push_back({Severity::kWarning, "u8u8", node->Describe(),
                       "uint8 weights with uint8 activations: ONNX Runtime's CPU kernels are fastest with u8s8 "
                       "(quantize{weight=s8})"});
      }
    }
  }
  // One tensor quantized by several QuantizeLinear nodes with different
  // parameters: its consumers see different integers, and at most one of
  // them can share a fused producer's output.
  for (const ir::Value* v : graph.values()) {
    std::vector<QdqParams> qs;
    for (const ir::Use& use : v->uses()) {
      if (use.is_graph_output() || use.index != 0 || !IsQuantizeLinear(*use.user)) continue;
      if (auto p = ReadQdqParams(*use.user)) qs.push_back(*p);
    }
    for (size_t i = 1; i < qs.size(); ++i) {
      if (!SameQuantization(qs[0], qs[i])) {
        out.push_back({Severity::kWarning, "conflicting-q", qs[i].node->Describe(),
                       absl::StrCat("'", v->name(), "' is also quantized by ", qs[0].node->Describe(),
                                    " with other parameters")});
        break;
      }
    }
  }
  return out;
}

}  // namespace qopt::analysis

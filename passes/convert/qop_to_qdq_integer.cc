// ConvInteger, MatMulInteger and MatMulIntegerToFloat as QDQ.
//
// ConvInteger / MatMulInteger have an int32 output: DQ with scale 1 gives
// the integers minus their zero points as floats, the float op sums their
// products, and Cast(int32) gives the integer result back. Exact while every
// partial sum is an integer float represents exactly, below 2^24 in
// magnitude: K * max|x - x_zero_point| * max|w - w_zero_point| < 2^24, with
// 255 for the activation (any 8-bit value minus any zero point) and for
// weights that are not constants.
#include <algorithm>
#include <cmath>
#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "passes/convert/qop_to_qdq_convert.h"

namespace qopt::qop_to_qdq {
namespace {

constexpr double kExactFloatIntegers = 16777216.0;  // 2^24

// The dims of `v`: a constant's, or its declared shape when fully known.
std::optional<std::vector<int64_t>> Dims(const ir::Value* v) {
  if (v == nullptr) return std::nullopt;
  if (const ir::Tensor* t = v->constant()) return t->dims();
  auto shape = v->shape();
  if (!shape) return std::nullopt;
  std::vector<int64_t> dims;
  for (const ir::Dim& d : *shape) {
    if (!d.is_known()) return std::nullopt;
    dims.push_back(*d.value);
  }
  return dims;
}

// max |w - zero| over the weights, per channel where the zero point is (the
// channel of element i: i / block % zeros); 255 when either is not a
// constant.
double MaxWeightMagnitude(const ir::Value* w, const ir::Value* zero, bool conv) {
  const ir::Tensor* wt = w->constant();
  const ir::Tensor* zt = zero != nullptr ? zero->constant() : nullptr;
  if (wt == nullptr || (zero != nullptr && zt == nullptr)) return 255;
  absl::StatusOr<std::vector<int64_t>> q = wt->ToInt64s();
  absl::StatusOr<std::vector<int64_t>> z = zt != nullptr
                                               ? zt->ToInt64s()
                                               : absl::StatusOr<std::vector<int64_t>>(std::vector<int64_t>{0});
  if (!q.ok() || !z.ok() || z->empty() || wt->dims().empty()) return 255;
  const int64_t channels = static_cast<int64_t>(z->size());
  // Conv: output channel = axis 0; MatMul: column = last axis.
  const int64_t block = conv ? static_cast<int64_t>(q->size()) / std::max<int64_t>(wt->dims()[0], 1) : 1;
  double max = 0;
  for (size_t i = 0; i < q->size(); ++i) {
    const int64_t c = channels == 1 ? 0 : (static_cast<int64_t>(i) / block) % channels;
    max = std::max(max, static_cast<double>(std::llabs((*q)[i] - (*z)[c])));
  }
  return max;
}

}  // namespace

std::string ConvertIntegerMatMul(QdqBuilder& b, ir::Node& node, bool int32_outputs) {
  const bool conv = node.Is("ConvInteger");
  if (FromDynamicQuantize(node.input(0))) return kDynamicReason;
  if (!int32_outputs) {
    return "int32 output: its QDQ form (DQ -> float op -> Cast) is not fused back by ONNX Runtime (convert=all)";
  }
  ir::Value* x = node.input(0);
  ir::Value* w = node.input(1);
  ir::Value* x_zero = node.input(2);
  ir::Value* w_zero = node.input(3);
  if (x == nullptr || w == nullptr || node.output() == nullptr) return "an input or the output is missing";
  if (x_zero != nullptr) {
    if (std::string why = b.CheckParameter(x_zero, "the input zero point", true); !why.empty()) return why;
  }
  std::optional<int64_t> w_axis;
  if (w_zero != nullptr) {
    if (std::string why = b.CheckParameter(w_zero, "the weight zero point", false); !why.empty()) return why;
    if (QdqBuilder::Elements(w_zero) != 1) {
      if (b.opset() < 13) return "per-channel weight zero points need opset 13 (per-axis DequantizeLinear)";
      w_axis = conv ? 0 : -1;
    }
  }
  // K, the length of each dot product: C/group * kernel (Conv), the rows of
  // B (MatMul).
  std::optional<std::vector<int64_t>> w_dims = Dims(w);
  if (!w_dims || w_dims->size() < 2) return "the weights' shape is not known";
  int64_t k = 1;
  if (conv) {
    for (size_t i = 1; i < w_dims->size(); ++i) k *= (*w_dims)[i];
  } else {
    k = (*w_dims)[w_dims->size() - 2];
  }
  const double bound = static_cast<double>(k) * 255.0 * MaxWeightMagnitude(w, w_zero, conv);
  if (bound >= kExactFloatIntegers) {
    return absl::StrCat("partial sums may reach 2^24 (K ", k, " * 255 * max|w - w_zero_point| = ", bound,
                        "): float accumulation would not be exact");
  }

  ir::Value* x_f = b.Dequantize(node, x, b.OnesLike(x_zero, absl::StrCat(x->name(), "_unit_scale")), x_zero,
                                std::nullopt);
  ir::Value* w_f = b.Dequantize(node, w, b.OnesLike(w_zero, absl::StrCat(w->name(), "_unit_scale")), w_zero, w_axis);
  ir::Node* op = b.AddFloatOp(node, conv ? "Conv" : "MatMul", {x_f, w_f}, {});
  ir::Node* cast = b.AddNode(node, "Cast", {op->output()}, absl::StrCat(node.output()->name(), "_int32"),
                             ir::ElementType::kInt32, node.output());
  cast->SetInt("to", static_cast<int64_t>(ir::ElementType::kInt32));
  b.Replace(node, cast->output(), absl::StrCat("DQ(scale 1) -> ", conv ? "Conv" : "MatMul", " -> Cast(int32)"));
  return "";
}

std::string ConvertMatMulIntegerToFloat(QdqBuilder& b, ir::Node& node) {
  if (FromDynamicQuantize(node.input(0))) return kDynamicReason;
  ir::Value* a = node.input(0);
  ir::Value* bm = node.input(1);
  ir::Value* a_scale = node.input(2);
  ir::Value* b_scale = node.input(3);
  ir::Value* a_zero = node.input(4);
  ir::Value* b_zero = node.input(5);
  ir::Value* bias = node.input(6);
  if (a == nullptr || bm == nullptr || node.output() == nullptr) return "an input or the output is missing";
  if (std::string why = b.CheckScaleAndZeroPoint(a_scale, a_zero, "input", true); !why.empty()) {
    return why;
  }
  if (std::string why = b.CheckScaleAndZeroPoint(b_scale, b_zero, "weight", false); !why.empty()) {
    return why;
  }
  std::optional<int64_t> b_axis;
  if (QdqBuilder::Elements(b_scale) != 1) {
    if (b.opset() < 13) return "per-column weights need opset 13 (per-axis DequantizeLinear)";
    if (b_zero != nullptr && QdqBuilder::Elements(b_zero) != QdqBuilder::Elements(b_scale)) {
      return "the weight scale and zero point differ in size";
    }
    b_axis = -1;
  } else if (b_zero != nullptr && QdqBuilder::Elements(b_zero) != 1) {
    return "a per-column weight zero point with one weight scale";
  }
  ir::Value* a_f = b.Dequantize(node, a, a_scale, a_zero, std::nullopt);
  ir::Value* b_f = b.Dequantize(node, bm, b_scale, b_zero, b_axis);
  ir::Node* op = b.AddFloatOp(node, "MatMul", {a_f, b_f}, {});
  ir::Value* result = op->output();
  if (bias != nullptr) {
    result = b.AddNode(node, "Add", {result, bias}, absl::StrCat(node.output()->name(), "_biased"),
                       ir::ElementType::kFloat, node.output())
                 ->output();
  }
  b.Replace(node, result, bias != nullptr ? "DQ -> MatMul -> Add(bias)" : "DQ -> MatMul");
  return "";
}

}  // namespace qopt::qop_to_qdq

// com.microsoft QGemm as QDQ. ONNX Runtime's kernel (attributes alpha,
// transA, transB; no beta) adds the int32 C to the integer accumulator and
// scales the sum by alpha * a_scale * b_scale, then requantizes by y_scale
// when it is given and outputs float otherwise. So C is DQ(C, alpha *
// a_scale * b_scale) into a Gemm with beta 1, and the Gemm keeps alpha.
#include "absl/strings/str_cat.h"
#include "passes/convert/qop_to_qdq_convert.h"

namespace qopt::qop_to_qdq {

std::string ConvertQGemm(QdqBuilder& b, ir::Node& node) {
  ir::Value* a = node.input(0);
  ir::Value* a_scale = node.input(1);
  ir::Value* a_zero = node.input(2);
  ir::Value* bm = node.input(3);
  ir::Value* b_scale = node.input(4);
  ir::Value* b_zero = node.input(5);
  ir::Value* c = node.input(6);
  ir::Value* y_scale = node.input(7);
  ir::Value* y_zero = node.input(8);
  if (a == nullptr || bm == nullptr || node.output() == nullptr) return "an input or the output is missing";
  if (std::string why = b.CheckScaleAndZeroPoint(a_scale, a_zero, "input", true); !why.empty()) {
    return why;
  }
  if (std::string why = b.CheckScaleAndZeroPoint(b_scale, b_zero, "weight", false); !why.empty()) {
    return why;
  }
  if (y_scale != nullptr) {
    if (std::string why = b.CheckParameter(y_scale, "the output scale", true); !why.empty()) return why;
  }
  if (y_zero != nullptr) {
    if (y_scale == nullptr) return "an output zero point without an output scale";
    if (std::string why = b.CheckParameter(y_zero, "the output zero point", true); !why.empty()) return why;
  }
  const float alpha = node.GetFloat("alpha").value_or(1.0f);
  const bool trans_b = node.GetInt("transB").value_or(0) != 0;
  // Per column of B: B is [K, N], or [N, K] with transB.
  std::optional<int64_t> b_axis;
  const bool per_column = QdqBuilder::Elements(b_scale) != 1;
  if (per_column) {
    if (b.opset() < 13) return "per-column weights need opset 13 (per-axis DequantizeLinear)";
    b_axis = trans_b ? 0 : 1;
  }

  // C: int32; a per-column scale runs along its last axis, which must be N.
  std::optional<int64_t> c_axis;
  if (c != nullptr) {
    if (c->elem_type() != ir::ElementType::kInt32) return "C is not int32";
    if (per_column) {
      std::optional<std::vector<int64_t>> dims;
      if (c->constant() != nullptr) {
        dims = c->constant()->dims();
      } else if (auto shape = c->shape(); shape && !shape->empty() && shape->back().is_known()) {
        dims = std::vector<int64_t>(shape->size(), 0);
        dims->back() = *shape->back().value;
      }
      if (!dims || dims->empty() || dims->back() != QdqBuilder::Elements(b_scale)) {
        return "per-column weights with a C whose last axis is not N";
      }
      c_axis = static_cast<int64_t>(dims->size()) - 1;
    }
  }

  ir::Value* a_f = b.Dequantize(node, a, a_scale, a_zero, std::nullopt);
  ir::Value* b_f = b.Dequantize(node, bm, b_scale, b_zero, b_axis);
  std::vector<ir::Value*> inputs = {a_f, b_f};
  if (c != nullptr) {
    ir::Value* c_scale = b.ScaleProduct(node, {a_scale, b_scale}, alpha, absl::StrCat(c->name(), "_scale"));
    inputs.push_back(b.Dequantize(node, c, c_scale, nullptr, c_axis));
  }
  ir::Node* gemm = b.AddFloatOp(node, "Gemm", inputs, {});
  ir::Value* result = gemm->output();
  if (y_scale != nullptr) result = b.Quantize(node, result, y_scale, y_zero);
  std::string form = y_scale != nullptr ? "DQ -> Gemm -> Q" : "DQ -> Gemm (float output)";
  if (c != nullptr) absl::StrAppend(&form, ", C DQ(C, alpha * a_scale * b_scale)");
  b.Replace(node, result, form);
  return "";
}

}  // namespace qopt::qop_to_qdq

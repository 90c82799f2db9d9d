// What every qop-to-qdq conversion does the same way: decide whether a
// scale or zero point can be a DequantizeLinear / QuantizeLinear parameter,
// make one DequantizeLinear per operand (shared by every converted node that
// reads it), and put the float result in place of the integer op's output
// under the same name. The conversions (qop_to_qdq.cc, the integer matmuls
// in qop_to_qdq_integer.cc, QGemm in qop_to_qdq_gemm.cc) build on it.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "absl/strings/string_view.h"
#include "ir/graph.h"

namespace qopt::qop_to_qdq {

class QdqBuilder {
 public:
  // runtime_parameters: scales and zero points computed at run time (graph
  // inputs, node outputs) are accepted as DQ/Q inputs too.
  QdqBuilder(ir::Graph& graph, int64_t opset, bool runtime_parameters)
      : graph_(graph), opset_(opset), runtime_parameters_(runtime_parameters) {}

  ir::Graph& graph() { return graph_; }
  int64_t opset() const { return opset_; }
  bool runtime_parameters() const { return runtime_parameters_; }

  // The element count of a scale or zero point: a constant's, or the
  // declared shape's of a runtime value; nullopt when not known.
  static std::optional<int64_t> Elements(const ir::Value* v);

  // "" when `v` may be a DQ/Q parameter here; the reason otherwise. A
  // constant always may; a runtime value only with runtime_parameters and a
  // known size. per_tensor: it must have one element.
  std::string CheckParameter(const ir::Value* v, absl::string_view what, bool per_tensor) const;

  // CheckParameter of an operand's scale and (optional, may be null) zero
  // point, named "the <operand> scale" / "the <operand> zero point".
  std::string CheckScaleAndZeroPoint(const ir::Value* scale, const ir::Value* zero, absl::string_view operand,
                                     bool per_tensor) const;

  // DequantizeLinear(data, scale, zero) before `before`, one per (data,
  // scale, zero, axis); the axis attribute only where given (per channel:
  // opsets before 13 have none).
  ir::Value* Dequantize(ir::Node& before, ir::Value* data, ir::Value* scale, ir::Value* zero,
                        std::optional<int64_t> axis);

  // QuantizeLinear(x, scale, zero) before `before`.
  ir::Value* Quantize(ir::Node& before, ir::Value* x, ir::Value* scale, ir::Value* zero);

  // The float op standing for `integer_op`, before it, named after it, with
  // its attributes except `drop`; its output is float of the integer
  // output's shape.
  ir::Node* AddFloatOp(ir::Node& integer_op, absl::string_view op_type, const std::vector<ir::Value*>& inputs,
                       const std::vector<absl::string_view>& drop);

  // A node before `before` whose single output is float with `like`'s dims.
  ir::Node* AddNode(ir::Node& before, absl::string_view op_type, const std::vector<ir::Value*>& inputs,
                    absl::string_view name_hint, ir::ElementType type, const ir::Value* like);

  // The product of the scales times `factor`: a constant when they all are
  // (computed in float as the integer kernels do), else Mul nodes (runtime
  // scales). Null when a constant cannot be read.
  ir::Value* ScaleProduct(ir::Node& before, const std::vector<ir::Value*>& scales, float factor,
                          absl::string_view name);

  // A float constant of ones shaped like `zero` (DequantizeLinear wants
  // scale and zero point of one shape), or a scalar 1 when `zero` is null.
  ir::Value* OnesLike(const ir::Value* zero, absl::string_view name);

  // `result` takes the place of `integer_op`'s output, under its name; the
  // integer op is erased. `form` says what it became, for the report.
  void Replace(ir::Node& integer_op, ir::Value* result, std::string form);
  const std::string& last_form() const { return last_form_; }

 private:
  ir::Graph& graph_;
  int64_t opset_;
  bool runtime_parameters_;
  std::string last_form_;
  std::map<std::tuple<ir::Value*, ir::Value*, ir::Value*, int64_t>, ir::Value*> dequantized_;
};

}  // namespace qopt::qop_to_qdq

// Where the quantized operands of the integer ops sit: for each data input,
// the inputs holding its scale and zero point, and the output's. QOperator
// files spell these positionally (QLinearConv(x, x_scale, x_zero_point, w,
// ...)), and every pass that reads or rewrites such a file (s8-to-u8,
// qop-to-qdq) needs the same positions: they are written down once, here.
#pragma once

#include <vector>

#include "absl/strings/string_view.h"
#include "ir/node.h"

namespace qopt::ir {

struct QuantizedOperand {
  int data = -1;
  int scale = -1;       // -1: the op takes no scale for it (ConvInteger)
  int zero_point = -1;  // optional input of the op; may be beyond num_inputs()
  // The kernel requires this operand to have the output's integer type
  // (QLinearConv's x and y: uint8 in, uint8 out); the others, weights and
  // second matrix operands, may differ (uint8 x with int8 w).
  bool same_type_as_output = false;
};

struct QuantizedSignature {
  absl::string_view domain;
  absl::string_view op_type;
  std::vector<QuantizedOperand> inputs;
  // Output 0's scale / zero point inputs; -1 where the output is not
  // quantized (ConvInteger's int32, MatMulIntegerToFloat's float).
  int output_scale = -1;
  int output_zero_point = -1;
  // QLinearConcat: (data, scale, zero point) triples from this input on.
  int variadic_from = -1;
};

// The signature of an integer op (QLinearConv, QLinearMatMul, ConvInteger,
// MatMulInteger and com.microsoft's QGemm, MatMulIntegerToFloat and QLinear*
// element-wise, pooling, softmax, concat and where); null for other nodes
// and for QuantizeLinear / DequantizeLinear themselves.
const QuantizedSignature* FindQuantizedSignature(const Node& node);

// The node's quantized inputs, with the variadic ones of QLinearConcat
// expanded; empty for a node without a signature.
std::vector<QuantizedOperand> QuantizedInputs(const Node& node);

}  // namespace qopt::ir

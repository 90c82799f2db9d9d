#include "ir/quantized_operands.h"

namespace qopt::ir {
namespace {

constexpr bool kTied = true;
constexpr bool kFree = false;

// Input positions from the ONNX operator schemas (QLinearConv, QLinearMatMul,
// ConvInteger, MatMulInteger) and ONNX Runtime's contrib-op definitions
// (com.microsoft). Tied: ONNX Runtime registers these kernels for one
// activation type in and out (QLinearConv<uint8_t>, QLinearAdd<int8_t>, ...).
const std::vector<QuantizedSignature>& Signatures() {
  static const auto* signatures = new std::vector<QuantizedSignature>{
      {"", "QLinearConv", {{0, 1, 2, kTied}, {3, 4, 5, kFree}}, 6, 7},
      {"com.microsoft", "QLinearConv", {{0, 1, 2, kTied}, {3, 4, 5, kFree}}, 6, 7},
      {"", "QLinearMatMul", {{0, 1, 2, kTied}, {3, 4, 5, kFree}}, 6, 7},
      {"", "ConvInteger", {{0, -1, 2, kFree}, {1, -1, 3, kFree}}},
      {"", "MatMulInteger", {{0, -1, 2, kFree}, {1, -1, 3, kFree}}},
      {"com.microsoft", "QGemm", {{0, 1, 2, kTied}, {3, 4, 5, kFree}}, 7, 8},
      {"com.microsoft", "MatMulIntegerToFloat", {{0, 2, 4, kFree}, {1, 3, 5, kFree}}},
      {"com.microsoft", "QLinearAdd", {{0, 1, 2, kTied}, {3, 4, 5, kTied}}, 6, 7},
      {"com.microsoft", "QLinearMul", {{0, 1, 2, kTied}, {3, 4, 5, kTied}}, 6, 7},
      {"com.microsoft", "QLinearSigmoid", {{0, 1, 2, kTied}}, 3, 4},
      {"com.microsoft", "QLinearLeakyRelu", {{0, 1, 2, kTied}}, 3, 4},
      {"com.microsoft", "QLinearSoftmax", {{0, 1, 2, kTied}}, 3, 4},
      {"com.microsoft", "QLinearAveragePool", {{0, 1, 2, kTied}}, 3, 4},
      {"com.microsoft", "QLinearGlobalAveragePool", {{0, 1, 2, kTied}}, 3, 4},
      {"com.microsoft", "QLinearWhere", {{1, 2, 3, kTied}, {4, 5, 6, kTied}}, 7, 8},
      {"com.microsoft", "QLinearConcat", {}, 0, 1, /*variadic_from=*/2},
  };
  return *signatures;
}

}  // namespace

const QuantizedSignature* FindQuantizedSignature(const Node& node) {
  const absl::string_view domain = node.is_default_domain() ? "" : absl::string_view(node.domain());
  for (const QuantizedSignature& s : Signatures()) {
    if (s.domain == domain && s.op_type == node.op_type()) return &s;
  }
  return nullptr;
}

std::vector<QuantizedOperand> QuantizedInputs(const Node& node) {
  const QuantizedSignature* s = FindQuantizedSignature(node);
  if (s == nullptr) return {};
  std::vector<QuantizedOperand> operands = s->inputs;
  if (s->variadic_from >= 0) {
    for (int i = s->variadic_from; i < node.num_inputs(); i += 3) {
      operands.push_back({i, i + 1, i + 2, kTied});
    }
  }
  return operands;
}

}  // namespace qopt::ir

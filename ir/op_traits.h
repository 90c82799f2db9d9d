// What qopt knows about ONNX operators, read from the one table in
// ir/op_traits.def (as MLIR's op traits and LLVM's .def files): op families
// (data movement, element-wise, ...), algebraic facts (monotone, positively
// homogeneous, commutes with per-tensor quantization), weight and bias
// inputs with their channel axis, and per deployment target the integer
// kernel a QDQ unit of the op becomes. Which element types an op takes at
// an opset is ir/op_types.h's (the ONNX schemas plus a table). Analyses, rewrites, target profiles and the Node tools (through
// `qopt-opt --list-op-traits`) all ask here; a second hand-written list of
// op names would sooner or later disagree with this one.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "ir/node.h"

namespace qopt::ir {

enum OpTrait : uint32_t {
  kCompute = 1u << 0,        // arithmetic with weights or large reductions (the MACs)
  kIntegerKernel = 1u << 1,  // computes on integers by construction (QLinearConv, QLinearAdd, ...)
  kQuantization = 1u << 2,   // QuantizeLinear, DequantizeLinear, DynamicQuantizeLinear
  kCastOp = 1u << 3,         // Cast, CastLike
  kConstantOp = 1u << 4,     // Constant
  kShapeOnly = 1u << 5,      // reads only the shape of its input (Shape, Size)
  kDataMovement = 1u << 6,   // selects, reorders or copies elements; computes nothing
  kLayout = 1u << 7,         // data movement that keeps every element exactly once (a reshape or permutation)
  // A per-tensor QuantizeLinear/DequantizeLinear applied before or after the
  // op gives the same result (element selection, or a monotone max); see
  // CommutesWithPerTensorQuantization for the conditions on attributes.
  kCommutes = 1u << 8,
  kMonotone = 1u << 9,        // non-decreasing in its data input
  kHomogeneous = 1u << 10,    // positively homogeneous: f(a * x) = a * f(x) for a > 0
  kElementwise = 1u << 11,    // computes each output element from the same element of its inputs
  kActivation = 1u << 12,     // a cheap element-wise function activations are written with
  kCheapInFloat = 1u << 13,   // the float kernel costs about what the integer one does (ONNX Runtime CPU)
  kOrtQuantizes = 1u << 14,   // ONNX Runtime's QDQ quantizer puts Q/DQ around it (its op registry)
  kStableSince7 = 1u << 15,   // meaning unchanged from opset 7 to 21 up to the breaking versions upgrade-opset handles
  kChannelsFirst = 1u << 16,  // reads NCHW data: channel axis 1 of a rank >= 3 input
  kNonNegative = 1u << 17,    // never gives a negative value
  kBounded = 1u << 18,        // its output lies in a fixed interval whatever the input (Sigmoid: [0, 1], Tanh: [-1, 1])
  kTopDecides = 1u << 19,     // its result hangs on the largest input values (Softmax, ArgMax): clipping them ties them
};

// The deployment targets the table has a kernel column for.
enum class Target { kOrtCpu, kOnnxStandard };

struct OpTraits {
  absl::string_view domain;  // "" for the default domain
  absl::string_view op_type;
  uint32_t traits = 0;
  int weight_input = -1;
  int bias_input = -1;
  int channel_axis = 0;     // of the weight: the output channels
  absl::string_view ort_cpu;
  absl::string_view onnx_standard;

  bool Has(OpTrait t) const { return (traits & t) != 0; }
  // "" no integer kernel; "=" the op runs on the integers as they are (Q/DQ
  // dropped, one scale); else the kernel, "com.microsoft.QLinearAdd" style.
  absl::string_view Kernel(Target target) const { return target == Target::kOrtCpu ? ort_cpu : onnx_standard; }
};

// The entry for an op ("ai.onnx" is the default domain); null when qopt
// knows nothing about it.
const OpTraits* FindOpTraits(absl::string_view domain, absl::string_view op_type);
const OpTraits* FindOpTraits(const Node& node);
// Whether the node's op has the trait (false for ops not in the table).
bool HasTrait(const Node& node, OpTrait trait);
// Whether the op has a weight input (Conv, ConvTranspose, MatMul, Gemm), and
// whether it is a convolution (a weight and channels-first data).
bool HasWeightInput(const Node& node);
bool IsConvolution(const Node& node);
// The output channels of a convolution whose weight has `weight_dims`: the
// dim on the table's channel axis, times `group` where that axis is 1
// (ConvTranspose's weight is [C_in, C_out / group, ...]); 0 for other ops.
int64_t ConvolutionOutputChannels(const Node& conv, const std::vector<int64_t>& weight_dims);
// Every entry, in table order.
const std::vector<OpTraits>& AllOpTraits();
// Default-domain ops with the trait, in table order.
std::vector<std::string> OpsWithTrait(OpTrait trait);
absl::string_view OpTraitName(OpTrait trait);
std::vector<OpTrait> AllOpTraitFlags();

// kCommutes and the attributes that keep it true: Resize only in nearest
// mode, MaxPool only while its Indices output is unused.
bool CommutesWithPerTensorQuantization(const Node& node);

// Whether the op's signature at `opset` takes int8 and uint8 data on its
// data input (MaxPool only from opset 12, Pad from 11, ...; ir/op_types.h);
// false when unknown.
bool TakesEightBitData(const Node& node, int64_t opset);

// The default-domain opset of the model `node` belongs to (0 when unknown).
int64_t DefaultOpset(const Node& node);

}  // namespace qopt::ir

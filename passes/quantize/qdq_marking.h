// Which tensors of a model get quantized, and how, in the layout ONNX
// Runtime's quantize_static (QDQ format) produces: the per-op rules of its
// QDQ registry (docs/ort-quantizer-layout.md §2), applied in node order,
// since whether a "direct" op (Reshape, Transpose, ...) is quantized depends
// on whether its input already was. The result is a plan; nothing is
// emitted here except the removal of Relu/Clip nodes that the output Q
// makes redundant (as ONNX Runtime removes them).
#pragma once

#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "ir/model.h"
#include "re2/re2.h"

namespace qopt::quantize {

struct MarkingOptions {
  std::set<std::string> op_types;              // op types to quantize (default domain)
  std::set<std::string> exclude_op_types;
  const RE2* exclude_nodes = nullptr;          // node-name pattern
  bool activation_symmetric = false;
  bool keep_removable_activations = false;     // ORT's QDQKeepRemovableActivations
  bool force_quantize_no_input_check = false;  // ORT's ForceQuantizeNoInputCheck
  bool quantize_bias = true;
  bool per_channel = false;
  // Tensors with a calibration range (removal of Relu/Clip needs one).
  std::function<bool(const ir::Value*)> has_range;
};

// The op types ONNX Runtime's quantize_static handles by default (the union
// of its QLinear and QDQ registries, default domain only).
const std::set<std::string>& DefaultQuantizedOpTypes();

struct TensorMark {
  enum class Kind {
    kActivation,  // calibrated range -> Q -> DQ (or quantized data for a constant)
    kWeight,      // constant, quantized with the weight type; DQ only
    kShared,      // takes `provider`'s scale and zero point
    kBias,        // int32 with scale = input scale * weight scale
  };
  ir::Value* value = nullptr;
  Kind kind = Kind::kActivation;
  int per_channel_axis = -1;        // kWeight: channel axis, or -1 per tensor
  ir::Value* provider = nullptr;    // kShared
  ir::Node* bias_consumer = nullptr;  // kBias: the Conv/Gemm it belongs to
  ir::Value* bias_input = nullptr;    // kBias: that node's activation input
  ir::Value* bias_weight = nullptr;   // kBias: that node's weight
  float bias_beta = 1.0f;             // kBias: Gemm's beta
  bool softmax_output = false;        // range forced to [0, 1]
};

struct MarkingResult {
  std::vector<TensorMark> marks;  // in marking order
  // Relu/Clip whose input range is taken from their output (kept nodes).
  std::vector<std::pair<ir::Value*, ir::Value*>> range_from_output;  // {input, output}
  int64_t nodes_quantized = 0;
  int64_t nodes_excluded = 0;
  int64_t activations_removed = 0;  // Relu/Clip folded into the preceding output's Q
  std::vector<std::string> left_float;  // "op_type: reason" for nodes left alone
};

// The DequantizeLinear that makes `v` from an integer constant with constant
// scale and zero point: weights already quantized (a weight-only QDQ file,
// or dynamic-to-static's first step). quantize keeps them as they are and
// takes their scale for the bias. Null otherwise.
const ir::Node* WeightDequantize(const ir::Value* v);

// An activation the model already quantizes: the output of a
// DequantizeLinear, or a tensor read only by QuantizeLinear nodes of one
// scale and zero point (files quantized before, or in part: their Q/DQ stay,
// and a second pair on the same tensor would quantize it twice, which ONNX
// Runtime's optimized run then merges into one pair of other parameters).
// Returns the node whose parameters the tensor has, else null.
const ir::Node* ExistingQuantization(const ir::Value* v);

absl::StatusOr<MarkingResult> MarkTensors(ir::Model& model, const MarkingOptions& options);

}  // namespace qopt::quantize

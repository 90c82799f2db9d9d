// A deployment target as data: which ops it runs in integer (its column of
// ir/op_traits.def), which activation types its runtime actually fuses, and
// what its kernels cost, as measured on the runtime
// (tools/ort/measure_target.js writes such a profile; docs/targets.md).
// qdq-boundaries, fuse-qdq and float-islands all read the same profile.
#pragma once

#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "ir/model.h"
#include "ir/op_traits.h"
#include "nlohmann/json.hpp"

namespace qopt::analysis {

// Estimated nanoseconds of one kernel call: a fixed part plus a part per
// multiply-accumulate and a part per output element, fitted to
// measurements at several shapes.
struct LinearCost {
  double per_call_ns = 0;
  double per_mac_ns = 0;
  double per_element_ns = 0;
  double Estimate(double macs, double elements) const {
    return per_call_ns + per_mac_ns * macs + per_element_ns * elements;
  }
  bool known() const { return per_call_ns != 0 || per_mac_ns != 0 || per_element_ns != 0; }
};

// The classes of units a profile measures apart, because their kernels
// behave differently: "conv-first" (reads <= 4 input channels, typically the
// image), "conv-depthwise" (group == input channels > 1), "conv-pointwise"
// (1x1, group 1), "conv-dense" (any other Conv), "matmul", "gemm"; any
// other node: its op type ("Add", "Mul", "AveragePool", ...).
std::string UnitClassOf(const ir::Node& node);

// What was measured for one unit class and activation type.
struct KernelMeasurement {
  std::string unit_class;
  ir::ElementType activation = ir::ElementType::kUint8;  // uint8 or int8
  // The runtime's own graph optimizer turns the QDQ unit into its integer
  // kernel. Where it does not, a fused file is a different computation
  // than the runtime's run of the QDQ file.
  bool fused_by_runtime = true;
  LinearCost integer;   // the integer kernel, Q/DQ not included
  LinearCost float_op;  // the float op on the same shapes
  std::string note;     // e.g. "QLinearConv with int8 activations: 4.1x the uint8 kernel"
};

struct TargetProfile {
  std::string name;
  std::string description;
  // Its column in ir/op_traits.def: which ops have an integer kernel
  // (QLinearConv, QGemm, ...) and which run on the integer data as it is,
  // Q/DQ dropped ("="), which needs every input and the output to share one
  // scale and zero point: Reshape, Transpose, ... and, where the target has
  // no QLinearConcat, Concat ("mixed scales on Concat").
  ir::Target kernels = ir::Target::kOrtCpu;
  // Integer types of Q/DQ the kernels take (uint8/int8 on both targets;
  // int16, int4 and float8 Q/DQ of opset 19-21 stay float there).
  std::set<ir::ElementType> integer_types;
  bool symmetric_int8_weights = false;  // int8 weights must have zero point 0
  bool conv_per_channel_axis0_only = true;
  bool block_wise_weights = false;  // QuantizeLinear/DequantizeLinear block_size > 0

  // Measured facts (empty for a profile that states only the op table).
  std::string source;  // where the figures come from: machine, runtime version, command
  // Activation types the runtime fuses and runs fast. A unit with other
  // 8-bit activations is left as Q/DQ by the runtime; s8-to-u8 turns int8
  // activations into uint8 exactly where uint8 is listed here and int8 is not.
  std::set<ir::ElementType> fused_activation_types;
  // Why units with other activation types are not fused, as measured
  // (qdq-boundaries quotes it).
  std::string unfused_activation_note;
  LinearCost quantize;    // one QuantizeLinear, per element
  LinearCost dequantize;  // one DequantizeLinear, per element
  std::vector<KernelMeasurement> measurements;

  // The node's kernel on this target ("" for none, "=" for the op on the
  // integers as they are); only default-domain ops have one.
  absl::string_view KernelFor(const ir::Node& node) const;
  bool HasIntegerKernel(const ir::Node& node) const {
    const absl::string_view k = KernelFor(node);
    return !k.empty() && k != "=";
  }
  bool RunsOnIntegers(const ir::Node& node) const { return KernelFor(node) == "="; }
  // Whether the runtime fuses units with this activation type (all integer
  // types when the profile measured nothing).
  bool FusesActivation(ir::ElementType activation) const {
    return fused_activation_types.empty() ? integer_types.contains(activation)
                                          : fused_activation_types.contains(activation);
  }
  // uint8 is fused and int8 is not: int8 activations are worth converting.
  bool PrefersUnsignedActivations() const {
    return FusesActivation(ir::ElementType::kUint8) && !FusesActivation(ir::ElementType::kInt8);
  }
  // The measurement of `node`'s class with this activation type; null if
  // the profile has none.
  const KernelMeasurement* MeasurementFor(const ir::Node& node, ir::ElementType activation) const;
  // Why the runtime does not fuse `node`'s unit with `activation` (the
  // measurement's note, else the profile's); empty when it does.
  std::string WhyActivationNotFused(const ir::Node& node, ir::ElementType activation) const;
};

// A built-in profile ("ort-cpu", "onnx-standard") by name; null otherwise.
const TargetProfile* FindTargetProfile(const std::string& name);
std::vector<std::string> TargetProfileNames();

// A built-in name, or the path of a profile file (JSON, schema
// "qopt-target/1", as tools/ort/measure_target.js writes). Files are read
// once per process and kept, so the pointer stays valid. A bad file is an
// InvalidArgument naming the file and the field.
absl::StatusOr<const TargetProfile*> ResolveTargetProfile(const std::string& name_or_path);
absl::StatusOr<TargetProfile> TargetProfileFromJson(const nlohmann::json& json);
nlohmann::json TargetProfileToJson(const TargetProfile& profile);

}  // namespace qopt::analysis

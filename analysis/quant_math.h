// Quantization arithmetic shared by the quantize pass and the analyses:
// integer ranges per type, scale/zero-point from a real range, and value
// quantization, with the conventions of ONNX Runtime's quantizer
// (docs/ort-quantizer-layout.md §4): ranges always include 0, scales are
// computed in double and stored as float, rounding is half to even, values
// are clipped to the type's full range.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "ir/element_type.h"

namespace qopt::analysis {

struct IntRange {
  int64_t min = 0;
  int64_t max = 0;
};

// The integer range used for a quantized type: reduce_range halves it (the
// 7-bit trick for old CPUs), symmetric drops the lowest value of signed
// types (int8 -> [-127, 127]) and the highest of unsigned ones (uint8 ->
// [0, 254], zero point 127). Fails for types that are not 4/8/16-bit ints.
absl::StatusOr<IntRange> QuantizedRange(ir::ElementType type, bool symmetric, bool reduce_range);
// The whole representable range of the type (what values are clipped to).
absl::StatusOr<IntRange> FullRange(ir::ElementType type);

struct ScaleZeroPoint {
  float scale = 1.0f;
  int64_t zero_point = 0;
};

// From a real range [rmin, rmax]; the range is first widened to contain 0.
// A degenerate range (scale below the smallest normal float) gives scale 1
// and zero point 0, as ONNX Runtime does.
ScaleZeroPoint ComputeScaleZeroPoint(double rmin, double rmax, IntRange range, bool symmetric);

// round_half_even(x / scale) + zero_point, clipped to `clip`.
int64_t QuantizeValue(float x, float scale, int64_t zero_point, IntRange clip);

// Parameters of a constant tensor, per tensor (axis < 0) or one per slice
// along `axis`, each from the min/max of its values.
struct TensorParams {
  std::vector<float> scales;
  std::vector<int64_t> zero_points;
  int axis = -1;  // -1 when per tensor (also when `axis` is out of range)
};
TensorParams ComputeTensorParams(const std::vector<double>& data, const std::vector<int64_t>& dims, int axis,
                                 IntRange range, bool symmetric);

// ONNX Runtime >= 1.20: an int8/int16 weight scale whose int32 bias scale
// (input_scale * weight_scale) is too small for a bias of magnitude
// `bias_absmax` is enlarged so that the bias does not saturate; nullopt when
// it is large enough already. quantize and per-channel share the rule.
std::optional<float> WeightScaleForBias(float weight_scale, double input_scale, double bias_absmax);

// Quantizes every value with the parameters of its channel.
std::vector<int64_t> QuantizeTensor(const std::vector<double>& data, const std::vector<int64_t>& dims,
                                    const TensorParams& params, IntRange clip);

// Raw little-endian bytes of integer values stored as `type` (int4/uint4
// packed two per byte, low nibble first).
std::string PackIntegers(const std::vector<int64_t>& values, ir::ElementType type);

}  // namespace qopt::analysis

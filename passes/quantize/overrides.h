// Per-tensor quantization overrides (the quantize pass's `overrides=FILE`),
// after ONNX Runtime's TensorQuantOverrides:
//   {"tensor": {"quant_type": "u16", "symmetric": true, "reduce_range": false,
//               "rmin": -1.0, "rmax": 1.0, "scale": 0.01, "zero_point": 0}}
// Every key is optional; "scale" and "zero_point" go together and fix the
// parameters outright; "rmin"/"rmax" replace the calibrated range.
#pragma once

#include <map>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "ir/element_type.h"

namespace qopt::quantize {

struct TensorOverride {
  std::optional<ir::ElementType> quant_type;
  std::optional<bool> symmetric;
  std::optional<bool> reduce_range;
  std::optional<double> rmin;
  std::optional<double> rmax;
  std::optional<float> scale;
  std::optional<int64_t> zero_point;
};

absl::StatusOr<ir::ElementType> ParseQuantType(const std::string& text);

// Errors name the file, the tensor and the key.
absl::StatusOr<std::map<std::string, TensorOverride>> LoadOverrides(const std::string& path);

}  // namespace qopt::quantize

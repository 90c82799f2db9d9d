// Calibration ranges for static quantization, read from calib.json (schema
// "qopt-calib/1", written by qopt-calibrate; docs/calibration.md).
#pragma once

#include <map>
#include <optional>
#include <string>

#include "absl/status/statusor.h"

namespace qopt::quantize {

struct TensorRange {
  double min = 0;
  double max = 0;
};

class CalibrationTable {
 public:
  // `use_percentile`: take each tensor's percentile range (calibrated with
  // --percentile) instead of its min/max. Errors name the file and tensor.
  static absl::StatusOr<CalibrationTable> Load(const std::string& path, bool use_percentile);
  static CalibrationTable FromRanges(std::map<std::string, TensorRange> ranges);

  std::optional<TensorRange> Find(const std::string& tensor) const;
  size_t size() const { return ranges_.size(); }

 private:
  std::map<std::string, TensorRange> ranges_;
};

}  // namespace qopt::quantize

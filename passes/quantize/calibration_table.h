// Calibration ranges for static quantization, read from calib.json (schema
// "qopt-calib/1", written by qopt-calibrate; docs/calibration.md).
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

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

// A tensor's per-channel absolute maxima (calib.json's `channel` entry)
// with its per-tensor min and max, for passes that rescale channels.
struct ChannelStats {
  int64_t axis = 0;
  std::string rule;  // channels-first, channels-last or ort-per-channel
  std::vector<double> absmax;
  double min = 0;
  double max = 0;
};

// Every tensor of `path` (qopt-calib/1) that has a per-channel vector and a
// finite range. Errors name the file.
absl::StatusOr<std::map<std::string, ChannelStats>> LoadChannelStats(const std::string& path);

}  // namespace qopt::quantize

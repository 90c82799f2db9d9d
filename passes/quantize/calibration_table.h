// Calibration ranges for static quantization, read from calib.json (schema
// "qopt-calib/1", written by qopt-calibrate; docs/calibration.md).
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace qopt::quantize {

struct TensorRange {
  double min = 0;
  double max = 0;
};

// Which of a tensor's calibrated ranges to use: the `range=` option of
// quantize and dynamic-to-static. kMinMax is the entry's own min/max; the
// others its "percentile", "entropy", "mse" or "choice" object.
enum class RangeMethod { kMinMax, kPercentile, kEntropy, kMse, kChoice };

// The option values, in enum order: minmax, percentile, entropy, mse, choice.
const std::vector<std::string>& RangeMethodNames();
absl::StatusOr<RangeMethod> ParseRangeMethod(absl::string_view name);

class CalibrationTable {
 public:
  // Reads every tensor's `method` range. Errors name the file, the tensor and
  // the method, and say which qopt-calibrate flag records a missing range.
  static absl::StatusOr<CalibrationTable> Load(const std::string& path, RangeMethod method);
  static CalibrationTable FromRanges(std::map<std::string, TensorRange> ranges);

  std::optional<TensorRange> Find(const std::string& tensor) const;
  size_t size() const { return ranges_.size(); }
  // With RangeMethod::kChoice: how many tensors chose each method.
  const std::map<std::string, int>& chosen() const { return chosen_; }

 private:
  std::map<std::string, TensorRange> ranges_;
  std::map<std::string, int> chosen_;
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

// What a qopt-sensitivity document (sensitivity.json, schema
// "qopt-sensitivity/1", docs/sensitivity.md) says the int8 pass should do:
// which nodes to keep float — its own choice, the first N of its ranked
// units, or the most accurate measured set within a latency budget — and
// which equalization measured best. The document is measured in ONNX
// Runtime by tools/qopt-sensitivity; this side only reads and chooses.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"

namespace qopt::quantize {

// One set of nodes kept float that the document measured: the baseline (no
// node), a prefix of the sweep, or a step of the greedy keep-float search.
struct MeasuredKeepFloat {
  std::string label;  // "baseline", "prefix of 82 nodes (up to p2o.Add.74)", "p2o.Conv.1, p2o.Conv.0"
  std::vector<std::string> names;
  double output_sqnr_db = 0;
  double latency_ratio = 0;  // the deployable file's latency / FP32's, measured side by side
};

// Which measured set to keep float under `budget` (latency / FP32): the
// one with the highest output SQNR among those measured at or below it.
// Every set but the baseline costs float nodes, so a set that is no more
// accurate than the baseline is not worth it; nullopt when the baseline
// itself is over the budget (keeping nodes float only adds latency).
struct LatencyChoice {
  std::optional<size_t> index;  // into the candidates
  std::string why;
};
LatencyChoice ChooseWithinLatency(const std::vector<MeasuredKeepFloat>& candidates, double budget);

// The equalization pass the document measured best (its `equalize.chosen_pass`).
struct MeasuredEqualization {
  std::string pass;  // empty: none was better
  std::vector<std::pair<std::string, std::string>> options;
  std::string why;
};

class SensitivityDocument {
 public:
  static absl::StatusOr<SensitivityDocument> Load(const std::string& path);

  // keep_float.names: the tool's own choice.
  absl::StatusOr<std::vector<std::string>> KeepFloatNames() const;
  // The first `budget` of the ranked units whose keep-float gain is positive.
  absl::StatusOr<std::vector<std::string>> MostSensitiveUnits(int64_t budget) const;
  // The baseline and every measured set that has a latency: the prefix sweep
  // (prefix mode) or the greedy steps (keep-float mode). An error when the
  // document has no latencies (made without --latency-runs).
  absl::StatusOr<std::vector<MeasuredKeepFloat>> LatencyCandidates() const;
  // nullopt when the document was made without --equalize.
  absl::StatusOr<std::optional<MeasuredEqualization>> Equalization() const;

  const std::string& path() const { return path_; }

 private:
  std::string path_;
  nlohmann::json doc_;
};

}  // namespace qopt::quantize

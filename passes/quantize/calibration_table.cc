#include "passes/quantize/calibration_table.h"

#include <cmath>
#include <fstream>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "nlohmann/json.hpp"

namespace qopt::quantize {
namespace {

// The qopt-calibrate flag that records each method's range.
constexpr const char* kHowToRecord[] = {"", "--percentile=P", "--methods=entropy", "--methods=mse",
                                        "--choose=auto (or --choose=METHOD)"};

// A member of a JSON object, or null when it is missing or `object` is not
// an object. nlohmann's const operator[] is undefined behaviour for a
// missing key (a sanitizer run found it reading past the map), and
// calibration files are user input.
const nlohmann::json& Field(const nlohmann::json& object, const char* key) {
  static const nlohmann::json kNull;
  if (!object.is_object()) return kNull;
  auto it = object.find(key);
  return it == object.end() ? kNull : *it;
}

}  // namespace

const std::vector<std::string>& RangeMethodNames() {
  static const auto* names = new std::vector<std::string>{"minmax", "percentile", "entropy", "mse", "choice"};
  return *names;
}

absl::StatusOr<RangeMethod> ParseRangeMethod(absl::string_view name) {
  const auto& names = RangeMethodNames();
  for (size_t i = 0; i < names.size(); ++i) {
    if (names[i] == name) return static_cast<RangeMethod>(i);
  }
  return absl::InvalidArgumentError(
      absl::StrCat("unknown calibrated range '", name, "' (one of ", absl::StrJoin(names, ", "), ")"));
}

absl::StatusOr<CalibrationTable> CalibrationTable::Load(const std::string& path, RangeMethod method) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read calibration file '", path, "'"));
  nlohmann::json doc = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) return absl::InvalidArgumentError(absl::StrCat("'", path, "' is not valid JSON"));
  if (!doc.is_object() || doc.value("schema", "") != "qopt-calib/1") {
    return absl::InvalidArgumentError(
        absl::StrCat("'", path, "' is not a qopt calibration file (expected \"schema\": \"qopt-calib/1\")"));
  }
  const auto& tensors = Field(doc, "tensors");
  if (!tensors.is_object()) return absl::InvalidArgumentError(absl::StrCat("'", path, "' has no \"tensors\" object"));
  const std::string& key = RangeMethodNames()[static_cast<size_t>(method)];
  CalibrationTable table;
  for (const auto& [name, entry] : tensors.items()) {
    const nlohmann::json* source = &entry;
    std::string what = "range";
    if (method != RangeMethod::kMinMax) {
      if (!Field(entry, key.c_str()).is_object()) {
        const std::string missing = method == RangeMethod::kChoice ? "no recorded choice" : key + " range";
        return absl::InvalidArgumentError(
            absl::StrCat("'", path, "': tensor '", name, "' has ", method == RangeMethod::kChoice ? "" : "no ", missing,
                         " (calibrate with qopt-calibrate ", kHowToRecord[static_cast<size_t>(method)], ")"));
      }
      source = &Field(entry, key.c_str());
      what = absl::StrCat(key, " range");
      if (method == RangeMethod::kChoice) {
        const auto& m = Field(*source, "method");
        const std::string chosen = m.is_string() ? m.get<std::string>() : "";
        if (chosen.empty()) {
          return absl::InvalidArgumentError(
              absl::StrCat("'", path, "': tensor '", name, "' has a choice without a method"));
        }
        what = absl::StrCat("chosen range (", chosen, ")");
        ++table.chosen_[chosen];
      }
    }
    const auto& lo = Field(*source, "min");
    const auto& hi = Field(*source, "max");
    if (!lo.is_number() || !hi.is_number()) {
      return absl::InvalidArgumentError(
          absl::StrCat("'", path, "': tensor '", name, "' has no finite ", what, " (NaN or never computed)"));
    }
    TensorRange range{lo.get<double>(), hi.get<double>()};
    if (!std::isfinite(range.min) || !std::isfinite(range.max) || range.min > range.max) {
      return absl::InvalidArgumentError(absl::StrCat("'", path, "': tensor '", name, "' has an invalid ", what, " [",
                                                     range.min, ", ", range.max, "]"));
    }
    table.ranges_[name] = range;
  }
  return table;
}

CalibrationTable CalibrationTable::FromRanges(std::map<std::string, TensorRange> ranges) {
  CalibrationTable table;
  table.ranges_ = std::move(ranges);
  return table;
}

std::optional<TensorRange> CalibrationTable::Find(const std::string& tensor) const {
  auto it = ranges_.find(tensor);
  if (it == ranges_.end()) return std::nullopt;
  return it->second;
}

absl::StatusOr<std::map<std::string, ChannelStats>> LoadChannelStats(const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read calibration file '", path, "'"));
  nlohmann::json doc = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) return absl::InvalidArgumentError(absl::StrCat("'", path, "' is not valid JSON"));
  if (!doc.is_object() || doc.value("schema", "") != "qopt-calib/1" || !Field(doc, "tensors").is_object()) {
    return absl::InvalidArgumentError(absl::StrCat("'", path, "' is not a qopt calibration file"));
  }
  std::map<std::string, ChannelStats> stats;
  for (const auto& [name, entry] : Field(doc, "tensors").items()) {
    const auto& channel = Field(entry, "channel");
    if (!channel.is_object()) continue;
    if (!Field(channel, "axis").is_number_integer() || !Field(channel, "absmax").is_array()) continue;
    if (!Field(entry, "min").is_number() || !Field(entry, "max").is_number()) continue;
    ChannelStats s;
    s.axis = Field(channel, "axis").get<int64_t>();
    s.rule = channel.value("rule", "");
    s.min = Field(entry, "min").get<double>();
    s.max = Field(entry, "max").get<double>();
    bool finite = std::isfinite(s.min) && std::isfinite(s.max);
    for (const auto& a : Field(channel, "absmax")) {
      if (!a.is_number() || !std::isfinite(a.get<double>())) {
        finite = false;
        break;
      }
      s.absmax.push_back(a.get<double>());
    }
    if (finite && !s.absmax.empty()) stats.emplace(name, std::move(s));
  }
  return stats;
}

}  // namespace qopt::quantize

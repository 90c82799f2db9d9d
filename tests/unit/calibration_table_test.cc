// CalibrationTable reads each of calib.json's ranges (min/max, percentile,
// entropy, mse, the recorded choice) and names the file, tensor and method,
// with the qopt-calibrate flag that records it, when one is missing.
#include "passes/quantize/calibration_table.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "gtest/gtest.h"

namespace qopt::quantize {
namespace {

namespace fs = std::filesystem;

std::string WriteFile(const std::string& name, const std::string& text) {
  const fs::path path = fs::temp_directory_path() / (name + "_" + std::to_string(::getpid()) + ".calib.json");
  std::ofstream(path) << text;
  return path.string();
}

// X has every range; Y only min/max and a choice.
constexpr char kFull[] = R"({"schema": "qopt-calib/1", "tensors": {
  "X": {"min": -4, "max": 8, "absmax": 8,
        "percentile": {"p": 99.9, "min": -3, "max": 7, "absmax": 7},
        "entropy": {"min": -2, "max": 6, "absmax": 6, "levels": 128},
        "mse": {"min": -1, "max": 5, "absmax": 5, "levels": 256},
        "choice": {"method": "mse", "min": -1, "max": 5, "reason": "highest estimated SQNR"}},
  "Y": {"min": 0, "max": 1, "absmax": 1, "choice": {"method": "minmax", "min": 0, "max": 1}}}})";

TEST(CalibrationTable, RangeMethodNamesRoundTrip) {
  const auto& names = RangeMethodNames();
  ASSERT_EQ(names.size(), 5u);
  for (size_t i = 0; i < names.size(); ++i) {
    auto m = ParseRangeMethod(names[i]);
    ASSERT_TRUE(m.ok()) << m.status();
    EXPECT_EQ(static_cast<size_t>(*m), i);
  }
  absl::StatusOr<RangeMethod> bad = ParseRangeMethod("kl");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("minmax, percentile, entropy, mse, choice"), std::string::npos);
}

TEST(CalibrationTable, ReadsEachMethodsRange) {
  const std::string path = WriteFile("methods", kFull);
  const std::string only_x = WriteFile("only_x",
                                       std::string(kFull).substr(0, std::string(kFull).find(",\n  \"Y\"")) + "}}");
  const std::pair<RangeMethod, TensorRange> want[] = {{RangeMethod::kMinMax, {-4, 8}},
                                                      {RangeMethod::kPercentile, {-3, 7}},
                                                      {RangeMethod::kEntropy, {-2, 6}},
                                                      {RangeMethod::kMse, {-1, 5}},
                                                      {RangeMethod::kChoice, {-1, 5}}};
  // Y has no percentile, entropy or mse range, but a choice.
  auto choice = CalibrationTable::Load(path, RangeMethod::kChoice);
  ASSERT_TRUE(choice.ok()) << choice.status();
  EXPECT_EQ(choice->Find("X")->max, 5);
  EXPECT_EQ(choice->Find("Y")->max, 1);
  EXPECT_EQ(choice->chosen(), (std::map<std::string, int>{{"minmax", 1}, {"mse", 1}}));
  fs::remove(path);

  // Only X: every method reads its own object.
  for (const auto& [method, range] : want) {
    auto table = CalibrationTable::Load(only_x, method);
    ASSERT_TRUE(table.ok()) << table.status();
    EXPECT_EQ(table->Find("X")->min, range.min) << RangeMethodNames()[static_cast<size_t>(method)];
    EXPECT_EQ(table->Find("X")->max, range.max) << RangeMethodNames()[static_cast<size_t>(method)];
  }
  fs::remove(only_x);
}

TEST(CalibrationTable, MissingRangesNameTheFileTensorMethodAndFlag) {
  const std::string path = WriteFile("missing",
                                     R"({"schema": "qopt-calib/1", "tensors": {"Y": {"min": 0, "max": 1}}})");
  const std::pair<RangeMethod, std::string> want[] = {
      {RangeMethod::kPercentile, "tensor 'Y' has no percentile range (calibrate with qopt-calibrate --percentile=P)"},
      {RangeMethod::kEntropy, "tensor 'Y' has no entropy range (calibrate with qopt-calibrate --methods=entropy)"},
      {RangeMethod::kMse, "tensor 'Y' has no mse range (calibrate with qopt-calibrate --methods=mse)"},
      {RangeMethod::kChoice, "tensor 'Y' has no recorded choice (calibrate with qopt-calibrate --choose=auto"},
  };
  for (const auto& [method, message] : want) {
    auto table = CalibrationTable::Load(path, method);
    ASSERT_FALSE(table.ok());
    EXPECT_NE(table.status().message().find("'" + path + "': " + message), std::string::npos) << table.status();
  }
  EXPECT_TRUE(CalibrationTable::Load(path, RangeMethod::kMinMax).ok());
  fs::remove(path);
}

TEST(CalibrationTable, BadRangesAreErrors) {
  const std::string null_mse = WriteFile("null_mse", R"({"schema": "qopt-calib/1", "tensors": {"T": {"min": 0, "max": 1,
        "mse": {"min": null, "max": null, "absmax": null}}}})");
  auto a = CalibrationTable::Load(null_mse, RangeMethod::kMse);
  ASSERT_FALSE(a.ok());
  EXPECT_NE(a.status().message().find("tensor 'T' has no finite mse range"), std::string::npos) << a.status();
  fs::remove(null_mse);

  const std::string inverted = WriteFile("inverted", R"({"schema": "qopt-calib/1", "tensors": {"T": {"min": 0, "max": 1,
        "choice": {"method": "entropy", "min": 2, "max": 1}}}})");
  auto b = CalibrationTable::Load(inverted, RangeMethod::kChoice);
  ASSERT_FALSE(b.ok());
  EXPECT_NE(b.status().message().find("tensor 'T' has an invalid chosen range (entropy) [2, 1]"), std::string::npos)
      << b.status();
  fs::remove(inverted);

  const std::string no_method = WriteFile("no_method", R"({"schema": "qopt-calib/1", "tensors": {"T": {"min": 0,
        "max": 1, "choice": {"min": 0, "max": 1}}}})");
  auto c = CalibrationTable::Load(no_method, RangeMethod::kChoice);
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("tensor 'T' has a choice without a method"), std::string::npos) << c.status();
  fs::remove(no_method);

  auto d = CalibrationTable::Load("/nonexistent/calib.json", RangeMethod::kMinMax);
  ASSERT_FALSE(d.ok());
  EXPECT_NE(d.status().message().find("cannot read calibration file '/nonexistent/calib.json'"), std::string::npos);
}

}  // namespace
}  // namespace qopt::quantize

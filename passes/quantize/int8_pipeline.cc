// int8: one pass from an FP32 model to the INT8 file qopt would deploy —
// canonicalize, equalize, quantize, fix biases, keep the most sensitive
// units float, fuse for the target — choosing each stage's settings from the
// model, its calibration table and the options, and saying what it chose and
// why (analysis section `int8`). The stages are the ordinary passes, run
// through a PassManager so that each appears in the report as if written
// out by hand (the `stages` list in the report is that pipeline).
#include <fstream>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "nlohmann/json.hpp"
#include "pass/pass_manager.h"
#include "pass/pipeline.h"
#include "passes/builtin_passes.h"
#include "passes/quantize/calibration_table.h"

namespace qopt {
namespace {

// One stage: a pass or named pipeline and the options it gets.
struct Stage {
  std::string name;
  std::vector<std::pair<std::string, std::string>> options;
  std::string why;
};

std::string StageText(const Stage& s) {
  if (s.options.empty()) return s.name;
  std::vector<std::string> parts;
  for (const auto& [k, v] : s.options) {
    const bool quote = v.find_first_of(" ,{}'\"") != std::string::npos;
    parts.push_back(absl::StrCat(k, "=", quote ? absl::StrCat("'", v, "'") : v));
  }
  return absl::StrCat(s.name, "{", absl::StrJoin(parts, " "), "}");
}

// Escapes a node name for an RE2 alternation.
std::string QuoteRegex(const std::string& name) {
  std::string out;
  for (char c : name) {
    if (std::string_view("\\^$.|?*+()[]{}").find(c) != std::string_view::npos) out += '\\';
    out += c;
  }
  return out;
}

// The names of the units a qopt-sensitivity document (docs/sensitivity.md)
// says to keep float: its own `keep_float.names` (chosen greedily, each kept
// only if the measured output SQNR rose) when budget is negative, else the
// first `budget` of its ranked `units` whose keep-float gain is positive.
absl::StatusOr<std::vector<std::string>> SensitiveUnits(const std::string& path, int64_t budget) {
  std::ifstream in(path);
  if (!in) return absl::InvalidArgumentError(absl::StrCat("int8: cannot read sensitivity file '", path, "'"));
  nlohmann::json doc = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_object()) {
    return absl::InvalidArgumentError(absl::StrCat("int8: '", path, "' is not JSON (want qopt-sensitivity's output)"));
  }
  std::vector<std::string> names;
  if (budget < 0) {
    const nlohmann::json* keep = doc.contains("keep_float") ? &doc["keep_float"] : nullptr;
    if (keep == nullptr || !keep->is_object() || !keep->contains("names") || !(*keep)["names"].is_array()) {
      return absl::InvalidArgumentError(absl::StrCat("int8: '", path, "' has no keep_float.names list"));
    }
    for (const auto& n : (*keep)["names"]) {
      if (n.is_string()) names.push_back(n.get<std::string>());
    }
    return names;
  }
  if (!doc.contains("units") || !doc["units"].is_array()) {
    return absl::InvalidArgumentError(absl::StrCat("int8: '", path, "' has no units list"));
  }
  for (const auto& u : doc["units"]) {  // ranked, most sensitive first
    if (static_cast<int64_t>(names.size()) >= budget) break;
    if (!u.is_object() || !u.contains("name") || !u["name"].is_string()) continue;
    const nlohmann::json* keep = u.contains("keep_float") ? &u["keep_float"] : nullptr;
    if (keep == nullptr || !keep->is_object() || !keep->contains("gain_db") || !(*keep)["gain_db"].is_number() ||
        !((*keep)["gain_db"].get<double>() > 0)) {
      continue;
    }
    names.push_back(u["name"].get<std::string>());
  }
  return names;
}

class Int8Pipeline : public Pass {
 public:
  absl::string_view name() const override { return "int8"; }
  absl::string_view summary() const override {
    return "FP32 to the best deployable INT8 file: canonicalize, equalize, quantize, fix biases, keep sensitive "
           "units float, fuse for the target; reports what it chose and why";
  }

  absl::StatusOr<bool> Run(ir::Model& model, PassContext& context) override {
    if (calibration_.value().empty()) {
      return absl::InvalidArgumentError(
          "int8: needs calibration=calib.json (tools/qopt-calibrate MODEL.onnx --inputs=DIR -o calib.json)");
    }
    absl::StatusOr<std::vector<Stage>> stages = Plan();
    if (!stages.ok()) return stages.status();

    PassRegistry registry;
    RegisterBuiltinPasses(registry);
    PassManager manager;
    for (const Stage& stage : *stages) {
      absl::StatusOr<std::vector<std::unique_ptr<Pass>>> passes = BuildPipeline(stage.name, registry);
      if (!passes.ok()) return passes.status();
      for (const auto& [key, value] : stage.options) {
        int taken = 0;
        for (auto& pass : *passes) {
          if (OptionBase* option = pass->FindOption(key)) {
            ++taken;
            if (absl::Status s = option->Parse(value); !s.ok()) {
              return absl::InvalidArgumentError(absl::StrCat("int8: ", stage.name, "{", key, "}: ", s.message()));
            }
          }
        }
        if (taken == 0) return absl::InternalError(absl::StrCat("int8: ", stage.name, " has no option ", key));
      }
      for (auto& pass : *passes) manager.AddPass(std::move(pass));
    }
    Report(context, *stages);
    if (absl::Status s = manager.Run(model, context); !s.ok()) {
      return absl::Status(s.code(), absl::StrCat("int8: ", s.message()));
    }
    return true;
  }

 private:
  absl::StatusOr<std::vector<Stage>> Plan() {
    const std::string& calib = calibration_.value();
    std::vector<Stage> stages;
    stages.push_back({"canonicalize", {}, "constants as initializers, opset >= 13, BatchNormalization folded"});
    if (hard_swish_.value()) {
      // HardSwish is an opset-14 op; the models' other ops mean the same at 14.
      stages.push_back({"upgrade-opset", {{"opset", "14"}}, "HardSwish needs opset 14"});
      stages.push_back({"fuse-hardswish", {}, "written-out hard-swish as one op: its intermediates are not quantized"});
    }

    // Equalization. SmoothQuant migrates activation outliers into the
    // weights of MatMul/Gemm (the recognizer's transformer blocks); cle
    // balances per-tensor weight ranges of Conv pairs, which per-channel
    // weights do not need, and it would move the ranges of the calibrated
    // tensors between the pairs, so it is only used on request.
    const std::string& eq = equalize_.value();
    if (eq == "smoothquant") {
      stages.push_back({"smoothquant",
                        {{"calibration", calib}, {"alpha", alpha_.value()}},
                        eq == "auto" ? "auto: activation outliers of MatMul/Gemm inputs moved into their weights"
                                     : "equalize=smoothquant"});
    }

    // Ranges: the table's per-tensor choice when it has one, else min/max.
    // Percentile ranges are not picked on their own: clipping every tensor
    // at one percentile cost the recognizer a third of its strings
    // (bench/fidelity.sh, docs/benchmarks.md), while min/max kept them.
    std::string range = range_.value();
    std::string range_why = "range=" + range;
    if (range == "auto") {
      if (quantize::CalibrationTable::Load(calib, quantize::RangeMethod::kChoice).ok()) {
        range = "choice";
        range_why = "auto: the calibration table's per-tensor choice (qopt-calibrate --choose)";
      } else {
        range = "minmax";
        range_why = "auto: min/max (the table records no per-tensor choice)";
      }
    }

    // Units kept float for accuracy.
    std::vector<std::string> keep;
    std::string keep_why;
    if (!sensitivity_.value().empty()) {
      absl::StatusOr<std::vector<std::string>> units = SensitiveUnits(sensitivity_.value(), budget_.value());
      if (!units.ok()) return units.status();
      keep = *units;
      keep_why = absl::StrCat(
          keep.size(), " nodes kept float, as measured in ", sensitivity_.value(),
          budget_.value() < 0 ? " (its keep_float.names)" : absl::StrCat(" (budget ", budget_.value(), ")"));
    }
    std::string exclude;
    if (!keep.empty()) {
      std::vector<std::string> quoted;
      for (const std::string& n : keep) quoted.push_back(QuoteRegex(n));
      exclude = absl::StrCat("^(", absl::StrJoin(quoted, "|"), ")$");
    }
    if (!keep_float_.value().empty()) {
      exclude = exclude.empty() ? keep_float_.value() : absl::StrCat(exclude, "|", keep_float_.value());
      absl::StrAppend(&keep_why, keep_why.empty() ? "" : "; ", "keep-float=", keep_float_.value());
    }

    Stage quantize{"quantize",
                   {{"calibration", calib},
                    {"per-channel", per_channel_.value() ? "true" : "false"},
                    {"range", range}},
                   absl::StrCat(per_channel_.value() ? "per-channel weights" : "per-tensor weights (per-channel=false)",
                                "; ", range_why)};
    if (!exclude.empty()) {
      quantize.options.push_back({"exclude-nodes", exclude});
      absl::StrAppend(&quantize.why, "; ", keep_why);
    }
    stages.push_back(std::move(quantize));
    stages.push_back({"fix-bias-overflow", {}, "int32 biases that would saturate get a larger weight scale"});

    if (fuse_.value() == "auto") {
      Stage fuse{"fuse-qdq", {{"float-units", "auto"}, {"target", target_.value()}},
                 absl::StrCat("integer kernels for ", target_.value(),
                              "; units its measured profile says are faster in float stay float")};
      if (!input_shape_.value().empty()) fuse.options.push_back({"input-shape", input_shape_.value()});
      stages.push_back(std::move(fuse));
    } else if (fuse_.value() == "exact") {
      stages.push_back({"fuse-qdq", {{"target", target_.value()}}, "integer kernels, exact against ORT's own run"});
    }
    return stages;
  }

  void Report(PassContext& context, const std::vector<Stage>& stages) const {
    if (context.report == nullptr) return;
    nlohmann::json list = nlohmann::json::array();
    std::vector<std::string> texts;
    std::string text = "int8 runs:\n";
    for (const Stage& s : stages) {
      list.push_back({{"stage", StageText(s)}, {"why", s.why}});
      texts.push_back(StageText(s));
      absl::StrAppend(&text, "  ", StageText(s), "\n      ", s.why, "\n");
    }
    context.report->AddAnalysis("int8", {{"stages", list}, {"pipeline", absl::StrJoin(texts, ",")}}, text);
  }

  Option<std::string> calibration_{this, "calibration", "calib.json of the FP32 model (qopt-calibrate); required", ""};
  Option<std::string> target_{this, "target", "Target profile for fuse-qdq (ort-cpu or a profile file)", "ort-cpu"};
  Option<bool> per_channel_{this, "per-channel", "Per-channel weights (false: hardware without per-channel)", true};
  Option<std::string> range_{this, "range", "Calibrated range: auto takes the table's per-tensor choice, else minmax",
                             "auto", {"auto", "minmax", "percentile", "entropy", "mse", "choice"}};
  Option<std::string> equalize_{this, "equalize", "smoothquant or none",
                                "none", {"smoothquant", "none"}};
  Option<std::string> alpha_{this, "alpha", "smoothquant's migration strength (0..1 or auto)", "auto"};
  Option<std::string> sensitivity_{this, "sensitivity", "qopt-sensitivity output: keep its most sensitive units float",
                                   ""};
  Option<int64_t> budget_{
      this, "budget", "How many of the sensitivity file's ranked units to keep float (-1: its keep_float.names)", -1};
  Option<std::string> keep_float_{this, "keep-float", "re2 pattern: nodes kept float besides the sensitivity file's",
                                  ""};
  // Off by default: measured on det/rec/cls (docs/passes.md#int8) the fused
  // files got slower (DQ -> HardSwish -> Q runs in float on ort-cpu) for a
  // small fidelity gain on rec only.
  Option<bool> hard_swish_{this, "hard-swish", "Fuse written-out hard-swish into HardSwish before quantizing", false};
  Option<std::string> fuse_{this, "fuse", "auto: fuse-qdq with float-units=auto; exact: fuse-qdq; none: QDQ file",
                            "auto", {"auto", "exact", "none"}};
  Option<std::string> input_shape_{this, "input-shape", "Input dims for the float-units=auto cost model (x:1x3x48x320)",
                                   ""};
};

}  // namespace

std::unique_ptr<Pass> CreateInt8PipelinePass() { return std::make_unique<Int8Pipeline>(); }

}  // namespace qopt

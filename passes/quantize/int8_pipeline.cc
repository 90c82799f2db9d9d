// int8: one pass from an FP32 model to the INT8 file qopt would deploy —
// canonicalize, equalize, quantize, fix biases, keep the most sensitive
// units float, fuse for the target — choosing each stage's settings from the
// model, its calibration table and the options, and saying what it chose and
// why (analysis section `int8`). The stages are the ordinary passes, built
// from the pipeline text the report shows and run through a PassManager, so
// each appears in the report as if written out by hand. What needs ONNX
// Runtime to decide (equalization, which units stay float, within which
// latency) comes measured from a qopt-sensitivity document.
#include <algorithm>
#include <memory>
#include <optional>
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
#include "passes/quantize/sensitivity_document.h"

namespace qopt {
namespace {

// One stage: a pass or named pipeline and the options it gets.
struct Stage {
  std::string name;
  std::vector<std::pair<std::string, std::string>> options;
  std::string why;
};

// The stage in pipeline syntax. A value with spaces, commas, braces or
// quotes is quoted with the quote it does not contain. `shorten` is for the
// text report: an exclude-nodes alternation of a hundred names says little.
std::string StageText(const Stage& s, bool shorten = false) {
  if (s.options.empty()) return s.name;
  std::vector<std::string> parts;
  for (const auto& [k, v] : s.options) {
    if (shorten && v.size() > 80) {
      parts.push_back(absl::StrCat(k, "='", v.substr(0, 40), "...' (", v.size(), " characters)"));
      continue;
    }
    const bool quote = v.empty() || v.find_first_of(" ,{}'\"") != std::string::npos;
    const char q = v.find('\'') == std::string::npos ? '\'' : '"';
    parts.push_back(quote ? absl::StrCat(k, "=", std::string(1, q), v, std::string(1, q)) : absl::StrCat(k, "=", v));
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
    absl::StatusOr<Plan> plan = MakePlan();
    if (!plan.ok()) return absl::Status(plan.status().code(), absl::StrCat("int8: ", plan.status().message()));

    // The stages run as the pipeline text the report shows, so that what
    // int8 says it ran and what it ran cannot differ.
    std::vector<std::string> texts;
    for (const Stage& s : plan->stages) texts.push_back(StageText(s));
    const std::string pipeline = absl::StrJoin(texts, ",");
    PassRegistry registry;
    RegisterBuiltinPasses(registry);
    absl::StatusOr<std::vector<std::unique_ptr<Pass>>> passes = BuildPipeline(pipeline, registry);
    if (!passes.ok()) return absl::InternalError(absl::StrCat("int8: its own pipeline: ", passes.status().message()));
    PassManager manager;
    for (auto& pass : *passes) manager.AddPass(std::move(pass));
    Report(context, *plan, pipeline);
    if (absl::Status s = manager.Run(model, context); !s.ok()) {
      return absl::Status(s.code(), absl::StrCat("int8: ", s.message()));
    }
    return true;
  }

 private:
  struct Plan {
    std::vector<Stage> stages;
    std::vector<std::string> notes;  // decisions that added no stage
  };

  absl::StatusOr<Plan> MakePlan() {
    const std::string& calib = calibration_.value();
    std::optional<quantize::SensitivityDocument> sensitivity;
    if (!sensitivity_.value().empty()) {
      absl::StatusOr<quantize::SensitivityDocument> doc = quantize::SensitivityDocument::Load(sensitivity_.value());
      if (!doc.ok()) return doc.status();
      sensitivity = *std::move(doc);
    }
    if (latency_budget_.value() > 0 && !sensitivity) {
      return absl::InvalidArgumentError(
          "latency-budget= chooses among the sets a sensitivity= document measured; give one "
          "(qopt-sensitivity --latency-runs=N)");
    }
    if (latency_budget_.value() > 0 && budget_.value() >= 0) {
      return absl::InvalidArgumentError("give budget= (a count of units) or latency-budget=, not both");
    }

    Plan plan;
    std::vector<Stage>& stages = plan.stages;
    stages.push_back({"canonicalize", {}, "constants as initializers, opset >= 13, BatchNormalization folded"});
    if (hard_swish_.value()) {
      // HardSwish is an opset-14 op; the models' other ops mean the same at 14.
      stages.push_back({"upgrade-opset", {{"opset", "14"}}, "HardSwish needs opset 14"});
      stages.push_back({"fuse-hardswish", {}, "written-out hard-swish as one op: its intermediates are not quantized"});
    }

    // Equalization. Only what keeps the calibration table valid can be
    // planned here: smoothquant passes its new ranges on to quantize, while
    // cle moves the ranges of the tensors between its pairs (recalibrate
    // after it, outside int8). Whether it helps is measured, not assumed:
    // on the PaddleOCR models alpha 0.5 gained on some and lost on others
    // (docs/benchmarks.md), so `auto` takes what the sensitivity document
    // measured best (qopt-sensitivity --equalize=...).
    const std::string& eq = equalize_.value();
    if (eq == "smoothquant") {
      stages.push_back({"smoothquant", {{"calibration", calib}, {"alpha", alpha_.value()}}, "equalize=smoothquant"});
    } else if (eq == "auto") {
      absl::StatusOr<std::optional<quantize::MeasuredEqualization>> measured =
          sensitivity ? sensitivity->Equalization() : std::optional<quantize::MeasuredEqualization>();
      if (!measured.ok()) return measured.status();
      if (!measured->has_value()) {
        plan.notes.push_back(
            "no equalization: equalize=auto and nothing measured it (qopt-sensitivity --equalize=... does)");
      } else if ((*measured)->pass.empty()) {
        plan.notes.push_back(
            absl::StrCat("no equalization: none measured best in ", sensitivity->path(), ": ", (*measured)->why));
      } else {
        Stage stage{(*measured)->pass, (*measured)->options,
                    absl::StrCat("auto: measured best in ", sensitivity->path(), ": ", (*measured)->why)};
        const bool has_calibration = std::any_of(stage.options.begin(), stage.options.end(),
                                                 [](const auto& kv) { return kv.first == "calibration"; });
        if (stage.name == "smoothquant" && !has_calibration)
          stage.options.insert(stage.options.begin(), {"calibration", calib});
        stages.push_back(std::move(stage));
      }
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

    // Units kept float for accuracy: what the sensitivity document chose,
    // its N most sensitive units, or its most accurate measured set whose
    // deployable file ran within the latency budget.
    std::vector<std::string> keep;
    std::string keep_why;
    if (sensitivity && latency_budget_.value() > 0) {
      absl::StatusOr<std::vector<quantize::MeasuredKeepFloat>> candidates = sensitivity->LatencyCandidates();
      if (!candidates.ok()) return candidates.status();
      quantize::LatencyChoice choice = quantize::ChooseWithinLatency(*candidates, latency_budget_.value());
      if (choice.index) keep = (*candidates)[*choice.index].names;
      keep_why = absl::StrCat(keep.size(), " nodes kept float: ", choice.why, " (measured in ", sensitivity->path(),
                              ")");
    } else if (sensitivity) {
      absl::StatusOr<std::vector<std::string>> units = budget_.value() < 0
                                                           ? sensitivity->KeepFloatNames()
                                                           : sensitivity->MostSensitiveUnits(budget_.value());
      if (!units.ok()) return units.status();
      keep = *units;
      keep_why = absl::StrCat(
          keep.size(), " nodes kept float, as measured in ", sensitivity->path(),
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
    if (!exclude.empty()) quantize.options.push_back({"exclude-nodes", exclude});
    if (!keep_why.empty()) absl::StrAppend(&quantize.why, "; ", keep_why);
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
    return plan;
  }

  void Report(PassContext& context, const Plan& plan, const std::string& pipeline) const {
    if (context.report == nullptr) return;
    nlohmann::json list = nlohmann::json::array();
    std::string text = "int8 runs:\n";
    for (const Stage& s : plan.stages) {
      list.push_back({{"stage", StageText(s)}, {"why", s.why}});
      absl::StrAppend(&text, "  ", StageText(s, /*shorten=*/true), "\n      ", s.why, "\n");
    }
    for (const std::string& note : plan.notes) absl::StrAppend(&text, "  (", note, ")\n");
    context.report->AddAnalysis("int8", {{"stages", list}, {"notes", plan.notes}, {"pipeline", pipeline}}, text);
  }

  Option<std::string> calibration_{this, "calibration", "calib.json of the FP32 model (qopt-calibrate); required", ""};
  Option<std::string> target_{this, "target", "Target profile for fuse-qdq (ort-cpu or a profile file)", "ort-cpu"};
  Option<bool> per_channel_{this, "per-channel", "Per-channel weights (false: hardware without per-channel)", true};
  Option<std::string> range_{this, "range", "Calibrated range: auto takes the table's per-tensor choice, else minmax",
                             "auto", {"auto", "minmax", "percentile", "entropy", "mse", "choice"}};
  Option<std::string> equalize_{this,
                                "equalize",
                                "auto: what the sensitivity file measured best (else none); smoothquant; none",
                                "auto",
                                {"auto", "smoothquant", "none"}};
  Option<std::string> alpha_{this, "alpha", "equalize=smoothquant's migration strength (0..1 or auto)", "auto"};
  Option<std::string> sensitivity_{this, "sensitivity", "qopt-sensitivity output: keep its most sensitive units float",
                                   ""};
  Option<int64_t> budget_{
      this, "budget", "How many of the sensitivity file's ranked units to keep float (-1: its keep_float.names)", -1};
  Option<double> latency_budget_{
      this, "latency-budget",
      "Keep float the most accurate set the sensitivity file measured within this latency / FP32 (0: no budget)", 0};
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

// qopt-opt: runs a pipeline of qopt passes over an ONNX model, in the manner
// of mlir-opt. Everything here is flags and printing; the work is done by the
// library (ir/, analysis/, passes/).
//
// Exit codes: 0 success; 1 a --fail-on gate tripped; 2 bad input or usage
// (nothing is written); 3 internal error (a pass broke the IR: a qopt bug).
#include <algorithm>
#include <fstream>
#include <iostream>
#include <set>

#include "absl/cleanup/cleanup.h"
#include "absl/flags/flag.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "ir/op_traits.h"
#include "ir/printer.h"
#include "ir/serialization.h"
#include "ir/temp_files.h"
#include "onnx/checker.h"
#include "pass/instrumentation.h"
#include "pass/pass_manager.h"
#include "pass/pipeline.h"
#include "pass/registry.h"
#include "passes/builtin_passes.h"
#include "passes/qdq_census_instrumentation.h"
#include "render/dot.h"
#include "render/graph_dot.h"
#include "render/html_report.h"

ABSL_FLAG(std::string, pass, "", "Pass pipeline, e.g. 'dce,canonicalize-constants{direction=to-nodes},op-count'");
ABSL_FLAG(std::string, output, "", "Write the rewritten model here (atomically; never over the input)");
ABSL_FLAG(bool, list_passes, false, "List the passes with their options and statistics, then exit");
ABSL_FLAG(std::string, list_op_traits, "",
          "Print the op-traits table (ir/op_traits.def) as 'text' or 'json' (for the Node tools), then exit");
ABSL_FLAG(std::string, print_target, "",
          "Print a target profile (built-in name or profile file) as qopt-target/1 JSON, then exit: the start of "
          "a profile of your own (docs/targets.md)");
ABSL_FLAG(bool, verify_each, true, "Verify the IR after every pass (--noverify-each to skip)");
ABSL_FLAG(bool, verify_shapes_each, false,
          "Also check declared shapes against ONNX shape inference after every pass that changed the model "
          "(by default: on the input and once after the pipeline)");
ABSL_FLAG(bool, print_ir_after_all, false, "Print the IR (ONNX textual syntax) after every pass");
ABSL_FLAG(bool, print_ir_before_all, false, "Print the IR before every pass");
ABSL_FLAG(bool, print_ir_after_change, false, "Print the IR only after passes that changed it");
ABSL_FLAG(std::string, print_ir_before, "", "Print the IR before these passes (comma-separated names)");
ABSL_FLAG(std::string, print_ir_after, "", "Print the IR after these passes (comma-separated names)");
ABSL_FLAG(bool, timing, false,
          "Print wall time per pass, per verification and of reading and writing the model (to stderr)");
ABSL_FLAG(bool, stats, false, "Print pass statistics (to stderr)");
ABSL_FLAG(std::string, report, "text",
          "Report format on stdout or --report-file: text | json | html (one self-contained page with the drawings "
          "before and after) | none");
ABSL_FLAG(std::string, report_file, "", "Write the report to this file instead of stdout");
ABSL_FLAG(std::string, emit, "",
          "Print the final model to stdout: 'text' (ONNX textual syntax) or 'dot' (Graphviz, the quantization view)");
ABSL_FLAG(std::string, dot_before, "",
          "Draw the model before the pipeline: FILE.dot/.gv (DOT text) or FILE.svg/.png/.pdf (rendered by Graphviz)");
ABSL_FLAG(std::string, dot_after, "", "Draw the model after the pipeline (as --dot-before)");
ABSL_FLAG(std::string, dot_focus, "",
          "Draw only the nodes within --dot-hops edges of those whose name, op type or output matches this RE2 "
          "pattern");
ABSL_FLAG(int, dot_hops, 2, "Neighbourhood size for --dot-focus");
ABSL_FLAG(bool, dot_summary, false,
          "Draw one box per integer or float region (with its op counts) instead of one per node, and the Q/DQ "
          "crossings between them");
ABSL_FLAG(std::string, dot_cluster, "units",
          "Boxes in drawings: units (QDQ node units), scope (name prefix up to the last '/'), none");
ABSL_FLAG(bool, onnx_check, false, "Run the ONNX checker on the result (where libonnx knows the opsets)");
ABSL_FLAG(std::string, fail_on, "", "Exit 1 when the report has findings of this severity or worse: error | warning");
ABSL_FLAG(std::string, external_data, "auto",
          "How to write tensors: auto (external stays external) | inline | external");
ABSL_FLAG(bool, fsync, false,
          "Flush the output to disk before renaming it into place, so that it survives a power loss (slower on "
          "large models)");
ABSL_FLAG(bool, help, false, "Show this help");

#include "tools/qopt-opt/command_line.h"

// The model, left to the operating system at exit (see main). External
// linkage, so that the store to it is not optimized away as unread (the
// model would then look leaked to LeakSanitizer).
qopt::ir::Model* model_kept_until_exit = nullptr;

namespace {

constexpr int kExitOk = 0;
constexpr int kExitGate = 1;
constexpr int kExitBadInput = 2;
constexpr int kExitInternal = 3;

int Fail(int code, absl::string_view message) {
  std::cerr << "qopt-opt: error: " << message << "\n";
  return code;
}

std::set<std::string> SplitNames(const std::string& text) {
  std::set<std::string> out;
  for (absl::string_view s : absl::StrSplit(text, ',', absl::SkipEmpty())) out.insert(std::string(s));
  return out;
}

// libonnx 1.12 knows IR version <= 8 and default-domain opsets <= 17; the
// checker is only meaningful within that.
bool CheckerKnows(const onnx::ModelProto& model, std::string* why) {
  if (model.ir_version() > 8) {
    *why = absl::StrCat("IR version ", model.ir_version(), " is newer than libonnx 1.12 knows");
    return false;
  }
  for (const auto& opset : model.opset_import()) {
    if ((opset.domain().empty() || opset.domain() == "ai.onnx") && opset.version() > 17) {
      *why = absl::StrCat("opset ", opset.version(), " is newer than libonnx 1.12 knows");
      return false;
    }
  }
  return true;
}

// Runs libonnx's checker where it knows the IR version and opsets; a note on
// stderr says when it was skipped.
absl::Status RunOnnxChecker(const qopt::ir::Model& model) {
  onnx::ModelProto proto = qopt::ir::ExportModel(model);
  std::string why;
  if (!CheckerKnows(proto, &why)) {
    std::cerr << "qopt-opt: note: ONNX checker skipped: " << why << "\n";
    return absl::OkStatus();
  }
  try {
    onnx::checker::check_model(proto);
  } catch (const std::exception& e) {
    std::string message = e.what();
    std::replace(message.begin(), message.end(), '\n', ' ');
    return absl::InvalidArgumentError(message);
  }
  return absl::OkStatus();
}

// The quantization view of `model` as DOT (target ort-cpu), with the
// --dot-* view options.
absl::StatusOr<std::string> Dot(const qopt::ir::Model& model, const std::string& title) {
  const qopt::analysis::TargetProfile* target = qopt::analysis::FindTargetProfile("ort-cpu");
  if (absl::GetFlag(FLAGS_dot_summary)) return qopt::analysis::SummaryDot(model.graph(), *target, title);
  qopt::analysis::DotViewOptions options;
  options.title = title;
  options.focus = absl::GetFlag(FLAGS_dot_focus);
  options.focus_hops = absl::GetFlag(FLAGS_dot_hops);
  options.cluster = absl::GetFlag(FLAGS_dot_cluster);
  auto style = qopt::analysis::QuantizationDotStyle(model.graph(), *target, options);
  if (!style.ok()) return style.status();
  return qopt::ir::GraphToDot(model.graph(), *style);
}

absl::Status DrawIfAsked(const qopt::ir::Model& model, const std::string& path, const std::string& when) {
  if (path.empty()) return absl::OkStatus();
  auto dot = Dot(model, when);
  if (!dot.ok()) return dot.status();
  return qopt::ir::WriteDot(*dot, qopt::ir::DotFormatForPath(path), path);
}

int Usage() {
  std::cout << "usage: qopt-opt [options] INPUT.onnx [-o OUTPUT.onnx]\n\n"
               "INPUT may also be a file in ONNX textual syntax (*.onnxtxt).\n\nOptions:\n"
            << qopt::tools::FlagsHelp();
  return kExitOk;
}

// The op-traits table for people (one line an op) and for scripts.
nlohmann::json OpTraitsJson() {
  nlohmann::json ops = nlohmann::json::array();
  for (const qopt::ir::OpTraits& t : qopt::ir::AllOpTraits()) {
    nlohmann::json traits = nlohmann::json::array();
    for (qopt::ir::OpTrait flag : qopt::ir::AllOpTraitFlags()) {
      if (t.Has(flag)) traits.push_back(std::string(qopt::ir::OpTraitName(flag)));
    }
    ops.push_back({{"domain", std::string(t.domain)},
                   {"op", std::string(t.op_type)},
                   {"traits", traits},
                   {"weight_input", t.weight_input},
                   {"bias_input", t.bias_input},
                   {"channel_axis", t.channel_axis},
                   {"kernels", {{"ort-cpu", std::string(t.ort_cpu)}, {"onnx-standard", std::string(t.onnx_standard)}}}});
  }
  return {{"schema", "qopt-op-traits/1"}, {"ops", ops}};
}

std::string OpTraitsText() {
  std::string text;
  const nlohmann::json table = OpTraitsJson();
  for (const nlohmann::json& op : table["ops"]) {
    std::vector<std::string> traits = op["traits"].get<std::vector<std::string>>();
    absl::StrAppend(&text, op["domain"].get<std::string>().empty() ? "" : op["domain"].get<std::string>() + "::",
                    op["op"].get<std::string>(), ": ", absl::StrJoin(traits, ", "));
    if (op["weight_input"] != -1) {
      absl::StrAppend(&text, "; weight input ", op["weight_input"].get<int>(), " (channel axis ",
                      op["channel_axis"].get<int>(), ")");
    }
    if (op["bias_input"] != -1) absl::StrAppend(&text, "; bias input ", op["bias_input"].get<int>());
    for (const auto& [target, kernel] : op["kernels"].items()) {
      if (!kernel.get<std::string>().empty()) absl::StrAppend(&text, "; ", target, ": ", kernel.get<std::string>());
    }
    absl::StrAppend(&text, "\n");
  }
  return text;
}

}  // namespace

int main(int argc, char** argv) {
  qopt::ir::InstallFatalSignalCleanup("qopt-opt", kExitBadInput);
  auto positional = qopt::tools::ParseCommandLine(argc, argv);
  if (!positional.ok()) return Fail(kExitBadInput, positional.status().message());
  if (absl::GetFlag(FLAGS_help)) return Usage();

  qopt::PassRegistry registry;
  qopt::RegisterBuiltinPasses(registry);
  if (const std::string format = absl::GetFlag(FLAGS_list_op_traits); !format.empty()) {
    if (format != "text" && format != "json") return Fail(kExitBadInput, "--list-op-traits must be text or json");
    std::cout << (format == "json" ? OpTraitsJson().dump(1) + "\n" : OpTraitsText());
    return kExitOk;
  }
  if (const std::string target = absl::GetFlag(FLAGS_print_target); !target.empty()) {
    absl::StatusOr<const qopt::analysis::TargetProfile*> profile = qopt::analysis::ResolveTargetProfile(target);
    if (!profile.ok()) return Fail(kExitBadInput, profile.status().message());
    std::cout << qopt::analysis::TargetProfileToJson(**profile).dump(2) << "\n";
    return kExitOk;
  }
  if (absl::GetFlag(FLAGS_list_passes)) {
    std::cout << qopt::DescribePasses(registry);
    return kExitOk;
  }
  if (positional->size() != 1) {
    return Fail(kExitBadInput, positional->empty() ? "no input model (usage: qopt-opt [options] INPUT.onnx [-o OUT.onnx])"
                                                   : "more than one input model given");
  }
  const std::string input = positional->front();
  const std::string output = absl::GetFlag(FLAGS_output);
  const std::string report_format = absl::GetFlag(FLAGS_report);
  if (report_format != "text" && report_format != "json" && report_format != "html" && report_format != "none") {
    return Fail(kExitBadInput, "--report must be text, json, html or none");
  }
  const std::string fail_on = absl::GetFlag(FLAGS_fail_on);
  if (!fail_on.empty() && fail_on != "error" && fail_on != "warning") {
    return Fail(kExitBadInput, "--fail-on must be error or warning");
  }
  qopt::ir::SaveOptions save_options;
  save_options.note = [](const std::string& note) { std::cerr << "qopt-opt: note: " << note << "\n"; };
  save_options.fsync = absl::GetFlag(FLAGS_fsync);
  const std::string external = absl::GetFlag(FLAGS_external_data);
  if (external == "auto") {
    save_options.external_data = qopt::ir::SaveOptions::ExternalData::kAuto;
  } else if (external == "inline") {
    save_options.external_data = qopt::ir::SaveOptions::ExternalData::kInline;
  } else if (external == "external") {
    save_options.external_data = qopt::ir::SaveOptions::ExternalData::kExternal;
  } else {
    return Fail(kExitBadInput, "--external-data must be auto, inline or external");
  }

  const std::string emit = absl::GetFlag(FLAGS_emit);
  if (!emit.empty() && emit != "text" && emit != "dot") return Fail(kExitBadInput, "--emit must be text or dot");
  for (const std::string& path : {absl::GetFlag(FLAGS_dot_before), absl::GetFlag(FLAGS_dot_after)}) {
    if (!path.empty() && qopt::ir::DotFormatForPath(path).empty()) {
      return Fail(kExitBadInput, absl::StrCat("cannot tell the drawing format of '", path,
                                              "': use .dot, .gv, .svg, .png or .pdf"));
    }
  }

  // Build the pipeline before reading the model, so usage errors are cheap.
  qopt::PassManager manager;
  // The Q/DQ counts before and after each pass are for the report: two
  // walks of the graph per pass, which --report=none skips.
  if (report_format != "none") manager.AddInstrumentation(qopt::CreateQdqCensusInstrumentation());
  const std::string pipeline = absl::GetFlag(FLAGS_pass);
  if (!pipeline.empty()) {
    auto passes = qopt::BuildPipeline(pipeline, registry);
    if (!passes.ok()) return Fail(kExitBadInput, passes.status().message());
    for (auto& p : *passes) manager.AddPass(std::move(p));
  }
  manager.set_verify_each(absl::GetFlag(FLAGS_verify_each));
  // A file ONNX Runtime would refuse (element types, contradicting shapes)
  // is bad input, named before any pass runs.
  manager.set_reject_invalid_input(true);
  manager.set_verify_shapes_each(absl::GetFlag(FLAGS_verify_shapes_each));
  qopt::PrintIrOptions print;
  print.before = SplitNames(absl::GetFlag(FLAGS_print_ir_before));
  print.after = SplitNames(absl::GetFlag(FLAGS_print_ir_after));
  print.before_all = absl::GetFlag(FLAGS_print_ir_before_all);
  print.after_all = absl::GetFlag(FLAGS_print_ir_after_all);
  print.after_change = absl::GetFlag(FLAGS_print_ir_after_change);
  if (print.before_all || print.after_all || print.after_change || !print.before.empty() || !print.after.empty()) {
    manager.AddInstrumentation(qopt::CreatePrintIrInstrumentation(print, std::cout));
  }
  // The timing table is printed however the run ends.
  const bool timing = absl::GetFlag(FLAGS_timing);
  qopt::TimingReport timing_report;
  if (timing) manager.AddInstrumentation(qopt::CreateTimingInstrumentation(&timing_report));
  absl::Cleanup print_timing = [&] {
    if (timing) timing_report.Print(std::cerr);
  };

  // Read.
  absl::Time start = absl::Now();
  absl::StatusOr<std::unique_ptr<qopt::ir::Model>> model = qopt::ir::LoadModel(input);
  if (!model.ok()) return Fail(kExitBadInput, model.status().message());
  timing_report.Add("(import)", absl::Now() - start);
  // Not freed: the process ends right after main, and freeing the graph one
  // allocation at a time is pure cost (0.3 s of 9.4 s for fuse-qdq on 10^5
  // nodes; clang's -disable-free does the same). The global keeps it
  // reachable, so leak checkers do not count it.
  absl::Cleanup keep_model_until_exit = [&model] { model_kept_until_exit = model->release(); };
  const bool onnx_check = absl::GetFlag(FLAGS_onnx_check);
  if (onnx_check) {
    // A model the checker rejects before any pass ran is bad input, not a
    // qopt bug.
    if (absl::Status s = RunOnnxChecker(**model); !s.ok()) {
      return Fail(kExitBadInput, absl::StrCat("the input model fails the ONNX checker: ", s.message()));
    }
  }

  if (absl::Status s = DrawIfAsked(**model, absl::GetFlag(FLAGS_dot_before), "before"); !s.ok()) {
    return Fail(kExitBadInput, s.message());
  }

  // The HTML report draws the model before and after the pipeline.
  std::string html_before_dot;
  if (report_format == "html") {
    auto dot = Dot(**model, "before");
    if (!dot.ok()) return Fail(kExitBadInput, dot.status().message());
    html_before_dot = *std::move(dot);
  }

  // Run.
  qopt::Report report;
  report.set_input(input);
  report.set_output(output);
  // Passes fill a report only when something reads it (the text, JSON or
  // HTML report, --stats, --fail-on): the summaries they add to it walk the
  // whole graph again (fuse-qdq-units counts Q/DQ before and after and runs
  // the boundary analysis).
  const bool report_read = report_format != "none" || absl::GetFlag(FLAGS_stats) || !fail_on.empty();
  qopt::PassContext context{report_read ? &report : nullptr};
  if (absl::Status s = manager.Run(**model, context); !s.ok()) {
    return Fail(s.code() == absl::StatusCode::kInternal ? kExitInternal : kExitBadInput, s.message());
  }

  if (onnx_check) {
    if (absl::Status s = RunOnnxChecker(**model); !s.ok()) {
      return Fail(kExitInternal, absl::StrCat("the ONNX checker rejects the result: ", s.message()));
    }
  }

  // Write.
  if (!output.empty()) {
    start = absl::Now();
    if (absl::Status s = qopt::ir::SaveModel(**model, output, save_options); !s.ok()) {
      return Fail(kExitBadInput, s.message());
    }
    timing_report.Add("(export)", absl::Now() - start);
  }
  if (absl::Status s = DrawIfAsked(**model, absl::GetFlag(FLAGS_dot_after), "after"); !s.ok()) {
    return Fail(kExitBadInput, s.message());
  }
  if (emit == "text") std::cout << qopt::ir::PrintModel(**model);
  if (emit == "dot") {
    auto dot = Dot(**model, "");
    if (!dot.ok()) return Fail(kExitBadInput, dot.status().message());
    std::cout << *dot;
  }

  if (absl::GetFlag(FLAGS_stats)) {
    for (const qopt::PassRun& run : report.passes()) {
      for (const auto& [name, value] : run.statistics.items()) {
        std::cerr << value << " " << run.name << " - " << name << "\n";
      }
    }
  }
  std::string report_text;
  if (report_format == "json") {
    report_text = report.ToJson().dump(2) + "\n";
  } else if (report_format == "text") {
    report_text = report.ToText();
  } else if (report_format == "html") {
    qopt::HtmlDrawings drawings;
    auto after_dot = Dot(**model, "after");
    if (!after_dot.ok()) return Fail(kExitBadInput, after_dot.status().message());
    for (auto [dot, svg] : {std::pair{&html_before_dot, &drawings.before_svg}, std::pair{&*after_dot, &drawings.after_svg}}) {
      auto rendered = qopt::ir::RenderDot(*dot, "svg");
      if (!rendered.ok()) return Fail(kExitInternal, rendered.status().message());
      *svg = *std::move(rendered);
    }
    report_text = qopt::ReportToHtml(report, drawings);
  }
  const std::string report_file = absl::GetFlag(FLAGS_report_file);
  if (!report_file.empty()) {
    std::ofstream out(report_file);
    out << report_text;
    if (!out) return Fail(kExitBadInput, absl::StrCat("cannot write the report to '", report_file, "'"));
  } else {
    std::cout << report_text;
  }

  if (fail_on == "error" && report.CountFindings(qopt::Severity::kError) > 0) return kExitGate;
  if (fail_on == "warning" && report.CountFindings(qopt::Severity::kWarning) > 0) return kExitGate;
  return kExitOk;
}

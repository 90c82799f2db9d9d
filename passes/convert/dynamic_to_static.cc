// dynamic-to-static: a dynamically quantized file (ONNX Runtime's
// quantize_dynamic layout, see passes/convert/dynamic_sites.h) becomes a
// static QDQ file, the layout fuse-qdq turns into QLinearConv/QLinearMatMul
// units. ONNX Runtime's CPU provider runs the dynamic layout 5-7x slower
// than FP32 (DynamicQuantizeLinear scans each activation at run time and
// ConvInteger -> Cast -> Mul is not fused); static quantization needs the
// activation ranges, which a calibration table of the dynamic file gives.
//
// Two steps:
//  1. Each site becomes the float op on its float input, its weights
//     DequantizeLinear(the same integers, scale, zero point) — the integer
//     weights stay the integers they were — and, for a Conv, the site's bias
//     (either recipe) as the bias input.
//  2. `quantize` with the calibration table quantizes the activations as it
//     would quantize the FP32 model, keeps the weights already behind a
//     DequantizeLinear, and stores each bias as int32 with scale input_scale
//     * weight_scale.
// The tensors keep their names through step 1, so a table calibrated on the
// dynamic file (qopt-calibrate DYNAMIC.onnx) covers every activation.
#include <algorithm>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "passes/builtin_passes.h"
#include "passes/convert/dynamic_sites.h"
#include "passes/fuse_qdq/rewrite_util.h"
#include "passes/quantize/calibration_table.h"

namespace qopt {
namespace {

constexpr absl::string_view kHowToCalibrate =
    "calibrate the dynamic file itself: qopt-calibrate MODEL.onnx --inputs=DIR -o calib.json (it records the "
    "float inputs of the DynamicQuantizeLinear nodes and every other float tensor; see docs/calibration.md)";

class DynamicToStatic : public Pass {
 public:
  absl::string_view name() const override { return "dynamic-to-static"; }
  absl::string_view summary() const override {
    return "Turn a dynamically quantized model (DynamicQuantizeLinear + ConvInteger/MatMulInteger) into static QDQ "
           "from a calibration table, keeping the integer weights";
  }

  absl::StatusOr<bool> Run(ir::Model& model, PassContext& context) override {
    converted_.clear();
    left_.clear();
    derived_ranges_.clear();
    if (calibration_.value().empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("dynamic-to-static needs calibration=calib.json: ", kHowToCalibrate));
    }
    auto table = quantize::CalibrationTable::Load(calibration_.value(), *quantize::ParseRangeMethod(range_.value()));
    if (!table.ok()) return table.status();

    // Every range first: a missing one fails before anything changes. Sites
    // are matched again as they are converted, since converting one replaces
    // the value the next one reads (a site's output is often the next site's
    // input; its name stays).
    ir::Graph& graph = model.graph();
    auto integer_ops = [&graph] {
      std::vector<ir::Node*> ops;
      for (ir::Node* node : graph.nodes()) {
        if (convert::StartsDynamicSite(*node)) ops.push_back(node);
      }
      return ops;
    };
    for (ir::Node* node : integer_ops()) {
      absl::StatusOr<convert::DynamicSite> site = convert::MatchDynamicSite(*node);
      if (site.ok() && !table->Find(site->x->name())) {
        return absl::InvalidArgumentError(
            absl::StrCat("tensor '", site->x->name(), "' (input of ", fuse_qdq::NodeLabel(*site->dynamic_quantize),
                         ") has no range in '", calibration_.value(), "': ", kHowToCalibrate));
      }
    }
    int64_t converted = 0;
    for (ir::Node* node : integer_ops()) {
      if (node->is_erased()) continue;
      absl::StatusOr<convert::DynamicSite> site = convert::MatchDynamicSite(*node);
      if (!site.ok()) {
        left_.push_back({fuse_qdq::NodeLabel(*node), std::string(site.status().message())});
        continue;
      }
      Convert(graph, *site, *table);
      ++converted;
    }
    sites_left_ += static_cast<int64_t>(left_.size());

    const bool changed = converted > 0;
    if (changed) {
      absl::StatusOr<bool> quantized = QuantizeActivations(model, context);
      if (!quantized.ok()) return quantized.status();
    }
    if (context.report != nullptr) context.report->AddAnalysis("dynamic-to-static", ReportJson(), ReportText());
    return changed;
  }

 private:
  struct Converted {
    std::string node;
    std::string from;
    std::string to;
    std::string weights;
    std::string input;
    quantize::TensorRange range;
    bool bias = false;
  };

  void Convert(ir::Graph& graph, const convert::DynamicSite& site, const quantize::CalibrationTable& table) {
    ir::Node& op = *site.integer_op;
    ir::Value* pre_bias = nullptr;
    ir::Value* replacement = convert::AddFloatOp(graph, site, WeightDequantize(graph, site), &pre_bias);
    // A bias ONNX Runtime had fused into the op is an Add again; the MatMul
    // output before it has no calibrated range: the output's, less the bias.
    if (pre_bias != nullptr) {
      if (std::optional<quantize::TensorRange> out = table.Find(site.output->name())) {
        const auto [bias_min, bias_max] = std::minmax_element(site.bias.begin(), site.bias.end());
        derived_ranges_[pre_bias->name()] = {out->min - *bias_max, out->max - *bias_min};
      }
    }
    const std::string float_op = site.conv ? "Conv" : "MatMul";
    const ir::Tensor& wq = *site.weights->constant();
    converted_.push_back(
        {.node = fuse_qdq::NodeLabel(op),
         .from = op.op_type(),
         .to = float_op,
         .weights = absl::StrCat(ir::ElementTypeName(wq.type()), site.channel_axis ? " per channel" : " per tensor"),
         .input = site.x->name(),
         .range = *table.Find(site.x->name()),
         .bias = !site.bias.empty()});
    ++sites_converted_;
    convert::ReplaceDynamicSite(graph, site, replacement);
  }

  // Placed before the integer op of the first site that reads the weights
  // (sites are converted in graph order, so before every later reader).
  ir::Value* WeightDequantize(ir::Graph& graph, const convert::DynamicSite& site) {
    if (auto it = weight_dq_.find(site.weights); it != weight_dq_.end() && !it->second->is_erased()) {
      return it->second->output();
    }
    std::vector<ir::Value*> inputs = {site.weights, site.weight_scale};
    if (site.weight_zero_point != nullptr) inputs.push_back(site.weight_zero_point);
    ir::Model& model = *graph.model();
    ir::Node* dq = graph.AddNodeWithOutputNames(
        "DequantizeLinear", inputs, {model.UniqueName(absl::StrCat(site.weights->name(), "_dequantized"))},
        site.integer_op, "", model.UniqueName(absl::StrCat(site.weights->name(), "_DequantizeLinear")));
    if (site.channel_axis) dq->SetInt("axis", *site.channel_axis);
    fuse_qdq::SetTensorType(dq->output(), ir::ElementType::kFloat, site.weights->shape());
    weight_dq_[site.weights] = dq;
    return dq->output();
  }

  // Step 2: static quantization of the activations from the table.
  absl::StatusOr<bool> QuantizeActivations(ir::Model& model, PassContext& context) {
    std::unique_ptr<Pass> quantize = CreateQuantizePass();
    context.results.derived_ranges.insert(derived_ranges_.begin(), derived_ranges_.end());
    for (const auto& [option, value] : std::vector<std::pair<std::string, std::string>>{
             {"calibration", calibration_.value()}, {"range", range_.value()}, {"activation", activation_.value()}}) {
      if (absl::Status s = quantize->FindOption(option)->Parse(value); !s.ok()) return s;
    }
    return quantize->Run(model, context);
  }

  nlohmann::json ReportJson() const {
    nlohmann::json converted = nlohmann::json::array();
    for (const Converted& c : converted_) {
      converted.push_back({{"node", c.node},
                           {"from", c.from},
                           {"to", c.to},
                           {"weights", c.weights},
                           {"input", c.input},
                           {"input_range", {c.range.min, c.range.max}},
                           {"bias", !c.bias          ? "none"
                                    : c.to == "Conv" ? "int32, scale input_scale * weight_scale"
                                                     : "an Add after the MatMul"}});
    }
    nlohmann::json left = nlohmann::json::array();
    for (const auto& [node, why] : left_) left.push_back({{"node", node}, {"why", why}});
    return {{"converted", converted}, {"left", left}, {"calibration", calibration_.value()}};
  }

  std::string ReportText() const {
    std::map<std::string, int> by_op;
    for (const Converted& c : converted_) ++by_op[c.from];
    std::string text = absl::StrCat("dynamic-to-static: ", converted_.size(), " sites now static QDQ");
    for (const auto& [op, n] : by_op) absl::StrAppend(&text, ", ", op, " ", n);
    absl::StrAppend(&text, "; ", left_.size(), " left (calibration ", calibration_.value(), ")\n");
    for (const Converted& c : converted_) {
      absl::StrAppend(&text, "  ", c.node, ": ", c.from, " -> ", c.to, ", ", c.weights, " weights kept, input '",
                      c.input, "' ", absl::StrFormat("[%g, %g]", c.range.min, c.range.max),
                      !c.bias          ? ""
                      : c.to == "Conv" ? ", bias int32"
                                       : ", bias as an Add",
                      "\n");
    }
    for (const auto& [node, why] : left_) absl::StrAppend(&text, "  left: ", node, ": ", why, "\n");
    return text;
  }

  Option<std::string> calibration_{this, "calibration",
                                   "calib.json of the dynamic file (qopt-calibrate DYNAMIC.onnx); required", ""};
  Option<std::string> range_{this, "range", "Which calibrated range to use (choice: each tensor's recorded choice)",
                             "minmax", quantize::RangeMethodNames()};
  Option<std::string> activation_{this, "activation", "Activation type of the static file", "u8", {"u8", "s8"}};
  Statistic sites_converted_{this, "sites-converted", "Dynamic sites now static QDQ"};
  Statistic sites_left_{this, "sites-left", "Integer sites left as they are (see the report)"};

  std::vector<Converted> converted_;
  std::vector<std::pair<std::string, std::string>> left_;
  std::map<const ir::Value*, ir::Node*> weight_dq_;
  std::map<std::string, std::pair<double, double>> derived_ranges_;
};

}  // namespace

std::unique_ptr<Pass> CreateDynamicToStaticPass() { return std::make_unique<DynamicToStatic>(); }

}  // namespace qopt

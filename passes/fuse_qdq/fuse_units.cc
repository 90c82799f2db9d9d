// fuse-qdq-units: every QDQ node unit (analysis/node_units.h) that the
// target profile runs in integer becomes that integer op: DQ -> Conv -> Q is
// QLinearConv, DQ -> Add -> Q is com.microsoft QLinearAdd, DQ -> Reshape -> Q
// with equal parameters is a Reshape of the integer tensor, and so on. The
// selector is the boundary analysis' own verdict (WhyNotInteger), so the
// report and the rewrite cannot disagree; the actions below are data, one
// per target kernel of ir/op_traits.def, in the manner of ONNX Runtime's QDQ
// selector/action pairs, run by the greedy pattern driver (pass/pattern.h),
// which also erases the nodes a fusion leaves dead.
//
// Numbers: each fused op is what ONNX Runtime itself runs when it fuses the
// same unit at session start (graph optimization level >= basic); against
// the QDQ model run without optimizations, the integer kernels round once
// per op where float QDQ rounds at the Q, so outputs may differ by a step
// per op and those differences add up over a network (docs/passes.md).
#include <map>

#include "absl/container/flat_hash_set.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "analysis/node_units.h"
#include "analysis/qdq_boundaries.h"
#include "analysis/qdq_census.h"
#include "analysis/qdq_params.h"
#include "analysis/target_profile.h"
#include "ir/op_traits.h"
#include "pass/pattern.h"
#include "passes/builtin_passes.h"
#include "passes/fuse_qdq/fuse_units.h"
#include "passes/fuse_qdq/rewrite_util.h"

namespace qopt {
namespace {

using analysis::NodeUnit;
using analysis::QdqParams;

constexpr absl::string_view kMicrosoft = "com.microsoft";

// What an action needs to build the fused node.
struct FusionSite {
  PatternRewriter* rewriter;  // every edit goes through it
  const NodeUnit* unit;
  ir::Node* target;
  int64_t opset;  // the model's default-domain opset

  ir::Node* dq(int i) const { return const_cast<ir::Node*>(unit->input_dq[i]); }
  ir::Node* q(int i = 0) const { return const_cast<ir::Node*>(unit->output_q[i]); }
  // Their parameters, parsed once by FindNodeUnits; null where absent.
  const QdqParams* dq_params(int i) const { return unit->input_qdq(static_cast<size_t>(i)); }
  const QdqParams* q_params(int i = 0) const { return unit->output_qdq(static_cast<size_t>(i)); }
  bool Fail(std::string reason) { return rewriter->NotifyMatchFailure(std::move(reason)); }
};

// The zero point input of a Q/DQ, or a new zero of its integer type (ONNX
// Runtime's QLinear kernels want it spelled out).
ir::Value* ZeroPoint(PatternRewriter& rewriter, const ir::Node& qdq, ir::ElementType type) {
  if (qdq.input(2) != nullptr) return qdq.input(2);
  ir::Tensor zero(type, {});
  zero.SetRawData(std::string(1, '\0'));
  return rewriter.AddInitializer(absl::StrCat(qdq.name().empty() ? "qdq" : qdq.name(), "_zero_point"), std::move(zero));
}

// (x_q, scale, zero point) of input i's DQ: the triple QLinear ops take.
std::vector<ir::Value*> Quantized(FusionSite& site, int i) {
  const ir::Node& dq = *site.dq(i);
  return {dq.input(0), dq.input(1), ZeroPoint(*site.rewriter, dq, site.dq_params(i)->quant_type)};
}

std::vector<ir::Value*> OutputParams(FusionSite& site) {
  return {site.q()->input(1), ZeroPoint(*site.rewriter, *site.q(), site.q_params()->quant_type)};
}

void CopyAttributes(const ir::Node& from, ir::Node* to) {
  for (const ir::Attribute& a : from.attributes()) {
    if (a.tensors().empty() && a.graphs().empty()) to->mutable_attributes().emplace_back(ir::Attribute(a.proto()));
  }
}

// Builds `op_type` right before the output Q (every input is defined by
// then), and lets the Q's users read its output.
ir::Node* Emit(FusionSite& site, absl::string_view op_type, absl::string_view domain,
               const std::vector<ir::Value*>& inputs) {
  ir::Node* fused = site.rewriter->AddNode(op_type, inputs, 1, site.q(), domain, site.target->name());
  const ir::ElementType type = site.q_params()->quant_type;
  fuse_qdq::SetIntegerType(fused->output(), type, site.target->output());
  site.rewriter->RenameWhenFree(fused->output(), site.q()->output()->name());
  site.rewriter->ReplaceAllUsesWith(site.q()->output(), fused->output());
  return fused;
}

// Every quantized input and the output share one 8-bit type (the contrib
// kernels are typed by a single T).
bool SameTypeEverywhere(FusionSite& site, int inputs) {
  const QdqParams* out = site.q_params();
  for (int i = 0; i < inputs; ++i) {
    const QdqParams* in = site.dq_params(i);
    if (!in || !out || in->quant_type != out->quant_type) {
      return site.Fail("inputs and output are quantized to different integer types");
    }
  }
  return true;
}

bool PerTensor(FusionSite& site, std::initializer_list<const QdqParams*> params) {
  for (const QdqParams* p : params) {
    if (!p || p->scales.size() != 1) {
      return site.Fail(absl::StrCat(p && p->node ? p->node->Describe() : "", " is not per-tensor"));
    }
  }
  return true;
}

// ---- actions ----------------------------------------------------------------

bool FuseConv(FusionSite& site) {
  ir::Node* x = site.dq(0);
  ir::Node* w = site.dq(1);
  if (!x || !w || !site.q()) return site.Fail("Conv needs DQ on input and weight and a Q on the output");
  if (w->input(0) == nullptr || w->input(0)->constant() == nullptr) return site.Fail("the weight is not a constant");
  const QdqParams *xp = site.dq_params(0), *wp = site.dq_params(1), *yp = site.q_params();
  if (xp->scales.size() != 1 || yp->scales.size() != 1) return site.Fail("activation scales are not per-tensor");
  if (xp->quant_type != yp->quant_type) return site.Fail("input and output integer types differ");
  std::vector<ir::Value*> inputs = Quantized(site, 0);
  for (ir::Value* v : Quantized(site, 1)) inputs.push_back(v);
  for (ir::Value* v : OutputParams(site)) inputs.push_back(v);
  if (site.target->input(2) != nullptr) {
    // The int32 bias is taken as it is: its scale must be input x weight scale.
    ir::Node* b = site.dq(2);
    const QdqParams* bp = site.dq_params(2);
    if (!bp || bp->quant_type != ir::ElementType::kInt32 || b->input(0)->constant() == nullptr) {
      return site.Fail("the bias is not an int32 constant behind a DequantizeLinear");
    }
    for (int64_t zp : bp->zero_points) {
      if (zp != 0) return site.Fail("the int32 bias has a non-zero zero point");
    }
    for (size_t c = 0; c < bp->scales.size(); ++c) {
      const double expected = xp->scales[0] * wp->scales[wp->scales.size() == 1 ? 0 : c];
      if (std::abs(bp->scales[c] - expected) > 1e-6 * expected) {
        return site.Fail(absl::StrCat("bias scale ", bp->scales[c], " is not input scale x weight scale ", expected));
      }
    }
    inputs.push_back(b->input(0));
  }
  ir::Node* fused = Emit(site, "QLinearConv", "", inputs);
  CopyAttributes(*site.target, fused);
  return true;
}

bool FuseMatMul(FusionSite& site) {
  ir::Node* a = site.dq(0);
  ir::Node* b = site.dq(1);
  if (!a || !b || !site.q()) return site.Fail("MatMul needs DQ on both inputs and a Q on the output");
  const QdqParams *ap = site.dq_params(0), *bp = site.dq_params(1), *yp = site.q_params();
  if (ap->scales.size() != 1 || yp->scales.size() != 1) return site.Fail("activation scales are not per-tensor");
  if (ap->quant_type != yp->quant_type) return site.Fail("input and output integer types differ");
  if (bp->per_channel()) {
    // Per column of a constant [K, N] weight is what QLinearMatMul takes.
    const ir::Tensor* w = b->input(0)->constant();
    if (w == nullptr || w->dims().size() != 2 || (bp->axis != 1 && bp->axis != -1)) {
      return site.Fail("per-channel MatMul weights are not per column of a 2-D constant");
    }
  }
  std::vector<ir::Value*> inputs = Quantized(site, 0);
  for (ir::Value* v : Quantized(site, 1)) inputs.push_back(v);
  for (ir::Value* v : OutputParams(site)) inputs.push_back(v);
  Emit(site, "QLinearMatMul", "", inputs);
  return true;
}

// QLinearAdd / QLinearMul (com.microsoft): A, A_scale, A_zp, B, B_scale,
// B_zp, C_scale, C_zp.
bool FuseBinary(FusionSite& site, absl::string_view fused_op) {
  if (!site.dq(0) || !site.dq(1) || !site.q()) return site.Fail("both inputs need a DQ and the output a Q");
  if (!PerTensor(site, {site.dq_params(0), site.dq_params(1), site.q_params()}) || !SameTypeEverywhere(site, 2)) {
    return false;
  }
  std::vector<ir::Value*> inputs = Quantized(site, 0);
  for (ir::Value* v : Quantized(site, 1)) inputs.push_back(v);
  for (ir::Value* v : OutputParams(site)) inputs.push_back(v);
  Emit(site, fused_op, kMicrosoft, inputs);
  return true;
}

// X, X_scale, X_zp, Y_scale, Y_zp (+ the op's attributes); null when the
// unit does not fit.
ir::Node* FuseUnary(FusionSite& site, absl::string_view fused_op) {
  if (!site.dq(0) || !site.q()) {
    site.Fail("the input needs a DQ and the output a Q");
    return nullptr;
  }
  if (!PerTensor(site, {site.dq_params(0), site.q_params()}) || !SameTypeEverywhere(site, 1)) return nullptr;
  std::vector<ir::Value*> inputs = Quantized(site, 0);
  for (ir::Value* v : OutputParams(site)) inputs.push_back(v);
  ir::Node* fused = Emit(site, fused_op, kMicrosoft, inputs);
  CopyAttributes(*site.target, fused);
  return fused;
}

// The pools take NCHW data as the float op did.
bool FusePool(FusionSite& site, absl::string_view fused_op) {
  ir::Node* fused = FuseUnary(site, fused_op);
  if (fused != nullptr) fused->SetInt("channels_last", 0);
  return fused != nullptr;
}

// QLinearSoftmax needs the opset of the Softmax it replaces (the meaning of
// `axis` changed in opset 13: coerced 2-D before, one axis after).
bool FuseSoftmax(FusionSite& site) {
  const int64_t opset = site.opset;
  ir::Node* fused = FuseUnary(site, "QLinearSoftmax");
  if (fused == nullptr) return false;
  if (!fused->GetInt("axis")) fused->SetInt("axis", opset < 13 ? 1 : -1);
  fused->SetInt("opset", opset);
  return true;
}

bool FuseConcat(FusionSite& site) {
  if (!site.q()) return site.Fail("the output needs a Q");
  const int n = site.target->num_inputs();
  std::vector<const QdqParams*> all;
  for (int i = 0; i < n; ++i) {
    if (!site.dq(i)) return site.Fail(absl::StrCat("input ", i, " has no DQ"));
    all.push_back(site.dq_params(i));
  }
  all.push_back(site.q_params());
  for (const QdqParams* p : all) {
    if (!PerTensor(site, {p})) return false;
  }
  if (!SameTypeEverywhere(site, n)) return false;
  std::vector<ir::Value*> inputs = OutputParams(site);
  for (int i = 0; i < n; ++i) {
    for (ir::Value* v : Quantized(site, i)) inputs.push_back(v);
  }
  ir::Node* fused = Emit(site, "QLinearConcat", kMicrosoft, inputs);
  CopyAttributes(*site.target, fused);
  return true;
}

// Data movement on equal parameters (the verdict checked them): the op
// reads the integer tensor, every output's Q goes.
bool FusePassthrough(FusionSite& site) {
  ir::Node* dq = site.dq(0);
  if (!dq) return site.Fail("the data input has no DQ");
  for (size_t i = 0; i < site.unit->output_q.size(); ++i) {
    if (!site.q(static_cast<int>(i))) return site.Fail(absl::StrCat("output ", i, " has no Q"));
  }
  const ir::ElementType type = site.dq_params(0)->quant_type;
  site.rewriter->SetInput(*site.target, 0, dq->input(0));
  for (size_t i = 0; i < site.unit->output_q.size(); ++i) {
    ir::Value* out = site.target->output(static_cast<int>(i));
    fuse_qdq::SetIntegerType(out, type, out);
    site.rewriter->RenameWhenFree(out, site.q(static_cast<int>(i))->output()->name());
    site.rewriter->ReplaceAllUsesWith(site.q(static_cast<int>(i))->output(), out);
  }
  return true;
}

// ---- the registry: target kernel -> action ----------------------------------

// The actions, keyed by the kernel ir/op_traits.def names for the unit's op
// on the target ("=" for data movement on the integers as they are). A
// kernel the table lists without an entry here is one the target runs in
// integer and qopt cannot rewrite yet; qdq-boundaries says so too
// (FuseQdqUnitsKernels).
using UnitAction = bool (*)(FusionSite&);

const std::map<std::string, UnitAction, std::less<>>& UnitActions() {
  static const auto* actions = new std::map<std::string, UnitAction, std::less<>>{
      {"=", FusePassthrough},
      {"QLinearConv", FuseConv},
      {"QLinearMatMul", FuseMatMul},
      {"com.microsoft.QLinearAdd", [](FusionSite& s) { return FuseBinary(s, "QLinearAdd"); }},
      {"com.microsoft.QLinearMul", [](FusionSite& s) { return FuseBinary(s, "QLinearMul"); }},
      {"com.microsoft.QLinearSigmoid", [](FusionSite& s) { return FuseUnary(s, "QLinearSigmoid") != nullptr; }},
      {"com.microsoft.QLinearLeakyRelu", [](FusionSite& s) { return FuseUnary(s, "QLinearLeakyRelu") != nullptr; }},
      {"com.microsoft.QLinearAveragePool", [](FusionSite& s) { return FusePool(s, "QLinearAveragePool"); }},
      {"com.microsoft.QLinearGlobalAveragePool",
       [](FusionSite& s) { return FusePool(s, "QLinearGlobalAveragePool"); }},
      {"com.microsoft.QLinearSoftmax", FuseSoftmax},
      {"com.microsoft.QLinearConcat", FuseConcat},
  };
  return *actions;
}

}  // namespace

std::set<std::string> FuseQdqUnitsKernels() {
  std::set<std::string> kernels;
  for (const auto& [kernel, action] : UnitActions()) kernels.insert(kernel);
  return kernels;
}

class FuseQdqUnits : public Pass {
 public:
  absl::string_view name() const override { return "fuse-qdq-units"; }
  absl::string_view summary() const override {
    return "Turn each QDQ node unit the target runs in integer into its integer op (QLinearConv, QLinearAdd, ...)";
  }

  absl::StatusOr<bool> Run(ir::Model& model, PassContext& context) override {
    if (context.report) census_at_start_ = analysis::TakeQdqCensus(model.graph());
    absl::StatusOr<const analysis::TargetProfile*> resolved = analysis::ResolveTargetProfile(target_.value());
    if (!resolved.ok()) return resolved.status();
    // activations=all: fuse every 8-bit activation type the kernels take,
    // whatever the runtime's optimizer does (the QOperator layout ONNX
    // Runtime's quantizer writes with int8 activations).
    analysis::TargetProfile every_type;
    if (activations_.value() == "all") {
      every_type = **resolved;
      every_type.fused_activation_types = every_type.integer_types;
      for (analysis::KernelMeasurement& m : every_type.measurements) m.fused_by_runtime = true;
    }
    const analysis::TargetProfile* profile = activations_.value() == "all" ? &every_type : *resolved;
    ir::Graph& graph = model.graph();
    const int64_t opset = model.OpsetVersion("").value_or(13);
    const absl::flat_hash_set<std::string> keep_float = absl::StrSplit(keep_float_.value(), ',', absl::SkipEmpty());
    // Which nodes are units (not Q/DQ, not shape arithmetic) is decided on
    // the graph as it comes; the fused nodes are not.
    absl::flat_hash_set<const ir::Node*> units;
    for (const NodeUnit& unit : analysis::FindNodeUnits(graph)) units.insert(unit.target);
    absl::flat_hash_set<const ir::Node*> kept_float;
    bool uses_microsoft = false;

    // One pattern per op the target's column of the op table gives a kernel:
    // the selector is the boundary analysis' verdict (WhyNotInteger), the
    // action the registry's entry for the kernel.
    PatternSet patterns;
    const ir::Target target = profile->kernels;
    for (const ir::OpTraits& traits : ir::AllOpTraits()) {
      const absl::string_view kernel = traits.Kernel(target);
      if (!traits.domain.empty() || kernel.empty()) continue;
      const std::string op(traits.op_type);
      auto action = UnitActions().find(kernel);
      const UnitAction act = action == UnitActions().end() ? nullptr : action->second;
      const std::string no_rewrite = analysis::NoRewriteYet(op, std::string(kernel), *profile);
      const bool microsoft = absl::StartsWith(kernel, "com.microsoft.");
      patterns.Add({op, {op}, [&, op, act, no_rewrite, microsoft](ir::Node& root, PatternRewriter& rewriter) {
                      if (!units.contains(&root)) return false;
                      const NodeUnit unit = analysis::MakeNodeUnit(root);
                      if (!analysis::WhyNotInteger(unit, *profile).empty()) return false;  // the report says why
                      // Already on integers (no Q/DQ around it): nothing to fuse.
                      if (!unit.has_qdq()) return false;
                      if (keep_float.contains(op)) {
                        kept_float.insert(&root);
                        return rewriter.NotifyMatchFailure(absl::StrCat(op, " kept float (keep-float)"));
                      }
                      if (act == nullptr) return rewriter.NotifyMatchFailure(no_rewrite);
                      FusionSite site{&rewriter, &unit, &root, opset};
                      if (!act(site)) return false;
                      uses_microsoft |= microsoft;
                      return true;
                    }});
    }
    const DriverResult result = ApplyPatternsGreedily(graph, patterns);
    if (!ReportDriverResult(result, *this, context).empty()) ++not_converged_;
    std::map<std::string, int64_t> fused_by_op = result.rewrites_by_pattern;
    fused_ += result.rewrites;
    std::map<std::string, int64_t> not_fused;
    for (const auto& [node, why] : result.failures) {
      ++not_fused[why];
      if (!kept_float.contains(node)) ++refused_;
    }
    if (uses_microsoft && !model.OpsetVersion(kMicrosoft)) model.SetOpsetVersion(kMicrosoft, 1);
    if (context.report) {
      nlohmann::json summary = Summary(*profile, graph, context, fused_by_op, not_fused);
      context.report->AddAnalysis("fuse-qdq-units", summary, SummaryText(summary));
    }
    return result.changed;
  }

 private:
  // Before/after counts from the start of the pipeline this pass runs in
  // (the report's first pass; this pass's own start when it runs alone),
  // units fused by op and the units left float with their reasons.
  nlohmann::json Summary(const analysis::TargetProfile& profile, const ir::Graph& graph, PassContext& context,
                         const std::map<std::string, int64_t>& fused_by_op,
                         const std::map<std::string, int64_t>& not_fused) {
    nlohmann::json before = analysis::CensusToJson(census_at_start_);
    for (const PassRun& run : context.report->passes()) {
      if (!run.census_before.is_null()) {
        before = run.census_before;
        break;
      }
    }
    const nlohmann::json after = analysis::CensusToJson(analysis::TakeQdqCensus(graph));
    const analysis::BoundaryReport boundaries = analysis::AnalyzeBoundaries(graph, profile);
    nlohmann::json j;
    j["target"] = profile.name;
    j["before"] = before;
    j["after"] = after;
    j["fused_by_op"] = fused_by_op;
    j["not_fused"] = not_fused;
    j["left_float"] = LeftFloat(boundaries, context.results);
    std::map<std::string, int64_t> patterns;
    for (const analysis::FloatRegion& region : boundaries.float_regions) ++patterns[region.pattern];
    j["float_region_patterns"] = patterns;
    return j;
  }

  // The boundary analysis' reasons per unit left float, except that a unit
  // float-islands put in float on purpose (context.results) says so instead
  // of the reason its float input gives.
  static std::map<std::string, int64_t> LeftFloat(const analysis::BoundaryReport& boundaries,
                                                  const PassResults& results) {
    std::map<std::string, int64_t> reasons;
    for (const analysis::UnitVerdict& unit : boundaries.verdicts) {
      if (unit.fusable) continue;
      ++reasons[results.float_island_nodes.contains(unit.node)
                    ? absl::StrCat(unit.op_type, ": in a float island (float-islands)")
                    : unit.reason];
    }
    return reasons;
  }

  static std::string SummaryText(const nlohmann::json& j) {
    auto row = [&](const char* what, const char* key) {
      return absl::StrFormat("  %-28s %6d -> %d\n", what, j["before"][key].get<int64_t>(), j["after"][key].get<int64_t>());
    };
    std::string text = absl::StrCat("fuse-qdq (target ", j["target"].get<std::string>(), ")\n");
    absl::StrAppend(&text, row("nodes", "nodes"), row("QuantizeLinear", "quantize"), row("DequantizeLinear", "dequantize"),
                    row("float->int transitions", "float_to_int"), row("int->float transitions", "int_to_float"));
    absl::StrAppend(&text, "  units fused:");
    for (const auto& [op, n] : j["fused_by_op"].items()) absl::StrAppend(&text, " ", op, " ", n.get<int64_t>());
    absl::StrAppend(&text, "\n");
    for (const auto& [why, n] : j["not_fused"].items()) {
      absl::StrAppend(&text, "  not fused (", n.get<int64_t>(), "): ", why, "\n");
    }
    for (const auto& [why, n] : j["left_float"].items()) {
      absl::StrAppend(&text, "  left float (", n.get<int64_t>(), "): ", why, "\n");
    }
    for (const auto& [pattern, n] : j["float_region_patterns"].items()) {
      absl::StrAppend(&text, "  float region (", n.get<int64_t>(), "): ", pattern, "\n");
    }
    return text;
  }

  analysis::QdqCensus census_at_start_;
  Option<std::string> target_{
      this, "target", "Target profile: ort-cpu, onnx-standard, or a profile file (qopt-target/1 JSON, docs/targets.md)",
      "ort-cpu"};
  Option<std::string> activations_{this,
                                   "activations",
                                   "profile: fuse units only with activation types the target's runtime fuses; all: "
                                   "every 8-bit type (writes QOperator files as ONNX Runtime's quantizer does)",
                                   "profile",
                                   {"profile", "all"}};
  Option<std::string> keep_float_{this, "keep-float",
                                  "Comma-separated op types to leave as float QDQ units (where the target's integer "
                                  "kernel is slower, e.g. Resize)",
                                  ""};
  Statistic fused_{this, "units-fused", "Node units turned into integer ops"};
  Statistic refused_{this, "units-refused",
                     "Units the target runs in integer that an action could not rewrite (or that no action handles)"};
  Statistic not_converged_{this, "driver-not-converged", "1 when the rewrite driver stopped before a fixed point"};
};

std::unique_ptr<Pass> CreateFuseQdqUnitsPass() { return std::make_unique<FuseQdqUnits>(); }

}  // namespace qopt

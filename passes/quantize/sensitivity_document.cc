#include "passes/quantize/sensitivity_document.h"

#include <fstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace qopt::quantize {
namespace {

using nlohmann::json;

absl::Status Bad(const std::string& path, absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat("sensitivity file '", path, "': ", what));
}

const json* Member(const json& object, const char* key) {
  if (!object.is_object()) return nullptr;
  auto it = object.find(key);
  return it == object.end() ? nullptr : &*it;
}

std::optional<double> Number(const json& object, const char* key) {
  const json* v = Member(object, key);
  if (v == nullptr || !v->is_number()) return std::nullopt;
  return v->get<double>();
}

absl::StatusOr<std::vector<std::string>> Strings(const json* list, const std::string& path, absl::string_view what) {
  if (list == nullptr || !list->is_array()) return Bad(path, absl::StrCat("has no ", what, " list"));
  std::vector<std::string> out;
  for (const json& n : *list) {
    if (!n.is_string()) return Bad(path, absl::StrCat(what, " holds a non-string"));
    out.push_back(n.get<std::string>());
  }
  return out;
}

std::string Ratio(double r) { return absl::StrFormat("%.2fx FP32", r); }

}  // namespace

LatencyChoice ChooseWithinLatency(const std::vector<MeasuredKeepFloat>& candidates, double budget) {
  const MeasuredKeepFloat* baseline = nullptr;
  for (const MeasuredKeepFloat& c : candidates) {
    if (c.names.empty()) baseline = &c;
  }
  if (baseline != nullptr && baseline->latency_ratio > budget) {
    return {std::nullopt, absl::StrCat("the fully quantized file measured ", Ratio(baseline->latency_ratio),
                                       ", over the latency budget ", absl::StrFormat("%.2fx", budget),
                                       ": keeping nodes float would only add latency")};
  }
  std::optional<size_t> best;
  int within = 0;
  for (size_t i = 0; i < candidates.size(); ++i) {
    const MeasuredKeepFloat& c = candidates[i];
    if (!(c.latency_ratio <= budget)) continue;
    ++within;
    // Ties go to fewer float nodes: the same accuracy for less float work.
    if (!best || c.output_sqnr_db > candidates[*best].output_sqnr_db ||
        (c.output_sqnr_db == candidates[*best].output_sqnr_db && c.names.size() < candidates[*best].names.size())) {
      best = i;
    }
  }
  if (!best) return {std::nullopt, absl::StrFormat("no measured set is within the latency budget %.2fx", budget)};
  const MeasuredKeepFloat& c = candidates[*best];
  std::string why = absl::StrFormat("%s: output SQNR %.2f dB at %s, the most accurate of %d measured sets within %.2fx",
                                    c.label, c.output_sqnr_db, Ratio(c.latency_ratio), within, budget);
  if (baseline != nullptr && baseline != &c) {
    absl::StrAppendFormat(&why, " (all quantized: %.2f dB at %s)", baseline->output_sqnr_db,
                          Ratio(baseline->latency_ratio));
  }
  return {best, why};
}

absl::StatusOr<SensitivityDocument> SensitivityDocument::Load(const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::InvalidArgumentError(absl::StrCat("cannot read sensitivity file '", path, "'"));
  SensitivityDocument doc;
  doc.path_ = path;
  doc.doc_ = json::parse(in, nullptr, /*allow_exceptions=*/false);
  if (doc.doc_.is_discarded() || !doc.doc_.is_object()) {
    return Bad(path, "is not JSON (want qopt-sensitivity's output)");
  }
  return doc;
}

absl::StatusOr<std::vector<std::string>> SensitivityDocument::KeepFloatNames() const {
  const json* keep = Member(doc_, "keep_float");
  return Strings(keep == nullptr ? nullptr : Member(*keep, "names"), path_, "keep_float.names");
}

absl::StatusOr<std::vector<std::string>> SensitivityDocument::MostSensitiveUnits(int64_t budget) const {
  const json* units = Member(doc_, "units");
  if (units == nullptr || !units->is_array()) return Bad(path_, "has no units list");
  std::vector<std::string> names;
  for (const json& u : *units) {  // ranked, most sensitive first
    if (static_cast<int64_t>(names.size()) >= budget) break;
    const json* name = Member(u, "name");
    const json* keep = Member(u, "keep_float");
    if (name == nullptr || !name->is_string() || keep == nullptr) continue;
    if (std::optional<double> gain = Number(*keep, "gain_db"); gain && *gain > 0) {
      names.push_back(name->get<std::string>());
    }
  }
  return names;
}

absl::StatusOr<std::vector<MeasuredKeepFloat>> SensitivityDocument::LatencyCandidates() const {
  const json* baseline = Member(doc_, "baseline");
  std::optional<double> base_db = baseline ? Number(*baseline, "output_sqnr_db") : std::nullopt;
  std::optional<double> base_ratio = baseline ? Number(*baseline, "latency_ratio") : std::nullopt;
  if (!base_db || !base_ratio) {
    return Bad(path_, "has no measured latency (make it with qopt-sensitivity --latency-runs=N or --latency-budget=R)");
  }
  std::vector<MeasuredKeepFloat> out;
  out.push_back({"all quantized", {}, *base_db, *base_ratio});

  if (const json* prefix = Member(doc_, "prefix")) {
    absl::StatusOr<std::vector<std::string>> order = Strings(Member(*prefix, "nodes"), path_, "prefix.nodes");
    if (!order.ok()) return order.status();
    const json* sweep = Member(*prefix, "sweep");
    if (sweep == nullptr || !sweep->is_array()) return Bad(path_, "has no prefix.sweep list");
    for (const json& e : *sweep) {
      std::optional<double> nodes = Number(e, "nodes");
      std::optional<double> db = Number(e, "output_sqnr_db");
      std::optional<double> ratio = Number(e, "latency_ratio");
      if (!db || !ratio) continue;  // a non-finite SQNR or an unmeasured latency
      if (!nodes || *nodes < 1 || *nodes > static_cast<double>(order->size())) {
        return Bad(path_, "a prefix.sweep entry's node count is not within prefix.nodes");
      }
      const json* last = Member(e, "last_node");
      MeasuredKeepFloat c;
      c.names.assign(order->begin(), order->begin() + static_cast<size_t>(*nodes));
      c.label = absl::StrCat("the first ", c.names.size(), " nodes float (up to ",
                             last && last->is_string() ? last->get<std::string>() : c.names.back(), ")");
      c.output_sqnr_db = *db;
      c.latency_ratio = *ratio;
      out.push_back(std::move(c));
    }
    return out;
  }

  const json* keep = Member(doc_, "keep_float");
  const json* tried = keep ? Member(*keep, "tried") : nullptr;
  if (tried == nullptr || !tried->is_array()) return Bad(path_, "has no keep_float.tried list");
  for (const json& t : *tried) {
    std::optional<double> db = Number(t, "output_sqnr_db");
    std::optional<double> ratio = Number(t, "latency_ratio");
    if (!db || !ratio) continue;
    absl::StatusOr<std::vector<std::string>> names = Strings(Member(t, "names"), path_, "keep_float.tried[].names");
    if (!names.ok()) return names.status();
    if (names->empty()) continue;
    MeasuredKeepFloat c;
    c.label = absl::StrCat(names->size(), " nodes float (", names->front(), names->size() > 1 ? ", ..." : "", ")");
    c.names = *std::move(names);
    c.output_sqnr_db = *db;
    c.latency_ratio = *ratio;
    out.push_back(std::move(c));
  }
  return out;
}

absl::StatusOr<std::optional<MeasuredEqualization>> SensitivityDocument::Equalization() const {
  const json* eq = Member(doc_, "equalize");
  if (eq == nullptr) return std::optional<MeasuredEqualization>();
  MeasuredEqualization out;
  if (const json* why = Member(*eq, "why"); why && why->is_string()) out.why = why->get<std::string>();
  const json* chosen = Member(*eq, "chosen_pass");
  if (chosen == nullptr || chosen->is_null()) return std::optional<MeasuredEqualization>(out);
  const json* name = Member(*chosen, "name");
  const json* options = Member(*chosen, "options");
  if (name == nullptr || !name->is_string() || (options != nullptr && !options->is_array())) {
    return Bad(path_, "equalize.chosen_pass is not {name, options: [[key, value], ...]}");
  }
  out.pass = name->get<std::string>();
  for (const json& kv : options ? *options : json::array()) {
    if (!kv.is_array() || kv.size() != 2 || !kv[0].is_string() || !kv[1].is_string()) {
      return Bad(path_, "equalize.chosen_pass.options holds something other than [key, value]");
    }
    out.options.emplace_back(kv[0].get<std::string>(), kv[1].get<std::string>());
  }
  return std::optional<MeasuredEqualization>(out);
}

}  // namespace qopt::quantize

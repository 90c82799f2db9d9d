// expose-tensors: makes intermediate tensors graph outputs, so that a runtime
// (qopt-calibrate, through ONNX Runtime) can read them. The candidates are
// the outputs of the main graph's nodes, in topological order, whose element
// type is one of `types` and whose producer's op type is one of `ops`;
// constants (Constant nodes) are never candidates. With batch-size=K only the
// batch-index-th group of K candidates is exposed, so that one run holds at
// most K extra tensors; list=FILE writes every candidate (and its batch) as
// JSON so that a driver knows how many batches there are.
//
// Element types come from the model's declarations, else from ONNX type
// inference on a copy of the model; a node output whose type is still unknown
// is not a candidate (it is listed under "untyped").
#include <algorithm>
#include <cstdint>
#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "ir/serialization.h"
#include "ir/shape_inference.h"
#include "nlohmann/json.hpp"
#include "passes/builtin_passes.h"

namespace qopt {
namespace {

// Element type and rank of a value, as far as known.
struct TypeAndRank {
  ir::ElementType type = ir::ElementType::kUndefined;
  std::optional<int64_t> rank;
};

TypeAndRank FromTypeProto(const onnx::TypeProto& type) {
  TypeAndRank out;
  if (!type.has_tensor_type()) return out;
  out.type = static_cast<ir::ElementType>(type.tensor_type().elem_type());
  if (type.tensor_type().has_shape()) out.rank = type.tensor_type().shape().dim_size();
  return out;
}

// The op type as users write it: `Conv` in the default domain, else
// `domain::Op` (as op-count prints it).
std::string QualifiedOpType(const ir::Node& node) {
  if (node.is_default_domain()) return node.op_type();
  return absl::StrCat(node.domain(), "::", node.op_type());
}

struct Candidate {
  ir::Value* value;
  ir::Node* node;
  TypeAndRank info;
  const onnx::TypeProto* inferred;  // the inferred type when none was declared, else null
};

std::vector<std::string> SplitList(absl::string_view text) {
  std::vector<std::string> out;
  for (absl::string_view item : absl::StrSplit(text, ',')) {
    item = absl::StripAsciiWhitespace(item);
    if (!item.empty()) out.emplace_back(item);
  }
  return out;
}

class ExposeTensors : public Pass {
 public:
  absl::string_view name() const override { return "expose-tensors"; }
  absl::string_view summary() const override {
    return "Add intermediate tensors as graph outputs (for calibration), optionally a batch of them at a time";
  }

  absl::StatusOr<bool> Run(ir::Model& model, PassContext&) override {
    // ---- options
    bool any_type = false;
    absl::flat_hash_set<int32_t> types;
    for (const std::string& t : SplitList(types_.value())) {
      if (t == "all") {
        any_type = true;
        continue;
      }
      std::optional<ir::ElementType> type = ir::ElementTypeFromName(t);
      if (!type) {
        return absl::InvalidArgumentError(
            absl::StrCat("unknown element type '", t, "' in types=", types_.value(),
                         " (use ONNX names: float, float16, double, bfloat16, ..., or all)"));
      }
      types.insert(static_cast<int32_t>(*type));
    }
    if (!any_type && types.empty()) return absl::InvalidArgumentError("types= lists no element type");
    const std::vector<std::string> ops = SplitList(ops_.value());
    const std::set<std::string> op_set(ops.begin(), ops.end());
    if (batch_size_.value() < 0) {
      return absl::InvalidArgumentError(absl::StrCat("batch-size=", batch_size_.value(), " is negative"));
    }
    if (batch_index_.value() < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("batch-index=", batch_index_.value(), " is negative"));
    }

    // ---- candidates, in topological order
    ir::Graph& graph = model.graph();
    std::vector<Candidate> candidates;
    std::vector<std::string> untyped;
    std::optional<absl::flat_hash_map<std::string, onnx::TypeProto>> inferred;
    for (ir::Node* node : graph.nodes()) {
      if (node->Is("Constant")) continue;
      if (!op_set.empty() && !op_set.count(node->op_type()) && !op_set.count(QualifiedOpType(*node))) continue;
      for (ir::Value* out : node->outputs()) {
        if (out == nullptr || out->is_constant()) continue;
        TypeAndRank info = Declared(*out);
        const onnx::TypeProto* inferred_type = nullptr;
        if (info.type == ir::ElementType::kUndefined || !info.rank) {
          if (!inferred) inferred = InferTypes(model);
          auto it = inferred->find(out->name());
          if (it != inferred->end()) {
            TypeAndRank from_inference = FromTypeProto(it->second);
            if (info.type == ir::ElementType::kUndefined) {
              info.type = from_inference.type;
              inferred_type = &it->second;
            }
            if (!info.rank) info.rank = from_inference.rank;
          }
        }
        if (info.type == ir::ElementType::kUndefined) {
          untyped.push_back(out->name());
          ++untyped_;
          continue;
        }
        if (!any_type && !types.contains(static_cast<int32_t>(info.type))) continue;
        candidates.push_back({out, node, info, inferred_type});
      }
    }
    candidates_ += static_cast<int64_t>(candidates.size());

    // ---- the batch to expose
    const int64_t total = static_cast<int64_t>(candidates.size());
    const int64_t size = batch_size_.value() > 0 ? batch_size_.value() : std::max<int64_t>(total, 1);
    const int64_t batches = (total + size - 1) / size;
    const int64_t index = batch_index_.value();
    if (index > 0 && index >= batches) {
      return absl::InvalidArgumentError(absl::StrCat("batch-index=", index, " but there are only ",
                                                     batches, " batches (", total, " candidate tensors, batch-size=",
                                                     batch_size_.value(), ")"));
    }
    const int64_t begin = std::min(total, index * size);
    const int64_t end = std::min(total, begin + size);

    if (!list_.value().empty()) {
      absl::Status s = WriteList(model, CandidatesJson(candidates, size), untyped, total, batches, index);
      if (!s.ok()) return s;
    }

    bool changed = false;
    for (int64_t i = begin; i < end; ++i) {
      const Candidate& c = candidates[i];
      if (c.value->is_graph_output()) continue;  // already readable
      graph.AddOutput(c.value);
      const int last = static_cast<int>(graph.outputs().size()) - 1;
      onnx::ValueInfoProto info = graph.output_info(last);
      if (!info.type().has_tensor_type() || info.type().tensor_type().elem_type() == 0) {
        // Undeclared: the inferred type (with its shape), else the element type alone.
        if (c.inferred != nullptr) {
          *info.mutable_type() = *c.inferred;
        } else {
          info.mutable_type()->mutable_tensor_type()->set_elem_type(static_cast<int32_t>(c.info.type));
        }
        graph.set_output_info(last, info);
      }
      ++exposed_;
      changed = true;
    }
    return changed;
  }

 private:
  static TypeAndRank Declared(const ir::Value& value) {
    TypeAndRank out;
    out.type = value.elem_type();
    if (auto shape = value.shape()) out.rank = static_cast<int64_t>(shape->size());
    return out;
  }

  // ONNX type and shape inference on an exported copy; node-level failures
  // (unknown ops, opsets newer than libonnx) leave those values out.
  static absl::flat_hash_map<std::string, onnx::TypeProto> InferTypes(const ir::Model& model) {
    absl::flat_hash_map<std::string, onnx::TypeProto> out;
    onnx::ModelProto proto = ir::ExportModelForShapeInference(model);
    // A failure keeps whatever was inferred before it (inference annotates
    // `proto` in place); a model libonnx would crash on is not inferred.
    (void)ir::RunShapeInference(proto, /*data_propagation=*/false);
    auto add = [&out](const onnx::ValueInfoProto& vi) {
      if (vi.type().has_tensor_type() && vi.type().tensor_type().elem_type() != 0) out.emplace(vi.name(), vi.type());
    };
    for (const auto& vi : proto.graph().value_info()) add(vi);
    for (const auto& vi : proto.graph().output()) add(vi);
    return out;
  }

  static nlohmann::json CandidatesJson(const std::vector<Candidate>& candidates, int64_t size) {
    nlohmann::json tensors = nlohmann::json::array();
    for (size_t i = 0; i < candidates.size(); ++i) {
      const Candidate& c = candidates[i];
      std::set<std::string> consumers;
      // Each reading node's op type and first output, in use order: lets a
      // reader follow the tensor through data movement (the calibrator's
      // `--choose=auto` looks for a Softmax behind Flatten/Reshape).
      nlohmann::json uses = nlohmann::json::array();
      for (const ir::Use& use : c.value->uses()) {
        if (use.is_graph_output()) continue;
        consumers.insert(QualifiedOpType(*use.user));
        const ir::Value* out = use.user->output(0);
        uses.push_back({{"op_type", QualifiedOpType(*use.user)},
                        {"output", out != nullptr ? nlohmann::json(out->name()) : nlohmann::json(nullptr)}});
      }
      nlohmann::json t = {
          {"name", c.value->name()},
          {"elem_type", ir::ElementTypeName(c.info.type)},
          {"op_type", QualifiedOpType(*c.node)},
          {"node", c.node->name()},
          {"output_index", c.value->output_index()},
          {"consumers", consumers},
          {"uses", std::move(uses)},
          {"graph_output", c.value->is_graph_output()},
          {"batch", static_cast<int64_t>(i) / size},
      };
      t["rank"] = c.info.rank ? nlohmann::json(*c.info.rank) : nlohmann::json(nullptr);
      tensors.push_back(std::move(t));
    }
    return tensors;
  }

  absl::Status WriteList(const ir::Model& model, nlohmann::json tensors, const std::vector<std::string>& untyped,
                         int64_t total, int64_t batches, int64_t index) const {
    nlohmann::json inputs = nlohmann::json::array();
    for (const ir::Value* in : model.graph().inputs()) {
      if (in->initializer() != nullptr) continue;  // an input with a default: a weight, not data
      TypeAndRank info = Declared(*in);
      nlohmann::json entry = {{"name", in->name()}, {"elem_type", ir::ElementTypeName(info.type)}};
      entry["rank"] = info.rank ? nlohmann::json(*info.rank) : nlohmann::json(nullptr);
      inputs.push_back(std::move(entry));
    }
    nlohmann::json outputs = nlohmann::json::array();
    for (const ir::Value* out : model.graph().outputs()) outputs.push_back(out->name());
    nlohmann::json doc = {
        {"schema", "qopt-expose-tensors/1"},
        {"types", SplitList(types_.value())},
        {"ops", SplitList(ops_.value())},
        {"candidates", total},
        {"batch_size", batch_size_.value()},
        {"batches", batches},
        {"batch_index", index},
        {"inputs", std::move(inputs)},
        {"outputs", std::move(outputs)},
        {"tensors", std::move(tensors)},
        {"untyped", untyped},
    };
    std::ofstream file(list_.value(), std::ios::binary | std::ios::trunc);
    if (!file) return absl::InvalidArgumentError(absl::StrCat("cannot write list=", list_.value()));
    file << doc.dump(2) << "\n";
    file.close();
    if (!file) return absl::InvalidArgumentError(absl::StrCat("cannot write list=", list_.value()));
    return absl::OkStatus();
  }

  Option<std::string> types_{this, "types",
                             "Element types to expose, comma-separated ONNX names (float,float16,...) or all", "float"};
  Option<std::string> ops_{this, "ops",
                           "Expose only outputs of these op types (comma-separated, domain::Op outside the default "
                           "domain); empty: all",
                           ""};
  Option<int64_t> batch_size_{this, "batch-size", "Expose at most this many candidates (0: all of them)", 0};
  Option<int64_t> batch_index_{this, "batch-index", "Which group of batch-size candidates to expose (from 0)", 0};
  Option<std::string> list_{this, "list", "Write every candidate tensor and its batch to this JSON file", ""};
  Statistic candidates_{this, "candidates", "Tensors matching types= and ops="};
  Statistic exposed_{this, "tensors-exposed", "Tensors added as graph outputs"};
  Statistic untyped_{this, "untyped-skipped", "Node outputs skipped because their element type is unknown"};
};

}  // namespace

std::unique_ptr<Pass> CreateExposeTensorsPass() { return std::make_unique<ExposeTensors>(); }

}  // namespace qopt

// s8-to-u8: int8 activations become uint8, exactly. ONNX Runtime's CPU
// provider on x86 fuses QDQ units and runs fast integer kernels only for
// uint8 activations (u8s8: uint8 data, int8 weights); a file quantized with
// int8 activations (quantize_static's default) keeps its Q/DQ there, and
// its int8 QLinearConv is several times slower than the uint8 one.
//
// Why it is exact: with zero point z in [-128, 127] and q = sat_s8(round(x /
// s) + z), the uint8 quantization with zero point z + 128 gives
// sat_u8(round(x / s) + z + 128) = q + 128, because both saturations cut
// at the same real values; DequantizeLinear gives (q + 128 - (z + 128)) * s,
// the same float. Every integer kernel computes on q - z, which does not
// change, and ops that only move or select elements (Reshape, Transpose,
// MaxPool, nearest Resize, Concat, Pad with its pad value moved, ...) commute
// with adding 128. So the values of a connected region of int8 activations
// (Q outputs, integer-op outputs and what data movement makes of them) can
// all be shifted at once: their zero points (and the int8 constants that
// must share their type: a QLinearAdd's constant operand, a Concat's
// constant input, a Pad value) move by 128, and weights stay int8.
//
// A region is left as it is, with the reason in the report, when something
// reads it that qopt cannot shift (an unknown op, a sub-graph, a Resize in
// linear mode, a zero point computed at run time). int8 graph inputs and
// outputs keep their type: a DequantizeLinear/QuantizeLinear pair with
// scale 1 converts at the boundary (exact: integers are exact in float).
#include <algorithm>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "analysis/qdq_params.h"
#include "analysis/target_profile.h"
#include "ir/op_traits.h"
#include "ir/quantized_operands.h"
#include "passes/builtin_passes.h"
#include "passes/fuse_qdq/rewrite_util.h"

namespace qopt {
namespace {

using ir::ElementType;

constexpr int64_t kShift = 128;

using fuse_qdq::NodeLabel;

// Ops that only move, select or copy elements: f(x + 128) = f(x) + 128
// when every data input is shifted (Pad needs its pad value shifted too).
bool ShiftsWithData(const ir::Node& n) {
  if (!n.is_default_domain()) return false;
  return ir::CommutesWithPerTensorQuantization(n) || ir::HasTrait(n, ir::OpTrait::kDataMovement);
}

bool IsDataInput(const ir::Node& n, int i) { return i == 0 || n.Is("Concat"); }

bool IsDataOutput(const ir::Node& n, int o) {
  // MaxPool's Indices and Dropout's mask are no data.
  return !((n.Is("MaxPool") || n.Is("Dropout")) && o > 0);
}

// A QuantizeLinear that makes int8: its zero point is int8, or (opset 21)
// its output_dtype says so.
bool QuantizesToInt8(const ir::Node& q) {
  if (const ir::Value* zp = q.input(2)) return zp->elem_type() == ElementType::kInt8;
  return q.GetInt("output_dtype").value_or(0) == static_cast<int64_t>(ElementType::kInt8);
}

// A Cast of int8 activations to indices whose every reader is a Gather
// (axis 0) into a constant table of 256 rows: a 256-entry lookup table, as
// qdq-lookup makes. Shifting the indices by 128 rotates the table.
bool IsLookupIndexCast(const ir::Node& cast) {
  if (!cast.Is("Cast") || !cast.output()->has_uses() || cast.output()->is_graph_output()) return false;
  for (const ir::Use& use : cast.output()->uses()) {
    const ir::Node* gather = use.user;
    if (gather == nullptr || !gather->Is("Gather") || use.index != 1 || gather->GetInt("axis").value_or(0) != 0) {
      return false;
    }
    const ir::Tensor* table = gather->input(0) != nullptr ? gather->input(0)->constant() : nullptr;
    if (table == nullptr || table->dims().empty() || table->dims()[0] != 256 || !table->RawBytes().ok()) return false;
  }
  return true;
}

// The int8 activations a lookup Gather reads through its index Cast.
const ir::Value* LookupIndexSource(const ir::Node& gather) {
  const ir::Node* cast = gather.input(1) != nullptr ? gather.input(1)->producer() : nullptr;
  return cast != nullptr && IsLookupIndexCast(*cast) ? cast->input(0) : nullptr;
}

class S8ToU8 : public Pass {
 public:
  absl::string_view name() const override { return "s8-to-u8"; }
  absl::string_view summary() const override {
    return "Turn int8 activations into uint8 with zero point + 128 (Q/DQ, integer ops, data movement, graph "
           "boundaries); weights stay int8 (exact)";
  }

  absl::StatusOr<bool> Run(ir::Model& model, PassContext& context) override {
    absl::StatusOr<const analysis::TargetProfile*> resolved = analysis::ResolveTargetProfile(target_.value());
    if (!resolved.ok()) return resolved.status();
    const analysis::TargetProfile* profile = *resolved;
    Reset();
    ir::Graph& graph = model.graph();
    FindRegions(graph);
    if (parent_.empty()) return false;  // no int8 activations: nothing to say
    if (when_.value() == "auto" && !profile->PrefersUnsignedActivations()) {
      skipped_reason_ = absl::StrCat("target ", profile->name, " fuses int8 activations as well as uint8");
    } else {
      CheckUses(graph);
      Convert(graph);
    }
    if (context.report != nullptr) context.report->AddAnalysis("s8-to-u8", ReportJson(), ReportText());
    return converted_values_.value() > 0;
  }

 private:
  void Reset() {
    parent_.clear();
    blocker_.clear();
    u8_copies_.clear();
    replaced_.clear();
    u8_zero_ = s8_zero_ = one_ = nullptr;
    skipped_reason_.clear();
    kept_.clear();
  }

  // ---- regions: union-find over int8 activation values ----------------------
  bool IsInt8Activation(const ir::Value* v) const { return v != nullptr && parent_.contains(v); }
  void Add(const ir::Value* v) {
    if (v != nullptr && !parent_.contains(v)) parent_[v] = v;
  }
  const ir::Value* Root(const ir::Value* v) {
    while (parent_[v] != v) v = parent_[v] = parent_[parent_[v]];
    return v;
  }
  void Union(const ir::Value* a, const ir::Value* b) {
    const ir::Value* ra = Root(a);
    const ir::Value* rb = Root(b);
    if (ra == rb) return;
    parent_[rb] = ra;
    auto it = blocker_.find(rb);
    if (it != blocker_.end()) {
      // Out of the map before inserting: an insertion may rehash it, after
      // which `it` and a reference to its string dangle.
      std::string why = std::move(it->second);
      blocker_.erase(it);
      blocker_.try_emplace(ra, std::move(why));
    }
  }
  void Block(const ir::Value* v, std::string why) { blocker_.try_emplace(Root(v), std::move(why)); }
  bool Convertible(const ir::Value* v) { return IsInt8Activation(v) && !blocker_.contains(Root(v)); }

  // A zero point qopt can shift: absent (where the op then defaults to int8
  // zero) or a constant.
  static bool ZeroPointConstant(const ir::Node& n, int index) {
    const ir::Value* zp = n.input(index);
    return zp == nullptr || zp->is_constant();
  }

  // Walks the nodes in order, so every producer is seen before its users.
  void FindRegions(const ir::Graph& graph) {
    for (const ir::Value* in : graph.inputs()) {
      if (!in->is_constant() && in->elem_type() == ElementType::kInt8) Add(in);
    }
    for (const ir::Node* n : graph.nodes()) {
      if (analysis::IsQuantizeLinear(*n)) {
        const ir::Value* x = n->input(0);
        if (x == nullptr || x->is_constant() || !QuantizesToInt8(*n)) continue;  // weights stay int8
        Add(n->output());
        if (!ZeroPointConstant(*n, 2))
          Block(n->output(), absl::StrCat(NodeLabel(*n), ": zero point computed at run time"));
        continue;
      }
      if (analysis::IsDequantizeLinear(*n)) continue;
      if (const ir::QuantizedSignature* sig = ir::FindQuantizedSignature(*n)) {
        const ir::Value* zp = sig->output_zero_point >= 0 ? n->input(sig->output_zero_point) : nullptr;
        const bool int8_out = zp != nullptr && zp->elem_type() == ElementType::kInt8;
        if (int8_out) {
          Add(n->output());
          if (!zp->is_constant())
            Block(n->output(), absl::StrCat(NodeLabel(*n), ": output zero point computed at run time"));
        }
        for (const ir::QuantizedOperand& op : ir::QuantizedInputs(*n)) {
          const ir::Value* data = n->input(op.data);
          if (!IsInt8Activation(data)) continue;
          if (!ZeroPointConstant(*n, op.zero_point))
            Block(data, absl::StrCat(NodeLabel(*n), ": zero point computed at run time"));
          if (!op.same_type_as_output) continue;
          if (int8_out) {
            Union(n->output(), data);
          } else {
            Block(data, absl::StrCat(NodeLabel(*n), ": output not int8"));
          }
        }
        continue;
      }
      if (ShiftsWithData(*n)) {
        const ir::Value* first = nullptr;
        for (int i = 0; i < n->num_inputs(); ++i) {
          if (IsDataInput(*n, i) && IsInt8Activation(n->input(i))) {
            if (first == nullptr) first = n->input(i);
            Union(first, n->input(i));
          }
        }
        if (first == nullptr && n->Is("Gather") && n->input(0) != nullptr && n->input(0)->is_constant() &&
            n->input(0)->elem_type() == ElementType::kInt8) {
          Add(n->output());  // rows of an int8 table: shifted with the table
          continue;
        }
        if (first == nullptr) continue;
        for (int o = 0; o < n->num_outputs(); ++o) {
          if (n->output(o) == nullptr || !IsDataOutput(*n, o)) continue;
          Add(n->output(o));
          Union(first, n->output(o));
        }
        if (n->Is("Pad") && !PadValueShiftable(*n))
          Block(first, absl::StrCat(NodeLabel(*n), ": pad value not a constant"));
        continue;
      }
      // Anything else that makes int8 (a Cast, an unknown op) starts a region
      // qopt cannot shift.
      for (const ir::Value* out : n->outputs()) {
        if (out != nullptr && out->elem_type() == ElementType::kInt8) {
          Add(out);
          Block(out, absl::StrCat("made by ", NodeLabel(*n)));
        }
      }
    }
  }

  static bool PadValueShiftable(const ir::Node& pad) {
    const std::string mode = pad.GetString("mode").value_or("constant");
    if (mode != "constant") return true;
    const ir::Value* value = pad.input(2);
    return value == nullptr || value->is_constant();
  }

  // Every reader of an int8 activation must be one qopt knows how to shift.
  void CheckUses(const ir::Graph& graph) {
    for (const auto& [value, parent] : parent_) {
      for (const ir::Use& use : value->uses()) {
        if (use.is_graph_output()) continue;
        const ir::Node& user = *use.user;
        std::string why = WhyNotShiftable(graph, user, use.index);
        if (!why.empty()) Block(value, absl::StrCat("'", value->name(), "' read by ", NodeLabel(user), why));
      }
    }
  }

  std::string WhyNotShiftable(const ir::Graph& graph, const ir::Node& user, int index) {
    if (user.graph() != &graph) return " in a sub-graph";
    if (analysis::IsDequantizeLinear(user)) {
      if (index != 0) return " as a parameter";
      return ZeroPointConstant(user, 2) ? "" : ": zero point computed at run time";
    }
    if (ir::FindQuantizedSignature(user) != nullptr) {
      for (const ir::QuantizedOperand& op : ir::QuantizedInputs(user)) {
        if (op.data == index) return "";
      }
      return " as a parameter";
    }
    if (ShiftsWithData(user) && IsDataInput(user, index)) return "";
    if (IsLookupIndexCast(user)) return "";
    return ", which cannot run on shifted integers";
  }

  // ---- the rewrite ----------------------------------------------------------
  void Convert(ir::Graph& graph) {
    std::vector<ir::Node*> nodes = graph.node_list();
    for (ir::Node* n : nodes) {
      bool changed = false;
      if (analysis::IsQuantizeLinear(*n)) {
        if (!Convertible(n->output())) continue;
        if (n->FindAttribute("output_dtype") != nullptr)
          n->SetInt("output_dtype", static_cast<int64_t>(ElementType::kUint8));
        ShiftZeroPoint(graph, *n, 2);
        changed = true;
      } else if (analysis::IsDequantizeLinear(*n)) {
        if (IsShiftableConstantOperand(*n)) {
          // DQ of an int8 constant read beside shifted activations (the 3
          // of a hard-swish's Add in an s8s8 file): the target fuses a unit
          // only when its inputs share one integer type, and DQ(q + 128,
          // z + 128) is the same float.
          n->SetInput(0, ShiftedCopy(graph, n->input(0)));
          ShiftZeroPoint(graph, *n, 2);
          ++nodes_changed_;
          continue;
        }
        if (!Convertible(n->input(0))) continue;
        ShiftZeroPoint(graph, *n, 2);
        changed = true;
      } else if (const ir::QuantizedSignature* sig = ir::FindQuantizedSignature(*n)) {
        const bool out = Convertible(n->output());
        for (const ir::QuantizedOperand& op : ir::QuantizedInputs(*n)) {
          const ir::Value* data = n->input(op.data);
          if (Convertible(data)) {
            ShiftZeroPoint(graph, *n, op.zero_point);
            changed = true;
          } else if (out && op.same_type_as_output && data != nullptr && data->is_constant() &&
                     data->elem_type() == ElementType::kInt8) {
            n->SetInput(op.data, ShiftedCopy(graph, n->input(op.data)));  // a constant operand of QLinearAdd
            ShiftZeroPoint(graph, *n, op.zero_point);
            changed = true;
          }
        }
        if (out) {
          ShiftZeroPoint(graph, *n, sig->output_zero_point);
          changed = true;
        }
      } else if (n->Is("Gather") && n->input(0) != nullptr && n->input(0)->is_constant() &&
                 (Convertible(LookupIndexSource(*n)) ||
                  (Convertible(n->output()) && n->input(0)->elem_type() == ElementType::kInt8))) {
        n->SetInput(0, LookupTable(graph, n->input(0), Convertible(LookupIndexSource(*n)), Convertible(n->output())));
        changed = true;
      } else if (ShiftsWithData(*n) && Convertible(n->output())) {
        for (int i = 0; i < n->num_inputs(); ++i) {
          ir::Value* in = n->input(i);
          if (IsDataInput(*n, i) && in != nullptr && in->is_constant() && in->elem_type() == ElementType::kInt8) {
            n->SetInput(i, ShiftedCopy(graph, in));
          }
        }
        if (n->Is("Pad")) ShiftPadValue(graph, *n);
        changed = true;
      }
      if (changed) ++nodes_changed_;
    }
    // The values themselves: declared types, and the graph's int8 interface.
    std::vector<ir::Value*> values;
    for (const auto& [value, parent] : parent_) {
      if (Convertible(value)) values.push_back(const_cast<ir::Value*>(value));
    }
    std::sort(values.begin(), values.end(),
              [](const ir::Value* a, const ir::Value* b) { return a->name() < b->name(); });
    for (ir::Value* v : values) {
      const bool is_input = v->kind() == ir::Value::Kind::kGraphInput;
      const bool is_output = v->is_graph_output();
      if (!is_input) SetType(v, ElementType::kUint8);
      if (is_input) ConvertGraphInput(graph, v);
      if (is_output) ConvertGraphOutput(graph, v);
      ++converted_values_;
    }
    EraseReplacedConstants(graph);
    for (const auto& [root, why] : blocker_) kept_.push_back({root->name(), why});
    std::sort(kept_.begin(), kept_.end());
    kept_regions_ += static_cast<int64_t>(kept_.size());
  }

  // A DequantizeLinear of an int8 constant (with a constant zero point)
  // whose readers take it as an activation-like operand, none as weights
  // (which the integer kernels want int8), and at least one of which also
  // reads an activation this pass shifts.
  bool IsShiftableConstantOperand(const ir::Node& dq) {
    const ir::Value* q = dq.input(0);
    if (q == nullptr || !q->is_constant() || q->elem_type() != ElementType::kInt8 || !ZeroPointConstant(dq, 2)) {
      return false;
    }
    bool beside_shifted = false;
    for (const ir::Use& use : dq.output()->uses()) {
      if (use.is_graph_output()) continue;
      const ir::Node& reader = *use.user;
      const ir::OpTraits* traits = ir::FindOpTraits(reader);
      if (traits == nullptr || !reader.is_default_domain() || traits->weight_input == use.index ||
          traits->bias_input == use.index || analysis::IsQuantizeLinear(reader)) {
        return false;
      }
      for (const ir::Value* in : reader.inputs()) {
        const ir::Node* other = in != nullptr ? in->producer() : nullptr;
        beside_shifted = beside_shifted || (other != nullptr && other != &dq && analysis::IsDequantizeLinear(*other) &&
                                            Convertible(other->input(0)));
      }
    }
    return beside_shifted;
  }

  static void SetType(ir::Value* v, ElementType type) { fuse_qdq::SetTensorType(v, type, v->shape()); }

  // Input `index` of `n` (a zero point) becomes its uint8 copy + 128, or a
  // scalar 128 where it was absent (int8 zero).
  void ShiftZeroPoint(ir::Graph& graph, ir::Node& n, int index) {
    ir::Value* zp = n.input(index);
    ir::Value* shifted = zp != nullptr ? ShiftedCopy(graph, zp) : U8Zero(graph);
    while (n.num_inputs() <= index) n.AddInput(nullptr);
    n.SetInput(index, shifted);
  }

  void ShiftPadValue(ir::Graph& graph, ir::Node& pad) {
    if (pad.GetString("mode").value_or("constant") != "constant") return;
    if (pad.FindAttribute("value") != nullptr) {  // before opset 11
      pad.SetFloat("value", pad.GetFloat("value").value_or(0) + kShift);
      return;
    }
    ShiftZeroPoint(graph, pad, 2);  // the pad value moves as a zero point does; absent is int8 0
  }

  // The int8 constants whose shifted copies took their place, where nothing
  // reads them any more: the file should not carry both.
  void EraseReplacedConstants(ir::Graph& graph) {
    for (ir::Value* v : replaced_) {
      if (v->has_uses() || v->is_graph_output()) continue;
      if (v->kind() == ir::Value::Kind::kInitializer) {
        graph.EraseValue(v);
      } else if (ir::Node* constant = v->producer(); constant != nullptr && constant->Is("Constant")) {
        graph.EraseNode(constant);
      }
    }
    replaced_.clear();
  }

  // A uint8 initializer holding the int8 constant `v` + 128; one per source.
  ir::Value* ShiftedCopy(ir::Graph& graph, ir::Value* v) {
    auto it = u8_copies_.find(v);
    if (it != u8_copies_.end()) return it->second;
    const ir::Tensor* t = v->constant();
    std::string bytes;
    if (auto values = t->ToInt64s(); values.ok()) {
      bytes.reserve(values->size());
      for (int64_t x : *values) bytes.push_back(static_cast<char>(static_cast<uint8_t>(x + kShift)));
    }
    ir::Tensor shifted(ElementType::kUint8, t->dims());
    shifted.SetRawData(std::move(bytes));
    ir::Value* copy = graph.AddInitializer(absl::StrCat(v->name(), "_u8"), std::move(shifted));
    u8_copies_[v] = copy;
    replaced_.push_back(v);
    return copy;
  }

  // A copy of lookup table `table` (256 rows) for indices shifted by 128
  // (`rotate`: row u is the old row of index u - 128, negative indices
  // having counted from the end) and/or holding int8 values now uint8
  // (`shift_values`).
  ir::Value* LookupTable(ir::Graph& graph, ir::Value* table, bool rotate, bool shift_values) {
    const ir::Tensor* t = table->constant();
    absl::StatusOr<absl::string_view> raw = t->RawBytes();
    std::string bytes = raw.ok() ? std::string(*raw) : std::string();
    const size_t row = bytes.size() / 256;
    if (rotate && row > 0) std::rotate(bytes.begin(), bytes.begin() + 128 * row, bytes.end());
    ElementType type = t->type();
    if (shift_values && type == ElementType::kInt8) {
      for (char& b : bytes) b = static_cast<char>(static_cast<uint8_t>(static_cast<int8_t>(b) + kShift));
      type = ElementType::kUint8;
    }
    ir::Tensor copy(type, t->dims());
    copy.SetRawData(std::move(bytes));
    replaced_.push_back(table);
    return graph.AddInitializer(absl::StrCat(table->name(), rotate ? "_rotated" : "_u8"), std::move(copy));
  }

  ir::Value* U8Zero(ir::Graph& graph) {
    if (u8_zero_ == nullptr) u8_zero_ = graph.AddInitializer("s8_to_u8_zero_u8", Scalar(ElementType::kUint8, kShift));
    return u8_zero_;
  }
  ir::Value* S8Zero(ir::Graph& graph) {
    if (s8_zero_ == nullptr) s8_zero_ = graph.AddInitializer("s8_to_u8_zero_s8", Scalar(ElementType::kInt8, 0));
    return s8_zero_;
  }
  ir::Value* One(ir::Graph& graph) {
    if (one_ == nullptr) one_ = graph.AddInitializer("s8_to_u8_one", ir::Tensor::Scalar(1.0f));
    return one_;
  }
  static ir::Tensor Scalar(ElementType type, int64_t value) {
    ir::Tensor t(type, {});
    t.SetRawData(std::string(1, static_cast<char>(static_cast<uint8_t>(value))));
    return t;
  }

  // int8 graph input x: its readers get DQ(x; 1, 0) -> Q(1, 128), uint8.
  void ConvertGraphInput(ir::Graph& graph, ir::Value* x) {
    ir::UseList uses = x->uses();
    ir::Node* first = graph.FirstNode();
    ir::Model& model = *graph.model();
    ir::Node* dq = graph.AddNodeWithOutputNames("DequantizeLinear", {x, One(graph), S8Zero(graph)},
                                                {model.UniqueName(absl::StrCat(x->name(), "_s8_float"))}, first);
    ir::Node* q = graph.AddNodeWithOutputNames("QuantizeLinear", {dq->output(), One(graph), U8Zero(graph)},
                                               {model.UniqueName(absl::StrCat(x->name(), "_u8"))}, first);
    SetType(dq->output(), ElementType::kFloat);
    SetType(q->output(), ElementType::kUint8);
    for (const ir::Use& use : uses) {
      if (use.is_graph_output()) continue;  // an input that is also an output stays as it is there
      use.user->SetInput(use.index, q->output());
    }
    if (x->is_graph_output()) return;
    ++boundary_converters_;
  }

  // int8 graph output v (now uint8): the output becomes DQ(v; 1, 128) ->
  // Q(1, 0), int8 again, under the output's name.
  void ConvertGraphOutput(ir::Graph& graph, ir::Value* v) {
    if (v->kind() == ir::Value::Kind::kGraphInput) return;  // passed through unchanged
    ir::Model& model = *graph.model();
    ir::Node* dq = graph.AddNodeWithOutputNames("DequantizeLinear", {v, One(graph), U8Zero(graph)},
                                                {model.UniqueName(absl::StrCat(v->name(), "_u8_float"))});
    ir::Node* q = graph.AddNodeWithOutputNames("QuantizeLinear", {dq->output(), One(graph), S8Zero(graph)},
                                               {model.UniqueName(absl::StrCat(v->name(), "_s8"))});
    SetType(dq->output(), ElementType::kFloat);
    fuse_qdq::SetTensorType(q->output(), ElementType::kInt8, v->shape());
    const std::string name = v->name();
    for (int i = 0; i < static_cast<int>(graph.outputs().size()); ++i) {
      if (graph.outputs()[i] == v) graph.SetOutput(i, q->output());
    }
    graph.RenameValue(v, graph.model()->UniqueName(absl::StrCat(name, "_u8")));
    graph.RenameValue(q->output(), name);
    ++boundary_converters_;
  }

  nlohmann::json ReportJson() const {
    nlohmann::json kept = nlohmann::json::array();
    for (const auto& [value, why] : kept_) kept.push_back({{"region", value}, {"why", why}});
    nlohmann::json j = {{"target", target_.value()},
                        {"converted_values", converted_values_.value()},
                        {"nodes_changed", nodes_changed_.value()},
                        {"boundary_converters", boundary_converters_.value()},
                        {"kept_int8", kept}};
    if (!skipped_reason_.empty()) j["skipped"] = skipped_reason_;
    return j;
  }

  std::string ReportText() const {
    if (!skipped_reason_.empty()) return absl::StrCat("s8-to-u8: nothing done (", skipped_reason_, ")\n");
    std::string text = absl::StrCat("s8-to-u8: ", converted_values_.value(), " int8 activations now uint8, ",
                                    nodes_changed_.value(), " nodes changed, ", boundary_converters_.value(),
                                    " graph boundary converters, ", kept_.size(), " int8 regions kept\n");
    for (const auto& [value, why] : kept_) absl::StrAppend(&text, "  kept int8: region of '", value, "': ", why, "\n");
    return text;
  }

  Option<std::string> target_{this, "target", "Target profile: convert only where it fuses uint8 and not int8",
                              "ort-cpu"};
  Option<std::string> when_{
      this, "when", "auto: only where the target prefers uint8 activations; always", "auto", {"auto", "always"}};
  Statistic converted_values_{this, "converted-values", "int8 activation values now uint8"};
  Statistic nodes_changed_{this, "nodes-changed", "Q/DQ, integer ops and data movement given shifted parameters"};
  Statistic boundary_converters_{this, "boundary-converters", "DQ -> Q pairs keeping an int8 graph input or output"};
  Statistic kept_regions_{this, "kept-regions", "Connected int8 regions left as they are (see the report)"};

  absl::flat_hash_map<const ir::Value*, const ir::Value*> parent_;
  absl::flat_hash_map<const ir::Value*, std::string> blocker_;  // by region root
  absl::flat_hash_map<const ir::Value*, ir::Value*> u8_copies_;
  std::vector<ir::Value*> replaced_;
  ir::Value* u8_zero_ = nullptr;
  ir::Value* s8_zero_ = nullptr;
  ir::Value* one_ = nullptr;
  std::string skipped_reason_;
  std::vector<std::pair<std::string, std::string>> kept_;
};

}  // namespace

std::unique_ptr<Pass> CreateS8ToU8Pass() { return std::make_unique<S8ToU8>(); }

}  // namespace qopt

// propagate-qdq: moves per-tensor DequantizeLinear nodes down and
// QuantizeLinear nodes up through ops that commute with them, so that a DQ
// and a Q with equal parameters meet (qdq-cleanup then removes the pair) or
// a Q/DQ reaches an op the target fuses. Users' graphs carry such artefacts:
// a Transpose or Flatten between a DQ and the Conv it feeds, a Reshape
// between an op and its Q.
//
//   sink:  Xq -> DQ -> op -> users      =>  Xq -> op -> DQ -> users
//   hoist: X -> op -> Q -> users        =>  X -> Q -> op -> users
//
// Exact: the ops below only select, reorder or copy elements (Reshape,
// Transpose, Flatten, Squeeze, Unsqueeze, Identity, Slice, Split, Gather,
// DepthToSpace, SpaceToDepth, Resize in nearest mode, Concat of inputs with
// one scale), or take a maximum (MaxPool), and per-tensor Q and DQ are
// monotone maps applied element by element, so applying them before or after
// gives the same integers and the same floats. Per-axis Q/DQ are not moved
// (a Reshape or Transpose changes what the axis means). A DQ is sunk only
// when the op is its one user, and a Q hoisted only when it is the op's one
// user, so the node count never grows.
#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "analysis/qdq_params.h"
#include "ir/op_traits.h"
#include "passes/builtin_passes.h"
#include "passes/fuse_qdq/rewrite_util.h"
#include "pass/pattern.h"

namespace qopt {
namespace {

using analysis::IsDequantizeLinear;
using analysis::IsQuantizeLinear;
using analysis::ReadQdqParams;

// Ops through which a per-tensor Q/DQ moves exactly (ir/op_traits.def's
// `Commutes`) and that take 8-bit data at the model's opset (MaxPool only
// from 12: an opset-11 MaxPool on uint8 is a file ONNX Runtime refuses);
// input 0 is the data (every input for Concat).
bool Commutes(const ir::Node& op) {
  return ir::CommutesWithPerTensorQuantization(op) && ir::TakesEightBitData(op, ir::DefaultOpset(op));
}

bool PerTensor(const ir::Node& qdq) {
  auto p = ReadQdqParams(qdq);
  return p && p->scales.size() == 1 && p->block_size == 0;
}

std::vector<int> DataInputs(const ir::Node& op) {
  if (!op.Is("Concat")) return {0};
  std::vector<int> all(op.num_inputs());
  for (int i = 0; i < op.num_inputs(); ++i) all[i] = i;
  return all;
}

class PropagateQdq : public Pass {
 public:
  absl::string_view name() const override { return "propagate-qdq"; }
  absl::string_view summary() const override {
    return "Move per-tensor DQ down and Q up through data movement and MaxPool so that they meet or reach a fusable op";
  }

  absl::StatusOr<bool> Run(ir::Model& model, PassContext& context) override {
    const absl::flat_hash_set<std::string> keep_float = absl::StrSplit(keep_float_.value(), ',', absl::SkipEmpty());
    // Two patterns on the ops through which Q/DQ commute (the op table's
    // `Commutes`), sink first; the greedy driver runs them to a fixed point
    // and erases the Q/DQ each move leaves dead.
    const std::vector<std::string> ops = ir::OpsWithTrait(ir::kCommutes);
    auto applies = [&](const ir::Node& node) { return Commutes(node) && !keep_float.contains(node.op_type()); };
    PatternSet patterns;
    patterns.Add({"sink-dq", ops, [&](ir::Node& node, PatternRewriter& rewriter) {
                    return applies(node) && TrySink(rewriter, node);
                  }});
    patterns.Add({"hoist-q", ops, [&](ir::Node& node, PatternRewriter& rewriter) {
                    return applies(node) && TryHoist(rewriter, node);
                  }});
    const DriverResult result = ApplyPatternsGreedily(model.graph(), patterns);
    if (!ReportDriverResult(result, *this, context).empty()) ++not_converged_;
    return result.changed;
  }

 private:
  // Every data input comes from a per-tensor DQ with one user (this op), all
  // with the same parameters: the op reads the integers and one DQ follows
  // each output.
  bool TrySink(PatternRewriter& rewriter, ir::Node& op) {
    ir::Graph& graph = rewriter.graph();
    std::vector<ir::Node*> dqs;
    for (int i : DataInputs(op)) {
      ir::Value* in = op.input(i);
      ir::Node* dq = in ? in->producer() : nullptr;
      if (dq == nullptr || !IsDequantizeLinear(*dq) || !PerTensor(*dq) || in->uses().size() != 1 ||
          in->is_graph_output() || dq->input(0) == nullptr || dq->input(0)->constant() != nullptr) {
        return false;
      }
      if (!dqs.empty() && !analysis::SameQuantization(*ReadQdqParams(*dqs[0]), *ReadQdqParams(*dq))) return false;
      dqs.push_back(dq);
    }
    int used_outputs = 0;
    for (const ir::Value* out : op.outputs()) {
      if (out != nullptr && out->is_graph_output()) return false;  // keep the interface's float type
      used_outputs += out != nullptr && out->has_uses();
    }
    if (used_outputs > static_cast<int>(dqs.size())) return false;  // a Split would need a DQ per output
    const ir::ElementType type = ReadQdqParams(*dqs[0])->quant_type;
    std::vector<int> data = DataInputs(op);
    for (size_t k = 0; k < data.size(); ++k) rewriter.SetInput(op, data[k], dqs[k]->input(0));
    ir::Node* insert_before = graph.NextNode(&op);
    for (ir::Value* out : op.outputs()) {
      if (out == nullptr || !out->has_uses()) continue;
      ir::Node* dq = rewriter.AddNode("DequantizeLinear", {out, dqs[0]->input(1), dqs[0]->input(2)}, 1, insert_before,
                                   dqs[0]->domain(), absl::StrCat(out->name(), "_DequantizeLinear"));
      dq->output()->set_type_info(out->type_info());
      // Users of the op's output read the new DQ; the op's output is integer.
      for (const ir::Use& use : ir::UseList(out->uses())) {
        if (use.user != dq) rewriter.SetInput(*use.user, use.index, dq->output());
      }
      fuse_qdq::SetIntegerType(out, type, out);
    }
    ++sunk_;
    return true;
  }

  // The op's only output is read only by a per-tensor Q: quantize the op's
  // data input instead and let the op move integers.
  bool TryHoist(PatternRewriter& rewriter, ir::Node& op) {
    if (op.num_outputs() != 1 || op.Is("Concat")) return false;
    ir::Value* out = op.output();
    if (out == nullptr || out->is_graph_output() || out->uses().size() != 1) return false;
    ir::Node* q = out->uses()[0].user;
    if (!IsQuantizeLinear(*q) || out->uses()[0].index != 0 || !PerTensor(*q)) return false;
    ir::Value* in = op.input(0);
    if (in == nullptr || in->constant() != nullptr) return false;
    // Only where it helps: the input comes from a DQ (the pair can cancel).
    if (in->producer() == nullptr || !IsDequantizeLinear(*in->producer())) return false;
    // The Q moves above the op, and its scale and zero point must be
    // defined there. Files from other tools (Vitis AI) make them Constant
    // nodes right before the Q; such a node reads nothing, so it can move
    // to the front of the graph. A parameter computed by any other node
    // keeps the Q where it is.
    std::vector<ir::Node*> constant_params;
    for (int i = 1; i < q->num_inputs(); ++i) {
      ir::Node* producer = q->input(i) ? q->input(i)->producer() : nullptr;
      if (producer == nullptr) continue;
      if (producer->num_inputs() != 0 || !producer->subgraphs().empty()) return false;
      constant_params.push_back(producer);
    }
    for (ir::Node* producer : constant_params) rewriter.graph().MoveBefore(producer, rewriter.graph().FirstNode());
    ir::Node* hoisted = rewriter.AddNode("QuantizeLinear", {in, q->input(1), q->input(2)}, 1, &op, q->domain(),
                                      q->name());
    for (const ir::Attribute& a : q->attributes()) hoisted->mutable_attributes().emplace_back(ir::Attribute(a.proto()));
    rewriter.SetInput(op, 0, hoisted->output());
    const ir::ElementType type = ReadQdqParams(*q)->quant_type;
    fuse_qdq::SetIntegerType(out, type, out);
    rewriter.ReplaceAllUsesWith(q->output(), out);  // the driver erases the dead Q
    ++hoisted_;
    return true;
  }

  Option<std::string> keep_float_{this, "keep-float", "Comma-separated op types to leave in float (not moved through)",
                                  ""};
  Statistic sunk_{this, "dq-sunk", "DequantizeLinear moved below an op"};
  Statistic hoisted_{this, "q-hoisted", "QuantizeLinear moved above an op"};
  Statistic not_converged_{this, "driver-not-converged", "1 when the rewrite driver stopped before a fixed point"};
};

}  // namespace

std::unique_ptr<Pass> CreatePropagateQdqPass() { return std::make_unique<PropagateQdq>(); }

}  // namespace qopt

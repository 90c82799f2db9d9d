#include "pass/pattern.h"

#include <algorithm>
#include <deque>

#include "absl/strings/str_cat.h"
#include "analysis/qdq_params.h"
#include "ir/op_traits.h"

namespace qopt {

// ---- PatternRewriter --------------------------------------------------------

ir::Node* PatternRewriter::AddNode(absl::string_view op_type, const std::vector<ir::Value*>& inputs, int num_outputs,
                                   ir::Node* before, absl::string_view domain, absl::string_view name) {
  ir::Node* node = graph_.AddNode(op_type, inputs, num_outputs, before, domain, name);
  new_nodes_.push_back(node);
  return node;
}

ir::Value* PatternRewriter::AddInitializer(std::string name, ir::Tensor tensor) {
  return graph_.AddInitializer(std::move(name), std::move(tensor));
}

void PatternRewriter::SetInput(ir::Node& node, int index, ir::Value* value) {
  ir::Value* old = node.input(index);
  node.SetInput(index, value);
  MayBeDead(old);
  revisit_.push_back(&node);
}

void PatternRewriter::ReplaceAllUsesWith(ir::Value* from, ir::Value* to) {
  std::vector<ir::Node*> users;
  for (const ir::Use& use : from->uses()) {
    if (!use.is_graph_output()) users.push_back(use.user);
  }
  graph_.ReplaceAllUsesWith(from, to);
  MayBeDead(from);
  revisit_.insert(revisit_.end(), users.begin(), users.end());
}

void PatternRewriter::EraseNode(ir::Node& node) {
  for (ir::Value* in : node.inputs()) MayBeDead(in);
  graph_.EraseNode(&node);
}

void PatternRewriter::RenameWhenFree(ir::Value* value, std::string name) {
  renames_.emplace_back(value, std::move(name));
}

bool PatternRewriter::NotifyMatchFailure(std::string reason) {
  failure_ = std::move(reason);
  return false;
}

void PatternRewriter::MayBeDead(ir::Value* value) {
  if (value != nullptr && value->producer() != nullptr) maybe_dead_.push_back(value->producer());
}

// ---- PatternSet -------------------------------------------------------------

void PatternSet::Add(RewritePattern pattern) {
  const size_t index = patterns_.size();
  if (pattern.root_ops.empty()) {
    any_op_.push_back(index);
  } else {
    for (const std::string& op : pattern.root_ops) by_op_[op].push_back(index);
  }
  patterns_.push_back(std::move(pattern));
}

std::vector<const RewritePattern*> PatternSet::For(const ir::Node& node) const {
  std::vector<size_t> indices = any_op_;
  if (node.is_default_domain()) {
    if (auto it = by_op_.find(node.op_type()); it != by_op_.end()) {
      indices.insert(indices.end(), it->second.begin(), it->second.end());
    }
  }
  std::sort(indices.begin(), indices.end());
  std::vector<const RewritePattern*> out;
  for (size_t i : indices) out.push_back(&patterns_[i]);
  return out;
}

// ---- the driver -------------------------------------------------------------

class GreedyPatternDriver {
 public:
  GreedyPatternDriver(ir::Graph& graph, const PatternSet& patterns, const DriverConfig& config)
      : graph_(graph), patterns_(patterns), config_(config), rewriter_(graph) {}

  DriverResult Run() {
    for (ir::Node* node : graph_.node_list()) Enqueue(node);
    while (!worklist_.empty()) {
      if (result_.rewrites >= config_.max_rewrites) {
        result_.converged = false;
        break;
      }
      ir::Node* node = worklist_.front();
      worklist_.pop_front();
      queued_.erase(node);
      if (node->is_erased()) continue;
      Visit(*node);
    }
    // Values take the names of the values they replaced, now that those
    // are gone.
    for (auto& [value, name] : rewriter_.renames_) {
      if (!(value->producer() && value->producer()->is_erased()) && !value->is_graph_output() && graph_.FindValue(name) == nullptr) {
        graph_.RenameValue(value, name);
      }
    }
    for (const ir::Node* node : graph_.node_list()) {
      if (auto it = failures_.find(node); it != failures_.end()) result_.failures.emplace_back(node, it->second);
    }
    return std::move(result_);
  }

 private:
  void Enqueue(ir::Node* node) {
    if (node == nullptr || node->is_erased() || node->graph() != &graph_) return;
    if (patterns_.For(*node).empty() || !queued_.insert(node).second) return;
    worklist_.push_back(node);
  }

  void Visit(ir::Node& node) {
    for (const RewritePattern* pattern : patterns_.For(node)) {
      rewriter_.failure_.clear();
      if (!pattern->match_and_rewrite(node, rewriter_)) {
        if (!rewriter_.failure_.empty()) failures_[&node] = rewriter_.failure_;
        Forget();
        continue;
      }
      failures_.erase(&node);
      ++result_.rewrites;
      ++result_.rewrites_by_pattern[pattern->name];
      result_.changed = true;
      std::vector<ir::Node*> revisit = std::move(rewriter_.revisit_);
      std::vector<ir::Node*> fresh = std::move(rewriter_.new_nodes_);
      std::vector<ir::Node*> candidates = std::move(rewriter_.maybe_dead_);
      Forget();
      candidates.push_back(&node);
      EraseDead(std::move(candidates));
      for (ir::Node* n : fresh) Enqueue(n);
      for (ir::Node* n : revisit) Enqueue(n);
      Enqueue(&node);  // changed in place, or erased (then skipped)
      return;
    }
  }

  void Forget() {
    rewriter_.revisit_.clear();
    rewriter_.new_nodes_.clear();
    rewriter_.maybe_dead_.clear();
  }

  void EraseDead(std::vector<ir::Node*> candidates) {
    result_.nodes_erased += EraseDeadQdq(std::move(candidates)).nodes;
  }

  ir::Graph& graph_;
  const PatternSet& patterns_;
  const DriverConfig& config_;
  PatternRewriter rewriter_;
  std::deque<ir::Node*> worklist_;
  absl::flat_hash_set<ir::Node*> queued_;
  absl::flat_hash_map<const ir::Node*, std::string> failures_;
  DriverResult result_;
};

DeadNodesErased EraseDeadQdq(std::vector<ir::Node*> candidates, bool with_constants) {
  auto followed = [&](const ir::Node& producer) {
    return analysis::IsQuantizationBoundary(producer) || (with_constants && ir::HasTrait(producer, ir::kConstantOp));
  };
  DeadNodesErased erased;
  bool progress = true;
  while (progress) {
    progress = false;
    for (size_t i = 0; i < candidates.size(); ++i) {
      ir::Node* node = candidates[i];
      if (node->is_erased() || !node->outputs_unused()) continue;
      std::vector<ir::Value*> inputs;
      for (ir::Value* v : node->inputs()) {
        if (v != nullptr && std::find(inputs.begin(), inputs.end(), v) == inputs.end()) inputs.push_back(v);
      }
      if (analysis::IsQuantizeLinear(*node) || analysis::IsDequantizeLinear(*node)) ++erased.qdq;
      if (ir::HasTrait(*node, ir::kConstantOp)) ++erased.constants;
      node->graph()->EraseNode(node);
      ++erased.nodes;
      for (ir::Value* v : inputs) {
        if (v->has_uses()) continue;
        if (with_constants && v->kind() == ir::Value::Kind::kInitializer) {
          v->graph()->EraseValue(v);
          ++erased.constants;
        } else if (ir::Node* p = v->producer(); p != nullptr && followed(*p)) {
          candidates.push_back(p);
        }
      }
      progress = true;
    }
  }
  return erased;
}

DriverResult ApplyPatternsGreedily(ir::Graph& graph, const PatternSet& patterns, const DriverConfig& config) {
  return GreedyPatternDriver(graph, patterns, config).Run();
}

std::string ReportDriverResult(const DriverResult& result, const Pass& pass, PassContext& context) {
  if (result.converged) return "";
  std::string message = absl::StrCat(pass.name(), ": the rewrite driver stopped after ", result.rewrites,
                                     " rewrites without reaching a fixed point; the result is valid but not fully "
                                     "rewritten (a pattern that undoes another?)");
  if (context.report) context.report->AddFinding({Severity::kWarning, std::string(pass.name()), "", message});
  return message;
}

}  // namespace qopt

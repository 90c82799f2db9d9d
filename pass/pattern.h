// Rewrite patterns and the greedy driver that applies them, after ONNX
// Runtime's SelectorActionRegistry (a rule is data: the op types it is tried
// on, a selector, an action) and MLIR's greedy pattern rewrite driver
// (matchAndRewrite, every edit through a rewriter, a worklist run to a fixed
// point, notifyMatchFailure for the "why not" report).
//
//   PatternSet patterns;
//   patterns.Add({"fold-x", {"Relu"}, [](ir::Node& relu, PatternRewriter& rewriter) {
//     if (!Selected(relu)) return rewriter.NotifyMatchFailure("input is not a DQ");
//     rewriter.ReplaceAllUsesWith(relu.output(), relu.input(0));  // relu is dead now
//     return true;
//   }});
//   DriverResult result = ApplyPatternsGreedily(graph, patterns);
//   ReportDriverResult(result, *this, context);   // warns when it did not converge
//
// The driver owns what a rewrite leaves behind: after each successful
// rewrite it erases the nodes the rewrite made dead (the root, nodes whose
// outputs lost their last use through the rewriter) and, transitively, the
// Q/DQ nodes only they read. Patterns do not sweep dead nodes themselves.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/string_view.h"
#include "ir/graph.h"
#include "pass/pass.h"

namespace qopt {

// The one way a pattern edits the graph: each call forwards to the IR API
// and tells the driver which nodes to revisit and which may have died.
class PatternRewriter {
 public:
  explicit PatternRewriter(ir::Graph& graph) : graph_(graph) {}
  ir::Graph& graph() const { return graph_; }

  ir::Node* AddNode(absl::string_view op_type, const std::vector<ir::Value*>& inputs, int num_outputs,
                    ir::Node* before, absl::string_view domain = "", absl::string_view name = "");
  ir::Value* AddInitializer(std::string name, ir::Tensor tensor);
  void SetInput(ir::Node& node, int index, ir::Value* value);
  void ReplaceAllUsesWith(ir::Value* from, ir::Value* to);
  // Erases a node whose outputs are unused now (rarely needed: the driver
  // erases what a rewrite leaves dead).
  void EraseNode(ir::Node& node);
  // `value` takes `name` when the driver has finished and the value that
  // carried the name is gone (an integer tensor keeps the name of the Q
  // output it replaces); skipped when the name is still taken.
  void RenameWhenFree(ir::Value* value, std::string name);

  // Why the pattern does not apply to the node it is tried on; always
  // returns false, so `return rewriter.NotifyMatchFailure("...")`. The last
  // reason per node that no pattern rewrote is in DriverResult::failures.
  bool NotifyMatchFailure(std::string reason);

 private:
  friend class GreedyPatternDriver;
  void MayBeDead(ir::Value* value);   // its producer may have lost its last use

  ir::Graph& graph_;
  std::string failure_;
  std::vector<ir::Node*> new_nodes_;
  std::vector<ir::Node*> revisit_;
  std::vector<ir::Node*> maybe_dead_;
  std::vector<std::pair<ir::Value*, std::string>> renames_;
};

// A rewrite as data: where it is tried and what it does. `root_ops` are
// default-domain op types (empty: every node); `match_and_rewrite` checks the
// node (the selector) and rewrites it through the rewriter (the action),
// returning whether it changed the graph. It must not change the graph when
// it returns false.
struct RewritePattern {
  std::string name;
  std::vector<std::string> root_ops;
  std::function<bool(ir::Node& root, PatternRewriter& rewriter)> match_and_rewrite;
};

// Patterns by the op type of their root, in the order they were added.
class PatternSet {
 public:
  void Add(RewritePattern pattern);
  // The patterns to try on `node`, in registration order.
  std::vector<const RewritePattern*> For(const ir::Node& node) const;
  bool empty() const { return patterns_.empty(); }
  const std::vector<RewritePattern>& patterns() const { return patterns_; }

 private:
  std::vector<RewritePattern> patterns_;
  absl::flat_hash_map<std::string, std::vector<size_t>> by_op_;
  std::vector<size_t> any_op_;
};

struct DriverConfig {
  // Successful rewrites before the driver gives up. A set of patterns that
  // keeps rewriting (a cycle) hits it; the result then says it did not
  // converge, and ReportDriverResult warns.
  int64_t max_rewrites = 1000000;
};

struct DriverResult {
  bool changed = false;
  bool converged = true;       // false: max_rewrites reached with work left
  int64_t rewrites = 0;
  int64_t nodes_erased = 0;    // dead nodes the driver erased after the rewrites
  std::map<std::string, int64_t> rewrites_by_pattern;
  // Per node that is still in the graph and that a pattern refused: the
  // last NotifyMatchFailure reason (the "why not rewritten" report).
  std::vector<std::pair<const ir::Node*, std::string>> failures;
};

// Applies `patterns` to `graph` (not its sub-graphs) until none applies:
// every node is visited in graph order; a node a rewrite touched (new
// nodes, users of a value that changed) is visited again.
DriverResult ApplyPatternsGreedily(ir::Graph& graph, const PatternSet& patterns, const DriverConfig& config = {});

// Erases the `candidates` that are dead (no output read, none a graph
// output), and then the Q/DQ nodes only erased nodes read — with
// `with_constants` also such Constant nodes and initializers — until
// nothing more dies. The one place dead Q/DQ nodes go: the driver calls it
// after every rewrite; passes that edit the graph directly (qdq-cleanup,
// float-islands) call it with their own candidates. Graph inputs stay; a
// producer in an enclosing graph (a sub-graph reads outer values) goes too.
struct DeadNodesErased {
  int64_t nodes = 0;
  int64_t qdq = 0;        // QuantizeLinear/DequantizeLinear among them
  int64_t constants = 0;  // Constant nodes and initializers
};
DeadNodesErased EraseDeadQdq(std::vector<ir::Node*> candidates, bool with_constants = false);

// A warning finding naming `pass` when the driver did not converge; and
// returns the message (empty when it converged), for passes without a report.
std::string ReportDriverResult(const DriverResult& result, const Pass& pass, PassContext& context);

}  // namespace qopt

// qdq-boundaries: where a quantized model crosses between float and integer
// and why. Per QDQ node unit (analysis/node_units.h): whether the target
// profile runs it in integer, or the reason it stays float; the float<->int
// transitions and the integer islands they enclose; redundant pairs (DQ->Q
// with identical parameters, requantizing DQ->Q, Q of a constant, duplicate
// Q/DQ of one tensor); the float regions with the integer ops around them;
// dynamic quantization sites and Cast chains; the bytes the boundary ops
// move per inference where shapes are known; and the quantization step of
// each graph output. QOperator models (QLinearConv, ...) are units that run
// in integer already; their islands are joined through integer edges.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "analysis/node_units.h"
#include "analysis/target_profile.h"
#include "ir/op_traits.h"
#include "nlohmann/json.hpp"

namespace qopt::analysis {

struct UnitVerdict {
  std::string node;     // Describe()
  std::string op_type;
  bool fusable = false;
  std::string reason;   // empty when fusable
  int island = -1;      // integer island id, for fusable units
  // For a fusable QDQ unit whose target kernel qopt cannot rewrite yet (when
  // AnalyzeBoundaries is given the kernels that have a rewrite): NoRewriteYet.
  std::string no_rewrite;
};

struct RedundantPair {
  std::string kind;     // "dq-q-identical", "requantize", "q-of-constant", "duplicate-q", "duplicate-dq"
  std::string subject;  // the node(s)
  std::string tensor;
};

// A connected region of units that stay float (joined directly or through
// Q/DQ), with the integer units (op types) it is entered from and exits to:
// "Conv -> [HardSigmoid] -> Mul" names the whole boundary of a
// squeeze-excitation gate, not only the float op inside it.
struct FloatRegion {
  std::vector<std::string> nodes;      // Describe(), in graph order
  std::vector<std::string> ops;        // op types, in graph order
  std::set<std::string> entered_from;  // integer units' op types, "input" for a graph input
  std::set<std::string> exits_to;      // integer units' op types, "output" for a graph output
  std::string pattern;                 // "Conv -> [HardSigmoid] -> Mul"
};

// How a graph output is made: the step of the DequantizeLinear producing
// it (the unit in which results of a rewrite are compared), if any.
struct GraphOutputQuantization {
  std::string name;
  std::optional<double> scale;  // null: not produced by a per-tensor DequantizeLinear
  int64_t zero_point = 0;
  std::string type;             // integer type of that DequantizeLinear
};

struct BoundaryReport {
  std::string target;
  int64_t units = 0;
  int64_t fusable_units = 0;
  int64_t float_to_int = 0;  // QuantizeLinear of an activation
  int64_t int_to_float = 0;  // DequantizeLinear of an activation (not a stored weight)
  std::vector<int64_t> island_sizes;  // units per island, largest first
  std::map<std::string, int64_t> reasons;  // reason -> units
  // Units the target runs in integer (counted in fusable_units) that qopt
  // has no rewrite for: NoRewriteYet message -> units.
  std::map<std::string, int64_t> no_rewrite;
  std::vector<UnitVerdict> verdicts;
  std::vector<FloatRegion> float_regions;
  std::vector<GraphOutputQuantization> graph_outputs;
  std::vector<RedundantPair> redundant;
  std::vector<std::string> dynamic_quantize_sites;
  int64_t cast_chains = 0;
  int64_t boundary_bytes = 0;          // bytes read + written by Q/DQ of activations
  int64_t boundary_ops_unknown_size = 0;
};

// Why `unit` does not run in integer on `target`, empty when it does: the
// one check the boundary report and the fusion pass (fuse-qdq-units) share.
std::string WhyNotInteger(const NodeUnit& unit, const TargetProfile& target);

// "ort-cpu runs Gemm in integer (com.microsoft.QGemm); qopt has no rewrite
// for it yet": what the boundary report and fuse-qdq-units both say about a
// unit that runs in integer on the target but that no action rewrites.
std::string NoRewriteYet(const std::string& op, const std::string& kernel, const TargetProfile& target);

// With `rewritable_kernels` (the kernels qopt's fusion has an action for,
// from the pass layer: FuseQdqUnitsKernels), fusable QDQ units whose kernel
// is not among them are marked `no_rewrite` and counted in `no_rewrite`;
// their verdict stays fusable (the target does run them in integer).
BoundaryReport AnalyzeBoundaries(const ir::Graph& graph, const TargetProfile& target,
                                 const std::set<std::string>* rewritable_kernels = nullptr);
nlohmann::json BoundariesToJson(const BoundaryReport& report);
std::string FormatBoundaries(const BoundaryReport& report, int max_rows);

}  // namespace qopt::analysis

// Software prefetch for walks of a graph in node order.
//
// Such a walk reads nodes and values scattered over the heap: the order is
// the graph's, not memory's, and a pass puts what it makes wherever the
// allocator has room. On a graph larger than the cache each node and each
// operand is a miss, and a loop that reads a node's fields before it knows
// where the operands are waits for the misses one after another. Asking for
// them a few steps ahead lets them overlap (docs/benchmarks.md, "One
// verifier walk that asks ahead").
#pragma once

#include <cstddef>
#include <vector>

#include "ir/node.h"
#include "ir/value.h"

namespace qopt::ir {

namespace prefetch_internal {
// One cache line into all cache levels. The empty volatile asm is what
// keeps it: GCC 12 at -O2 deletes a loop whose body is only
// __builtin_prefetch (the builtin counts as no side effect, and C++ loops
// are assumed to end, -ffinite-loops), so the walk's loops over operands
// compiled to nothing and the binary asked for no line at all. A volatile
// asm is never deleted, and emits no instruction.
inline void Line(const void* address) {
  __builtin_prefetch(address);
  asm volatile("");
}
inline void Lines(const void* object, int lines) {
  const char* p = static_cast<const char*>(object);
  for (int i = 0; i < lines; ++i) Line(p + 64 * i);
}
}  // namespace prefetch_internal

// Call at step `k` of a walk over `order`: asks for the node 2 * kAhead steps
// on (its first cache lines: liveness, operands, op type and domain) and, for
// the node kAhead steps on (asked for earlier, so in the cache by now), for
// the first lines of the values it reads and makes (graph, liveness,
// producer, uses). A prefetch never faults, and costs a few instructions
// when the graph fits in the cache anyway.
inline void PrefetchForNodeWalk(const std::vector<Node*>& order, size_t k) {
  constexpr size_t kAhead = 8;
  if (k + 2 * kAhead < order.size()) prefetch_internal::Lines(order[k + 2 * kAhead], 3);
  if (k + kAhead < order.size()) {
    const Node* node = order[k + kAhead];
    for (const Value* v : node->inputs()) {
      if (v != nullptr) prefetch_internal::Lines(v, 2);
    }
    for (const Value* v : node->outputs()) {
      if (v != nullptr) prefetch_internal::Lines(v, 2);
    }
  }
}

}  // namespace qopt::ir

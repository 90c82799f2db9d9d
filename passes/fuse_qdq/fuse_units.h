// fuse-qdq-units' registry, for the passes that report on it.
#pragma once

#include <set>
#include <string>

namespace qopt {

// The target kernels (ir/op_traits.def's kernel columns: "=", "QLinearConv",
// "com.microsoft.QLinearAdd", ...) that fuse-qdq-units has an action for. A
// unit the target runs in integer with any other kernel stays a QDQ unit:
// qdq-boundaries reports it as "no rewrite yet" (analysis::NoRewriteYet).
std::set<std::string> FuseQdqUnitsKernels();

}  // namespace qopt

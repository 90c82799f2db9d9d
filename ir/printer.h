// The ONNX textual syntax (onnx/defs/parser.h) for a model, written so that
// libonnx 1.12's parser reads it back: names that are not identifiers
// ([A-Za-z_][A-Za-z0-9_]*) are mangled reversibly, initializers are printed
// with their values (elided beyond a size limit unless asked otherwise) and
// custom domains are kept.
//
// Layout (stable: golden and FileCheck tests rely on it):
//
//   <ir_version: 8, opset_import: ["" : 13, "com.microsoft" : 1], producer_name: "x">
//   main (float[N,3] X, bool c) => (float[N,3] Y)
//   <
//     float[3] W = {1.0, -2.5, 0.125},
//     float[64,3,3,3] w,  # elided: float[64,3,3,3] (1728 elements)
//     float[N,3] T
//   >
//   {
//     T = Relu(X)  # name: /relu/Relu
//     y, = com.microsoft.Foo <alpha = 2.0> (T, , W)
//     Y = If <
//       then_branch = then_g () => (float[N,3] a)
//       {
//         a = Neg(y)
//       },
//       else_branch = ...
//     > (c)
//   }
//
// One node per line, 2-space indent; a node with graph attributes puts one
// attribute per line and its sub-graphs indented below. The `<...>` list
// holds the initializers (graph-input defaults are written "= {...}" in the
// input list), then value_info of node outputs, in node order. Floats always
// carry a '.' or an exponent and print in the shortest form that reads back
// exactly.
//
// What libonnx 1.12 cannot read is kept out of the syntax, in '#' comments,
// so the text still parses (into a model missing those parts):
//  * Node names: "# name: ..." at the end of the node's line.
//  * An initializer elided for size (more than max_elements), or whose values
//    have no literal -- float16, bfloat16, complex, float8 (no literals in
//    1.12), nan/inf floats, strings holding '"' or NUL (no escapes) --
//    stays declared without a value:
//    "float16[2] h,  # elided: float16[2] = {1.0, -0.5} (reason)";
//    values are shown in the comment when within max_elements. Element types
//    newer than 1.12 (int4 = 22, ...) are not even declared: "w,  # elided:
//    int4[3] = {1, 2, -1} (...)". Graph inputs/outputs/value_info of such
//    types, or of seq/map/optional/sparse types, print as a bare name with
//    the type in a comment; the input/output list is then one per line.
//  * Attributes without syntax (empty lists, tensors/graphs/sparse/type
//    lists, nan/inf floats, strings with '"', elided tensors) are left out
//    of <...> and described in the node's trailing comment.
//  * Subnormal floats/doubles (the parser throws std::out_of_range on them,
//    and real weights have some) print as a zero of the same sign, noted:
//    "float[3] w = {0.0, -0.0, 1.0},  # 2 subnormal values printed as 0".
//  * Model-local functions, training_info and sparse initializers are only
//    counted in a comment; doc_strings are not printed.
#pragma once

#include <cstdint>
#include <string>
#include "absl/strings/string_view.h"

#include "ir/model.h"

namespace qopt::ir {

struct PrintOptions {
  // Initializers and tensor attributes with more elements are elided: the
  // value is replaced by a comment with type and shape. The declaration
  // stays, so the text is still ONNX syntax, but it does not load back: a
  // node reading an elided value finds it undefined.
  int64_t max_elements = 16;
  bool print_all_elements = false;
};

std::string PrintModel(const Model& model, const PrintOptions& options = {});
std::string PrintGraph(const Graph& graph, const PrintOptions& options = {});

// Reversible mapping between real names ("/conv/Conv_output_0") and
// identifiers the parser accepts. Identifiers that need no mangling and do
// not start with the reserved prefix are returned unchanged.
//
// Scheme: a mangled name is the prefix "__" followed by the name with '/'
// '.' ':' '-' written "_S" "_D" "_C" "_M", any other byte that is not
// [A-Za-z0-9_] written "_X" + two hex digits, and a '_' that precedes an
// upper-case letter written "_U" (elsewhere '_' stays '_'). So
// "/conv/Conv_output_0" -> "___Sconv_SConv_output_0", "x.1" -> "__x_D1",
// "123" -> "__123". Names starting with "__" and the words the parser reads
// as types (float, int8, ..., seq, map, optional, sparse_tensor) are mangled
// too. "" stays "" (a blank, omitted input); the bare prefix "__" demangles
// to "" and is printed where the syntax needs an identifier: a leading
// omitted input or output ("__, y = Op(__, x)"), an unnamed graph.
// DemangleName(MangleName(s)) == s for every s; DemangleName returns input
// that MangleName cannot have produced unchanged. The printer also mangles
// graph names, symbolic dims (dim_param) and tensor-attribute names.
std::string MangleName(absl::string_view name);
std::string DemangleName(absl::string_view identifier);

}  // namespace qopt::ir

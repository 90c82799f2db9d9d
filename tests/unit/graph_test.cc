// The IR mutation API keeps use lists exact and the verifier finds what a
// careless pass breaks.
#include "ir/graph.h"

#include "gtest/gtest.h"
#include "ir/verifier.h"
#include "tests/unit/test_util.h"

namespace qopt {
namespace {

using testing::OpSequence;
using testing::Parse;

constexpr char kChain[] = R"(
<ir_version: 8, opset_import: ["" : 13]>
chain (float[N] X) => (float[N] Y) {
  A = Relu(X)
  B = Neg(A)
  Y = Abs(B)
}
)";

TEST(Graph, UseListsFollowImport) {
  auto model = Parse(kChain);
  ir::Graph& g = model->graph();
  ir::Value* x = g.FindValue("X");
  ASSERT_NE(x, nullptr);
  ASSERT_EQ(x->uses().size(), 1u);
  EXPECT_EQ(x->uses()[0].user->op_type(), "Relu");
  ir::Value* y = g.FindValue("Y");
  ASSERT_EQ(y->uses().size(), 1u);
  EXPECT_TRUE(y->uses()[0].is_graph_output());
  EXPECT_EQ(y->producer()->op_type(), "Abs");
  EXPECT_TRUE(ir::Verify(*model).ok());
}

TEST(Graph, ReplaceAllUsesWithRewiresNodes) {
  auto model = Parse(kChain);
  ir::Graph& g = model->graph();
  ir::Value* a = g.FindValue("A");
  ir::Value* b = g.FindValue("B");
  g.ReplaceAllUsesWith(b, a);  // Abs now reads Relu's output directly
  EXPECT_FALSE(b->has_uses());
  EXPECT_EQ(a->uses().size(), 2u);
  g.EraseNode(b->producer());
  EXPECT_EQ(OpSequence(g), "Relu Abs");
  EXPECT_TRUE(ir::Verify(*model).ok()) << ir::Verify(*model);
}

TEST(Graph, ReplacingAGraphOutputKeepsItsName) {
  auto model = Parse(kChain);
  ir::Graph& g = model->graph();
  ir::Value* y = g.FindValue("Y");
  ir::Value* b = g.FindValue("B");
  g.ReplaceAllUsesWith(y, b);
  g.EraseNode(y->producer());
  ASSERT_EQ(g.outputs().size(), 1u);
  EXPECT_EQ(g.outputs()[0]->name(), "Y");  // B took the name
  EXPECT_EQ(g.outputs()[0]->producer()->op_type(), "Neg");
  EXPECT_TRUE(ir::Verify(*model).ok()) << ir::Verify(*model);
}

TEST(Graph, ReplacingAnOutputByAGraphInputInsertsIdentity) {
  auto model = Parse(kChain);
  ir::Graph& g = model->graph();
  ir::Value* y = g.FindValue("Y");
  g.ReplaceAllUsesWith(y, g.FindValue("X"));
  EXPECT_EQ(g.outputs()[0]->name(), "Y");
  EXPECT_EQ(g.outputs()[0]->producer()->op_type(), "Identity");
  EXPECT_EQ(g.inputs()[0]->name(), "X");
  EXPECT_TRUE(ir::Verify(*model).ok()) << ir::Verify(*model);
}

TEST(Graph, EraseWhileWalkingIsSafe) {
  auto model = Parse(kChain);
  ir::Graph& g = model->graph();
  ir::Value* x = g.FindValue("X");
  int visited = 0;
  for (ir::Node* node : g.nodes()) {
    ++visited;
    if (node->op_type() == "Relu") {
      // Erase the current node and the next one while walking.
      ir::Node* neg = node->output()->uses()[0].user;
      g.ReplaceAllUsesWith(neg->output(), x);
      g.EraseNode(neg);
      g.ReplaceAllUsesWith(node->output(), x);
      g.EraseNode(node);
    }
  }
  EXPECT_EQ(visited, 2);  // Relu and Abs; the erased Neg is skipped
  EXPECT_EQ(OpSequence(g), "Abs");
  g.CollectGarbage();
  EXPECT_TRUE(ir::Verify(*model).ok());
}

TEST(Graph, AddNodeGetsUniqueNamesAndPosition) {
  auto model = Parse(kChain);
  ir::Graph& g = model->graph();
  ir::Node* abs = g.FindValue("Y")->producer();
  ir::Node* n1 = g.AddNode("Relu", {g.FindValue("B")}, 1, abs);
  ir::Node* n2 = g.AddNode("Relu", {n1->output()}, 1, abs);
  EXPECT_NE(n1->output()->name(), n2->output()->name());
  abs->SetInput(0, n2->output());
  EXPECT_EQ(OpSequence(g), "Relu Neg Relu Relu Abs");
  EXPECT_TRUE(ir::Verify(*model).ok()) << ir::Verify(*model);
}

TEST(Graph, VerifierCatchesUseBeforeDefinition) {
  auto model = Parse(kChain);
  ir::Graph& g = model->graph();
  ir::Node* relu = g.FindValue("A")->producer();
  relu->SetInput(0, g.FindValue("B"));  // Relu now reads Neg's output: a cycle
  absl::Status s = ir::Verify(*model);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("'B'"), absl::string_view::npos) << s;
  EXPECT_NE(s.message().find("before it is defined"), absl::string_view::npos) << s;
  EXPECT_FALSE(g.TopologicalSort().ok());
}

TEST(Graph, TopologicalSortKeepsValidOrderAndFixesInvalid) {
  auto model = Parse(kChain);
  ir::Graph& g = model->graph();
  ASSERT_TRUE(g.TopologicalSort().ok());
  EXPECT_EQ(OpSequence(g), "Relu Neg Abs");
  g.MoveBefore(g.FindValue("Y")->producer(), g.FindValue("A")->producer());
  EXPECT_FALSE(ir::Verify(*model).ok());
  ASSERT_TRUE(g.TopologicalSort().ok());
  EXPECT_EQ(OpSequence(g), "Relu Neg Abs");
}

TEST(Graph, SubgraphsUseOuterValues) {
  auto model = Parse(R"(
<ir_version: 8, opset_import: ["" : 13]>
g (bool C, float[N] X) => (float[N] Y) {
  A = Relu(X)
  Y = If(C) <then_branch = then_g () => (float[N] T) { T = Neg(A) },
              else_branch = else_g () => (float[N] E) { E = Abs(A) }>
}
)");
  ir::Graph& g = model->graph();
  ir::Value* a = g.FindValue("A");
  EXPECT_EQ(a->uses().size(), 2u);  // used only inside the branches
  ir::Node* if_node = g.FindValue("Y")->producer();
  ASSERT_EQ(if_node->subgraphs().size(), 2u);
  EXPECT_EQ(if_node->subgraphs()[0]->LookUp("A"), a);
  EXPECT_TRUE(ir::Verify(*model).ok()) << ir::Verify(*model);
  // Erasing the If drops the branch uses of A.
  g.ReplaceAllUsesWith(g.FindValue("Y"), a);
  g.EraseNode(if_node);
  EXPECT_EQ(a->uses().size(), 1u);
  EXPECT_TRUE(a->uses()[0].is_graph_output());
}

TEST(Graph, ConstantNodesAndInitializersAreBothConstants) {
  auto model = Parse(R"(
<ir_version: 8, opset_import: ["" : 13]>
g (float[2] X) => (float[2] Y) <float[2] W = {1, 2}> {
  C = Constant <value = float[2] {3, 4}> ()
  S = Constant <value_float = 5.0> ()
  A = Add(X, W)
  B = Mul(A, C)
  Y = Mul(B, S)
}
)");
  ir::Graph& g = model->graph();
  for (const char* name : {"W", "C", "S"}) {
    const ir::Tensor* t = g.FindValue(name)->constant();
    ASSERT_NE(t, nullptr) << name;
    EXPECT_EQ(t->type(), ir::ElementType::kFloat);
  }
  EXPECT_EQ(*g.FindValue("C")->constant()->ToDoubles(), (std::vector<double>{3, 4}));
  EXPECT_EQ(*g.FindValue("S")->constant()->ToDoubles(), (std::vector<double>{5}));
  EXPECT_EQ(g.FindValue("X")->constant(), nullptr);
  EXPECT_EQ(g.FindValue("A")->constant(), nullptr);

  // A Constant node a pass adds, its tensor set afterwards, is one too; the
  // other nodes' outputs are not.
  ir::Node* added = g.AddNode("Constant", {}, 1, g.FindValue("A")->producer());
  ir::Node* neg = g.AddNode("Neg", {g.FindValue("X")}, 1, g.FindValue("A")->producer());
  EXPECT_EQ(added->output(0)->constant(), nullptr);  // no value yet
  added->SetFloat("value_float", 7.0f);
  ASSERT_NE(added->output(0)->constant(), nullptr);
  EXPECT_EQ(*added->output(0)->constant()->ToDoubles(), (std::vector<double>{7}));
  EXPECT_EQ(neg->output(0)->constant(), nullptr);
}

// Value keeps a copy of its declared element type; each declaration
// replaces it, and what the copy cannot hold is read from the declaration.
TEST(Graph, ElementTypeFollowsEachDeclaration) {
  auto model = Parse(kChain);
  ir::Graph& g = model->graph();
  ir::Value* a = g.FindValue("A");
  EXPECT_EQ(a->elem_type(), ir::ElementType::kUndefined);
  EXPECT_EQ(g.FindValue("Y")->elem_type(), ir::ElementType::kFloat);  // the graph output's entry
  onnx::ValueInfoProto info;
  info.mutable_type()->mutable_tensor_type()->set_elem_type(onnx::TensorProto::INT8);
  a->set_type_info(info);
  EXPECT_EQ(a->elem_type(), ir::ElementType::kInt8);
  info.mutable_type()->mutable_tensor_type()->set_elem_type(onnx::TensorProto::FLOAT16);
  a->set_type_info(info);
  EXPECT_EQ(a->elem_type(), ir::ElementType::kFloat16);
  info.mutable_type()->mutable_tensor_type()->set_elem_type(70001);  // 70001 % 65536 is 4465
  a->set_type_info(info);
  EXPECT_EQ(static_cast<int>(a->elem_type()), 70001);
  info.mutable_type()->mutable_tensor_type()->clear_elem_type();
  a->set_type_info(info);
  EXPECT_EQ(a->elem_type(), ir::ElementType::kUndefined);
}

// The verifier's walk of the name table finds an entry a rename left
// behind as surely as the look-up per value did; a rename keeps it right.
TEST(Graph, NameTableFollowsRenames) {
  auto model = Parse(kChain);
  ir::Graph& g = model->graph();
  g.RenameValue(g.FindValue("A"), "A_renamed");
  EXPECT_EQ(g.FindValue("A"), nullptr);
  ASSERT_NE(g.FindValue("A_renamed"), nullptr);
  EXPECT_TRUE(g.CheckNameTable().ok()) << g.CheckNameTable();
  EXPECT_TRUE(ir::Verify(*model).ok()) << ir::Verify(*model);
}

}  // namespace
}  // namespace qopt

// The verifier's element-type and shape rules (issue #11), each both ways,
// and the op-type query passes use to avoid making invalid files.
#include "ir/verifier.h"

#include <bit>
#include <functional>
#include <memory>
#include <string>
#include <tuple>
#include <vector>

#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "ir/op_types.h"
#include "tests/unit/test_util.h"

namespace qopt {
namespace {

using testing::Parse;

std::string Message(const absl::Status& s) { return std::string(s.message()); }
bool Contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// Declares `v` a tensor of `type` with the dims it had (or none), for types
// the textual parser cannot spell (int4).
void Retype(ir::Value* v, ir::ElementType type) {
  onnx::ValueInfoProto info = v->has_type_info() ? v->type_info() : onnx::ValueInfoProto();
  info.mutable_type()->mutable_tensor_type()->set_elem_type(static_cast<int32_t>(type));
  v->set_type_info(info);
}

void RetypeOutput(ir::Graph& g, int index, ir::ElementType type) {
  onnx::ValueInfoProto info = g.output_info(index);
  info.mutable_type()->mutable_tensor_type()->set_elem_type(static_cast<int32_t>(type));
  g.set_output_info(index, info);
}

// ---- structure ---------------------------------------------------------------

std::string TwoAdds() {
  return R"(<ir_version: 8, opset_import: ["" : 13]>
adds (float[2] x, float[2] y) => (float[2] z) {
  s = Add(x, y)
  z = Add(s, x)
}
)";
}

// An If whose branches read values of the graph around them.
std::string IfReadingOuterValues() {
  return R"(<ir_version: 8, opset_import: ["" : 13]>
g (bool c, float[2] x) => (float[2] y) {
  d = Neg(x)
  y = If(c) <then_branch = then_g () => (float[2] t) {
    t = Add(d, x)
  }, else_branch = else_g () => (float[2] e) {
    e = Identity(d)
  }>
}
)";
}

}  // namespace

namespace ir {
// Breaks use lists as only a bug in the IR could (Value befriends it).
struct VerifierTestAccess {
  static void AddUse(Value* v, Use use) { v->AddUse(use); }
  static void RemoveUse(Value* v, Use use) { v->RemoveUse(use); }
  // A value no node makes and no graph input or initializer list holds.
  static Value* NewOrphan(Graph& g, std::string name) { return g.NewValue(std::move(name), Value::Kind::kNodeOutput); }
};
}  // namespace ir

namespace {

using ir::VerifierTestAccess;

TEST(VerifierStructure, AValidGraphPasses) {
  auto model = Parse(TwoAdds());
  EXPECT_TRUE(ir::Verify(*model).ok());
}

TEST(VerifierStructure, AValueListingAUseByANodeThatReadsAnotherIsAnError) {
  auto model = Parse(TwoAdds());
  ir::Graph& g = model->graph();
  ir::Node* second = g.node_list()[1];
  // y is not read by the second Add (s and x are).
  VerifierTestAccess::AddUse(g.FindValue("y"), ir::Use{second, 0});
  absl::Status s = ir::Verify(*model);
  ASSERT_FALSE(s.ok());
  EXPECT_PRED2(Contains, Message(s), "value 'y' lists a stale use by node");
  EXPECT_PRED2(Contains, Message(s), "input 0");
}

TEST(VerifierStructure, AUseListedTwiceIsAnError) {
  auto model = Parse(TwoAdds());
  ir::Graph& g = model->graph();
  ir::Node* second = g.node_list()[1];
  VerifierTestAccess::AddUse(g.FindValue("s"), ir::Use{second, 0});
  absl::Status s = ir::Verify(*model);
  ASSERT_FALSE(s.ok());
  EXPECT_PRED2(Contains, Message(s), "value 's' lists its use by node");
  EXPECT_PRED2(Contains, Message(s), "input 0 twice");
}

TEST(VerifierStructure, AUseByAnErasedNodeIsAnError) {
  auto model = Parse(R"(<ir_version: 8, opset_import: ["" : 13]>
dead (float[2] x, float[2] y) => (float[2] z) {
  z = Add(x, y)
  unused = Neg(x)
}
)");
  ir::Graph& g = model->graph();
  ir::Node* neg = g.node_list()[1];
  g.EraseNode(neg);  // kept in memory until CollectGarbage
  VerifierTestAccess::AddUse(g.FindValue("x"), ir::Use{neg, 0});
  absl::Status s = ir::Verify(*model);
  ASSERT_FALSE(s.ok());
  EXPECT_PRED2(Contains, Message(s), "value 'x' lists a stale use by node");
}

TEST(VerifierStructure, AnUnlistedUseIsAnError) {
  auto model = Parse(TwoAdds());
  ir::Graph& g = model->graph();
  ir::Node* second = g.node_list()[1];
  VerifierTestAccess::RemoveUse(g.FindValue("s"), ir::Use{second, 0});
  absl::Status s = ir::Verify(*model);
  ASSERT_FALSE(s.ok());
  EXPECT_PRED2(Contains, Message(s), "value 's' does not list its use by node");
}

TEST(VerifierStructure, AValueNothingDefinesIsAnError) {
  auto model = Parse(TwoAdds());
  VerifierTestAccess::NewOrphan(model->graph(), "orphan");
  absl::Status s = ir::Verify(*model);
  ASSERT_FALSE(s.ok());
  EXPECT_PRED2(Contains, Message(s),
               "value 'orphan' is neither a graph input nor an initializer, and no node makes it");
}

TEST(VerifierStructure, AGraphInputWithADefaultIsDefinedOnce) {
  auto model = Parse(R"(<ir_version: 8, opset_import: ["" : 13]>
g (float[2] x, float[2] w) => (float[2] y) {
  y = Add(x, w)
}
)");
  ir::Graph& g = model->graph();
  ir::Tensor zeros(ir::ElementType::kFloat, {2});
  zeros.SetRawData(std::string(8, '\0'));
  g.SetInputDefault(g.FindValue("w"), std::move(zeros));
  EXPECT_TRUE(ir::Verify(*model).ok()) << ir::Verify(*model).message();
}

TEST(VerifierStructure, ReadsFromInsideASubgraphBalanceTheOuterUseLists) {
  auto model = Parse(IfReadingOuterValues());
  ASSERT_TRUE(model->has_subgraphs());
  EXPECT_TRUE(ir::Verify(*model).ok());
  // A branch checked on its own: the outer values' lists are not its to count.
  ir::Node* branch_owner = model->graph().node_list()[1];
  ASSERT_EQ(branch_owner->subgraphs().size(), 2u);
  for (const ir::Graph* branch : branch_owner->subgraphs()) {
    EXPECT_TRUE(ir::VerifyGraph(*branch, {.element_types = false, .shapes = false}).ok());
  }
}

TEST(VerifierStructure, AStaleUseOfAnOuterValueByABranchNodeIsAnError) {
  auto model = Parse(IfReadingOuterValues());
  ir::Node* branch_owner = model->graph().node_list()[1];
  ir::Graph* then_branch = branch_owner->subgraphs()[0];
  ir::Node* add = then_branch->node_list()[0];
  // The branch's Add reads d as input 0, not input 1.
  VerifierTestAccess::AddUse(model->graph().FindValue("d"), ir::Use{add, 1});
  absl::Status s = ir::Verify(*model);
  ASSERT_FALSE(s.ok());
  EXPECT_PRED2(Contains, Message(s), "value 'd' lists a stale use by node");
}

// The verifier reads an initializer's element type and data-size check from
// copies in its value; changing the tensor through the value keeps them true.
TEST(VerifierStructure, InitializerChangesThroughTheValueAreSeen) {
  auto model = Parse(R"(<ir_version: 8, opset_import: ["" : 13]>
g (float[2] x) => (float[2] y) <float[2] w = {1, 2}> {
  y = Add(x, w)
}
)");
  ASSERT_NE(model, nullptr);
  ir::Value* w = model->graph().FindValue("w");
  EXPECT_EQ(w->elem_type(), ir::ElementType::kFloat);
  ASSERT_TRUE(w->initializer_data_size_ok());
  w->SetInitializerData(std::string(4, '\0'));  // one float for float[2]
  EXPECT_FALSE(w->initializer_data_size_ok());
  absl::Status s = ir::Verify(*model);
  ASSERT_FALSE(s.ok());
  EXPECT_PRED2(Contains, Message(s), "initializer 'w' has 4 bytes of raw_data but float[2] needs 8");
  w->ResetInitializer(ir::ElementType::kInt32, {2}, std::string(8, '\0'));
  EXPECT_TRUE(w->initializer_data_size_ok());
  EXPECT_EQ(w->elem_type(), ir::ElementType::kInt32);
  s = ir::Verify(*model);  // structurally fine; Add's T now disagrees
  ASSERT_FALSE(s.ok());
  EXPECT_PRED2(Contains, Message(s), "int32 differs from float");
}

TEST(VerifierStructure, ModelsKnowWhetherTheyHoldSubgraphs) {
  EXPECT_FALSE(Parse(TwoAdds())->has_subgraphs());
  auto model = Parse(R"(<ir_version: 8, opset_import: ["" : 13]>
g (bool c, float[2] x) => (float[2] y) {
  y = Neg(x)
  unused = If(c) <then_branch = then_g () => (float[2] t) {
    t = Identity(x)
  }, else_branch = else_g () => (float[2] e) {
    e = Identity(x)
  }>
}
)");
  EXPECT_TRUE(model->has_subgraphs());
  ir::Graph& g = model->graph();
  ir::Node* branch_owner = g.node_list()[1];
  EXPECT_EQ(branch_owner->subgraphs().size(), 2u);
  g.EraseNode(branch_owner);
  g.CollectGarbage();
  EXPECT_FALSE(model->has_subgraphs());
  EXPECT_TRUE(ir::Verify(*model).ok());
}

// ---- element types -----------------------------------------------------------

std::string MaxPoolModel(int opset) {
  return R"(<ir_version: 8, opset_import: ["" : )" + std::to_string(opset) + R"(]>
pool (int8[1,1,4,4] x) => (int8[1,1,2,2] y) {
  y = MaxPool <kernel_shape = [2, 2], strides = [2, 2]> (x)
}
)";
}

TEST(VerifierTypes, MaxPoolOnInt8AtOpset11IsAnError) {
  auto model = Parse(MaxPoolModel(11));
  model->graph().node_list()[0]->set_name("MaxPool_3");
  absl::Status s = ir::Verify(*model);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(Message(s),
            "verifier: node 'MaxPool_3' (MaxPool, opset 11) input 0 'x': int8 is not accepted "
            "(T: float16, float, double)");
}

TEST(VerifierTypes, MaxPoolOnInt8AtOpset12IsFine) {
  auto model = Parse(MaxPoolModel(12));
  EXPECT_TRUE(ir::Verify(*model).ok()) << ir::Verify(*model);
}

TEST(VerifierTypes, TheOptionTurnsTheCheckOff) {
  auto model = Parse(MaxPoolModel(11));
  ir::VerifyOptions options;
  options.element_types = false;
  EXPECT_TRUE(ir::Verify(*model, options).ok());
}

TEST(VerifierTypes, InputsSharingAConstraintMustAgree) {
  // Relu (int8 since opset 14) rewired to an int8 input while its output
  // stayed declared float.
  auto model = Parse(R"(<ir_version: 8, opset_import: ["" : 14]>
g (int8[4] q, float[4] x) => (float[4] y) {
  y = Relu(x)
}
)");
  EXPECT_TRUE(ir::Verify(*model).ok()) << ir::Verify(*model);
  ir::Graph& g = model->graph();
  g.node_list()[0]->SetInput(0, g.FindValue("q"));
  absl::Status s = ir::Verify(*model, {.element_types = true, .shapes = false});
  ASSERT_FALSE(s.ok());
  EXPECT_PRED2(Contains, Message(s), ("output 0 'y': float differs from int8 of input 0 'q' (both T)"));
}

constexpr char kQLinearAdd[] = R"(<ir_version: 8, opset_import: ["" : 13, "com.microsoft" : 1]>
g (uint8[4] a, float a_scale, uint8 a_zp, uint8[4] b, float b_scale, uint8 b_zp, float c_scale, uint8 c_zp)
  => (uint8[4] c) {
  c = com.microsoft.QLinearAdd(a, a_scale, a_zp, b, b_scale, b_zp, c_scale, c_zp)
}
)";

TEST(VerifierTypes, QLinearAddWithFloatScalesIsFine) {
  auto model = Parse(kQLinearAdd);
  EXPECT_TRUE(ir::Verify(*model).ok()) << ir::Verify(*model);
}

TEST(VerifierTypes, QLinearAddWithAFloat16ScaleIsAnError) {
  auto model = Parse(kQLinearAdd);
  Retype(model->graph().FindValue("b_scale"), ir::ElementType::kFloat16);
  absl::Status s = ir::Verify(*model);
  ASSERT_FALSE(s.ok());
  EXPECT_PRED2(Contains, Message(s), ("(com.microsoft::QLinearAdd #0, opset 1) input 4 'b_scale': float16 is not "
                                    "accepted (B_scale: float)"));
}

TEST(VerifierTypes, QLinearAddWithMixedEightBitTypesIsAnError) {
  auto model = Parse(kQLinearAdd);
  Retype(model->graph().FindValue("b"), ir::ElementType::kInt8);
  absl::Status s = ir::Verify(*model);
  ASSERT_FALSE(s.ok());
  EXPECT_PRED2(Contains, Message(s), ("input 3 'b': int8 differs from uint8 of input 0 'a' (both T)"));
}

std::string QuantizeModel(int opset) {
  return R"(<ir_version: 10, opset_import: ["" : )" + std::to_string(opset) + R"(]>
q (float[8] x, float s, int8 zp) => (int8[8] y) {
  y = QuantizeLinear(x, s, zp)
}
)";
}

// The zero point and the output become int4, which the parser cannot spell.
std::unique_ptr<ir::Model> QuantizeToInt4(int opset) {
  auto model = Parse(QuantizeModel(opset));
  ir::Graph& g = model->graph();
  Retype(g.FindValue("zp"), ir::ElementType::kInt4);
  RetypeOutput(g, 0, ir::ElementType::kInt4);
  return model;
}

TEST(VerifierTypes, QuantizeLinearToInt4AtOpset21IsFine) {
  auto model = QuantizeToInt4(21);
  EXPECT_TRUE(ir::Verify(*model).ok()) << ir::Verify(*model);
}

TEST(VerifierTypes, QuantizeLinearToInt4AtOpset19IsAnError) {
  auto model = QuantizeToInt4(19);
  absl::Status s = ir::Verify(*model);
  ASSERT_FALSE(s.ok());
  EXPECT_PRED2(Contains, Message(s), ("(QuantizeLinear #0, opset 19) input 2 'zp': int4 is not accepted (T2: int8, "
                                    "uint8, float8e4m3fn"));
}

TEST(VerifierTypes, OpsetsNobodyDescribesAreNotChecked) {
  // Opset 22 is beyond the table; int4 MaxPool would be wrong, but unknown.
  auto model = Parse(MaxPoolModel(22));
  EXPECT_TRUE(ir::Verify(*model).ok()) << ir::Verify(*model);
}

TEST(VerifierTypes, UnknownOpsAndDomainsAreNotChecked) {
  auto model = Parse(R"(<ir_version: 8, opset_import: ["" : 13, "com.example" : 1]>
g (int8[4] x, string[4] s) => (bool[4] y, float16[4] z) {
  y = com.example.Frobnicate(x, s)
  z = NoSuchOp(x)
}
)");
  EXPECT_TRUE(ir::Verify(*model).ok()) << ir::Verify(*model);
}

TEST(VerifierTypes, SubgraphsAreChecked) {
  auto model = Parse(R"(<ir_version: 8, opset_import: ["" : 11]>
g (bool c, int8[1,1,4,4] x) => (int8[1,1,2,2] y) {
  y = If(c) <then_branch = then_g () => (int8[1,1,2,2] t) {
    t = MaxPool <kernel_shape = [2, 2], strides = [2, 2]> (x)
  }, else_branch = else_g () => (int8[1,1,2,2] e) {
    e = MaxPool <kernel_shape = [2, 2], strides = [2, 2]> (x)
  }>
}
)");
  absl::Status s = ir::Verify(*model, {.element_types = true, .shapes = false});
  ASSERT_FALSE(s.ok());
  EXPECT_PRED2(Contains, Message(s), ("int8 is not accepted"));
  EXPECT_PRED2(Contains, Message(s), ("in a sub-graph of node"));
}

// ---- the query --------------------------------------------------------------

TEST(OpTypes, AcceptsElementTypeFollowsTheOpset) {
  using ir::ElementType;
  EXPECT_EQ(ir::AcceptsElementType("", "MaxPool", 11, 0, ElementType::kInt8), false);
  EXPECT_EQ(ir::AcceptsElementType("", "MaxPool", 12, 0, ElementType::kInt8), true);
  EXPECT_EQ(ir::AcceptsElementType("ai.onnx", "MaxPool", 12, 0, ElementType::kUint8), true);
  // MaxPool kept its opset-12 signature through 21.
  EXPECT_EQ(ir::AcceptsElementType("", "MaxPool", 21, 0, ElementType::kInt8), true);
  EXPECT_EQ(ir::AcceptsElementType("", "MaxPool", 22, 0, ElementType::kInt8), std::nullopt);
  EXPECT_EQ(ir::AcceptsElementType("", "QuantizeLinear", 13, 2, ElementType::kInt16), false);
  EXPECT_EQ(ir::AcceptsElementType("", "QuantizeLinear", 21, 2, ElementType::kInt16), true);
  EXPECT_EQ(ir::AcceptsElementType("", "DequantizeLinear", 21, 0, ElementType::kUint4), true);
  EXPECT_EQ(ir::AcceptsOutputElementType("", "QuantizeLinear", 21, 0, ElementType::kInt4), true);
  EXPECT_EQ(ir::AcceptsOutputElementType("", "QuantizeLinear", 13, 0, ElementType::kInt4), false);
  // Cast changed at 19 and the table has no signature for it: unknown.
  EXPECT_EQ(ir::AcceptsElementType("", "Cast", 19, 0, ElementType::kFloat), std::nullopt);
  EXPECT_EQ(ir::AcceptsElementType("", "Cast", 13, 0, ElementType::kFloat), true);
  // Past the formal parameters, unknown ops and domains, unknown types.
  EXPECT_EQ(ir::AcceptsElementType("", "Relu", 13, 1, ElementType::kFloat), std::nullopt);
  EXPECT_EQ(ir::AcceptsElementType("", "NoSuchOp", 13, 0, ElementType::kFloat), std::nullopt);
  EXPECT_EQ(ir::AcceptsElementType("com.example", "Relu", 1, 0, ElementType::kFloat), std::nullopt);
  EXPECT_EQ(ir::AcceptsElementType("", "Relu", 13, 0, static_cast<ElementType>(99)), std::nullopt);
}

TEST(OpTypes, MicrosoftOpsComeFromTheTable) {
  using ir::ElementType;
  EXPECT_EQ(ir::AcceptsElementType("com.microsoft", "QLinearAdd", 1, 1, ElementType::kFloat), true);
  EXPECT_EQ(ir::AcceptsElementType("com.microsoft", "QLinearAdd", 1, 1, ElementType::kFloat16), false);
  EXPECT_EQ(ir::AcceptsElementType("com.microsoft", "QLinearAdd", 1, 0, ElementType::kInt16), false);
  EXPECT_EQ(ir::AcceptsElementType("com.microsoft", "QuantizeLinear", 1, 2, ElementType::kUint16), true);
  // QLinearConcat: Y_scale, Y_zero_point, then (X, X_scale, X_zero_point)...
  EXPECT_EQ(ir::AcceptsElementType("com.microsoft", "QLinearConcat", 1, 2, ElementType::kInt8), true);
  EXPECT_EQ(ir::AcceptsElementType("com.microsoft", "QLinearConcat", 1, 3, ElementType::kFloat), true);
  EXPECT_EQ(ir::AcceptsElementType("com.microsoft", "QLinearConcat", 1, 3, ElementType::kInt8), false);
  EXPECT_EQ(ir::AcceptsElementType("com.microsoft", "QLinearConcat", 1, 6, ElementType::kFloat), true);
  EXPECT_EQ(ir::AcceptsElementType("com.microsoft", "QLinearConcat", 1, 8, ElementType::kUint8), true);
  const ir::OpSignature* sig = ir::FindOpSignature("com.microsoft", "QLinearAdd", 1);
  ASSERT_NE(sig, nullptr);
  EXPECT_EQ(sig->source, "op_types.def");
  EXPECT_EQ(sig, ir::FindOpSignature("com.microsoft", "QLinearAdd", 1));  // cached
}

struct TableRow {
  const char* domain;
  const char* op_type;
  int64_t since_version;
};

constexpr TableRow kRows[] = {
#define QOPT_OP_TYPES(domain, op_type, since_version, inputs, outputs, constraints) {domain, op_type, since_version},
#include "ir/op_types.def"
};

// Every signature of the table parses and names only element types this
// build knows (an unknown name would silently narrow a set).
TEST(OpTypes, EveryTableEntryIsWellFormed) {
  for (const TableRow& row : kRows) {
    SCOPED_TRACE(std::string(row.domain) + "::" + row.op_type + " " + std::to_string(row.since_version));
    const ir::OpSignature* sig = ir::FindOpSignature(row.domain, row.op_type, row.since_version);
    ASSERT_NE(sig, nullptr);
    EXPECT_EQ(sig->source, "op_types.def");
    EXPECT_EQ(sig->since_version, row.since_version);
    EXPECT_FALSE(sig->inputs.empty());
    EXPECT_FALSE(sig->outputs.empty());
    std::vector<const ir::FormalParam*> params;
    for (const auto* list : {&sig->inputs, &sig->outputs}) {
      for (const ir::FormalParam& p : *list) {
        if (p.cycle.empty()) params.push_back(&p);
        for (const ir::FormalParam& c : p.cycle) params.push_back(&c);
      }
    }
    for (const ir::FormalParam* p : params) {
      const std::vector<std::string> names = absl::StrSplit(p->accepted_text, ", ");
      EXPECT_EQ(std::popcount(p->accepted), static_cast<int>(names.size())) << p->name << ": " << p->accepted_text;
    }
  }
}

// ---- shapes -----------------------------------------------------------------

// DQ -> Div by a [1,1,1] constant -> Q: the output broadcasts to [1,1,4].
constexpr char kDivUnit[] = R"(<ir_version: 8, opset_import: ["" : 13]>
g (int8[4] x) => (int8[1,1,4] y) <float s = {0.5}, int8 zp = {0}, float[1,1,1] c = {1}> {
  d = DequantizeLinear(x, s, zp)
  q = Div(d, c)
  y = QuantizeLinear(q, s, zp)
}
)";

TEST(VerifierShapes, DeclaredShapesThatAgreeAreFine) {
  auto model = Parse(kDivUnit);
  EXPECT_TRUE(ir::Verify(*model).ok()) << ir::Verify(*model);
}

// What fold-qdq-identity once did: DQ -> Div(x, 1) -> Q gives back x, so the
// unit went and x took its place, but the broadcast to [1,1,4] went with it
// while the graph output still says [1,1,4].
TEST(VerifierShapes, AFoldThatDropsABroadcastIsAnError) {
  auto model = Parse(kDivUnit);
  ir::Graph& g = model->graph();
  ir::Value* y = g.FindValue("y");
  ir::Node* q = y->producer();
  ir::Node* div = q->input(0)->producer();
  ir::Node* dq = div->input(0)->producer();
  g.ReplaceAllUsesWith(y, g.FindValue("x"));
  g.EraseNode(q);
  g.EraseNode(div);
  g.EraseNode(dq);
  ASSERT_TRUE(ir::Verify(*model, {.element_types = true, .shapes = false}).ok());
  absl::Status s = ir::Verify(*model);
  ASSERT_FALSE(s.ok());
  EXPECT_PRED2(Contains, Message(s), ("graph output 0 'y'"));
  EXPECT_PRED2(Contains, Message(s), ("is declared int8[1,1,4] but ONNX shape inference gives int8[4]"));
}

TEST(VerifierShapes, AStaleValueInfoIsAnError) {
  auto model = Parse(R"(<ir_version: 8, opset_import: ["" : 13]>
g (float[2,3] x) => (float[3,2] y) {
  t = Relu(x)
  y = Transpose(t)
}
)");
  ir::Graph& g = model->graph();
  ir::Value* t = g.FindValue("t");
  onnx::ValueInfoProto info;
  auto* tensor = info.mutable_type()->mutable_tensor_type();
  tensor->set_elem_type(1);
  tensor->mutable_shape()->add_dim()->set_dim_value(2);
  tensor->mutable_shape()->add_dim()->set_dim_param("N");
  t->set_type_info(info);
  EXPECT_TRUE(ir::Verify(*model).ok()) << ir::Verify(*model);  // a symbol contradicts nothing
  tensor->mutable_shape()->mutable_dim(1)->set_dim_value(4);
  t->set_type_info(info);
  absl::Status s = ir::Verify(*model);
  ASSERT_FALSE(s.ok());
  EXPECT_PRED2(Contains, Message(s), ("value 't' (output of node (Relu #0)) is declared float[2,4] but ONNX shape "
                                    "inference gives float[2,3]"));
}

TEST(VerifierShapes, AStaleElementTypeIsAnError) {
  auto model = Parse(R"(<ir_version: 8, opset_import: ["" : 13]>
g (uint8[4] x, float s, uint8 zp) => (float[4] y) {
  y = DequantizeLinear(x, s, zp)
}
)");
  RetypeOutput(model->graph(), 0, ir::ElementType::kFloat16);
  absl::Status s = ir::VerifyShapes(*model);
  ASSERT_FALSE(s.ok());
  EXPECT_PRED2(Contains, Message(s), ("is declared float16[4] but ONNX shape inference gives float[4]"));
}

TEST(VerifierShapes, OpsetsLibOnnxDoesNotKnowAreNotChecked) {
  auto model = Parse(R"(<ir_version: 10, opset_import: ["" : 21]>
g (float[2,3] x) => (float[7] y) {
  y = Relu(x)
}
)");
  EXPECT_TRUE(ir::Verify(*model).ok()) << ir::Verify(*model);
}

TEST(VerifierShapes, FusedMicrosoftOpsAreInferredThrough) {
  auto model = Parse(R"(<ir_version: 8, opset_import: ["" : 13, "com.microsoft" : 1]>
g (uint8[1,4] a, float s, uint8 zp) => (uint8[1,8] c) {
  c = com.microsoft.QLinearAdd(a, s, zp, a, s, zp, s, zp)
}
)");
  absl::Status s = ir::Verify(*model);
  ASSERT_FALSE(s.ok());
  EXPECT_PRED2(Contains, Message(s), ("is declared uint8[1,8] but ONNX shape inference gives uint8[1,4]"));
}

// ---- the pass manager --------------------------------------------------------

// A pass that does whatever the test asks, reporting a change.
class LambdaPass : public Pass {
 public:
  explicit LambdaPass(std::function<void(ir::Model&)> fn) : fn_(std::move(fn)) {}
  absl::string_view name() const override { return "lambda"; }
  absl::string_view summary() const override { return "test"; }
  absl::StatusOr<bool> Run(ir::Model& model, PassContext&) override {
    fn_(model);
    return true;
  }

 private:
  std::function<void(ir::Model&)> fn_;
};

absl::Status RunLambda(ir::Model& model, std::function<void(ir::Model&)> fn, bool reject_invalid_input,
                       bool verify_shapes_each = false) {
  PassManager manager;
  manager.set_reject_invalid_input(reject_invalid_input);
  manager.set_verify_shapes_each(verify_shapes_each);
  manager.AddPass(std::make_unique<LambdaPass>(std::move(fn)));
  Report report;
  PassContext context{&report};
  return manager.Run(model, context);
}

TEST(VerifierPassManager, AnInvalidInputIsRejectedBeforeAnyPassWhenAsked) {
  auto model = Parse(MaxPoolModel(11));
  bool ran = false;
  absl::Status s = RunLambda(*model, [&](ir::Model&) { ran = true; }, /*reject_invalid_input=*/true);
  ASSERT_FALSE(s.ok());
  EXPECT_FALSE(ran);
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(Message(s), "input model: verifier: node (MaxPool #0, opset 11) input 0 'x': int8 is not accepted "
                        "(T: float16, float, double)");
}

TEST(VerifierPassManager, ByDefaultTheInputsOwnProblemsAreTolerated) {
  auto model = Parse(MaxPoolModel(11));
  EXPECT_TRUE(RunLambda(*model, [](ir::Model&) {}, /*reject_invalid_input=*/false).ok());
  // The same problem on a rebuilt node is still the input's.
  EXPECT_TRUE(RunLambda(*model, [](ir::Model& m) {
                ir::Graph& g = m.graph();
                ir::Node* old = g.node_list()[0];
                ir::Node* pool = g.AddNode("MaxPool", {g.FindValue("x")}, 1, old);
                pool->SetInts("kernel_shape", {2, 2});
                pool->SetInts("strides", {2, 2});
                g.ReplaceAllUsesWith(old->output(), pool->output());
                g.EraseNode(old);
              }, /*reject_invalid_input=*/false).ok());
}

void DropTheBroadcast(ir::Model& m) {
  ir::Graph& g = m.graph();
  ir::Value* y = g.FindValue("y");
  ir::Node* q = y->producer();
  ir::Node* div = q->input(0)->producer();
  ir::Node* dq = div->input(0)->producer();
  g.ReplaceAllUsesWith(y, g.FindValue("x"));
  g.EraseNode(q);
  g.EraseNode(div);
  g.EraseNode(dq);
}

TEST(VerifierPassManager, ABrokenShapeFailsAfterThePipeline) {
  auto model = Parse(kDivUnit);
  absl::Status s = RunLambda(*model, DropTheBroadcast, /*reject_invalid_input=*/false);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code(), absl::StatusCode::kInternal);
  EXPECT_PRED2(Contains, Message(s), "after the pipeline (its shape check; the last pass to change the model was "
                                     "'lambda', verify-shapes-each names the one at fault): verifier: graph output 0 'y'");
}

TEST(VerifierPassManager, WithShapesCheckedEachTimeTheErrorNamesThePass) {
  auto model = Parse(kDivUnit);
  absl::Status s = RunLambda(*model, DropTheBroadcast, /*reject_invalid_input=*/false, /*verify_shapes_each=*/true);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code(), absl::StatusCode::kInternal);
  EXPECT_PRED2(Contains, Message(s), "after pass 'lambda': verifier: graph output 0 'y'");
}

TEST(VerifierPassManager, ABrokenElementTypeFailsRightAfterThePass) {
  auto model = Parse(MaxPoolModel(12));
  absl::Status s = RunLambda(*model, [](ir::Model& m) { m.SetOpsetVersion("", 11); },
                             /*reject_invalid_input=*/false);
  ASSERT_FALSE(s.ok());
  EXPECT_PRED2(Contains, Message(s), "after pass 'lambda': verifier: node (MaxPool #0, opset 11) input 0 'x'");
}

}  // namespace
}  // namespace qopt

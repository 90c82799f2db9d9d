// The textual printer: its output must be read back by libonnx 1.12's
// OnnxParser into the same model (names demangled), and be stable enough for
// golden and FileCheck tests.
#include "ir/printer.h"

#include <cmath>
#include <cstring>
#include <limits>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "ir/graph.h"
#include "ir/model.h"
#include "ir/node.h"
#include "ir/serialization.h"
#include "ir/tensor.h"
#include "ir/value.h"
#include "onnx/defs/parser.h"

namespace qopt::ir {
namespace {

// ---- building models ----------------------------------------------------------

std::unique_ptr<Model> FromText(const std::string& text) {
  auto model = ParseModelText(text);
  EXPECT_TRUE(model.ok()) << model.status();
  return model.ok() ? *std::move(model) : nullptr;
}

std::unique_ptr<Model> FromProto(onnx::ModelProto proto) {
  auto model = ImportModel(std::move(proto));
  EXPECT_TRUE(model.ok()) << model.status();
  return model.ok() ? *std::move(model) : nullptr;
}

onnx::ModelProto EmptyModelProto(const std::string& graph_name) {
  onnx::ModelProto proto;
  proto.set_ir_version(8);
  auto* opset = proto.add_opset_import();
  opset->set_domain("");
  opset->set_version(13);
  proto.mutable_graph()->set_name(graph_name);
  return proto;
}

// A tensor type as the parser builds it: "3" is a fixed dim, "?" an unknown
// one, anything else a symbolic one.
onnx::TypeProto TensorType(int32_t elem_type, const std::vector<std::string>& dims) {
  onnx::TypeProto type;
  type.mutable_tensor_type()->set_elem_type(elem_type);
  auto* shape = type.mutable_tensor_type()->mutable_shape();
  for (const std::string& d : dims) {
    auto* dim = shape->add_dim();
    if (d == "?") continue;
    if (!d.empty() && std::isdigit(static_cast<unsigned char>(d[0]))) {
      dim->set_dim_value(std::stoll(d));
    } else {
      dim->set_dim_param(d);
    }
  }
  return type;
}

onnx::ValueInfoProto Info(const std::string& name, int32_t elem_type, const std::vector<std::string>& dims) {
  onnx::ValueInfoProto info;
  info.set_name(name);
  *info.mutable_type() = TensorType(elem_type, dims);
  return info;
}

onnx::NodeProto* AddNode(onnx::GraphProto* graph, const std::string& op, const std::vector<std::string>& inputs,
                         const std::vector<std::string>& outputs, const std::string& domain = "") {
  onnx::NodeProto* node = graph->add_node();
  node->set_op_type(op);
  node->set_domain(domain);
  for (const auto& i : inputs) node->add_input(i);
  for (const auto& o : outputs) node->add_output(o);
  return node;
}

template <typename T>
onnx::TensorProto RawTensor(const std::string& name, int32_t type, const std::vector<int64_t>& dims,
                            const std::vector<T>& values) {
  onnx::TensorProto t;
  t.set_name(name);
  t.set_data_type(type);
  for (int64_t d : dims) t.add_dims(d);
  t.set_raw_data(std::string(reinterpret_cast<const char*>(values.data()), values.size() * sizeof(T)));
  return t;
}

// ---- reading printed text back -------------------------------------------------

// libonnx's parser alone: a syntax error fails the test.
onnx::ModelProto ParseWithLibOnnx(const std::string& text) {
  onnx::ModelProto proto;
  onnx::Status status = onnx::Status::OK();
  EXPECT_NO_THROW(status = onnx::OnnxParser::Parse(proto, text.c_str())) << text;
  EXPECT_TRUE(status.IsOK()) << status.ErrorMessage() << "\nin:\n" << text;
  return proto;
}

// Undoes every mangling the printer does: value names, graph names, names of
// tensor attributes and symbolic dims.
void DemangleType(onnx::TypeProto* type) {
  if (!type->has_tensor_type() || !type->tensor_type().has_shape()) return;
  for (auto& dim : *type->mutable_tensor_type()->mutable_shape()->mutable_dim()) {
    if (dim.has_dim_param()) dim.set_dim_param(DemangleName(dim.dim_param()));
  }
}

void DemangleGraphProto(onnx::GraphProto* g) {
  g->set_name(DemangleName(g->name()));
  for (auto* list : {g->mutable_input(), g->mutable_output(), g->mutable_value_info()}) {
    for (auto& v : *list) {
      v.set_name(DemangleName(v.name()));
      if (v.has_type()) DemangleType(v.mutable_type());
    }
  }
  for (auto& t : *g->mutable_initializer()) t.set_name(DemangleName(t.name()));
  for (auto& n : *g->mutable_node()) {
    for (auto& name : *n.mutable_input()) name = DemangleName(name);
    for (auto& name : *n.mutable_output()) name = DemangleName(name);
    for (auto& a : *n.mutable_attribute()) {
      if (a.has_t()) a.mutable_t()->set_name(DemangleName(a.t().name()));
      if (a.has_g()) DemangleGraphProto(a.mutable_g());
    }
  }
}

std::unique_ptr<Model> ReadBack(const std::string& text) {
  onnx::ModelProto proto = ParseWithLibOnnx(text);
  DemangleGraphProto(proto.mutable_graph());
  return FromProto(std::move(proto));
}

// ---- comparing models ------------------------------------------------------------

std::string TensorDiff(const Tensor& a, const Tensor& b, const std::string& what) {
  if (a.type() != b.type()) {
    return absl::StrCat(what, ": type ", ElementTypeName(a.type()), " vs ", ElementTypeName(b.type()));
  }
  if (a.dims() != b.dims()) {
    return absl::StrCat(what, ": dims [", absl::StrJoin(a.dims(), ","), "] vs [", absl::StrJoin(b.dims(), ","), "]");
  }
  if (a.type() == ElementType::kString) {
    if (a.proto_shell().string_data().size() != b.proto_shell().string_data().size()) return what + ": strings";
    for (int i = 0; i < a.proto_shell().string_data_size(); ++i) {
      if (a.proto_shell().string_data(i) != b.proto_shell().string_data(i)) return what + ": strings";
    }
    return "";
  }
  auto ra = a.RawBytes();
  auto rb = b.RawBytes();
  if (!ra.ok() || !rb.ok()) return what + ": unreadable data";
  if (*ra != *rb) return what + ": values differ";
  return "";
}

std::string TypeString(const Value& v) {
  return v.has_type_info() ? v.type_info().type().ShortDebugString() : "(none)";
}

std::string ValueName(const Value* v) { return v ? v->name() : ""; }

// The first structural difference between two graphs (node names aside:
// the parser has no syntax for them), or "" when there is none.
std::string GraphDiff(const Graph& a, const Graph& b, const std::string& where) {
  if (a.name() != b.name()) return absl::StrCat(where, ": graph name '", a.name(), "' vs '", b.name(), "'");
  if (a.inputs().size() != b.inputs().size()) return where + ": input count";
  for (size_t i = 0; i < a.inputs().size(); ++i) {
    const Value& x = *a.inputs()[i];
    const Value& y = *b.inputs()[i];
    if (x.name() != y.name()) return absl::StrCat(where, ": input '", x.name(), "' vs '", y.name(), "'");
    if (TypeString(x) != TypeString(y)) return absl::StrCat(where, ": type of input ", x.name());
    if ((x.initializer() == nullptr) != (y.initializer() == nullptr)) return where + ": input default";
    if (x.initializer()) {
      if (auto d = TensorDiff(*x.initializer(), *y.initializer(), x.name()); !d.empty()) return d;
    }
  }
  if (a.outputs().size() != b.outputs().size()) return where + ": output count";
  for (size_t i = 0; i < a.outputs().size(); ++i) {
    if (ValueName(a.outputs()[i]) != ValueName(b.outputs()[i])) return where + ": output name";
    if (a.output_info(i).type().SerializeAsString() != b.output_info(i).type().SerializeAsString()) {
      return absl::StrCat(where, ": type of output ", ValueName(a.outputs()[i]));
    }
  }
  std::vector<const Value*> ia, ib;
  for (const Value* v : a.initializers()) {
    if (v->kind() == Value::Kind::kInitializer) ia.push_back(v);
  }
  for (const Value* v : b.initializers()) {
    if (v->kind() == Value::Kind::kInitializer) ib.push_back(v);
  }
  if (ia.size() != ib.size()) return absl::StrCat(where, ": ", ia.size(), " vs ", ib.size(), " initializers");
  for (size_t i = 0; i < ia.size(); ++i) {
    if (ia[i]->name() != ib[i]->name()) {
      return absl::StrCat(where, ": initializer '", ia[i]->name(), "' vs '", ib[i]->name(), "'");
    }
    if (auto d = TensorDiff(*ia[i]->initializer(), *ib[i]->initializer(), ia[i]->name()); !d.empty()) return d;
  }
  std::vector<Node*> na = a.node_list(), nb = b.node_list();
  if (na.size() != nb.size()) return absl::StrCat(where, ": ", na.size(), " vs ", nb.size(), " nodes");
  for (size_t k = 0; k < na.size(); ++k) {
    const Node& x = *na[k];
    const Node& y = *nb[k];
    const std::string node = absl::StrCat(where, ": node ", k, " (", x.op_type(), ")");
    if (x.op_type() != y.op_type() || x.domain() != y.domain()) {
      return absl::StrCat(node, ": op ", x.domain(), ".", x.op_type(), " vs ", y.domain(), ".", y.op_type());
    }
    if (x.num_inputs() != y.num_inputs()) return absl::StrCat(node, ": input count ", x.num_inputs(), " vs ", y.num_inputs());
    for (int i = 0; i < x.num_inputs(); ++i) {
      if (ValueName(x.input(i)) != ValueName(y.input(i))) {
        return absl::StrCat(node, ": input ", i, " '", ValueName(x.input(i)), "' vs '", ValueName(y.input(i)), "'");
      }
    }
    if (x.num_outputs() != y.num_outputs()) return absl::StrCat(node, ": output count");
    for (int i = 0; i < x.num_outputs(); ++i) {
      if (ValueName(x.output(i)) != ValueName(y.output(i))) {
        return absl::StrCat(node, ": output ", i, " '", ValueName(x.output(i)), "' vs '", ValueName(y.output(i)), "'");
      }
      if (x.output(i) && TypeString(*x.output(i)) != TypeString(*y.output(i))) {
        return absl::StrCat(node, ": value_info of ", x.output(i)->name(), ": ", TypeString(*x.output(i)), " vs ",
                            TypeString(*y.output(i)));
      }
    }
    if (x.attributes().size() != y.attributes().size()) {
      return absl::StrCat(node, ": ", x.attributes().size(), " vs ", y.attributes().size(), " attributes");
    }
    for (size_t i = 0; i < x.attributes().size(); ++i) {
      const Attribute& p = x.attributes()[i];
      const Attribute& q = y.attributes()[i];
      if (p.proto().SerializeAsString() != q.proto().SerializeAsString()) {
        return absl::StrCat(node, ": attribute ", p.proto().ShortDebugString(), " vs ", q.proto().ShortDebugString());
      }
      if (p.tensors().size() != q.tensors().size() || p.graphs().size() != q.graphs().size()) {
        return absl::StrCat(node, ": attribute ", p.name(), " payload");
      }
      for (size_t t = 0; t < p.tensors().size(); ++t) {
        if (p.tensors()[t]->name() != q.tensors()[t]->name()) return absl::StrCat(node, ": tensor name");
        if (auto d = TensorDiff(*p.tensors()[t], *q.tensors()[t], absl::StrCat(node, ": ", p.name())); !d.empty()) {
          return d;
        }
      }
      for (size_t g = 0; g < p.graphs().size(); ++g) {
        if (auto d = GraphDiff(*p.graphs()[g], *q.graphs()[g], absl::StrCat(node, ".", p.name())); !d.empty()) {
          return d;
        }
      }
    }
  }
  return "";
}

// Node names are printed as comments only ("  # name: n1"): drops them.
std::string WithoutNodeNames(const std::string& text) {
  std::vector<std::string> lines = absl::StrSplit(text, '\n');
  for (std::string& line : lines) {
    if (size_t at = line.find("  # name: "); at != std::string::npos) line.erase(at);
  }
  return absl::StrJoin(lines, "\n");
}

// Prints `model`, reads the text back with libonnx's parser and expects the
// same model; also expects printing to be a fixed point. Returns the text.
std::string ExpectRoundTrip(const Model& model, const PrintOptions& options = {}) {
  const std::string text = PrintModel(model, options);
  std::unique_ptr<Model> back = ReadBack(text);
  if (back == nullptr) return text;
  EXPECT_EQ(GraphDiff(model.graph(), back->graph(), "graph"), "") << text;
  EXPECT_EQ(PrintModel(*back, options), WithoutNodeNames(text));
  return text;
}

const onnx::NodeProto& OnlyNode(const onnx::ModelProto& proto, const std::string& op_type) {
  for (const auto& n : proto.graph().node()) {
    if (n.op_type() == op_type) return n;
  }
  ADD_FAILURE() << "no " << op_type << " node";
  static const onnx::NodeProto kEmpty;
  return kEmpty;
}

// ---- names -----------------------------------------------------------------------

bool IsParserIdentifier(const std::string& s) {
  if (s.empty() || !(std::isalpha(static_cast<unsigned char>(s[0])) || s[0] == '_')) return false;
  for (char c : s) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_')) return false;
  }
  return true;
}

TEST(MangleNameTest, IdentifiersAreUnchanged) {
  for (const char* name : {"X", "conv_w", "Conv_Add", "_x", "x__y", "input_1", "a9"}) {
    EXPECT_EQ(MangleName(name), name);
    EXPECT_EQ(DemangleName(name), name);
  }
  EXPECT_EQ(MangleName(""), "");
  EXPECT_EQ(DemangleName(""), "");
}

TEST(MangleNameTest, EncodesRealNames) {
  EXPECT_EQ(MangleName("/conv/Conv_output_0"), "___Sconv_SConv_output_0");
  EXPECT_EQ(MangleName("x.1"), "__x_D1");
  EXPECT_EQ(MangleName("onnx::Mul_3"), "__onnx_C_CMul_3");
  EXPECT_EQ(MangleName("123"), "__123");
  EXPECT_EQ(MangleName("a-b c"), "__a_Mb_X20c");
  EXPECT_EQ(MangleName("/a/x_Y"), "___Sa_Sx_UY");
  // The reserved prefix and the parser's type words are mangled too.
  EXPECT_EQ(MangleName("__x"), "____x");
  EXPECT_EQ(MangleName("float"), "__float");
  EXPECT_EQ(MangleName("seq"), "__seq");
  EXPECT_EQ(DemangleName("___Sconv_SConv_output_0"), "/conv/Conv_output_0");
  EXPECT_EQ(DemangleName("____x"), "__x");
}

TEST(MangleNameTest, BarePrefixIsTheEmptyName) {
  EXPECT_EQ(DemangleName("__"), "");
  EXPECT_NE(MangleName("__"), "__");
}

TEST(MangleNameTest, MalformedInputIsReturnedUnchanged) {
  for (const char* s : {"__a_Zb", "__x_X4", "__x_Xzz", "__a.b", "__a_X"}) EXPECT_EQ(DemangleName(s), s);
}

TEST(MangleNameTest, RoundTripsRandomStrings) {
  // Heavy on the characters the scheme treats specially.
  const std::string alphabet = std::string("aZ09_/.:-UXSDCM \t\"#") + '\0' + "\x7f\x80\xff";
  std::mt19937 rng(20240611);
  std::uniform_int_distribution<int> length(0, 12);
  std::uniform_int_distribution<size_t> pick(0, alphabet.size() - 1);
  for (int i = 0; i < 50000; ++i) {
    std::string s;
    for (int n = length(rng); n > 0; --n) s.push_back(alphabet[pick(rng)]);
    const std::string mangled = MangleName(s);
    ASSERT_EQ(DemangleName(mangled), s) << "mangled: " << mangled;
    if (!s.empty()) {
      ASSERT_TRUE(IsParserIdentifier(mangled)) << mangled;
      ASSERT_NE(mangled, "__");
    }
    if (IsParserIdentifier(s) && !absl::StartsWith(s, "__") && s != "float" && s != "int8") {
      ASSERT_EQ(mangled, s);
    }
  }
}

// ---- models ------------------------------------------------------------------------

constexpr char kSmallModel[] = R"(<ir_version: 8, opset_import: ["" : 13, "com.microsoft" : 1], producer_name: "qopt-test">
main (float[N,3] X, bool c) => (float[N,3] Y, float[3] Z)
<
  float[3] W = {1.0, -2.5, 0.125},
  uint8 zp = {128},
  float s = {0.5},
  float[20] big = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19},
  float[N,3] T
>
{
  T = Relu(X)
  q = QuantizeLinear(T, s, zp)
  d = DequantizeLinear(q, s, zp)
  y0, = com.microsoft.Foo <alpha = 2.0, mode = "x"> (d, , W)
  Y = Add(y0, W)
  Z = If <then_branch = then_body () => (float[3] a) { a = Neg(W) }, else_branch = else_body () => (float[3] a) <float[3] k = {3.0, 2.0, 1.0}> { a = Mul(W, k) }> (c)
}
)";

TEST(PrintModelTest, Golden) {
  auto model = FromText(kSmallModel);
  ASSERT_NE(model, nullptr);
  EXPECT_EQ(PrintModel(*model), R"(<ir_version: 8, opset_import: ["" : 13, "com.microsoft" : 1], producer_name: "qopt-test">
main (float[N,3] X, bool c) => (float[N,3] Y, float[3] Z)
<
  float[3] W = {1.0, -2.5, 0.125},
  uint8 zp = {128},
  float s = {0.5},
  float[20] big,  # elided: float[20] (20 elements)
  float[N,3] T
>
{
  T = Relu(X)
  q = QuantizeLinear(T, s, zp)
  d = DequantizeLinear(q, s, zp)
  y0, = com.microsoft.Foo <alpha = 2.0, mode = "x"> (d, , W)
  Y = Add(y0, W)
  Z = If <
    then_branch = then_body () => (float[3] a)
    {
      a = Neg(W)
    },
    else_branch = else_body () => (float[3] a)
    <
      float[3] k = {3.0, 2.0, 1.0}
    >
    {
      a = Mul(W, k)
    }
  > (c)
}
)");
}

TEST(PrintModelTest, SmallModelRoundTripsWithAllElements) {
  auto model = FromText(kSmallModel);
  ASSERT_NE(model, nullptr);
  PrintOptions all;
  all.print_all_elements = true;
  const std::string text = ExpectRoundTrip(*model, all);
  EXPECT_TRUE(absl::StrContains(text, "float[20] big = {0.0, 1.0, 2.0,")) << text;
}

TEST(PrintModelTest, OutputIsDeterministic) {
  auto a = FromText(kSmallModel);
  auto b = FromText(kSmallModel);
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(PrintModel(*a), PrintModel(*b));
  EXPECT_EQ(PrintModel(*a), PrintModel(*a));
}

TEST(PrintModelTest, RealNamesAreMangledAndRestored) {
  onnx::ModelProto proto = EmptyModelProto("torch-jit export");
  onnx::GraphProto* g = proto.mutable_graph();
  *g->add_input() = Info("input.1", onnx::TensorProto::FLOAT, {"batch size", "3"});
  *g->add_initializer() = RawTensor<float>("onnx::Mul_7", onnx::TensorProto::FLOAT, {1}, {2.0f});
  *g->add_initializer() = RawTensor<float>("float", onnx::TensorProto::FLOAT, {1}, {1.0f});
  AddNode(g, "Relu", {"input.1"}, {"/relu/Relu_output_0"})->set_name("/relu/Relu");
  AddNode(g, "Mul", {"/relu/Relu_output_0", "onnx::Mul_7"}, {"__tmp"});
  AddNode(g, "Add", {"__tmp", "float"}, {"123"});
  *g->add_output() = Info("123", onnx::TensorProto::FLOAT, {"batch size", "3"});
  *g->add_value_info() = Info("/relu/Relu_output_0", onnx::TensorProto::FLOAT, {"batch size", "3"});
  auto model = FromProto(proto);
  ASSERT_NE(model, nullptr);

  const std::string text = ExpectRoundTrip(*model);
  EXPECT_TRUE(absl::StrContains(text, "___Srelu_SRelu_output_0 = Relu(__input_D1)  # name: /relu/Relu")) << text;
  EXPECT_TRUE(absl::StrContains(text, "__torch_Mjit_X20export (float[__batch_X20size,3] __input_D1)")) << text;
  EXPECT_TRUE(absl::StrContains(text, "float[1] __float = {1.0}")) << text;
}

TEST(PrintModelTest, CustomDomainIsKept) {
  auto model = FromText(R"(<ir_version: 8, opset_import: ["" : 13, "com.microsoft" : 1]>
g (uint8[1,4,8,8] x, float xs, uint8 xz, uint8[8,4,3,3] w, float ws, uint8 wz, float ys, uint8 yz) => (uint8[1,8,6,6] y) {
  y = com.microsoft.QLinearConv <kernel_shape = [3, 3]> (x, xs, xz, w, ws, wz, ys, yz)
}
)");
  ASSERT_NE(model, nullptr);
  const std::string text = ExpectRoundTrip(*model);
  EXPECT_TRUE(absl::StrContains(text, "y = com.microsoft.QLinearConv <kernel_shape = [3, 3]> (x, xs,")) << text;
  const onnx::ModelProto parsed = ParseWithLibOnnx(text);
  const onnx::NodeProto& node = OnlyNode(parsed, "QLinearConv");
  EXPECT_EQ(node.domain(), "com.microsoft");
}

TEST(PrintModelTest, IfSubgraphsReadOuterValues) {
  auto model = FromText(R"(<ir_version: 8, opset_import: ["" : 13]>
g (bool c, float[2] x) => (float[2] y) <float[2] w = {1.0, 2.0}> {
  t = Relu(x)
  y = If <then_branch = then_g () => (float[2] a) { a = Add(t, w) }, else_branch = else_g () => (float[2] b) <float[1] k = {-1.0}> { u = Mul(t, k)  b = Identity(u) }> (c)
}
)");
  ASSERT_NE(model, nullptr);
  const std::string text = ExpectRoundTrip(*model);
  EXPECT_TRUE(absl::StrContains(text, "\n    then_branch = then_g () => (float[2] a)\n    {\n      a = Add(t, w)\n    },\n"))
      << text;
  EXPECT_TRUE(absl::StrContains(text, "\n      float[1] k = {-1.0}\n")) << text;
}

TEST(PrintModelTest, OmittedOptionalInputsAndOutputs) {
  onnx::ModelProto proto = EmptyModelProto("g");
  onnx::GraphProto* g = proto.mutable_graph();
  *g->add_input() = Info("x", onnx::TensorProto::FLOAT, {"2"});
  *g->add_input() = Info("w", onnx::TensorProto::FLOAT, {"2"});
  AddNode(g, "Foo", {"", "x", "", "w", ""}, {"", "y", "", "z", ""}, "custom");
  AddNode(g, "Bar", {"y", ""}, {"v"}, "custom");
  AddNode(g, "Baz", {""}, {"u"}, "custom");
  *g->add_output() = Info("z", onnx::TensorProto::FLOAT, {"2"});
  *g->add_output() = Info("v", onnx::TensorProto::FLOAT, {"2"});
  *g->add_output() = Info("u", onnx::TensorProto::FLOAT, {"2"});
  proto.add_opset_import()->set_domain("custom");
  proto.mutable_opset_import(1)->set_version(1);
  auto model = FromProto(proto);
  ASSERT_NE(model, nullptr);

  const std::string text = ExpectRoundTrip(*model);
  EXPECT_TRUE(absl::StrContains(text, "  __, y, , z, = custom.Foo(__, x, , w, )\n")) << text;
  EXPECT_TRUE(absl::StrContains(text, "  v = custom.Bar(y, )\n")) << text;
  EXPECT_TRUE(absl::StrContains(text, "  u = custom.Baz(__)\n")) << text;
  // libonnx alone reads blanks as "" and the bare prefix as "__".
  const onnx::ModelProto parsed = ParseWithLibOnnx(text);
  const onnx::NodeProto& foo = OnlyNode(parsed, "Foo");
  EXPECT_EQ(absl::StrJoin(foo.input(), "|"), "__|x||w|");
  EXPECT_EQ(absl::StrJoin(foo.output(), "|"), "__|y||z|");
}

TEST(PrintModelTest, EveryAttributeKindRoundTrips) {
  auto model = FromText(R"(<ir_version: 8, opset_import: ["" : 13, "test" : 1]>
g (float[2] x, bool c) => (float[2] y, float[2] z) {
  y = test.AllKinds <i = -3, big = -9223372036854775807, f = 2.0, tiny = 1e-05, neg = -0.0, huge = 3.4028234663852886e+38, s = "a b#c", ints = [1, -2, 3], floats = [0.1, -1.5, 100.0], strings = ["x", "", "NOTSET"], t = float[2] named {1.0, 2.0}, t0 = int64 {7}, g = body (float[2] p) => (float[2] q) { q = Neg(p) }> (x)
  z = Constant <value = float[2] {0.5, 0.25}> ()
}
)");
  ASSERT_NE(model, nullptr);
  const std::string text = ExpectRoundTrip(*model);
  const onnx::ModelProto parsed = ParseWithLibOnnx(text);
  const onnx::NodeProto& node = OnlyNode(parsed, "AllKinds");
  ASSERT_EQ(node.attribute_size(), 13);
  EXPECT_EQ(node.attribute(2).type(), onnx::AttributeProto::FLOAT) << "2.0 must stay a float";
  EXPECT_EQ(node.attribute(2).f(), 2.0f);
  EXPECT_EQ(node.attribute(3).f(), 1e-05f);
  EXPECT_TRUE(std::signbit(node.attribute(4).f()));
  EXPECT_EQ(node.attribute(5).f(), std::numeric_limits<float>::max());
  EXPECT_EQ(node.attribute(11).type(), onnx::AttributeProto::TENSOR);
  EXPECT_EQ(node.attribute(11).t().data_type(), onnx::TensorProto::INT64);
  EXPECT_EQ(node.attribute(12).type(), onnx::AttributeProto::GRAPH);
  EXPECT_TRUE(absl::StrContains(text, "z = Constant <value = float[2] {0.5, 0.25}> ()\n")) << text;
}

TEST(PrintModelTest, AttributesWithoutSyntaxBecomeComments) {
  onnx::ModelProto proto = EmptyModelProto("g");
  onnx::GraphProto* g = proto.mutable_graph();
  *g->add_input() = Info("x", onnx::TensorProto::FLOAT, {"2"});
  onnx::NodeProto* node = AddNode(g, "Odd", {"x"}, {"y"}, "test");
  auto add = [&](const std::string& name, onnx::AttributeProto::AttributeType type) {
    onnx::AttributeProto* a = node->add_attribute();
    a->set_name(name);
    a->set_type(type);
    return a;
  };
  add("keep", onnx::AttributeProto::INT)->set_i(1);
  add("pads", onnx::AttributeProto::INTS);
  add("inf", onnx::AttributeProto::FLOAT)->set_f(std::numeric_limits<float>::infinity());
  add("denorm", onnx::AttributeProto::FLOAT)->set_f(1e-40f);
  add("quoted", onnx::AttributeProto::STRING)->set_s("say \"hi\"");
  *add("list", onnx::AttributeProto::TENSORS)->add_tensors() =
      RawTensor<float>("", onnx::TensorProto::FLOAT, {1}, {1.0f});
  *g->add_output() = Info("y", onnx::TensorProto::FLOAT, {"2"});
  proto.add_opset_import()->set_domain("test");
  proto.mutable_opset_import(1)->set_version(1);
  auto model = FromProto(proto);
  ASSERT_NE(model, nullptr);

  const std::string text = PrintModel(*model);
  EXPECT_TRUE(absl::StrContains(
      text,
      "  y = test.Odd <keep = 1, denorm = 0.0> (x)  # pads: ints = [] (empty lists have no syntax); "
      "inf: float = inf (no literal); denorm: 1 subnormal value printed as 0; "
      "quoted: string = \"say \\\"hi\\\"\" (holds a quote or NUL); list: tensors (1) not printed\n"))
      << text;
  const onnx::ModelProto parsed_proto = ParseWithLibOnnx(text);
  const onnx::NodeProto& parsed = OnlyNode(parsed_proto, "Odd");
  ASSERT_EQ(parsed.attribute_size(), 2);
  EXPECT_EQ(parsed.attribute(0).name(), "keep");
  EXPECT_EQ(parsed.attribute(1).name(), "denorm");
}

TEST(PrintModelTest, InitializerValuesRoundTrip) {
  onnx::ModelProto proto = EmptyModelProto("g");
  onnx::GraphProto* g = proto.mutable_graph();
  *g->add_input() = Info("x", onnx::TensorProto::FLOAT, {"2"});
  *g->add_initializer() = RawTensor<int8_t>("i8", onnx::TensorProto::INT8, {3}, {-128, 0, 127});
  *g->add_initializer() = RawTensor<uint8_t>("u8", onnx::TensorProto::UINT8, {3}, {0, 128, 255});
  *g->add_initializer() = RawTensor<int16_t>("i16", onnx::TensorProto::INT16, {2}, {-32768, 32767});
  *g->add_initializer() = RawTensor<uint16_t>("u16", onnx::TensorProto::UINT16, {1}, {65535});
  *g->add_initializer() = RawTensor<int32_t>(
      "i32", onnx::TensorProto::INT32, {2}, {std::numeric_limits<int32_t>::min(), std::numeric_limits<int32_t>::max()});
  *g->add_initializer() = RawTensor<int64_t>(
      "i64", onnx::TensorProto::INT64, {3}, {std::numeric_limits<int64_t>::min(), -1, std::numeric_limits<int64_t>::max()});
  *g->add_initializer() = RawTensor<uint32_t>("u32", onnx::TensorProto::UINT32, {1}, {4294967295u});
  *g->add_initializer() =
      RawTensor<uint64_t>("u64", onnx::TensorProto::UINT64, {1}, {std::numeric_limits<uint64_t>::max()});
  *g->add_initializer() = RawTensor<float>(
      "f32", onnx::TensorProto::FLOAT, {2, 3},
      {0.1f, -0.0f, 1.0f / 3, std::numeric_limits<float>::max(), std::numeric_limits<float>::min(), -7.0f});
  *g->add_initializer() = RawTensor<double>("f64", onnx::TensorProto::DOUBLE, {3}, {0.1, 1e300, -2.0 / 3});
  *g->add_initializer() = RawTensor<uint8_t>("b", onnx::TensorProto::BOOL, {2}, {1, 0});
  *g->add_initializer() = RawTensor<float>("scalar", onnx::TensorProto::FLOAT, {}, {0.0078125f});
  *g->add_initializer() = RawTensor<float>("empty", onnx::TensorProto::FLOAT, {0}, {});
  onnx::TensorProto typed;  // typed-field storage, as small exporters write it
  typed.set_name("typed_i32");
  typed.set_data_type(onnx::TensorProto::INT32);
  typed.add_dims(2);
  typed.add_int32_data(-5);
  typed.add_int32_data(6);
  *g->add_initializer() = typed;
  onnx::TensorProto strings;
  strings.set_name("str");
  strings.set_data_type(onnx::TensorProto::STRING);
  strings.add_dims(2);
  strings.add_string_data("hello world");
  strings.add_string_data("");
  *g->add_initializer() = strings;
  AddNode(g, "Identity", {"x"}, {"y"});
  *g->add_output() = Info("y", onnx::TensorProto::FLOAT, {"2"});
  auto model = FromProto(proto);
  ASSERT_NE(model, nullptr);

  const std::string text = ExpectRoundTrip(*model);
  EXPECT_TRUE(absl::StrContains(text, "int8[3] i8 = {-128, 0, 127},\n")) << text;
  EXPECT_TRUE(absl::StrContains(text, "uint8[3] u8 = {0, 128, 255},\n")) << text;
  EXPECT_TRUE(absl::StrContains(text, "int32[2] i32 = {-2147483648, 2147483647},\n")) << text;
  EXPECT_TRUE(
      absl::StrContains(text, "int64[3] i64 = {-9223372036854775808, -1, 9223372036854775807},\n"))
      << text;
  EXPECT_TRUE(absl::StrContains(text, "uint64[1] u64 = {18446744073709551615},\n")) << text;
  EXPECT_TRUE(absl::StrContains(text, "float scalar = {0.0078125},\n")) << text;
  EXPECT_TRUE(absl::StrContains(text, "float[0] empty = {},\n")) << text;
  EXPECT_TRUE(absl::StrContains(text, "string[2] str = {\"hello world\", \"\"}\n")) << text;
}

TEST(PrintModelTest, LargeInitializersAreElided) {
  onnx::ModelProto proto = EmptyModelProto("g");
  onnx::GraphProto* g = proto.mutable_graph();
  *g->add_input() = Info("x", onnx::TensorProto::FLOAT, {"1", "3", "8", "8"});
  std::vector<float> weights(64 * 3 * 3 * 3);
  for (size_t i = 0; i < weights.size(); ++i) weights[i] = static_cast<float>(i) / 64;
  *g->add_initializer() = RawTensor<float>("conv.weight", onnx::TensorProto::FLOAT, {64, 3, 3, 3}, weights);
  AddNode(g, "Conv", {"x", "conv.weight"}, {"y"});
  onnx::NodeProto* constant = AddNode(g, "Constant", {}, {"c"});
  onnx::AttributeProto* value = constant->add_attribute();
  value->set_name("value");
  value->set_type(onnx::AttributeProto::TENSOR);
  *value->mutable_t() = RawTensor<int64_t>("", onnx::TensorProto::INT64, {100}, std::vector<int64_t>(100, 7));
  *g->add_output() = Info("y", onnx::TensorProto::FLOAT, {"1", "64", "6", "6"});
  *g->add_output() = Info("c", onnx::TensorProto::INT64, {"100"});
  auto model = FromProto(proto);
  ASSERT_NE(model, nullptr);

  const std::string text = PrintModel(*model);
  EXPECT_TRUE(absl::StrContains(text, "\n  float[64,3,3,3] __conv_Dweight  # elided: float[64,3,3,3] (1728 elements)\n"))
      << text;
  EXPECT_TRUE(absl::StrContains(text, "\n  c = Constant()  # value: elided: int64[100] (100 elements)\n")) << text;
  EXPECT_LT(text.size(), 1000u);
  // Still valid syntax: the elided weight reads back as a declaration.
  onnx::ModelProto parsed = ParseWithLibOnnx(text);
  EXPECT_EQ(parsed.graph().initializer_size(), 0);
  ASSERT_EQ(parsed.graph().value_info_size(), 1);
  EXPECT_EQ(parsed.graph().value_info(0).name(), "__conv_Dweight");

  PrintOptions all;
  all.print_all_elements = true;
  ExpectRoundTrip(*model, all);
  PrintOptions limit;
  limit.max_elements = 1728;
  EXPECT_TRUE(absl::StrContains(PrintModel(*model, limit), "float[64,3,3,3] __conv_Dweight = {0.0, 0.015625,"));
  EXPECT_TRUE(absl::StrContains(PrintModel(*model, limit), "c = Constant <value = int64[100] {7, 7, 7,"));
}

TEST(PrintModelTest, TypesWithoutLiteralsPrintAsComments) {
  onnx::ModelProto proto = EmptyModelProto("g");
  onnx::GraphProto* g = proto.mutable_graph();
  *g->add_input() = Info("x", onnx::TensorProto::FLOAT, {"3"});
  *g->add_input() = Info("x4", 22, {"3"});  // int4, newer than libonnx 1.12
  onnx::ValueInfoProto seq;
  seq.set_name("s");
  *seq.mutable_type()->mutable_sequence_type()->mutable_elem_type() = TensorType(onnx::TensorProto::FLOAT, {"2"});
  *g->add_input() = seq;
  *g->add_initializer() =
      RawTensor<uint16_t>("h", onnx::TensorProto::FLOAT16, {3}, {0x3c00, 0xb800, 0x7c00});  // 1, -0.5, inf
  *g->add_initializer() = RawTensor<uint8_t>("w4", 22, {3}, {0x21, 0x0f});                    // 1, 2, -1
  *g->add_initializer() = RawTensor<uint16_t>("bf", onnx::TensorProto::BFLOAT16, {1}, {0x3f80});
  *g->add_initializer() = RawTensor<float>("nf", onnx::TensorProto::FLOAT, {3}, {std::nanf(""), 1.0f, 1e-40f});
  AddNode(g, "Identity", {"x"}, {"y"});
  *g->add_output() = Info("y", onnx::TensorProto::FLOAT, {"3"});
  auto model = FromProto(proto);
  ASSERT_NE(model, nullptr);

  const std::string text = PrintModel(*model);
  EXPECT_TRUE(absl::StrContains(text, R"(g (
  float[3] x,
  x4,  # int4[3]
  s  # seq(float[2])
) => (float[3] y)
<
  float16[3] h,  # elided: float16[3] = {1.0, -0.5, inf} (no float16 literals in libonnx 1.12)
  w4,  # elided: int4[3] = {1, 2, -1} (no int4 type in libonnx 1.12)
  bfloat16[1] bf,  # elided: bfloat16[1] = {1.0} (no bfloat16 literals in libonnx 1.12)
  float[3] nf  # elided: float[3] = {nan, 1.0, 1e-40} (nan or inf values have no literal)
>
)")) << text;
  ParseWithLibOnnx(text);  // valid syntax, and no exception from subnormal literals
}

// libonnx 1.12's parser throws on subnormal literals (std::stof), and real
// weights have some: they print as zeros of the same sign, with a note.
TEST(PrintModelTest, SubnormalFloatsPrintAsZeros) {
  onnx::ModelProto proto = EmptyModelProto("g");
  onnx::GraphProto* g = proto.mutable_graph();
  *g->add_input() = Info("x", onnx::TensorProto::FLOAT, {"3"});
  *g->add_initializer() = RawTensor<float>("w", onnx::TensorProto::FLOAT, {3}, {1e-40f, -1e-45f, 1.0f});
  *g->add_initializer() = RawTensor<double>("d", onnx::TensorProto::DOUBLE, {1}, {1e-310});
  AddNode(g, "Mul", {"x", "w"}, {"y"});
  onnx::NodeProto* constant = AddNode(g, "Constant", {}, {"c"});
  onnx::AttributeProto* value = constant->add_attribute();
  value->set_name("value");
  value->set_type(onnx::AttributeProto::TENSOR);
  *value->mutable_t() = RawTensor<float>("", onnx::TensorProto::FLOAT, {2}, {2.0f, 3e-39f});
  *g->add_output() = Info("y", onnx::TensorProto::FLOAT, {"3"});
  *g->add_output() = Info("c", onnx::TensorProto::FLOAT, {"2"});
  auto model = FromProto(proto);
  ASSERT_NE(model, nullptr);

  const std::string text = PrintModel(*model);
  EXPECT_TRUE(absl::StrContains(text, "  float[3] w = {0.0, -0.0, 1.0},  # 2 subnormal values printed as 0\n")) << text;
  EXPECT_TRUE(absl::StrContains(text, "  double[1] d = {0.0}  # 1 subnormal value printed as 0\n")) << text;
  EXPECT_TRUE(absl::StrContains(
      text, "  c = Constant <value = float[2] {2.0, 0.0}> ()  # value: 1 subnormal value printed as 0\n"))
      << text;
  std::unique_ptr<Model> back = ReadBack(text);
  ASSERT_NE(back, nullptr);
  auto w = back->graph().FindValue("w")->initializer()->ToDoubles();
  ASSERT_TRUE(w.ok());
  EXPECT_EQ(*w, (std::vector<double>{0.0, 0.0, 1.0}));
  EXPECT_TRUE(std::signbit((*w)[1]));
}

TEST(PrintModelTest, ValueInfoAndSymbolicDims) {
  auto model = FromText(R"(<ir_version: 8, opset_import: ["" : 13]>
g (float[N,?,3] x, int64[] shape) => (float[] y, float s) <float[N,?,3] r, float[] t> {
  r = Relu(x)
  t = Reshape(r, shape)
  y = Identity(t)
  s = ReduceSum(y)
}
)");
  ASSERT_NE(model, nullptr);
  const std::string text = ExpectRoundTrip(*model);
  EXPECT_TRUE(absl::StrContains(text, "g (float[N,?,3] x, int64[] shape) => (float[] y, float s)\n<\n  float[N,?,3] r,\n  float[] t\n>\n"))
      << text;
}

TEST(PrintGraphTest, PrintsOneGraphWithoutModelHeader) {
  auto model = FromText(kSmallModel);
  ASSERT_NE(model, nullptr);
  const std::string text = PrintGraph(model->graph());
  EXPECT_TRUE(absl::StartsWith(text, "main (float[N,3] X, bool c) => (float[N,3] Y, float[3] Z)\n<\n")) << text;
  EXPECT_FALSE(absl::StrContains(text, "ir_version"));
  EXPECT_TRUE(absl::EndsWith(text, "  > (c)\n}\n")) << text;
  const Graph& then_body = *model->graph().node_list().back()->attributes()[0].graphs()[0];
  EXPECT_EQ(PrintGraph(then_body), "then_body () => (float[3] a)\n{\n  a = Neg(W)\n}\n");
}

}  // namespace
}  // namespace qopt::ir

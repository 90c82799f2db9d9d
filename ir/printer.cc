// The textual printer. Everything it writes is meant to be read back by
// libonnx 1.12's OnnxParser, whose grammar is narrower than the ONNX model:
//
//   * identifiers only ([A-Za-z_][A-Za-z0-9_]*): other names are mangled;
//   * no node names: they go to a trailing comment;
//   * a leading omitted input/output cannot be written blank ("Op(, x)" is a
//     parse error), so it is written as the bare mangling prefix, which
//     DemangleName maps back to "";
//   * tensor literals only for float, double, (u)int8/16/32/64, bool and
//     string; no float16/bfloat16/complex/float8/int4 literals, no nan/inf,
//     and subnormal numbers make the parser throw (std::stof's out_of_range),
//     so they are printed as zeros, with a note;
//   * float literals must contain '.' or 'e' (else they parse as ints);
//   * string literals have no escapes (no '"' inside), and a NUL ends input;
//   * no empty list attributes, no tensors/graphs/sparse/type_proto
//     attributes, no seq/map/optional/sparse_tensor types, no element types
//     beyond bfloat16 (16).
//
// What the parser cannot read is printed inside '#' comments so that the
// output stays syntactically valid; see printer.h for the exact forms.
#include "ir/printer.h"

#include <charconv>
#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "ir/element_type.h"
#include "ir/graph.h"
#include "ir/node.h"
#include "ir/tensor.h"
#include "ir/value.h"

namespace qopt::ir {
namespace {

// ---- names -----------------------------------------------------------------

// Mangled names start with this prefix; alone it stands for the empty name.
constexpr absl::string_view kMangledPrefix = "__";

bool IsAsciiAlpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool IsAsciiDigit(char c) { return c >= '0' && c <= '9'; }
bool IsAsciiUpper(char c) { return c >= 'A' && c <= 'Z'; }
bool IsIdentifierChar(char c) { return IsAsciiAlpha(c) || IsAsciiDigit(c) || c == '_'; }

bool IsIdentifier(absl::string_view s) {
  if (s.empty() || !(IsAsciiAlpha(s[0]) || s[0] == '_')) return false;
  for (char c : s) {
    if (!IsIdentifierChar(c)) return false;
  }
  return true;
}

// Words the parser reads as a type where a name may also stand (a graph name
// as an attribute value, an untyped value-info entry).
bool IsReservedWord(absl::string_view s) {
  static constexpr absl::string_view kWords[] = {
      "float",  "uint8",  "int8",   "uint16",    "int16",      "int32",    "int64",
      "string", "bool",   "float16", "double",   "uint32",     "uint64",   "complex64",
      "complex128", "bfloat16", "seq", "map",    "optional",   "sparse_tensor",
  };
  for (absl::string_view w : kWords) {
    if (s == w) return true;
  }
  return false;
}

// Escape codes, each written as '_' followed by the code letter. A '_' that
// is followed by anything but an upper-case letter is a literal '_'.
char EscapeCode(char c) {
  switch (c) {
    case '/': return 'S';
    case '.': return 'D';
    case ':': return 'C';
    case '-': return 'M';
    case '_': return 'U';
    default: return 0;
  }
}

char UnescapeCode(char code) {
  switch (code) {
    case 'S': return '/';
    case 'D': return '.';
    case 'C': return ':';
    case 'M': return '-';
    case 'U': return '_';
    default: return 0;
  }
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// A name where the syntax requires an identifier (never blank).
std::string RequiredName(absl::string_view name) {
  if (name.empty()) return std::string(kMangledPrefix);
  return MangleName(name);
}

// ---- literals --------------------------------------------------------------

template <typename T>
T LoadLittleEndian(const char* p) {
  T v;
  std::memcpy(&v, p, sizeof(T));
  return v;
}

// The parser reads no subnormal number (std::stof/stod throw out_of_range on
// them): they are printed as a zero of the same sign, with a note.
template <typename T>
bool IsSubnormal(T v) {
  return std::isfinite(v) && v != 0 && std::fabs(v) < std::numeric_limits<T>::min();
}

// Shortest text that reads back to the same value, always with a '.' or an
// exponent so that the parser sees a float literal. nan/inf print as such
// (only ever inside comments).
template <typename T>
void AppendFloat(std::string* out, T v) {
  if (std::isnan(v)) {
    out->append("nan");
    return;
  }
  if (std::isinf(v)) {
    out->append(v < 0 ? "-inf" : "inf");
    return;
  }
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), v);
  absl::string_view text(buf, ec == std::errc() ? end - buf : 0);
  out->append(text.data(), text.size());
  if (text.find_first_of(".e") == absl::string_view::npos) out->append(".0");
}

// A float the parser reads: subnormals become a signed zero, counted in
// `flushed`.
template <typename T>
void AppendLiteralFloat(std::string* out, T v, int64_t* flushed) {
  if (IsSubnormal(v)) {
    ++*flushed;
    v = std::copysign(T(0), v);
  }
  AppendFloat(out, v);
}

std::string FlushedNote(int64_t flushed) {
  return flushed == 0 ? "" : absl::StrCat(flushed, " subnormal value", flushed == 1 ? "" : "s", " printed as 0");
}

bool IsParsableString(absl::string_view s) {
  return s.find('"') == absl::string_view::npos && s.find('\0') == absl::string_view::npos;
}

void AppendQuoted(std::string* out, absl::string_view s) { absl::StrAppend(out, "\"", s, "\""); }

// Text for a comment: one line, non-printable bytes escaped.
std::string CommentText(absl::string_view s) { return absl::CHexEscape(s); }

// ---- types -----------------------------------------------------------------

bool ParserKnowsElementType(int32_t type) {
  return type > 0 && type <= kLastElementTypeKnownToLibOnnx;
}

// Element types with tensor literals in libonnx 1.12.
bool HasLiteralSyntax(ElementType type) {
  switch (type) {
    case ElementType::kFloat:
    case ElementType::kDouble:
    case ElementType::kUint8:
    case ElementType::kInt8:
    case ElementType::kUint16:
    case ElementType::kInt16:
    case ElementType::kInt32:
    case ElementType::kInt64:
    case ElementType::kUint32:
    case ElementType::kUint64:
    case ElementType::kBool:
    case ElementType::kString:
      return true;
    default:
      return false;
  }
}

std::string TensorTypeText(ElementType type, const std::vector<int64_t>& dims) {
  std::string out = ElementTypeName(type);
  if (!dims.empty()) absl::StrAppend(&out, "[", absl::StrJoin(dims, ","), "]");
  return out;
}

void AppendShape(std::string* out, const onnx::TypeProto::Tensor& tensor) {
  if (!tensor.has_shape()) {
    out->append("[]");  // unknown rank
    return;
  }
  if (tensor.shape().dim_size() == 0) return;  // a scalar
  out->push_back('[');
  bool first = true;
  for (const auto& dim : tensor.shape().dim()) {
    if (!first) out->push_back(',');
    first = false;
    if (dim.has_dim_value()) {
      absl::StrAppend(out, dim.dim_value());
    } else if (dim.has_dim_param() && !dim.dim_param().empty()) {
      out->append(MangleName(dim.dim_param()));
    } else {
      out->push_back('?');
    }
  }
  out->push_back(']');
}

// The type as the parser writes it, or "" when it cannot.
std::string ParsableTypeText(const onnx::TypeProto& type) {
  if (!type.has_tensor_type() || !ParserKnowsElementType(type.tensor_type().elem_type())) return "";
  std::string out = ElementTypeName(static_cast<ElementType>(type.tensor_type().elem_type()));
  AppendShape(&out, type.tensor_type());
  return out;
}

// Any type, for comments.
std::string AnyTypeText(const onnx::TypeProto& type) {
  std::string out;
  switch (type.value_case()) {
    case onnx::TypeProto::kTensorType:
      out = ElementTypeName(static_cast<ElementType>(type.tensor_type().elem_type()));
      AppendShape(&out, type.tensor_type());
      return out;
    case onnx::TypeProto::kSparseTensorType: {
      onnx::TypeProto::Tensor as_dense;
      as_dense.set_elem_type(type.sparse_tensor_type().elem_type());
      if (type.sparse_tensor_type().has_shape()) *as_dense.mutable_shape() = type.sparse_tensor_type().shape();
      out = ElementTypeName(static_cast<ElementType>(as_dense.elem_type()));
      AppendShape(&out, as_dense);
      return absl::StrCat("sparse_tensor(", out, ")");
    }
    case onnx::TypeProto::kSequenceType:
      return absl::StrCat("seq(", AnyTypeText(type.sequence_type().elem_type()), ")");
    case onnx::TypeProto::kMapType:
      return absl::StrCat("map(", ElementTypeName(static_cast<ElementType>(type.map_type().key_type())), ", ",
                          AnyTypeText(type.map_type().value_type()), ")");
    case onnx::TypeProto::kOptionalType:
      return absl::StrCat("optional(", AnyTypeText(type.optional_type().elem_type()), ")");
    case onnx::TypeProto::kOpaqueType:
      return absl::StrCat("opaque(", type.opaque_type().domain(), ".", type.opaque_type().name(), ")");
    default:
      return "?";
  }
}

// A value-info style declaration: "float[N,3] name", or the bare name when
// the parser cannot read the type (then `comment` gets the type).
std::string Declaration(const onnx::TypeProto* type, absl::string_view name, std::string* comment) {
  const std::string ident = RequiredName(name);
  if (type == nullptr || type->value_case() == onnx::TypeProto::VALUE_NOT_SET) return ident;
  std::string text = ParsableTypeText(*type);
  if (text.empty()) {
    *comment = AnyTypeText(*type);
    return ident;
  }
  return absl::StrCat(text, " ", ident);
}

// ---- tensor data -----------------------------------------------------------

// A tensor's values: literal text "{...}" the parser reads, or, when it
// cannot, a description for a comment.
struct TensorText {
  bool literal = false;
  std::string text;
  std::string note;  // for a comment beside a literal (flushed subnormals)
};

struct ValueList {
  bool parsable = true;  // every value has a literal the parser reads
  bool shown = false;    // `text` holds the values
  std::string text;
  std::string problem;   // why not parsable, when known
  int64_t flushed = 0;   // subnormals written as 0 (when `flush` is set)
};

// With `flush`, subnormal floats are written as zeros (literal text);
// without, exactly (comment text).
ValueList FormatValues(const Tensor& tensor, bool flush) {
  ValueList result;
  const ElementType type = tensor.type();
  const int64_t n = tensor.num_elements();
  std::string& out = result.text;
  out.push_back('{');
  auto separator = [&out](int64_t i) {
    if (i > 0) out.append(", ");
  };

  if (type == ElementType::kString) {
    const auto& strings = tensor.proto_shell().string_data();
    if (strings.size() != n) {
      result.parsable = false;
      result.problem = absl::StrCat("has ", strings.size(), " strings for ", n, " elements");
      return result;
    }
    for (int64_t i = 0; i < n; ++i) {
      separator(i);
      if (!IsParsableString(strings[i])) result.parsable = false;
      AppendQuoted(&out, strings[i]);
    }
    if (!result.parsable) {
      // Shown escaped in a comment instead.
      out = "{";
      for (int64_t i = 0; i < n; ++i) {
        separator(i);
        AppendQuoted(&out, absl::CHexEscape(strings[i]));
      }
      result.problem = "a string holds a quote or NUL";
    }
    out.push_back('}');
    result.shown = true;
    return result;
  }

  auto raw = tensor.RawBytes();
  if (!raw.ok()) {
    result.parsable = false;
    result.problem = std::string(raw.status().message());
    return result;
  }
  const std::optional<int64_t> size = RawByteSize(type, n);
  if (!size.has_value()) {
    result.parsable = false;
    result.problem = "values of this type are not shown";
    return result;
  }
  if (static_cast<int64_t>(raw->size()) < *size) {
    result.parsable = false;
    result.problem = absl::StrCat("only ", raw->size(), " of ", *size, " data bytes");
    return result;
  }
  const char* p = raw->data();
  bool float_problem = false;
  int64_t not_flushed = 0;
  int64_t* flushed = flush ? &result.flushed : &not_flushed;
  for (int64_t i = 0; i < n; ++i) {
    separator(i);
    switch (type) {
      case ElementType::kFloat: {
        float v = LoadLittleEndian<float>(p + 4 * i);
        float_problem |= !std::isfinite(v);
        if (flush) AppendLiteralFloat(&out, v, flushed); else AppendFloat(&out, v);
        break;
      }
      case ElementType::kDouble: {
        double v = LoadLittleEndian<double>(p + 8 * i);
        float_problem |= !std::isfinite(v);
        if (flush) AppendLiteralFloat(&out, v, flushed); else AppendFloat(&out, v);
        break;
      }
      case ElementType::kFloat16:
        AppendFloat(&out, Float16BitsToFloat(LoadLittleEndian<uint16_t>(p + 2 * i)));
        break;
      case ElementType::kBFloat16:
        AppendFloat(&out, BFloat16BitsToFloat(LoadLittleEndian<uint16_t>(p + 2 * i)));
        break;
      case ElementType::kInt8: absl::StrAppend(&out, LoadLittleEndian<int8_t>(p + i)); break;
      case ElementType::kUint8:
      case ElementType::kBool: absl::StrAppend(&out, LoadLittleEndian<uint8_t>(p + i)); break;
      case ElementType::kInt16: absl::StrAppend(&out, LoadLittleEndian<int16_t>(p + 2 * i)); break;
      case ElementType::kUint16: absl::StrAppend(&out, LoadLittleEndian<uint16_t>(p + 2 * i)); break;
      case ElementType::kInt32: absl::StrAppend(&out, LoadLittleEndian<int32_t>(p + 4 * i)); break;
      case ElementType::kUint32: absl::StrAppend(&out, LoadLittleEndian<uint32_t>(p + 4 * i)); break;
      case ElementType::kInt64: absl::StrAppend(&out, LoadLittleEndian<int64_t>(p + 8 * i)); break;
      case ElementType::kUint64: absl::StrAppend(&out, LoadLittleEndian<uint64_t>(p + 8 * i)); break;
      case ElementType::kInt4:
      case ElementType::kUint4: {
        const uint8_t byte = LoadLittleEndian<uint8_t>(p + i / 2);
        int v = (i % 2 == 0) ? (byte & 0xf) : (byte >> 4);
        if (type == ElementType::kInt4 && v >= 8) v -= 16;
        absl::StrAppend(&out, v);
        break;
      }
      case ElementType::kInt2:
      case ElementType::kUint2: {
        const uint8_t byte = LoadLittleEndian<uint8_t>(p + i / 4);
        int v = (byte >> (2 * (i % 4))) & 0x3;
        if (type == ElementType::kInt2 && v >= 2) v -= 4;
        absl::StrAppend(&out, v);
        break;
      }
      default:
        result.parsable = false;
        result.problem = "values of this type are not shown";
        result.text.clear();
        return result;
    }
  }
  out.push_back('}');
  result.shown = true;
  if (float_problem) {
    result.parsable = false;
    result.problem = "nan or inf values have no literal";
  }
  return result;
}

// ---- the printer -------------------------------------------------------------

class Printer {
 public:
  explicit Printer(const PrintOptions& options) : options_(options) {}

  std::string Take() { return std::move(out_); }

  void PrintModel(const Model& model);
  // Prints `graph` starting at the current position; continuation lines are
  // indented by `indent` spaces.
  void PrintGraph(const Graph& graph, int indent);

 private:
  // `tensor` as an initializer/tensor-attribute value: literal or comment.
  TensorText FormatTensor(const Tensor& tensor) const;
  void PrintSignatureList(const std::vector<std::string>& entries, const std::vector<std::string>& comments,
                          int indent);
  void PrintNode(const Node& node, int indent);
  // One attribute as "name = value"; false when the parser cannot read it.
  // `note` says why, or what was changed to make it readable.
  bool FormatAttribute(const Attribute& attribute, int indent, std::string* text, std::string* note);
  void Indent(int n) { out_.append(n, ' '); }
  static void AppendComment(std::string* line, absl::string_view comment) {
    if (!comment.empty()) absl::StrAppend(line, "  # ", comment);
  }

  const PrintOptions& options_;
  std::string out_;
};

TensorText Printer::FormatTensor(const Tensor& tensor) const {
  TensorText result;
  const ElementType type = tensor.type();
  const int64_t n = tensor.num_elements();
  const std::string type_text = TensorTypeText(type, tensor.dims());
  const bool too_big = !options_.print_all_elements && n > options_.max_elements;
  if (too_big) {
    result.text = absl::StrCat("elided: ", type_text, " (", n, " elements)");
    return result;
  }
  ValueList values = FormatValues(tensor, /*flush=*/true);
  std::string problem = values.problem;
  if (!ParserKnowsElementType(static_cast<int32_t>(type))) {
    problem = absl::StrCat("no ", ElementTypeName(type), " type in libonnx 1.12");
  } else if (!HasLiteralSyntax(type)) {
    problem = absl::StrCat("no ", ElementTypeName(type), " literals in libonnx 1.12");
  } else if (values.parsable) {
    result.literal = true;
    result.text = std::move(values.text);
    result.note = FlushedNote(values.flushed);
    return result;
  }
  if (values.shown && values.flushed > 0) values = FormatValues(tensor, /*flush=*/false);
  result.text = absl::StrCat("elided: ", type_text, values.shown ? absl::StrCat(" = ", values.text) : "", " (",
                             problem, ")");
  return result;
}

void Printer::PrintModel(const Model& model) {
  const onnx::ModelProto& shell = model.proto_shell();
  std::vector<std::string> fields;
  std::vector<std::string> omitted;
  if (shell.has_ir_version()) fields.push_back(absl::StrCat("ir_version: ", shell.ir_version()));
  if (shell.opset_import_size() > 0) {
    std::vector<std::string> opsets;
    bool ok = true;
    for (const auto& opset : shell.opset_import()) {
      ok &= IsParsableString(opset.domain());
      opsets.push_back(absl::StrCat("\"", opset.domain(), "\" : ", opset.version()));
    }
    if (ok) {
      fields.push_back(absl::StrCat("opset_import: [", absl::StrJoin(opsets, ", "), "]"));
    } else {
      omitted.push_back(absl::StrCat("opset_import: [", CommentText(absl::StrJoin(opsets, ", ")), "]"));
    }
  }
  auto string_field = [&](absl::string_view key, bool has, const std::string& value) {
    if (!has) return;
    if (IsParsableString(value) && value.find('\n') == std::string::npos) {
      fields.push_back(absl::StrCat(key, ": \"", value, "\""));
    } else {
      omitted.push_back(absl::StrCat(key, ": \"", CommentText(value), "\""));
    }
  };
  string_field("producer_name", shell.has_producer_name(), shell.producer_name());
  string_field("producer_version", shell.has_producer_version(), shell.producer_version());
  string_field("domain", shell.has_domain(), shell.domain());
  if (shell.has_model_version()) fields.push_back(absl::StrCat("model_version: ", shell.model_version()));
  if (shell.metadata_props_size() > 0) {
    std::vector<std::string> props;
    bool ok = true;
    for (const auto& prop : shell.metadata_props()) {
      ok &= IsParsableString(prop.key()) && IsParsableString(prop.value());
      props.push_back(absl::StrCat("\"", prop.key(), "\" : \"", prop.value(), "\""));
    }
    std::string text = absl::StrJoin(props, ", ");
    if (ok && text.find('\n') == std::string::npos) {
      fields.push_back(absl::StrCat("metadata_props: [", text, "]"));
    } else {
      omitted.push_back(absl::StrCat("metadata_props: [", CommentText(text), "]"));
    }
  }
  if (shell.functions_size() > 0) omitted.push_back(absl::StrCat(shell.functions_size(), " model-local functions"));
  if (shell.training_info_size() > 0) omitted.push_back(absl::StrCat(shell.training_info_size(), " training_info"));
  for (const std::string& o : omitted) absl::StrAppend(&out_, "# not printed: ", o, "\n");
  if (!fields.empty()) absl::StrAppend(&out_, "<", absl::StrJoin(fields, ", "), ">\n");
  PrintGraph(model.graph(), 0);
}

void Printer::PrintSignatureList(const std::vector<std::string>& entries, const std::vector<std::string>& comments,
                                 int indent) {
  bool multiline = false;
  for (const std::string& c : comments) multiline |= !c.empty();
  out_.push_back('(');
  if (!multiline) {
    out_.append(absl::StrJoin(entries, ", "));
    out_.push_back(')');
    return;
  }
  out_.push_back('\n');
  for (size_t i = 0; i < entries.size(); ++i) {
    std::string line = entries[i];
    if (i + 1 < entries.size()) line.push_back(',');
    AppendComment(&line, comments[i]);
    Indent(indent + 2);
    absl::StrAppend(&out_, line, "\n");
  }
  Indent(indent);
  out_.push_back(')');
}

void Printer::PrintGraph(const Graph& graph, int indent) {
  // Signature: name (inputs) => (outputs)
  absl::StrAppend(&out_, RequiredName(graph.name()), " ");
  std::vector<std::string> entries, comments;
  for (const Value* input : graph.inputs()) {
    std::string comment;
    std::string entry =
        Declaration(input->has_type_info() ? &input->type_info().type() : nullptr, input->name(), &comment);
    if (const Tensor* init = input->initializer()) {
      TensorText value = FormatTensor(*init);
      if (value.literal && comment.empty()) {
        absl::StrAppend(&entry, " = ", value.text);
        comment = value.note;
      } else {
        comment = comment.empty() ? value.text : absl::StrCat(comment, "; default ", value.text);
      }
    }
    entries.push_back(std::move(entry));
    comments.push_back(std::move(comment));
  }
  PrintSignatureList(entries, comments, indent);
  out_.append(" => ");
  entries.clear();
  comments.clear();
  for (size_t i = 0; i < graph.outputs().size(); ++i) {
    const Value* output = graph.outputs()[i];
    const onnx::ValueInfoProto& info = graph.output_info(static_cast<int>(i));
    std::string comment;
    entries.push_back(Declaration(info.has_type() ? &info.type() : nullptr, output ? output->name() : "", &comment));
    comments.push_back(std::move(comment));
  }
  PrintSignatureList(entries, comments, indent);
  out_.push_back('\n');

  // <initializers and value_info>
  std::vector<std::string> lines;  // each without the separating comma
  std::vector<std::string> line_comments;
  for (const Value* v : graph.initializers()) {
    if (v->kind() != Value::Kind::kInitializer || v->initializer() == nullptr) continue;
    const Tensor& t = *v->initializer();
    TensorText value = FormatTensor(t);
    const bool declarable = ParserKnowsElementType(static_cast<int32_t>(t.type()));
    std::string decl = declarable ? absl::StrCat(TensorTypeText(t.type(), t.dims()), " ", RequiredName(v->name()))
                                  : RequiredName(v->name());
    if (value.literal) {
      lines.push_back(absl::StrCat(decl, " = ", value.text));
      line_comments.push_back(std::move(value.note));
    } else {
      lines.push_back(std::move(decl));
      line_comments.push_back(std::move(value.text));
    }
  }
  auto same_type = [](const onnx::TypeProto& a, const onnx::TypeProto& b) {
    return a.SerializeAsString() == b.SerializeAsString();
  };
  for (const Node* node : graph.nodes()) {
    for (const Value* v : node->outputs()) {
      if (v == nullptr || !v->has_type_info()) continue;
      if (v->is_graph_output()) {
        bool redundant = false;
        for (size_t i = 0; i < graph.outputs().size(); ++i) {
          if (graph.outputs()[i] == v && same_type(graph.output_info(static_cast<int>(i)).type(), v->type_info().type())) {
            redundant = true;
          }
        }
        if (redundant) continue;
      }
      std::string comment;
      lines.push_back(Declaration(&v->type_info().type(), v->name(), &comment));
      line_comments.push_back(std::move(comment));
    }
  }
  for (const onnx::ValueInfoProto& info : graph.orphan_value_infos()) {
    std::string comment;
    lines.push_back(Declaration(info.has_type() ? &info.type() : nullptr, info.name(), &comment));
    line_comments.push_back(std::move(comment));
  }
  if (!lines.empty()) {
    Indent(indent);
    out_.append("<\n");
    for (size_t i = 0; i < lines.size(); ++i) {
      std::string line = std::move(lines[i]);
      if (i + 1 < lines.size()) line.push_back(',');
      AppendComment(&line, line_comments[i]);
      Indent(indent + 2);
      absl::StrAppend(&out_, line, "\n");
    }
    Indent(indent);
    out_.append(">\n");
  }

  // {nodes}
  Indent(indent);
  out_.append("{\n");
  const onnx::GraphProto& shell = graph.proto_shell();
  if (shell.sparse_initializer_size() > 0) {
    Indent(indent + 2);
    absl::StrAppend(&out_, "# not printed: ", shell.sparse_initializer_size(), " sparse initializers\n");
  }
  for (const Node* node : graph.nodes()) PrintNode(*node, indent + 2);
  Indent(indent);
  out_.push_back('}');
}

bool Printer::FormatAttribute(const Attribute& attribute, int indent, std::string* text, std::string* note) {
  const onnx::AttributeProto& proto = attribute.proto();
  const std::string& name = attribute.name();
  std::string value;
  int64_t flushed = 0;
  auto fail = [&](std::string why) {
    *note = absl::StrCat(name, ": ", why);
    return false;
  };
  if (!proto.ref_attr_name().empty()) return fail(absl::StrCat("refers to @", proto.ref_attr_name()));
  switch (proto.type()) {
    case onnx::AttributeProto::FLOAT:
      if (!std::isfinite(proto.f())) {
        AppendFloat(&value, proto.f());
        return fail(absl::StrCat("float = ", value, " (no literal)"));
      }
      AppendLiteralFloat(&value, proto.f(), &flushed);
      break;
    case onnx::AttributeProto::INT:
      absl::StrAppend(&value, proto.i());
      break;
    case onnx::AttributeProto::STRING:
      if (!IsParsableString(proto.s())) {
        return fail(absl::StrCat("string = \"", absl::CHexEscape(proto.s()), "\" (holds a quote or NUL)"));
      }
      AppendQuoted(&value, proto.s());
      break;
    case onnx::AttributeProto::FLOATS: {
      if (proto.floats_size() == 0) return fail("floats = [] (empty lists have no syntax)");
      bool ok = true;
      for (float f : proto.floats()) ok &= std::isfinite(f);
      value.push_back('[');
      for (int i = 0; i < proto.floats_size(); ++i) {
        if (i > 0) value.append(", ");
        if (ok) {
          AppendLiteralFloat(&value, proto.floats(i), &flushed);
        } else {
          AppendFloat(&value, proto.floats(i));
        }
      }
      value.push_back(']');
      if (!ok) return fail(absl::StrCat("floats = ", value, " (no literal)"));
      break;
    }
    case onnx::AttributeProto::INTS:
      if (proto.ints_size() == 0) return fail("ints = [] (empty lists have no syntax)");
      absl::StrAppend(&value, "[", absl::StrJoin(proto.ints(), ", "), "]");
      break;
    case onnx::AttributeProto::STRINGS: {
      if (proto.strings_size() == 0) return fail("strings = [] (empty lists have no syntax)");
      bool ok = true;
      for (const std::string& s : proto.strings()) ok &= IsParsableString(s);
      std::vector<std::string> quoted;
      for (const std::string& s : proto.strings()) {
        quoted.push_back(absl::StrCat("\"", ok ? s : absl::CHexEscape(s), "\""));
      }
      if (!ok) return fail(absl::StrCat("strings = [", absl::StrJoin(quoted, ", "), "] (holds a quote or NUL)"));
      absl::StrAppend(&value, "[", absl::StrJoin(quoted, ", "), "]");
      break;
    }
    case onnx::AttributeProto::TENSOR: {
      const Tensor* tensor = attribute.tensor();
      if (tensor == nullptr) return fail("tensor without data");
      TensorText t = FormatTensor(*tensor);
      if (!t.literal) return fail(t.text);
      if (!t.note.empty()) *note = absl::StrCat(name, ": ", t.note);
      value = TensorTypeText(tensor->type(), tensor->dims());
      if (!tensor->name().empty()) absl::StrAppend(&value, " ", MangleName(tensor->name()));
      absl::StrAppend(&value, " ", t.text);
      break;
    }
    case onnx::AttributeProto::GRAPH: {
      if (attribute.graphs().empty()) return fail("graph without body");
      Printer sub(options_);
      sub.PrintGraph(*attribute.graphs()[0], indent);
      value = sub.Take();
      break;
    }
    case onnx::AttributeProto::TENSORS:
      return fail(absl::StrCat("tensors (", attribute.tensors().size(), ") not printed"));
    case onnx::AttributeProto::GRAPHS:
      return fail(absl::StrCat("graphs (", attribute.graphs().size(), ") not printed"));
    case onnx::AttributeProto::SPARSE_TENSOR:
    case onnx::AttributeProto::SPARSE_TENSORS:
      return fail("sparse tensors not printed");
    case onnx::AttributeProto::TYPE_PROTO:
      return fail(absl::StrCat("type = ", AnyTypeText(proto.tp()), " (no syntax)"));
    case onnx::AttributeProto::TYPE_PROTOS:
      return fail("type_protos not printed");
    default:
      return fail(absl::StrCat("attribute type ", static_cast<int>(proto.type()), " not printed"));
  }
  *text = absl::StrCat(name, " = ", value);
  if (flushed > 0) *note = absl::StrCat(name, ": ", FlushedNote(flushed));
  return true;
}

void Printer::PrintNode(const Node& node, int indent) {
  auto name_list = [](absl::Span<Value* const> values) {
    std::string out;
    for (size_t i = 0; i < values.size(); ++i) {
      if (i > 0) out.append(", ");
      if (values[i] != nullptr) {
        out.append(RequiredName(values[i]->name()));
      } else if (i == 0) {
        out.append(kMangledPrefix.data(), kMangledPrefix.size());  // a leading blank does not parse
      }
    }
    return out;
  };

  std::vector<std::string> notes;
  if (!node.name().empty()) notes.push_back(absl::StrCat("name: ", CommentText(node.name())));
  std::vector<std::string> attributes;
  bool has_graph = false;
  for (const Attribute& attribute : node.attributes()) {
    std::string text, note;
    if (FormatAttribute(attribute, indent + 2, &text, &note)) {
      has_graph |= attribute.type() == onnx::AttributeProto::GRAPH;
      attributes.push_back(std::move(text));
    }
    if (!note.empty()) notes.push_back(std::move(note));
  }

  std::string head = name_list(node.outputs());
  while (!head.empty() && head.back() == ' ') head.pop_back();  // "y, = Op": a trailing omitted output
  head.append(head.empty() ? "= " : " = ");
  if (!node.domain().empty()) absl::StrAppend(&head, node.domain(), ".");
  head.append(node.op_type());
  const std::string inputs = absl::StrCat("(", name_list(node.inputs()), ")");
  const std::string comment = absl::StrJoin(notes, "; ");

  Indent(indent);
  if (attributes.empty()) {
    std::string line = absl::StrCat(head, inputs);
    AppendComment(&line, comment);
    absl::StrAppend(&out_, line, "\n");
  } else if (!has_graph) {
    std::string line = absl::StrCat(head, " <", absl::StrJoin(attributes, ", "), "> ", inputs);
    AppendComment(&line, comment);
    absl::StrAppend(&out_, line, "\n");
  } else {
    // Sub-graphs: one attribute per line, the graphs indented below.
    std::string line = absl::StrCat(head, " <");
    AppendComment(&line, comment);
    absl::StrAppend(&out_, line, "\n");
    for (size_t i = 0; i < attributes.size(); ++i) {
      Indent(indent + 2);
      absl::StrAppend(&out_, attributes[i], i + 1 < attributes.size() ? ",\n" : "\n");
    }
    Indent(indent);
    absl::StrAppend(&out_, "> ", inputs, "\n");
  }
}

}  // namespace

std::string MangleName(absl::string_view name) {
  const bool plain = IsIdentifier(name) && !absl::StartsWith(name, kMangledPrefix) && !IsReservedWord(name);
  if (name.empty() || plain) return std::string(name);
  std::string out(kMangledPrefix);
  for (size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    if (IsAsciiAlpha(c) || IsAsciiDigit(c)) {
      out.push_back(c);
    } else if (c == '_') {
      // A '_' before an upper-case letter would read as an escape.
      const bool before_upper = i + 1 < name.size() && IsAsciiUpper(name[i + 1]);
      out.append(before_upper ? "_U" : "_");
    } else if (char code = EscapeCode(c)) {
      out.push_back('_');
      out.push_back(code);
    } else {
      static constexpr char kHex[] = "0123456789abcdef";
      const auto byte = static_cast<unsigned char>(c);
      out.append("_X");
      out.push_back(kHex[byte >> 4]);
      out.push_back(kHex[byte & 0xf]);
    }
  }
  return out;
}

std::string DemangleName(absl::string_view identifier) {
  if (!absl::StartsWith(identifier, kMangledPrefix)) return std::string(identifier);
  const absl::string_view body = identifier.substr(kMangledPrefix.size());
  std::string out;
  for (size_t i = 0; i < body.size(); ++i) {
    const char c = body[i];
    if (c != '_') {
      if (!IsIdentifierChar(c)) return std::string(identifier);  // not produced by MangleName
      out.push_back(c);
      continue;
    }
    if (i + 1 >= body.size() || !IsAsciiUpper(body[i + 1])) {
      out.push_back('_');
      continue;
    }
    const char code = body[++i];
    if (code == 'X') {
      if (i + 2 >= body.size()) return std::string(identifier);
      const int hi = HexValue(body[i + 1]);
      const int lo = HexValue(body[i + 2]);
      if (hi < 0 || lo < 0) return std::string(identifier);
      out.push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else if (char decoded = UnescapeCode(code)) {
      out.push_back(decoded);
    } else {
      return std::string(identifier);
    }
  }
  return out;
}

std::string PrintModel(const Model& model, const PrintOptions& options) {
  Printer printer(options);
  printer.PrintModel(model);
  std::string out = printer.Take();
  out.push_back('\n');
  return out;
}

std::string PrintGraph(const Graph& graph, const PrintOptions& options) {
  Printer printer(options);
  printer.PrintGraph(graph, 0);
  std::string out = printer.Take();
  out.push_back('\n');
  return out;
}

}  // namespace qopt::ir

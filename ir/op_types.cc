#include "ir/op_types.h"

#include <map>
#include <memory>
#include <mutex>
#include <tuple>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "onnx/defs/schema.h"

namespace qopt::ir {
namespace {

constexpr int64_t kLastDefaultOpsetOfLibOnnx = 17;
constexpr int64_t kLastDefaultOpsetOfTable = 21;
constexpr absl::string_view kDefaultDomain = "";
constexpr absl::string_view kMlDomain = "ai.onnx.ml";

uint64_t Bit(ElementType type) { return uint64_t{1} << static_cast<int32_t>(type); }

std::string NormalizeDomain(absl::string_view domain) {
  return domain == "ai.onnx" ? std::string(kDefaultDomain) : std::string(domain);
}

// ---- the table -----------------------------------------------------------------

struct TableEntry {
  const char* domain;
  const char* op_type;
  int64_t since_version;
  const char* inputs;
  const char* outputs;
  const char* constraints;
};

constexpr TableEntry kTable[] = {
#define QOPT_OP_TYPES(domain, op_type, since_version, inputs, outputs, constraints) \
  {domain, op_type, since_version, inputs, outputs, constraints},
#include "ir/op_types.def"
};

struct VersionedEntry {
  const char* op_type;
  int64_t since_version;
};

constexpr VersionedEntry kVersioned[] = {
#define QOPT_OP_VERSIONED(op_type, since_version) {op_type, since_version},
#include "ir/op_types.def"
};

// "@ir4 @float8 int8" -> the names, in order.
std::vector<std::string> ExpandTypeNames(absl::string_view text) {
  static const auto* groups = new std::map<std::string, std::vector<std::string>, std::less<>>{
      {"@ir4",
       {"uint8", "uint16", "uint32", "uint64", "int8", "int16", "int32", "int64", "bfloat16", "float16", "float",
        "double", "string", "bool", "complex64", "complex128"}},
      {"@float8", {"float8e4m3fn", "float8e4m3fnuz", "float8e5m2", "float8e5m2fnuz"}},
      {"@int4", {"int4", "uint4"}},
  };
  std::vector<std::string> names;
  for (absl::string_view token : absl::StrSplit(text, ' ', absl::SkipWhitespace())) {
    if (auto it = groups->find(token); it != groups->end()) {
      names.insert(names.end(), it->second.begin(), it->second.end());
    } else {
      names.emplace_back(token);
    }
  }
  return names;
}

// Fills accepted/accepted_text from element type names; a name this build
// does not know is a bug in the table, reported once at start-up by a test.
void SetAccepted(FormalParam& param, const std::vector<std::string>& names) {
  param.accepted = 0;
  for (const std::string& name : names) {
    if (std::optional<ElementType> type = ElementTypeFromName(name)) param.accepted |= Bit(*type);
  }
  param.accepted_text = absl::StrJoin(names, ", ");
}

// One "name:TYPE" item of a table signature.
FormalParam ParseTableParam(absl::string_view item, const std::map<std::string, std::vector<std::string>>& constraints) {
  FormalParam param;
  item = absl::StripAsciiWhitespace(item);
  if (absl::ConsumeSuffix(&item, "...")) param.variadic = true;
  if (absl::ConsumeSuffix(&item, "?")) param.optional = true;
  std::vector<absl::string_view> parts = absl::StrSplit(item, absl::MaxSplits(':', 1));
  param.name = std::string(parts[0]);
  absl::string_view type = parts.size() > 1 ? parts[1] : "";
  auto resolve = [&](absl::string_view t, FormalParam& p) {
    if (auto it = constraints.find(std::string(t)); it != constraints.end()) {
      p.constraint = it->first;
      SetAccepted(p, it->second);
    } else {
      SetAccepted(p, {std::string(t)});
    }
  };
  if (absl::StrContains(type, '/')) {
    for (absl::string_view t : absl::StrSplit(type, '/')) {
      FormalParam element;
      element.name = param.name;
      resolve(t, element);
      element.constraint.clear();  // tuples of different inputs: no binding across them
      param.cycle.push_back(std::move(element));
    }
  } else {
    resolve(type, param);
  }
  return param;
}

std::vector<FormalParam> ParseTableParams(absl::string_view text,
                                          const std::map<std::string, std::vector<std::string>>& constraints) {
  std::vector<FormalParam> params;
  for (absl::string_view item : absl::StrSplit(text, ',', absl::SkipWhitespace())) {
    params.push_back(ParseTableParam(item, constraints));
  }
  return params;
}

std::unique_ptr<OpSignature> SignatureFromTable(const TableEntry& entry) {
  std::map<std::string, std::vector<std::string>> constraints;
  for (absl::string_view c : absl::StrSplit(entry.constraints, ';', absl::SkipWhitespace())) {
    std::vector<absl::string_view> parts = absl::StrSplit(c, absl::MaxSplits(':', 1));
    if (parts.size() != 2) continue;
    constraints[std::string(absl::StripAsciiWhitespace(parts[0]))] = ExpandTypeNames(parts[1]);
  }
  auto signature = std::make_unique<OpSignature>();
  signature->source = "op_types.def";
  signature->since_version = entry.since_version;
  signature->inputs = ParseTableParams(entry.inputs, constraints);
  signature->outputs = ParseTableParams(entry.outputs, constraints);
  return signature;
}

// The table entry of `op_type` for `opset`: the one with the largest
// since_version <= opset.
const TableEntry* FindTableEntry(absl::string_view domain, absl::string_view op_type, int64_t opset) {
  const TableEntry* best = nullptr;
  for (const TableEntry& entry : kTable) {
    if (domain != entry.domain || op_type != entry.op_type || entry.since_version > opset) continue;
    if (best == nullptr || entry.since_version > best->since_version) best = &entry;
  }
  return best;
}

// The newest version (18..opset) the default-domain op gained after libonnx's
// last opset; 0 when it kept its opset-17 signature.
int64_t VersionAfterLibOnnx(absl::string_view op_type, int64_t opset) {
  int64_t newest = 0;
  for (const VersionedEntry& v : kVersioned) {
    if (op_type == v.op_type && v.since_version <= opset && v.since_version > newest) newest = v.since_version;
  }
  return newest;
}

// ---- libonnx --------------------------------------------------------------------

// "tensor(float)" -> float; anything else (seq, optional, sparse) -> nullopt.
std::optional<std::string> TensorTypeName(absl::string_view type_str) {
  if (!absl::ConsumePrefix(&type_str, "tensor(") || !absl::ConsumeSuffix(&type_str, ")")) return std::nullopt;
  return std::string(type_str);
}

FormalParam ParamFromLibOnnx(const onnx::OpSchema& schema, const onnx::OpSchema::FormalParameter& formal) {
  FormalParam param;
  param.name = formal.GetName();
  param.optional = formal.GetOption() == onnx::OpSchema::Optional;
  param.variadic = formal.GetOption() == onnx::OpSchema::Variadic;
  std::vector<std::string> names;
  bool is_constraint = false;
  for (const auto& c : schema.typeConstraintParams()) {
    if (c.type_param_str != formal.GetTypeStr()) continue;
    is_constraint = true;
    for (const std::string& t : c.allowed_type_strs) {
      if (std::optional<std::string> name = TensorTypeName(t)) names.push_back(*name);
    }
  }
  if (!is_constraint) {
    if (std::optional<std::string> name = TensorTypeName(formal.GetTypeStr())) names.push_back(*name);
  }
  SetAccepted(param, names);
  if (is_constraint && (!param.variadic || formal.GetIsHomogeneous())) param.constraint = formal.GetTypeStr();
  return param;
}

std::unique_ptr<OpSignature> SignatureFromLibOnnx(const std::string& domain, const std::string& op_type,
                                                  int64_t opset) {
  const onnx::OpSchema* schema =
      onnx::OpSchemaRegistry::Schema(op_type, static_cast<int>(opset), domain);
  if (schema == nullptr || schema->Deprecated()) return nullptr;
  auto signature = std::make_unique<OpSignature>();
  signature->source = "libonnx";
  signature->since_version = schema->SinceVersion();
  for (const auto& formal : schema->inputs()) signature->inputs.push_back(ParamFromLibOnnx(*schema, formal));
  for (const auto& formal : schema->outputs()) signature->outputs.push_back(ParamFromLibOnnx(*schema, formal));
  return signature;
}

// The last opset libonnx knows of `domain` (default and ai.onnx.ml only: it
// may also hold schemas qopt registered for shape inference, which are
// deliberately permissive and say nothing about types).
int64_t LastOpsetOfLibOnnx(const std::string& domain) {
  if (domain == kDefaultDomain) return kLastDefaultOpsetOfLibOnnx;
  if (domain != kMlDomain) return 0;
  const auto& map = onnx::OpSchemaRegistry::DomainToVersionRange::Instance().Map();
  auto it = map.find(domain);
  return it == map.end() ? 0 : it->second.second;
}

std::unique_ptr<OpSignature> Resolve(const std::string& domain, const std::string& op_type, int64_t opset) {
  if (domain == kDefaultDomain) {
    if (opset > kLastDefaultOpsetOfTable) return nullptr;
    if (opset > kLastDefaultOpsetOfLibOnnx) {
      if (int64_t version = VersionAfterLibOnnx(op_type, opset); version > 0) {
        const TableEntry* entry = FindTableEntry(domain, op_type, opset);
        // An entry older than the op's newest version describes a previous one.
        if (entry == nullptr || entry->since_version < version) return nullptr;
        return SignatureFromTable(*entry);
      }
      return SignatureFromLibOnnx(domain, op_type, kLastDefaultOpsetOfLibOnnx);
    }
    return SignatureFromLibOnnx(domain, op_type, opset);
  }
  if (const TableEntry* entry = FindTableEntry(domain, op_type, opset)) return SignatureFromTable(*entry);
  if (opset <= LastOpsetOfLibOnnx(domain)) return SignatureFromLibOnnx(domain, op_type, opset);
  return nullptr;
}

class SignatureCache {
 public:
  const OpSignature* Find(absl::string_view domain, absl::string_view op_type, int64_t opset) {
    std::string d = NormalizeDomain(domain);
    std::lock_guard<std::mutex> lock(mu_);
    auto key = std::make_tuple(d, std::string(op_type), opset);
    auto it = cache_.find(key);
    if (it == cache_.end()) it = cache_.emplace(key, Resolve(d, std::string(op_type), opset)).first;
    return it->second.get();
  }

 private:
  std::mutex mu_;
  // Entries are never removed, so the pointers handed out stay valid.
  absl::flat_hash_map<std::tuple<std::string, std::string, int64_t>, std::unique_ptr<OpSignature>> cache_;
};

const FormalParam* ResolveParam(const std::vector<FormalParam>& params, int index) {
  if (index < 0 || params.empty()) return nullptr;
  if (index < static_cast<int>(params.size()) && !params[index].variadic) return &params[index];
  const FormalParam& last = params.back();
  if (!last.variadic || index < static_cast<int>(params.size()) - 1) return nullptr;
  if (last.cycle.empty()) return &last;
  const int position = index - (static_cast<int>(params.size()) - 1);
  return &last.cycle[static_cast<size_t>(position) % last.cycle.size()];
}

}  // namespace

bool FormalParam::Accepts(ElementType type) const {
  const int32_t n = static_cast<int32_t>(type);
  return n >= 0 && n < 64 && (accepted & Bit(type)) != 0;
}

const FormalParam* OpSignature::Input(int index) const { return ResolveParam(inputs, index); }
const FormalParam* OpSignature::Output(int index) const { return ResolveParam(outputs, index); }

const OpSignature* FindOpSignature(absl::string_view domain, absl::string_view op_type, int64_t opset) {
  static auto* cache = new SignatureCache();
  return cache->Find(domain, op_type, opset);
}

namespace {

std::optional<bool> Accepts(const FormalParam* param, ElementType type) {
  // A parameter with no tensor type (a sequence, say) says nothing here.
  if (param == nullptr || param->accepted == 0 || !IsKnownElementType(type) || type == ElementType::kUndefined) {
    return std::nullopt;
  }
  return param->Accepts(type);
}

}  // namespace

std::optional<bool> AcceptsElementType(absl::string_view domain, absl::string_view op_type, int64_t opset,
                                       int input_index, ElementType type) {
  const OpSignature* signature = FindOpSignature(domain, op_type, opset);
  return signature ? Accepts(signature->Input(input_index), type) : std::nullopt;
}

std::optional<bool> AcceptsOutputElementType(absl::string_view domain, absl::string_view op_type, int64_t opset,
                                             int output_index, ElementType type) {
  const OpSignature* signature = FindOpSignature(domain, op_type, opset);
  return signature ? Accepts(signature->Output(output_index), type) : std::nullopt;
}

}  // namespace qopt::ir

#include "analysis/target_profile.h"

#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "analysis/builtin_profiles.h"
#include "analysis/qdq_params.h"
#include "ir/check.h"

namespace qopt::analysis {
namespace {

// The weight tensor of a Conv: a constant, or the integer constant behind
// its DequantizeLinear (its dims are what matter here).
const ir::Tensor* ConvWeights(const ir::Node& conv) {
  const ir::Value* w = conv.input(1);
  if (w == nullptr) return nullptr;
  if (const ir::Tensor* t = w->constant()) return t;
  const ir::Node* dq = w->producer();
  if (dq == nullptr || !dq->Is("DequantizeLinear") || dq->input(0) == nullptr) return nullptr;
  return dq->input(0)->constant();
}

std::string ConvClass(const ir::Node& conv) {
  const ir::Tensor* w = ConvWeights(conv);
  if (w == nullptr || w->dims().size() < 3) return "conv-dense";
  const std::vector<int64_t>& dims = w->dims();
  const int64_t group = conv.GetInt("group").value_or(1);
  const int64_t in_channels = dims[1] * group;
  if (group > 1 && dims[1] == 1) return "conv-depthwise";
  if (in_channels <= 4) return "conv-first";
  bool one_by_one = group == 1;
  for (size_t i = 2; i < dims.size(); ++i) one_by_one = one_by_one && dims[i] == 1;
  return one_by_one ? "conv-pointwise" : "conv-dense";
}

const std::set<ir::ElementType>& EightBitTypes() {
  static const auto* types = new std::set<ir::ElementType>{ir::ElementType::kUint8, ir::ElementType::kInt8};
  return *types;
}

TargetProfile* OrtCpu() {
  auto* p = new TargetProfile;
  p->name = "ort-cpu";
  p->description =
      "ONNX Runtime's CPU execution provider: QLinearConv, QLinearMatMul, QGemm and the com.microsoft "
      "QLinear* element-wise, pooling and concat kernels";
  p->kernels = ir::Target::kOrtCpu;
  p->integer_types = EightBitTypes();
  p->symmetric_int8_weights = true;
  // ONNX Runtime 1.30's optimizer on x86 fuses QDQ units with uint8
  // activations only: its optimized s8s8 PaddleOCR detector keeps 670 Q/DQ.
  p->fused_activation_types = {ir::ElementType::kUint8};
  // The measured facts (costs per unit class, what the runtime fuses) come
  // from analysis/profiles/ort-cpu.json, written by
  // tools/ort/measure_target.js on the machine its `source` names.
  const absl::StatusOr<TargetProfile> measured = TargetProfileFromJson(
      nlohmann::json::parse(kOrtCpuProfileJson, nullptr, /*allow_exceptions=*/false));
  QOPT_CHECK(measured.ok(), "analysis/profiles/ort-cpu.json does not parse as a qopt-target/1 profile");
  p->source = measured->source;
  p->fused_activation_types = measured->fused_activation_types;
  p->quantize = measured->quantize;
  p->dequantize = measured->dequantize;
  p->measurements = measured->measurements;
  p->unfused_activation_note =
      "ONNX Runtime 1.30's CPU optimizer on x86 fuses QDQ units with uint8 activations only (its optimized "
      "s8s8 PaddleOCR detector keeps its Q/DQ; s8-to-u8 makes them uint8, exactly)";
  return p;
}

TargetProfile* OnnxStandard() {
  auto* p = new TargetProfile;
  p->name = "onnx-standard";
  p->description = "Only the integer ops of the ONNX standard: QLinearConv, QLinearMatMul, ConvInteger, MatMulInteger";
  // Standard Concat runs on uint8/int8 tensors as they are, but only
  // when all of them share one scale and zero point (its "=" there).
  p->kernels = ir::Target::kOnnxStandard;
  p->integer_types = EightBitTypes();
  p->symmetric_int8_weights = false;
  return p;
}

}  // namespace

const TargetProfile* FindTargetProfile(const std::string& name) {
  static const TargetProfile* ort_cpu = OrtCpu();
  static const TargetProfile* onnx_standard = OnnxStandard();
  if (name == "ort-cpu") return ort_cpu;
  if (name == "onnx-standard") return onnx_standard;
  return nullptr;
}

absl::string_view TargetProfile::KernelFor(const ir::Node& node) const {
  if (!node.is_default_domain()) return "";
  const ir::OpTraits* traits = ir::FindOpTraits(node);
  return traits == nullptr ? "" : traits->Kernel(kernels);
}

std::vector<std::string> TargetProfileNames() { return {"ort-cpu", "onnx-standard"}; }

namespace {

constexpr absl::string_view kSchema = "qopt-target/1";

absl::string_view KernelColumnName(ir::Target t) { return t == ir::Target::kOrtCpu ? "ort-cpu" : "onnx-standard"; }

nlohmann::json CostToJson(const LinearCost& c) {
  return {{"per_call_ns", c.per_call_ns}, {"per_mac_ns", c.per_mac_ns}, {"per_element_ns", c.per_element_ns}};
}

nlohmann::json TypesToJson(const std::set<ir::ElementType>& types) {
  nlohmann::json j = nlohmann::json::array();
  for (ir::ElementType t : types) j.push_back(ir::ElementTypeName(t));
  return j;
}

// Reads the fields of a profile file, naming the first one that is wrong.
class JsonReader {
 public:
  absl::Status error() const { return error_; }

  template <typename T>
  void Read(const nlohmann::json& j, const std::string& where, const char* key, T* out, bool required = false) {
    if (!error_.ok()) return;
    if (!j.contains(key)) {
      if (required) Fail(where, key, "is missing");
      return;
    }
    try {
      *out = j.at(key).get<T>();
    } catch (const nlohmann::json::exception&) {
      Fail(where, key, absl::StrCat("has the wrong type (", j.at(key).type_name(), ")"));
    }
  }

  void ReadType(const nlohmann::json& j, const std::string& where, const char* key, ir::ElementType* out) {
    std::string name;
    Read(j, where, key, &name, /*required=*/true);
    if (!error_.ok()) return;
    std::optional<ir::ElementType> t = ir::ElementTypeFromName(name);
    if (!t) return Fail(where, key, absl::StrCat("names no element type ('", name, "')"));
    *out = *t;
  }

  void ReadTypes(const nlohmann::json& j, const std::string& where, const char* key, std::set<ir::ElementType>* out) {
    std::vector<std::string> names;
    Read(j, where, key, &names);
    for (const std::string& name : names) {
      std::optional<ir::ElementType> t = ir::ElementTypeFromName(name);
      if (!t) return Fail(where, key, absl::StrCat("names no element type ('", name, "')"));
      out->insert(*t);
    }
  }

  void ReadCost(const nlohmann::json& j, const std::string& where, const char* key, LinearCost* out) {
    if (!error_.ok() || !j.contains(key)) return;
    const nlohmann::json& c = j.at(key);
    if (!c.is_object()) return Fail(where, key, "is not an object");
    const std::string inner = absl::StrCat(where, key, ".");
    Read(c, inner, "per_call_ns", &out->per_call_ns);
    Read(c, inner, "per_mac_ns", &out->per_mac_ns);
    Read(c, inner, "per_element_ns", &out->per_element_ns);
  }

  void Fail(const std::string& where, const char* key, const std::string& what) {
    if (error_.ok()) error_ = absl::InvalidArgumentError(absl::StrCat("field '", where, key, "' ", what));
  }

 private:
  absl::Status error_;
};

}  // namespace

nlohmann::json TargetProfileToJson(const TargetProfile& p) {
  nlohmann::json measurements = nlohmann::json::array();
  for (const KernelMeasurement& m : p.measurements) {
    measurements.push_back({{"unit_class", m.unit_class},
                            {"activation", ir::ElementTypeName(m.activation)},
                            {"fused_by_runtime", m.fused_by_runtime},
                            {"integer", CostToJson(m.integer)},
                            {"float", CostToJson(m.float_op)},
                            {"note", m.note}});
  }
  return {{"schema", kSchema},
          {"name", p.name},
          {"description", p.description},
          {"source", p.source},
          {"kernels", KernelColumnName(p.kernels)},
          {"integer_types", TypesToJson(p.integer_types)},
          {"symmetric_int8_weights", p.symmetric_int8_weights},
          {"conv_per_channel_axis0_only", p.conv_per_channel_axis0_only},
          {"block_wise_weights", p.block_wise_weights},
          {"fused_activation_types", TypesToJson(p.fused_activation_types)},
          {"unfused_activation_note", p.unfused_activation_note},
          {"quantize", CostToJson(p.quantize)},
          {"dequantize", CostToJson(p.dequantize)},
          {"measurements", measurements}};
}

absl::StatusOr<TargetProfile> TargetProfileFromJson(const nlohmann::json& j) {
  if (!j.is_object()) return absl::InvalidArgumentError("a target profile is a JSON object");
  TargetProfile p;
  JsonReader r;
  std::string schema;
  r.Read(j, "", "schema", &schema, /*required=*/true);
  if (r.error().ok() && schema != kSchema) r.Fail("", "schema", absl::StrCat("is '", schema, "', not '", kSchema, "'"));
  r.Read(j, "", "name", &p.name, /*required=*/true);
  r.Read(j, "", "description", &p.description);
  r.Read(j, "", "source", &p.source);
  std::string kernels;
  r.Read(j, "", "kernels", &kernels, /*required=*/true);
  if (r.error().ok()) {
    if (kernels == "ort-cpu") {
      p.kernels = ir::Target::kOrtCpu;
    } else if (kernels == "onnx-standard") {
      p.kernels = ir::Target::kOnnxStandard;
    } else {
      r.Fail("", "kernels", absl::StrCat("is '", kernels, "' (a column of ir/op_traits.def: ort-cpu, onnx-standard)"));
    }
  }
  r.ReadTypes(j, "", "integer_types", &p.integer_types);
  if (r.error().ok() && p.integer_types.empty()) r.Fail("", "integer_types", "is missing or empty");
  r.Read(j, "", "symmetric_int8_weights", &p.symmetric_int8_weights);
  r.Read(j, "", "conv_per_channel_axis0_only", &p.conv_per_channel_axis0_only);
  r.Read(j, "", "block_wise_weights", &p.block_wise_weights);
  r.ReadTypes(j, "", "fused_activation_types", &p.fused_activation_types);
  r.Read(j, "", "unfused_activation_note", &p.unfused_activation_note);
  r.ReadCost(j, "", "quantize", &p.quantize);
  r.ReadCost(j, "", "dequantize", &p.dequantize);
  if (r.error().ok() && j.contains("measurements")) {
    if (!j.at("measurements").is_array()) r.Fail("", "measurements", "is not an array");
    int i = 0;
    for (const nlohmann::json& m : r.error().ok() ? j.at("measurements") : nlohmann::json::array()) {
      const std::string where = absl::StrCat("measurements[", i++, "].");
      KernelMeasurement k;
      r.Read(m, where, "unit_class", &k.unit_class, /*required=*/true);
      r.ReadType(m, where, "activation", &k.activation);
      r.Read(m, where, "fused_by_runtime", &k.fused_by_runtime);
      r.ReadCost(m, where, "integer", &k.integer);
      r.ReadCost(m, where, "float", &k.float_op);
      r.Read(m, where, "note", &k.note);
      p.measurements.push_back(std::move(k));
    }
  }
  if (!r.error().ok()) return r.error();
  return p;
}

absl::StatusOr<const TargetProfile*> ResolveTargetProfile(const std::string& name_or_path) {
  if (const TargetProfile* builtin = FindTargetProfile(name_or_path)) return builtin;
  const std::string names = absl::StrJoin(TargetProfileNames(), ", ");
  std::error_code ec;
  if (!std::filesystem::is_regular_file(name_or_path, ec)) {
    return absl::InvalidArgumentError(
        absl::StrCat("unknown target '", name_or_path, "': not a built-in profile (", names, ") nor a profile file"));
  }
  // Files are read once per process and kept: passes hold the pointer.
  static std::mutex mu;
  static auto* loaded = new std::map<std::string, std::unique_ptr<TargetProfile>>();
  const std::string key = std::filesystem::weakly_canonical(name_or_path, ec).string();
  std::lock_guard<std::mutex> lock(mu);
  if (auto it = loaded->find(key); it != loaded->end()) return it->second.get();
  std::ifstream in(name_or_path);
  nlohmann::json j = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) {
    return absl::InvalidArgumentError(absl::StrCat("target file '", name_or_path, "': not valid JSON"));
  }
  absl::StatusOr<TargetProfile> profile = TargetProfileFromJson(j);
  if (!profile.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("target file '", name_or_path, "': ", profile.status().message()));
  }
  auto owned = std::make_unique<TargetProfile>(*std::move(profile));
  const TargetProfile* result = owned.get();
  (*loaded)[key] = std::move(owned);
  return result;
}

std::string UnitClassOf(const ir::Node& node) {
  if (node.Is("Conv") || node.Is("QLinearConv") || node.Is("ConvInteger")) return ConvClass(node);
  if (node.Is("MatMul") || node.Is("QLinearMatMul") || node.Is("MatMulInteger")) return "matmul";
  if (node.Is("Gemm") || node.Is("QGemm")) return "gemm";
  return node.op_type();
}

const KernelMeasurement* TargetProfile::MeasurementFor(const ir::Node& node, ir::ElementType activation) const {
  const std::string unit_class = UnitClassOf(node);
  for (const KernelMeasurement& m : measurements) {
    if (m.unit_class == unit_class && m.activation == activation) return &m;
  }
  return nullptr;
}

std::string TargetProfile::WhyActivationNotFused(const ir::Node& node, ir::ElementType activation) const {
  const KernelMeasurement* m = MeasurementFor(node, activation);
  if (m != nullptr && m->fused_by_runtime) return "";
  if (m == nullptr && FusesActivation(activation)) return "";
  if (m != nullptr && !m->note.empty()) return m->note;
  if (!unfused_activation_note.empty()) return unfused_activation_note;
  return absl::StrCat(name, " does not fuse units with ", ir::ElementTypeName(activation), " activations");
}

}  // namespace qopt::analysis

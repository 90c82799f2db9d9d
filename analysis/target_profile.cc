#include "analysis/target_profile.h"

#include "absl/strings/str_cat.h"
#include "analysis/qdq_params.h"

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

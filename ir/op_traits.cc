#include "ir/op_traits.h"

#include "absl/container/flat_hash_map.h"
#include "ir/graph.h"
#include "ir/model.h"
#include "ir/op_types.h"

namespace qopt::ir {
namespace {

// The .def file names traits without their `k`.
constexpr uint32_t Compute = kCompute, IntegerKernel = kIntegerKernel, Quantization = kQuantization, CastOp = kCastOp,
                   ConstantOp = kConstantOp, ShapeOnly = kShapeOnly, DataMovement = kDataMovement, Layout = kLayout,
                   Commutes = kCommutes, Monotone = kMonotone, Homogeneous = kHomogeneous, Elementwise = kElementwise,
                   Activation = kActivation, CheapInFloat = kCheapInFloat, OrtQuantizes = kOrtQuantizes,
                   StableSince7 = kStableSince7, ChannelsFirst = kChannelsFirst, NonNegative = kNonNegative,
                   Bounded = kBounded, TopDecides = kTopDecides;

const std::vector<OpTraits>& Table() {
  static const auto* table = new std::vector<OpTraits>{
#define QOPT_OP(domain, op, traits, weight, bias, axis, ort_cpu, onnx_standard) \
  OpTraits{domain, #op, static_cast<uint32_t>(traits), weight, bias, axis, ort_cpu, onnx_standard},
#include "ir/op_traits.def"
#undef QOPT_OP
  };
  return *table;
}

absl::string_view Canonical(absl::string_view domain) { return domain == "ai.onnx" ? absl::string_view() : domain; }

}  // namespace

const OpTraits* FindOpTraits(absl::string_view domain, absl::string_view op_type) {
  static const auto* index = [] {
    // Keys view the table's own static strings: a look-up builds no string
    // (Value::SetProducer asks once per value a graph creates).
    auto* m = new absl::flat_hash_map<std::pair<absl::string_view, absl::string_view>, const OpTraits*>();
    for (const OpTraits& t : Table()) m->emplace(std::make_pair(t.domain, t.op_type), &t);
    return m;
  }();
  auto it = index->find(std::make_pair(Canonical(domain), op_type));
  return it == index->end() ? nullptr : it->second;
}

const OpTraits* FindOpTraits(const Node& node) { return FindOpTraits(node.domain(), node.op_type()); }

bool HasTrait(const Node& node, OpTrait trait) {
  const OpTraits* t = FindOpTraits(node);
  return t != nullptr && t->Has(trait);
}

bool HasWeightInput(const Node& node) {
  const OpTraits* t = FindOpTraits(node);
  return t != nullptr && t->weight_input >= 0;
}

bool IsConvolution(const Node& node) { return HasWeightInput(node) && HasTrait(node, kChannelsFirst); }

int64_t ConvolutionOutputChannels(const Node& conv, const std::vector<int64_t>& weight_dims) {
  if (!IsConvolution(conv)) return 0;
  const int axis = FindOpTraits(conv)->channel_axis;
  if (static_cast<int>(weight_dims.size()) <= axis) return 0;
  return axis == 0 ? weight_dims[0] : weight_dims[axis] * conv.GetInt("group").value_or(1);
}

const std::vector<OpTraits>& AllOpTraits() { return Table(); }

std::vector<std::string> OpsWithTrait(OpTrait trait) {
  std::vector<std::string> ops;
  for (const OpTraits& t : Table()) {
    if (t.domain.empty() && t.Has(trait)) ops.emplace_back(t.op_type);
  }
  return ops;
}

absl::string_view OpTraitName(OpTrait trait) {
  switch (trait) {
    case kCompute: return "compute";
    case kIntegerKernel: return "integer-kernel";
    case kQuantization: return "quantization";
    case kCastOp: return "cast";
    case kConstantOp: return "constant";
    case kShapeOnly: return "shape-only";
    case kDataMovement: return "data-movement";
    case kLayout: return "layout";
    case kCommutes: return "commutes-with-quantization";
    case kMonotone: return "monotone";
    case kHomogeneous: return "positively-homogeneous";
    case kElementwise: return "elementwise";
    case kActivation: return "activation";
    case kCheapInFloat: return "cheap-in-float";
    case kOrtQuantizes: return "ort-quantizes";
    case kStableSince7: return "stable-since-7";
    case kChannelsFirst: return "channels-first";
    case kNonNegative: return "non-negative";
    case kBounded: return "bounded";
    case kTopDecides: return "top-decides";
  }
  return "unknown";
}

std::vector<OpTrait> AllOpTraitFlags() {
  std::vector<OpTrait> all;
  for (uint32_t bit = 1; bit <= kTopDecides; bit <<= 1) all.push_back(static_cast<OpTrait>(bit));
  return all;
}

bool CommutesWithPerTensorQuantization(const Node& node) {
  if (!HasTrait(node, kCommutes)) return false;
  // Linear or cubic resampling computes new values: only nearest selects.
  if (node.Is("Resize") && node.GetString("mode").value_or("nearest") != "nearest") return false;
  // MaxPool's Indices output is not a value of the data.
  if (node.Is("MaxPool") && node.output(1) != nullptr && node.output(1)->has_uses()) return false;
  return true;
}

bool TakesEightBitData(const Node& node, int64_t opset) {
  // The op's signature at that opset (ir/op_types.h); unknown is a no.
  for (ElementType type : {ElementType::kUint8, ElementType::kInt8}) {
    if (!AcceptsElementType(node.domain(), node.op_type(), opset, 0, type).value_or(false)) return false;
  }
  return true;
}

int64_t DefaultOpset(const Node& node) {
  const Graph* graph = node.graph();
  while (graph != nullptr && graph->model() == nullptr && graph->parent_graph() != nullptr) graph = graph->parent_graph();
  if (graph == nullptr || graph->model() == nullptr) return 0;
  return graph->model()->OpsetVersion("").value_or(0);
}

}  // namespace qopt::ir

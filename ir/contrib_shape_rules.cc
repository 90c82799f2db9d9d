// Shape rules for ONNX Runtime's com.microsoft QLinear* ops, which libonnx
// does not know: without them ONNX shape inference stops at the first
// QLinearAdd of a fused model, and MACs and boundary bytes go unknown after
// it. The schemas are registered with libonnx once, permissive about inputs
// and attributes (variadic, any tensor type) so that the checker does not
// start rejecting models it used to skip; only the type-and-shape functions
// matter.
#include <cstdint>
#include <mutex>
#include <optional>

#include "onnx/defs/schema.h"
#include "onnx/defs/shape_inference.h"
#include "ir/shape_inference.h"

namespace qopt::ir {
namespace {

using onnx::InferenceContext;
using onnx::OpSchema;
using onnx::TensorShapeProto;

constexpr const char* kDomain = "com.microsoft";

// Elementwise with broadcasting: A at input 0, B at input 3.
void BinaryShape(InferenceContext& ctx) {
  onnx::propagateElemTypeFromInputToOutput(ctx, 0, 0);
  if (onnx::hasInputShape(ctx, 0) && onnx::hasInputShape(ctx, 3)) {
    onnx::bidirectionalBroadcastShapeInference(onnx::getInputShape(ctx, 0), onnx::getInputShape(ctx, 3),
                                               *onnx::getOutputShape(ctx, 0));
  }
}

void UnaryShape(InferenceContext& ctx) {
  onnx::propagateElemTypeFromInputToOutput(ctx, 0, 0);
  if (onnx::hasInputShape(ctx, 0)) onnx::propagateShapeFromInputToOutput(ctx, 0, 0);
}

bool ChannelsLast(InferenceContext& ctx) {
  const onnx::AttributeProto* a = ctx.getAttribute("channels_last");
  return a != nullptr && a->i() != 0;
}

// [N, C, 1, ..., 1] (or [N, 1, ..., 1, C] with channels_last).
void GlobalPoolShape(InferenceContext& ctx) {
  onnx::propagateElemTypeFromInputToOutput(ctx, 0, 0);
  if (!onnx::hasInputShape(ctx, 0)) return;
  const TensorShapeProto& in = onnx::getInputShape(ctx, 0);
  if (in.dim_size() < 3) return;
  TensorShapeProto* out = onnx::getOutputShape(ctx, 0);
  const bool last = ChannelsLast(ctx);
  for (int i = 0; i < in.dim_size(); ++i) {
    const bool keep = i == 0 || (last ? i == in.dim_size() - 1 : i == 1);
    if (keep) {
      *out->add_dim() = in.dim(i);
    } else {
      out->add_dim()->set_dim_value(1);
    }
  }
}

// floor or ceil((in + pad_begin + pad_end - k) / stride) + 1 for one
// spatial dim, or nothing when the attributes make no sense for it (a zero or
// negative stride or kernel, negative pads, a window larger than the padded
// input, or sums past int64): the dim is then left unknown, since the file
// comes from a tool we did not write and inference must not trap on it.
std::optional<int64_t> PooledDim(int64_t in, int64_t kernel, int64_t stride, int64_t pad_begin, int64_t pad_end,
                                 bool ceil) {
  if (in < 0 || kernel <= 0 || stride <= 0 || pad_begin < 0 || pad_end < 0) return std::nullopt;
  int64_t padded = 0;
  if (__builtin_add_overflow(in, pad_begin, &padded) || __builtin_add_overflow(padded, pad_end, &padded)) {
    return std::nullopt;
  }
  if (padded < kernel) return std::nullopt;
  const int64_t span = padded - kernel;
  return span / stride + (ceil && span % stride != 0 ? 1 : 0) + 1;
}

// Per spatial dim as PooledDim says (explicit pads only; auto_pad leaves the
// shape unknown). strides and pads of the wrong length leave it unknown too.
void AveragePoolShape(InferenceContext& ctx) {
  onnx::propagateElemTypeFromInputToOutput(ctx, 0, 0);
  if (!onnx::hasInputShape(ctx, 0) || ChannelsLast(ctx)) return;
  const onnx::AttributeProto* auto_pad = ctx.getAttribute("auto_pad");
  if (auto_pad != nullptr && auto_pad->s() != "NOTSET") return;
  const onnx::AttributeProto* kernel = ctx.getAttribute("kernel_shape");
  if (kernel == nullptr) return;
  const TensorShapeProto& in = onnx::getInputShape(ctx, 0);
  const int spatial = kernel->ints_size();
  if (in.dim_size() != spatial + 2) return;
  const onnx::AttributeProto* strides = ctx.getAttribute("strides");
  const onnx::AttributeProto* pads = ctx.getAttribute("pads");
  if (strides != nullptr && strides->ints_size() != spatial) return;
  if (pads != nullptr && pads->ints_size() != 2 * spatial) return;
  const onnx::AttributeProto* ceil_mode = ctx.getAttribute("ceil_mode");
  const bool ceil = ceil_mode != nullptr && ceil_mode->i() != 0;
  TensorShapeProto* out = onnx::getOutputShape(ctx, 0);
  *out->add_dim() = in.dim(0);
  *out->add_dim() = in.dim(1);
  for (int i = 0; i < spatial; ++i) {
    auto* dim = out->add_dim();
    if (!in.dim(i + 2).has_dim_value()) continue;
    const std::optional<int64_t> pooled = PooledDim(in.dim(i + 2).dim_value(), kernel->ints(i),
                                                    strides ? strides->ints(i) : 1, pads ? pads->ints(i) : 0,
                                                    pads ? pads->ints(i + spatial) : 0, ceil);
    if (pooled.has_value()) dim->set_dim_value(*pooled);
  }
}

// Y_scale, Y_zero_point, then (X, X_scale, X_zero_point) per input.
void ConcatShape(InferenceContext& ctx) {
  if (ctx.getNumInputs() < 5) return;
  onnx::propagateElemTypeFromInputToOutput(ctx, 2, 0);
  const onnx::AttributeProto* axis_attr = ctx.getAttribute("axis");
  if (axis_attr == nullptr) return;
  TensorShapeProto result;
  for (size_t i = 2; i < ctx.getNumInputs(); i += 3) {
    if (!onnx::hasInputShape(ctx, i)) return;
    const TensorShapeProto& in = onnx::getInputShape(ctx, i);
    const int rank = in.dim_size();
    const int64_t axis = axis_attr->i() < 0 ? axis_attr->i() + rank : axis_attr->i();
    if (axis < 0 || axis >= rank) return;
    if (i == 2) {
      result = in;
      continue;
    }
    if (result.dim_size() != rank) return;
    auto* dim = result.mutable_dim(static_cast<int>(axis));
    int64_t sum = 0;
    if (dim->has_dim_value() && in.dim(static_cast<int>(axis)).has_dim_value() &&
        !__builtin_add_overflow(dim->dim_value(), in.dim(static_cast<int>(axis)).dim_value(), &sum)) {
      dim->set_dim_value(sum);
    } else {
      dim->clear_dim_value();
      dim->clear_dim_param();
    }
  }
  *onnx::getOutputShape(ctx, 0) = result;
}

void Register(const char* name, onnx::InferenceFunction fn) {
  OpSchema schema;
  schema.SetName(name)
      .SetDomain(kDomain)
      .SinceVersion(1)
      .Input(0, "inputs", "", "T", OpSchema::Variadic, /*is_homogeneous=*/false, /*min_arity=*/1)
      .Output(0, "Y", "", "T2")
      .TypeConstraint("T", OpSchema::all_tensor_types(), "")
      .TypeConstraint("T2", OpSchema::all_tensor_types(), "")
      .AllowUncheckedAttributes()
      .TypeAndShapeInferenceFunction(fn);
  onnx::RegisterSchema(std::move(schema));
}

}  // namespace

void RegisterContribShapeRules() {
  static std::once_flag once;
  std::call_once(once, [] {
    auto& domains = onnx::OpSchemaRegistry::DomainToVersionRange::Instance();
    if (domains.Map().count(kDomain) == 0) domains.AddDomainToVersion(kDomain, 1, 1);
    Register("QLinearAdd", BinaryShape);
    Register("QLinearMul", BinaryShape);
    Register("QLinearSigmoid", UnaryShape);
    Register("QLinearLeakyRelu", UnaryShape);
    Register("QLinearSoftmax", UnaryShape);
    Register("QLinearGlobalAveragePool", GlobalPoolShape);
    Register("QLinearAveragePool", AveragePoolShape);
    Register("QLinearConcat", ConcatShape);
  });
}

}  // namespace qopt::ir

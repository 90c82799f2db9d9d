// The ValueInfoProto of a float tensor with fixed dims: graph inputs and
// outputs of the models the bench generators write.
#pragma once

#include <cstdint>
#include <vector>

#include "onnx/onnx_pb.h"

namespace qopt::bench {

inline onnx::ValueInfoProto FloatInfo(const std::vector<int64_t>& dims) {
  onnx::ValueInfoProto info;
  auto* tensor_type = info.mutable_type()->mutable_tensor_type();
  tensor_type->set_elem_type(onnx::TensorProto::FLOAT);
  for (int64_t d : dims) tensor_type->mutable_shape()->add_dim()->set_dim_value(d);
  return info;
}

}  // namespace qopt::bench

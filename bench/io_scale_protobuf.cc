// The floor for a protobuf-based tool, for bench/io_scale.sh: read the file,
// ModelProto::ParseFromArray, SerializeToString, write it back; no IR. The
// input buffer is freed once parsed, as a careful tool would.
//
//   qopt_io_scale_protobuf IN.onnx OUT.onnx
#include <fstream>
#include <iostream>
#include <iterator>
#include <limits>
#include <string>

#include "onnx/onnx_pb.h"

int main(int argc, char** argv) {
  if (argc != 3) {
    std::cerr << "usage: qopt_io_scale_protobuf IN.onnx OUT.onnx\n";
    return 2;
  }
  onnx::ModelProto proto;
  {
    std::ifstream in(argv[1], std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (!in.good() && !in.eof()) {
      std::cerr << "qopt_io_scale_protobuf: cannot read " << argv[1] << "\n";
      return 1;
    }
    if (bytes.size() > static_cast<size_t>(std::numeric_limits<int>::max()) ||
        !proto.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
      std::cerr << "qopt_io_scale_protobuf: cannot parse " << argv[1] << "\n";
      return 1;
    }
  }
  std::string out;
  if (!proto.SerializeToString(&out)) {
    std::cerr << "qopt_io_scale_protobuf: cannot serialize\n";
    return 1;
  }
  std::ofstream file(argv[2], std::ios::binary);
  file.write(out.data(), static_cast<std::streamsize>(out.size()));
  file.close();
  if (!file) {
    std::cerr << "qopt_io_scale_protobuf: cannot write " << argv[2] << "\n";
    return 1;
  }
  return 0;
}

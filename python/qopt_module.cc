// qopt._qopt: the C++ side of `import qopt` (python/qopt/__init__.py is the
// Python side: model kinds, JSON, the registry of Python passes).
//
// Models cross as serialized bytes: the onnx package's protobuf runtime and
// libonnx's are separate, so bytes are the one form both read. Input bytes are
// read where they are (the tensor payloads stay in the caller's buffer, as
// LoadModel leaves them in a mapped file) and output bytes are written once,
// straight into the bytes object returned. A path in is read and a path out
// written by the library itself, as qopt-opt does (atomic temp + rename).
//
// The GIL is released while a pipeline runs; a pass written in Python takes
// it back for its own call. Every C++ error becomes qopt.BadInputError
// (qopt-opt's exit code 2) or qopt.InternalError (3); an exception raised by a
// Python pass is raised again as it was.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "ir/element_type.h"
#include "ir/graph.h"
#include "ir/model.h"
#include "ir/node.h"
#include "ir/serialization.h"
#include "ir/tensor.h"
#include "ir/value.h"
#include "nlohmann/json.hpp"
#include "pass/pass.h"
#include "pass/pass_manager.h"
#include "pass/pipeline.h"
#include "pass/registry.h"
#include "passes/builtin_passes.h"
#include "passes/qdq_census_instrumentation.h"

namespace py = pybind11;

namespace qopt::python {
namespace {

// qopt-opt's exit codes, which the Python exceptions carry as `exit_code`.
constexpr int kExitBadInput = 2;
constexpr int kExitInternal = 3;

// Thrown on the C++ side, translated into qopt.BadInputError / InternalError
// (both qopt.Error, which nothing throws on its own).
struct Failure : std::runtime_error {
  using std::runtime_error::runtime_error;
};
struct BadInput : Failure {
  using Failure::Failure;
};
struct Internal : Failure {
  using Failure::Failure;
};

[[noreturn]] void Raise(const absl::Status& status) {
  const std::string message(status.message());
  if (status.code() == absl::StatusCode::kInternal) throw Internal(message);
  throw BadInput(message);
}

// ---- the graph a Python pass sees -------------------------------------------

// One call of a Python pass. Handles to the model's nodes and values are
// valid only while it lasts: after the call the pass manager collects erased
// nodes, so every handle checks `open` before touching its pointer.
struct PassCall {
  bool open = true;
  int64_t edits = 0;
};

void CheckOpen(const PassCall& call) {
  if (!call.open) throw BadInput("a graph handle was used after the Python pass that received it returned");
}

struct NodeHandle;
struct ValueHandle;

template <typename T>
struct Handle {
  std::shared_ptr<PassCall> call;
  T* ptr = nullptr;
  T* get() const {
    CheckOpen(*call);
    return ptr;
  }
  T* edit() const {
    CheckOpen(*call);
    ++call->edits;
    return ptr;
  }
  bool operator==(const Handle& other) const { return ptr == other.ptr; }
};

struct GraphHandle : Handle<ir::Graph> {};
struct NodeHandle : Handle<ir::Node> {};
struct ValueHandle : Handle<ir::Value> {};

// A constant tensor as a read-only buffer (memoryview(t), numpy.asarray(t))
// that views the model's bytes without copying them; `bytes.owner` keeps them
// alive however long Python holds the view.
struct TensorHandle {
  std::string name;
  ir::ElementType type = ir::ElementType::kUndefined;
  std::vector<int64_t> dims;
  ir::SharedBytes bytes;
};

py::object Wrap(const std::shared_ptr<PassCall>& call, ir::Node* node) {
  if (node == nullptr) return py::none();
  return py::cast(NodeHandle{{call, node}});
}

py::object Wrap(const std::shared_ptr<PassCall>& call, ir::Value* value) {
  if (value == nullptr) return py::none();
  return py::cast(ValueHandle{{call, value}});
}

// `items`: a container of node or value pointers (std::vector, or a node's
// inline operand lists).
template <typename Items>
py::list WrapAll(const std::shared_ptr<PassCall>& call, const Items& items) {
  py::list out;
  for (auto* item : items) out.append(Wrap(call, item));
  return out;
}

py::object WrapTensor(const ir::Tensor* tensor) {
  if (tensor == nullptr) return py::none();
  absl::StatusOr<ir::SharedBytes> bytes = tensor->SharedRawBytes();
  if (!bytes.ok()) Raise(bytes.status());
  return py::cast(TensorHandle{tensor->name(), tensor->type(), tensor->dims(), *std::move(bytes)});
}

// The struct-module format of an element type whose values Python can read
// one by one; empty for the others, which are exposed as bytes.
std::string BufferFormat(ir::ElementType type) {
  switch (type) {
    case ir::ElementType::kFloat: return "f";
    case ir::ElementType::kDouble: return "d";
    case ir::ElementType::kFloat16: return "e";
    case ir::ElementType::kUint8: return "B";
    case ir::ElementType::kInt8: return "b";
    case ir::ElementType::kUint16: return "H";
    case ir::ElementType::kInt16: return "h";
    case ir::ElementType::kUint32: return "I";
    case ir::ElementType::kInt32: return "i";
    case ir::ElementType::kUint64: return "Q";
    case ir::ElementType::kInt64: return "q";
    case ir::ElementType::kBool: return "?";
    default: return "";
  }
}

py::buffer_info TensorBuffer(const TensorHandle& t) {
  // The buffer protocol has no const pointer; `readonly` makes consumers
  // refuse to write through it.
  void* data = const_cast<char*>(t.bytes.bytes.data());
  const auto size = static_cast<py::ssize_t>(t.bytes.bytes.size());
  const std::string format = BufferFormat(t.type);
  int64_t elements = 1;
  for (int64_t d : t.dims) elements *= d;
  const py::ssize_t item = ir::ElementTypeBits(t.type) / 8;
  if (format.empty() || item == 0 || item * elements != size) {
    return py::buffer_info(data, 1, "B", 1, {size}, {py::ssize_t{1}}, /*readonly=*/true);
  }
  std::vector<py::ssize_t> shape(t.dims.begin(), t.dims.end());
  std::vector<py::ssize_t> strides(shape.size());
  py::ssize_t stride = item;
  for (size_t i = shape.size(); i-- > 0;) {
    strides[i] = stride;
    stride *= shape[i];
  }
  return py::buffer_info(data, item, format, static_cast<py::ssize_t>(shape.size()), shape, strides,
                         /*readonly=*/true);
}

// Checks shared by the edits: the handles belong to the graph being edited.
void CheckSameModel(const ir::Graph& graph, const ir::Value* value, const char* what) {
  if (value != nullptr && value->graph()->model() != graph.model()) {
    throw BadInput(absl::StrCat(what, " '", value->name(), "' belongs to another model"));
  }
}

void BindGraph(py::module_& m) {
  py::class_<GraphHandle>(m, "Graph", "The graph a Python pass edits; methods named as in ir/graph.h")
      .def("name", [](const GraphHandle& g) { return g.get()->name(); })
      .def("nodes",
           [](const GraphHandle& g) {
             std::vector<ir::Node*> nodes;
             for (ir::Node* n : g.get()->nodes()) nodes.push_back(n);
             return WrapAll(g.call, nodes);
           })
      .def("num_nodes", [](const GraphHandle& g) { return g.get()->num_nodes(); })
      .def("inputs", [](const GraphHandle& g) { return WrapAll(g.call, g.get()->inputs()); })
      .def("outputs", [](const GraphHandle& g) { return WrapAll(g.call, g.get()->outputs()); })
      .def("initializers", [](const GraphHandle& g) { return WrapAll(g.call, g.get()->initializers()); })
      .def("FindValue",
           [](const GraphHandle& g, const std::string& name) { return Wrap(g.call, g.get()->FindValue(name)); })
      .def(
          "ReplaceAllUsesWith",
          [](const GraphHandle& g, const ValueHandle& from, const ValueHandle& to) {
            ir::Graph* graph = g.get();
            CheckSameModel(*graph, from.get(), "value");
            CheckSameModel(*graph, to.get(), "value");
            g.edit()->ReplaceAllUsesWith(from.get(), to.get());
          },
          py::arg("from_"), py::arg("to"))
      .def("EraseNode",
           [](const GraphHandle& g, const NodeHandle& n) {
             ir::Node* node = n.get();
             if (node->graph() != g.get()) throw BadInput(absl::StrCat(node->Describe(), " is not in this graph"));
             if (node->is_erased()) throw BadInput(absl::StrCat(node->Describe(), " is erased already"));
             if (!node->outputs_unused()) {
               throw BadInput(absl::StrCat("cannot erase ", node->Describe(), ": its outputs are still used"));
             }
             g.edit()->EraseNode(node);
           })
      .def(
          "AddNode",
          [](const GraphHandle& g, const std::string& op_type, const std::vector<std::optional<ValueHandle>>& inputs,
             int num_outputs, const std::optional<NodeHandle>& before, const std::string& domain,
             const std::string& name) {
            ir::Graph* graph = g.get();
            std::vector<ir::Value*> values;
            for (const auto& input : inputs) {
              values.push_back(input ? input->get() : nullptr);
              CheckSameModel(*graph, values.back(), "input");
            }
            if (num_outputs < 0) throw BadInput("num_outputs must not be negative");
            ir::Node* at = before ? before->get() : nullptr;
            if (at != nullptr && (at->graph() != graph || at->is_erased())) {
              throw BadInput(absl::StrCat("cannot insert before ", at->Describe(), ": not a live node of this graph"));
            }
            return Wrap(g.call, g.edit()->AddNode(op_type, values, num_outputs, at, domain, name));
          },
          py::arg("op_type"), py::arg("inputs"), py::arg("num_outputs") = 1, py::arg("before") = py::none(),
          py::arg("domain") = "", py::arg("name") = "");

  py::class_<NodeHandle>(m, "Node", "A node of the graph a Python pass edits; methods named as in ir/node.h")
      .def("op_type", [](const NodeHandle& n) { return n.get()->op_type(); })
      .def("domain", [](const NodeHandle& n) { return n.get()->domain(); })
      .def("name", [](const NodeHandle& n) { return n.get()->name(); })
      .def("Is", [](const NodeHandle& n, const std::string& op) { return n.get()->Is(op); })
      .def("Describe", [](const NodeHandle& n) { return n.get()->Describe(); })
      .def("is_erased", [](const NodeHandle& n) { return n.get()->is_erased(); })
      .def("inputs", [](const NodeHandle& n) { return WrapAll(n.call, n.get()->inputs()); })
      .def("outputs", [](const NodeHandle& n) { return WrapAll(n.call, n.get()->outputs()); })
      .def("input", [](const NodeHandle& n, int i) { return Wrap(n.call, n.get()->input(i)); })
      .def(
          "output", [](const NodeHandle& n, int i) { return Wrap(n.call, n.get()->output(i)); }, py::arg("i") = 0)
      .def("num_inputs", [](const NodeHandle& n) { return n.get()->num_inputs(); })
      .def("num_outputs", [](const NodeHandle& n) { return n.get()->num_outputs(); })
      .def("attribute_names",
           [](const NodeHandle& n) {
             std::vector<std::string> names;
             for (const ir::Attribute& a : n.get()->attributes()) names.push_back(a.name());
             return names;
           })
      .def("GetInt", [](const NodeHandle& n, const std::string& name) { return n.get()->GetInt(name); })
      .def("GetFloat", [](const NodeHandle& n, const std::string& name) { return n.get()->GetFloat(name); })
      .def("GetString",
           [](const NodeHandle& n, const std::string& name) -> py::object {
             std::optional<std::string> s = n.get()->GetString(name);
             if (!s) return py::none();
             return py::bytes(*s);  // ONNX strings are bytes
           })
      .def("GetInts", [](const NodeHandle& n, const std::string& name) { return n.get()->GetInts(name); })
      .def("GetFloats", [](const NodeHandle& n, const std::string& name) { return n.get()->GetFloats(name); })
      .def("GetTensor",
           [](const NodeHandle& n, const std::string& name) { return WrapTensor(n.get()->GetTensor(name)); })
      .def(
          "SetInput",
          [](const NodeHandle& n, int i, const std::optional<ValueHandle>& value) {
            ir::Node* node = n.get();
            if (i < 0 || i >= node->num_inputs()) {
              throw BadInput(absl::StrCat(node->Describe(), " has no input ", i, " (it has ", node->num_inputs(), ")"));
            }
            ir::Value* v = value ? value->get() : nullptr;
            CheckSameModel(*node->graph(), v, "value");
            n.edit()->SetInput(i, v);
          })
      .def("SetInt", [](const NodeHandle& n, const std::string& name, int64_t v) { n.edit()->SetInt(name, v); })
      .def("SetFloat", [](const NodeHandle& n, const std::string& name, float v) { n.edit()->SetFloat(name, v); })
      .def("SetString",
           [](const NodeHandle& n, const std::string& name, const std::string& v) { n.edit()->SetString(name, v); })
      .def("SetInts", [](const NodeHandle& n, const std::string& name,
                         const std::vector<int64_t>& v) { n.edit()->SetInts(name, v); })
      .def("SetFloats", [](const NodeHandle& n, const std::string& name,
                           const std::vector<float>& v) { n.edit()->SetFloats(name, v); })
      .def("RemoveAttribute",
           [](const NodeHandle& n, const std::string& name) { return n.edit()->RemoveAttribute(name); })
      .def("__eq__", [](const NodeHandle& a, const NodeHandle& b) { return a == b; })
      .def("__hash__", [](const NodeHandle& n) { return std::hash<const void*>()(n.ptr); })
      .def("__repr__", [](const NodeHandle& n) { return absl::StrCat("<qopt.Node ", n.get()->Describe(), ">"); });

  py::class_<ValueHandle>(m, "Value", "A value (SSA) of the graph a Python pass edits; methods named as in ir/value.h")
      .def("name", [](const ValueHandle& v) { return v.get()->name(); })
      .def("producer", [](const ValueHandle& v) { return Wrap(v.call, v.get()->producer()); })
      .def("uses",
           [](const ValueHandle& v) {
             // (node, input index) per use; (None, output index) for a graph output.
             py::list out;
             for (const ir::Use& use : v.get()->uses()) out.append(py::make_tuple(Wrap(v.call, use.user), use.index));
             return out;
           })
      .def("has_uses", [](const ValueHandle& v) { return v.get()->has_uses(); })
      .def("is_graph_output", [](const ValueHandle& v) { return v.get()->is_graph_output(); })
      .def("is_constant", [](const ValueHandle& v) { return v.get()->is_constant(); })
      .def("constant", [](const ValueHandle& v) { return WrapTensor(v.get()->constant()); })
      .def("elem_type", [](const ValueHandle& v) { return static_cast<int>(v.get()->elem_type()); })
      .def("shape",
           [](const ValueHandle& v) -> py::object {
             auto shape = v.get()->shape();
             if (!shape) return py::none();
             py::list dims;
             for (const ir::Dim& d : *shape) {
               if (d.value) {
                 dims.append(*d.value);
               } else if (!d.param.empty()) {
                 dims.append(d.param);
               } else {
                 dims.append(py::none());
               }
             }
             return dims;
           })
      .def("__eq__", [](const ValueHandle& a, const ValueHandle& b) { return a == b; })
      .def("__hash__", [](const ValueHandle& v) { return std::hash<const void*>()(v.ptr); })
      .def("__repr__", [](const ValueHandle& v) { return absl::StrCat("<qopt.Value '", v.get()->name(), "'>"); });

  py::class_<TensorHandle>(m, "Tensor", py::buffer_protocol(),
                           "A constant tensor: read-only buffer of its data, shaped as dims where the type allows")
      .def_buffer(&TensorBuffer)
      .def("name", [](const TensorHandle& t) { return t.name; })
      .def("type", [](const TensorHandle& t) { return static_cast<int>(t.type); })
      .def("dims", [](const TensorHandle& t) { return t.dims; })
      .def("__repr__", [](const TensorHandle& t) {
        return absl::StrCat("<qopt.Tensor '", t.name, "' type ", static_cast<int>(t.type), ", ", t.bytes.bytes.size(),
                            " bytes>");
      });
}

// ---- passes written in Python ------------------------------------------------

// What a run keeps about its Python passes: the first exception one raised,
// to raise again once the pipeline has stopped.
struct PythonErrors {
  std::exception_ptr first;
};

class PythonPass : public Pass {
 public:
  PythonPass(std::string name, std::string summary, py::function function, PythonErrors* errors)
      : name_(std::move(name)), summary_(std::move(summary)), function_(std::move(function)), errors_(errors) {}
  ~PythonPass() override {
    py::gil_scoped_acquire gil;
    function_ = py::function();
  }

  absl::string_view name() const override { return name_; }
  absl::string_view summary() const override { return summary_; }

  absl::StatusOr<bool> Run(ir::Model& model, PassContext&) override {
    py::gil_scoped_acquire gil;
    auto call = std::make_shared<PassCall>();
    bool changed = false;
    try {
      py::object result = function_(GraphHandle{{call, &model.graph()}});
      changed = PyObject_IsTrue(result.ptr()) == 1;
    } catch (...) {
      call->open = false;
      edits_ += call->edits;
      if (!errors_->first) errors_->first = std::current_exception();
      return absl::AbortedError(absl::StrCat("the Python function of pass '", name_, "' raised an exception"));
    }
    call->open = false;
    edits_ += call->edits;
    return changed || call->edits > 0;
  }

 private:
  std::string name_;
  std::string summary_;
  py::function function_;
  PythonErrors* errors_;
  Statistic edits_{this, "edits", "Graph API edits the Python function made"};
};

// The built-in passes and the Python ones: {name: (summary, function)}.
void RegisterPasses(PassRegistry& registry, const py::dict& python_passes, PythonErrors* errors) {
  RegisterBuiltinPasses(registry);
  for (auto [key, entry] : python_passes) {
    std::string name = py::cast<std::string>(key);
    auto pair = py::cast<py::tuple>(entry);
    std::string summary = py::cast<std::string>(pair[0]);
    py::function function = py::cast<py::function>(pair[1]);
    absl::Status s = registry.Register([name, summary, function, errors] {
      py::gil_scoped_acquire gil;
      return std::make_unique<PythonPass>(name, summary, function, errors);
    });
    if (!s.ok()) Raise(s);
  }
}

// Checks that `name` can be a Python pass: one pipeline word that names no
// built-in pass or pipeline.
void CheckPassName(const std::string& name) {
  absl::StatusOr<std::vector<PassSpec>> specs = ParsePipeline(name);
  if (!specs.ok() || specs->size() != 1 || (*specs)[0].name != name || !(*specs)[0].options.empty()) {
    throw BadInput(absl::StrCat("'", name, "' is not a pass name (letters, digits and '-', as 'my-pass')"));
  }
  PassRegistry builtins;
  RegisterBuiltinPasses(builtins);
  if (builtins.Contains(name) || builtins.FindPipeline(name) != nullptr) {
    throw BadInput(absl::StrCat("'", name, "' is a built-in pass or pipeline"));
  }
}

// ---- running a pipeline ------------------------------------------------------

// A Python buffer held for as long as the model's tensors view it.
struct HeldBuffer {
  Py_buffer view{};
  ~HeldBuffer() {
    py::gil_scoped_acquire gil;
    PyBuffer_Release(&view);
  }
};

ir::SaveOptions::ExternalData ParseExternalData(const std::string& text) {
  if (text == "auto") return ir::SaveOptions::ExternalData::kAuto;
  if (text == "inline") return ir::SaveOptions::ExternalData::kInline;
  if (text == "external") return ir::SaveOptions::ExternalData::kExternal;
  throw BadInput("external_data must be auto, inline or external");
}

// Runs `pipeline` on `source` (a path, or a bytes-like object holding a
// serialized ModelProto), as qopt-opt does. Writes to `output` when it is
// not empty; returns (bytes of the result when `want_bytes`, else None;
// the report as qopt-report/1 JSON text).
py::tuple RunPipeline(const py::object& source, const std::string& pipeline, const std::string& output, bool want_bytes,
                      bool verify_each, bool verify_shapes_each, const std::string& external_data, bool fsync,
                      const py::dict& python_passes) {
  ir::SaveOptions save_options;
  save_options.external_data = ParseExternalData(external_data);
  save_options.fsync = fsync;

  PythonErrors python_errors;
  PassRegistry registry;
  RegisterPasses(registry, python_passes, &python_errors);
  PassManager manager;
  manager.AddInstrumentation(CreateQdqCensusInstrumentation());
  absl::StatusOr<std::vector<std::unique_ptr<Pass>>> passes = BuildPipeline(pipeline, registry);
  if (!passes.ok()) Raise(passes.status());
  for (auto& pass : *passes) manager.AddPass(std::move(pass));
  manager.set_verify_each(verify_each);
  manager.set_reject_invalid_input(true);
  manager.set_verify_shapes_each(verify_shapes_each);

  std::string path;
  std::shared_ptr<HeldBuffer> held;
  if (py::isinstance<py::str>(source)) {
    path = py::cast<std::string>(source);
  } else {
    held = std::make_shared<HeldBuffer>();
    if (PyObject_GetBuffer(source.ptr(), &held->view, PyBUF_SIMPLE) != 0) {
      PyErr_Clear();
      held.reset();
      throw BadInput("the model must be a path, or bytes holding a serialized ModelProto");
    }
  }

  Report report;
  report.set_input(held ? "<model bytes>" : path);
  report.set_output(output);
  PassContext context{&report};
  std::unique_ptr<ir::Model> model;
  PyObject* result_bytes = nullptr;
  absl::Status status;
  {
    py::gil_scoped_release release;
    try {
      absl::StatusOr<std::unique_ptr<ir::Model>> loaded =
          held ? ir::LoadModelFromBytes(
                     absl::string_view(static_cast<const char*>(held->view.buf), static_cast<size_t>(held->view.len)),
                     held)
               : ir::LoadModel(path);
      if (!loaded.ok()) {
        // Reading is input: whatever went wrong is bad input (qopt-opt's 2).
        status = absl::InvalidArgumentError(loaded.status().message());
      } else {
        model = *std::move(loaded);
        status = manager.Run(*model, context);
      }
      if (status.ok() && !output.empty()) {
        if (absl::Status s = ir::SaveModel(*model, output, save_options); !s.ok()) {
          status = absl::InvalidArgumentError(s.message());
        }
      }
      if (status.ok() && want_bytes) {
        status = ir::SerializeModelInto(*model, [&](size_t size) -> char* {
          py::gil_scoped_acquire gil;
          result_bytes = PyBytes_FromStringAndSize(nullptr, static_cast<py::ssize_t>(size));
          if (result_bytes == nullptr) {
            PyErr_Clear();
            return nullptr;
          }
          return PyBytes_AS_STRING(result_bytes);
        });
      }
    } catch (const std::exception& e) {
      status = absl::InternalError(absl::StrCat("unexpected C++ exception: ", e.what()));
    }
  }
  py::object result = result_bytes != nullptr ? py::reinterpret_steal<py::object>(result_bytes)
                                              : py::object(py::none());
  if (python_errors.first) std::rethrow_exception(python_errors.first);
  if (!status.ok()) Raise(status);
  return py::make_tuple(result, report.ToJson().dump());
}

// Every pass (built-in and Python) and named pipeline, as JSON text.
std::string ListPasses(const py::dict& python_passes) {
  PythonErrors unused;
  PassRegistry registry;
  RegisterPasses(registry, python_passes, &unused);
  nlohmann::json out = nlohmann::json::array();
  for (const std::unique_ptr<Pass>& pass : registry.CreateAll()) {
    nlohmann::json options = nlohmann::json::array();
    for (const OptionBase* option : pass->options()) {
      options.push_back({{"name", option->name()},
                         {"type", option->type_name()},
                         {"default", option->default_text()},
                         {"help", option->help()}});
    }
    nlohmann::json statistics = nlohmann::json::array();
    for (const Statistic* statistic : pass->statistics()) {
      statistics.push_back({{"name", statistic->name()}, {"help", statistic->help()}});
    }
    out.push_back({{"name", std::string(pass->name())},
                   {"kind", python_passes.contains(std::string(pass->name())) ? "python" : "pass"},
                   {"summary", std::string(pass->summary())},
                   {"options", options},
                   {"statistics", statistics}});
  }
  for (const auto& [name, pipeline] : registry.pipelines()) {
    out.push_back(
        {{"name", name}, {"kind", "pipeline"}, {"summary", pipeline.summary}, {"pipeline", pipeline.pipeline}});
  }
  return out.dump();
}

}  // namespace
}  // namespace qopt::python

PYBIND11_MODULE(_qopt, m) {
  using namespace qopt::python;
  m.doc() = "qopt's C++ passes; use the qopt package, which wraps this module";

  static py::exception<Failure> error(m, "Error");
  error.attr("exit_code") = py::none();
  py::register_exception<BadInput>(m, "BadInputError", error.ptr()).attr("exit_code") = kExitBadInput;
  py::register_exception<Internal>(m, "InternalError", error.ptr()).attr("exit_code") = kExitInternal;

  BindGraph(m);
  m.def("run", &RunPipeline, py::arg("source"), py::arg("pipeline"), py::arg("output"), py::arg("want_bytes"),
        py::arg("verify_each"), py::arg("verify_shapes_each"), py::arg("external_data"), py::arg("fsync"),
        py::arg("python_passes"));
  m.def("list_passes", &ListPasses, py::arg("python_passes"));
  m.def("check_pass_name", &CheckPassName, py::arg("name"));
}

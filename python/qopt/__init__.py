"""qopt: compiler passes for quantized ONNX models, from Python.

    import onnx, qopt
    model = onnx.load("model.int8.onnx")
    fused, report = qopt.run(model, "fuse-qdq")
    onnx.save(fused, "model.fused.onnx")

The passes are qopt's C++ library (the module qopt._qopt); docs/python.md
describes the API, docs/passes.md the passes and the report's schema.
"""

import json
import os

from . import _qopt
from ._qopt import BadInputError, Error, InternalError, Graph, Node, Tensor, Value

__all__ = [
    "run",
    "analyze",
    "list_passes",
    "register_pass",
    "unregister_pass",
    "Error",
    "BadInputError",
    "InternalError",
    "Graph",
    "Node",
    "Value",
    "Tensor",
]

# Passes written in Python: {name: (summary, function)}, handed to every run.
_python_passes = {}


def _is_path(model):
    return isinstance(model, (str, os.PathLike))


def _is_model_proto(model):
    # Any protobuf ModelProto (onnx.ModelProto): duck-typed, so importing
    # qopt does not import onnx.
    return hasattr(model, "SerializeToString") and hasattr(model, "ParseFromString")


def _run(model, pipeline, output, want_bytes, verify_each, verify_shapes_each, external_data, fsync):
    if _is_path(model):
        source = os.fspath(model)
    elif _is_model_proto(model):
        source = model.SerializeToString()
    elif isinstance(model, (bytes, bytearray, memoryview)):
        source = model
    else:
        raise BadInputError(
            "the model must be an onnx.ModelProto, bytes of a serialized ModelProto or a path, not %s"
            % type(model).__name__
        )
    data, report = _qopt.run(
        source,
        pipeline,
        "" if output is None else os.fspath(output),
        want_bytes,
        verify_each,
        verify_shapes_each,
        external_data,
        fsync,
        _python_passes,
    )
    return data, json.loads(report)


def run(
    model, pipeline, *, output=None, verify_each=True, verify_shapes_each=False, external_data="auto", fsync=False
):
    """Runs a pass pipeline (qopt-opt's --pass text) on a model.

    `model` is an onnx.ModelProto, bytes holding a serialized ModelProto, or
    a path; the result is of the same kind: a new ModelProto, bytes, or the
    path written (`output`; None when no output is given, as qopt-opt without
    -o writes nothing). `output` also writes a ModelProto or bytes result to
    that file. Returns (result, report), the report a dict with the schema
    of qopt-opt --report=json (docs/passes.md#report-schema).

    Options, as qopt-opt's flags: verify_each (verify the IR after every
    pass), verify_shapes_each (also check shapes after every changing pass),
    external_data ("auto", "inline" or "external", for a file written),
    fsync (flush a file written to disk before renaming it into place).

    Raises BadInputError (exit_code 2) for a bad model, pipeline or option,
    InternalError (exit_code 3) when a pass broke the IR, and whatever a
    Python pass raised, as it raised it.
    """
    if _is_path(model):
        _, report = _run(model, pipeline, output, False, verify_each, verify_shapes_each, external_data, fsync)
        return (None if output is None else os.fspath(output)), report
    data, report = _run(model, pipeline, output, True, verify_each, verify_shapes_each, external_data, fsync)
    if _is_model_proto(model):
        result = type(model)()
        result.ParseFromString(data)
        return result, report
    return data, report


def analyze(model, pipeline):
    """Runs analyses (e.g. "qdq-boundaries,bias-overflow") and returns the report dict.

    The model (ModelProto, bytes or path) is neither changed nor written.
    """
    _, report = _run(model, pipeline, None, False, True, False, "auto", False)
    return report


def list_passes():
    """Every pass and named pipeline, built-in and Python, as a list of dicts.

    A pass: {"name", "kind": "pass" or "python", "summary", "options":
    [{"name", "type", "default", "help"}], "statistics": [{"name", "help"}]};
    a named pipeline: {"name", "kind": "pipeline", "summary", "pipeline"}.
    """
    return json.loads(_qopt.list_passes(_python_passes))


def register_pass(name, function=None, *, summary=""):
    """Registers a Python function as the pass `name` of every later pipeline.

    The function receives the model's qopt.Graph (methods named as in the C++
    ir/graph.h: nodes(), FindValue(), ReplaceAllUsesWith(), EraseNode(),
    AddNode(); Node: op_type(), inputs(), SetInput(), SetInt(), ...) and may
    return whether it changed the model (an edit through the Graph API counts
    as a change anyway). The pass manager verifies the IR after it, as after
    any pass, and collects the nodes it erased. Handles are valid only during
    the call. Usable as a decorator: @qopt.register_pass("my-pass").
    """
    if function is None:
        return lambda f: register_pass(name, f, summary=summary)
    if not callable(function):
        raise BadInputError("the pass '%s' must be a function of a qopt.Graph" % name)
    _qopt.check_pass_name(name)
    if name in _python_passes:
        raise BadInputError("a Python pass '%s' is registered already" % name)
    _python_passes[name] = (summary or "Python pass %s" % getattr(function, "__qualname__", name), function)
    return function


def unregister_pass(name):
    """Removes a Python pass registered with register_pass."""
    if _python_passes.pop(name, None) is None:
        raise BadInputError("no Python pass '%s' is registered" % name)

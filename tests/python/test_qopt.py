"""`import qopt` against qopt-opt, on the bundled PaddleOCR detector.

Run by ctest (python.embedding) with Debian's python3:
    PYTHONPATH=build/python QOPT_OPT=build/tools/qopt-opt/qopt-opt QOPT_SOURCE_DIR=. \\
    QOPT_TEST_WORK=build/tests/python /usr/bin/python3 -m unittest -v tests/python/test_qopt.py

The reference is qopt-opt itself: each of the demo's pipelines (scripts/demo.sh)
is run by the CLI and from Python (path, bytes and onnx.ModelProto in), and
the files must be byte for byte the same.
"""

import json
import os
import subprocess
import unittest

import numpy
import onnx
from onnx import helper, numpy_helper, TensorProto

import qopt

SOURCE_DIR = os.environ.get("QOPT_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", ".."))
QOPT_OPT = os.environ.get("QOPT_OPT", os.path.join(SOURCE_DIR, "build", "tools", "qopt-opt", "qopt-opt"))
WORK = os.environ.get("QOPT_TEST_WORK", os.path.join(SOURCE_DIR, "build", "tests", "python"))
MODEL = os.path.join(SOURCE_DIR, "testdata", "models", "paddleocr-det.onnx")
SHAPE = "x:1x3x320x320"


def work(name):
    return os.path.join(WORK, name)


def cli(model, pipeline, output):
    """qopt-opt MODEL --pass=PIPELINE -o OUTPUT; returns its JSON report."""
    report = output + ".report.json"
    subprocess.run(
        [QOPT_OPT, model, "--pass=" + pipeline, "--report=json", "--report-file=" + report, "-o", output],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    with open(report) as f:
        return json.load(f)


def calibrate(model, output):
    """tools/qopt-calibrate on two seeded random inputs (ONNX Runtime, in Node)."""
    env = dict(os.environ, QOPT_OPT=QOPT_OPT)
    subprocess.run(
        [os.path.join(SOURCE_DIR, "tools", "qopt-calibrate"), model, "--random=2", "--input-shape=" + SHAPE, "-o", output],
        check=True,
        stdout=subprocess.DEVNULL,
        env=env,
    )


def read(path):
    with open(path, "rb") as f:
        return f.read()


def without_timing(report):
    """The report minus what differs from run to run or names the files."""
    report = json.loads(json.dumps(report))
    report.pop("input", None)
    report.pop("output", None)
    for run in report.get("passes", []):
        run.pop("seconds", None)
    return report


def op_types(model):
    return [n.op_type for n in model.graph.node]


def small_model():
    """X -> Relu -> Relu -> LeakyRelu -> Y, and a Neg nobody reads."""
    nodes = [
        helper.make_node("Relu", ["X"], ["A"], name="relu1"),
        helper.make_node("Relu", ["A"], ["B"], name="relu2"),
        helper.make_node("LeakyRelu", ["B"], ["Y"], name="leaky", alpha=0.1),
        helper.make_node("Neg", ["X"], ["Unused"], name="neg"),
    ]
    graph = helper.make_graph(
        nodes,
        "small",
        [helper.make_tensor_value_info("X", TensorProto.FLOAT, [4])],
        [helper.make_tensor_value_info("Y", TensorProto.FLOAT, [4])],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], ir_version=8)


class DemoPipelines(unittest.TestCase):
    """The demo's qopt-opt pipelines from Python give qopt-opt's bytes."""

    @classmethod
    def setUpClass(cls):
        os.makedirs(WORK, exist_ok=True)
        cls.fp32 = work("det.fp32.onnx")
        cls.calib = work("det.calib.json")
        cls.int8 = work("det.int8.onnx")
        cls.s8s8 = work("det.s8s8.onnx")
        cls.dynamic = work("det.dynamic.onnx")
        cls.dynamic_calib = work("det.dynamic.calib.json")
        cli(MODEL, "canonicalize", cls.fp32)
        calibrate(cls.fp32, cls.calib)
        cls.steps = [
            ("1.fp32", MODEL, "canonicalize,op-count{compare=%s}" % MODEL),
            (
                "2.int8",
                cls.fp32,
                "quantize{calibration=%s per-channel=true},op-count{compare=%s},qdq-boundaries,bias-overflow,quant-lint"
                % (cls.calib, cls.fp32),
            ),
            ("3.fused", cls.int8, "fuse-qdq,op-count{compare=%s input-shape=%s}" % (cls.fp32, SHAPE)),
            ("4.auto", cls.int8, "fuse-qdq{float-units=auto input-shape=%s}" % SHAPE),
            ("5.s8s8", cls.fp32, "quantize{calibration=%s per-channel=true activation=s8},qdq-boundaries" % cls.calib),
            ("5.s8s8.fused", cls.s8s8, "fuse-qdq"),
            ("6.dynamic", cls.fp32, "quantize{mode=dynamic},op-count"),
            ("6.dynamic.static", cls.dynamic, "dynamic-to-static{calibration=%s},fuse-qdq" % cls.dynamic_calib),
            ("7.int8-pipeline", cls.fp32, "int8{calibration=%s input-shape=%s}" % (cls.calib, SHAPE)),
        ]
        # The inputs later steps read: the CLI's outputs, as in the demo.
        cls.references = {}
        for name, model, pipeline in cls.steps:
            if name == "6.dynamic.static":
                calibrate(cls.dynamic, cls.dynamic_calib)
            reference = work("cli.%s.onnx" % name)
            cls.references[name] = (reference, cli(model, pipeline, reference))
            if name == "2.int8":
                os.replace(reference, cls.int8)
                cls.references[name] = (cls.int8, cls.references[name][1])
            elif name == "5.s8s8":
                os.replace(reference, cls.s8s8)
                cls.references[name] = (cls.s8s8, cls.references[name][1])
            elif name == "6.dynamic":
                os.replace(reference, cls.dynamic)
                cls.references[name] = (cls.dynamic, cls.references[name][1])

    def test_path_in_path_out(self):
        for i, (name, model, pipeline) in enumerate(self.steps):
            # Every other step flushes its file to disk first: the same bytes.
            fsync = i % 2 == 1
            with self.subTest(step=name, fsync=fsync):
                reference, cli_report = self.references[name]
                output = work("py.%s.onnx" % name)
                if os.path.exists(output):
                    os.remove(output)
                result, report = qopt.run(model, pipeline, output=output, fsync=fsync)
                self.assertEqual(result, output)
                self.assertTrue(read(output) == read(reference), "%s: file differs from qopt-opt's" % name)
                self.assertEqual(without_timing(report), without_timing(cli_report))

    def test_bytes_in_bytes_out(self):
        for name, model, pipeline in self.steps:
            with self.subTest(step=name):
                reference, _ = self.references[name]
                result, report = qopt.run(read(model), pipeline)
                self.assertIsInstance(result, bytes)
                self.assertTrue(result == read(reference), "%s: bytes differ from qopt-opt's file" % name)
                self.assertEqual(report["input"], "<model bytes>")

    def test_model_proto_in_model_proto_out(self):
        for name, model, pipeline in self.steps:
            with self.subTest(step=name):
                reference, cli_report = self.references[name]
                result, report = qopt.run(onnx.load(model), pipeline)
                self.assertIsInstance(result, onnx.ModelProto)
                self.assertTrue(result.SerializeToString() == read(reference), "%s: differs from qopt-opt's" % name)
                self.assertEqual([p["name"] for p in report["passes"]], [p["name"] for p in cli_report["passes"]])

    def test_analyze_reports_what_the_cli_reports(self):
        reference = work("cli.analyze.onnx")
        cli_report = cli(self.int8, "qdq-boundaries,bias-overflow", reference)
        before = read(self.int8)
        report = qopt.analyze(onnx.load(self.int8), "qdq-boundaries,bias-overflow")
        self.assertEqual(report["schema"], "qopt-report/1")
        self.assertIn("qdq-boundaries", report["analyses"])
        self.assertEqual(report["analyses"], cli_report["analyses"])
        self.assertEqual(report["findings"], cli_report["findings"])
        self.assertEqual(read(self.int8), before)



class Listing(unittest.TestCase):
    def test_list_passes_names_what_the_cli_lists(self):
        listing = subprocess.run([QOPT_OPT, "--list-passes"], check=True, capture_output=True, text=True).stdout
        cli_names = sorted(line.split()[0] for line in listing.splitlines() if line.startswith("  ") and line[2:3].isalpha())
        entries = qopt.list_passes()
        self.assertEqual(sorted(p["name"] for p in entries), cli_names)
        quantize = next(p for p in entries if p["name"] == "quantize")
        self.assertEqual(quantize["kind"], "pass")
        self.assertIn("calibration", [o["name"] for o in quantize["options"]])
        self.assertEqual(next(p for p in entries if p["name"] == "fuse-qdq")["kind"], "pipeline")

class PythonPasses(unittest.TestCase):
    def tearDown(self):
        for entry in qopt.list_passes():
            if entry["kind"] == "python":
                qopt.unregister_pass(entry["name"])

    def test_a_python_pass_rewires_and_dce_removes(self):
        @qopt.register_pass("collapse-relu", summary="Relu(Relu(x)) -> Relu(x)")
        def collapse_relu(graph):
            for node in graph.nodes():
                inner = node.input(0).producer() if node.num_inputs() else None
                if node.Is("Relu") and inner is not None and inner.Is("Relu"):
                    graph.ReplaceAllUsesWith(node.output(0), inner.output(0))

        self.assertIn("collapse-relu", [p["name"] for p in qopt.list_passes() if p["kind"] == "python"])
        unchanged, _ = qopt.run(small_model(), "dce")
        self.assertEqual(op_types(unchanged), ["Relu", "Relu", "LeakyRelu"])
        result, report = qopt.run(small_model(), "collapse-relu,dce")
        self.assertEqual(op_types(result), ["Relu", "LeakyRelu"])
        self.assertEqual(result.graph.node[1].input[0], result.graph.node[0].output[0])
        run = report["passes"][0]
        self.assertEqual(run["name"], "collapse-relu")
        self.assertTrue(run["changed"])
        self.assertEqual(run["statistics"], {"edits": 1})

    def test_python_pass_edits_attributes_and_erases_nodes(self):
        def edit(graph):
            for node in graph.nodes():
                if node.op_type() == "LeakyRelu":
                    self.assertAlmostEqual(node.GetFloat("alpha"), 0.1, places=6)
                    node.SetFloat("alpha", 0.25)
                    node.SetInt("qopt_marker", 7)
                if node.op_type() == "Neg":
                    graph.EraseNode(node)

        qopt.register_pass("edit-small", edit)
        result, _ = qopt.run(small_model().SerializeToString(), "edit-small")
        result = onnx.load_from_string(result)
        self.assertEqual(op_types(result), ["Relu", "Relu", "LeakyRelu"])
        attributes = {a.name: helper.get_attribute_value(a) for a in result.graph.node[2].attribute}
        self.assertAlmostEqual(attributes["alpha"], 0.25, places=6)
        self.assertEqual(attributes["qopt_marker"], 7)

    def test_python_pass_sees_weights_without_copies(self):
        fp32 = work("det.canonical.onnx")
        qopt.run(MODEL, "canonicalize", output=fp32)
        data = read(fp32)
        start = numpy.frombuffer(data, numpy.uint8).__array_interface__["data"][0]
        seen = {}

        def look(graph):
            for node in graph.nodes():
                if node.op_type() == "Conv" and node.input(1).is_constant():
                    weight = node.input(1).constant()
                    view = memoryview(weight)
                    self.assertTrue(view.readonly)
                    self.assertEqual(list(view.shape), weight.dims())
                    with self.assertRaises(TypeError):
                        view[(0,) * view.ndim] = 1.0
                    address = numpy.asarray(weight).__array_interface__["data"][0]
                    self.assertTrue(start <= address < start + len(data), "the weights were copied out of the input")
                    seen[node.input(1).name()] = numpy.array(weight)
                    return False

        qopt.register_pass("look-at-weights", look)
        _, report = qopt.run(data, "look-at-weights")
        self.assertFalse(report["passes"][0]["changed"])
        self.assertEqual(len(seen), 1)
        (name, values), = seen.items()
        expected = {t.name: numpy_helper.to_array(t) for t in onnx.load(fp32).graph.initializer}[name]
        numpy.testing.assert_array_equal(values, expected)

    def test_handles_do_not_outlive_the_pass(self):
        kept = []
        qopt.register_pass("keep-handle", lambda graph: kept.append(graph.nodes()[0]))
        qopt.run(small_model(), "keep-handle")
        with self.assertRaises(qopt.BadInputError):
            kept[0].op_type()

    def test_exception_in_a_python_pass_is_raised_as_it_was(self):
        def fail(graph):
            raise ValueError("no thanks")

        qopt.register_pass("fail", fail)
        with self.assertRaisesRegex(ValueError, "no thanks"):
            qopt.run(small_model(), "fail")

    def test_the_verifier_runs_after_a_python_pass(self):
        def make_cycle(graph):
            first = graph.nodes()[0]
            first.SetInput(0, graph.nodes()[1].output(0))

        qopt.register_pass("make-cycle", make_cycle)
        with self.assertRaises(qopt.InternalError) as caught:
            qopt.run(small_model(), "make-cycle")
        self.assertEqual(caught.exception.exit_code, 3)
        self.assertIn("make-cycle", str(caught.exception))

    def test_bad_pass_names_are_refused(self):
        for name in ["dce", "fuse-qdq", "two words", "a,b"]:
            with self.subTest(name=name), self.assertRaises(qopt.BadInputError):
                qopt.register_pass(name, lambda graph: None)


class BadInput(unittest.TestCase):
    def assertBadInput(self, message, function, *args, **kwargs):
        with self.assertRaisesRegex(qopt.BadInputError, message) as caught:
            function(*args, **kwargs)
        self.assertEqual(caught.exception.exit_code, 2)
        self.assertIsInstance(caught.exception, qopt.Error)

    def test_truncated_bytes(self):
        data = read(MODEL)
        self.assertBadInput("not a valid ONNX protobuf", qopt.run, data[: len(data) // 2], "dce")

    def test_missing_path(self):
        self.assertBadInput("no-such-model.onnx", qopt.run, work("no-such-model.onnx"), "dce", output=work("x.onnx"))
        self.assertFalse(os.path.exists(work("x.onnx")))

    def test_unknown_pass(self):
        self.assertBadInput("no-such-pass", qopt.run, small_model(), "dce,no-such-pass")

    def test_bad_option(self):
        self.assertBadInput("alpha", qopt.run, small_model(), "dce{alpha=1}")

    def test_not_a_model(self):
        self.assertBadInput("must be an onnx.ModelProto", qopt.run, 42, "dce")

    def test_exit_code_classes(self):
        self.assertIsNone(qopt.Error.exit_code)
        self.assertEqual(qopt.BadInputError.exit_code, 2)
        self.assertEqual(qopt.InternalError.exit_code, 3)


if __name__ == "__main__":
    unittest.main()

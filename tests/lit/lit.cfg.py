# lit configuration for qopt-opt's tests. Each *.onnxtxt file here is a model
# in ONNX textual syntax whose `# RUN:` lines run %qopt-opt and FileCheck.
#
# Run through CMake (ctest -R lit, or ninja check-lit), which writes
# lit.site.cfg.py with the build's paths, or directly on this folder with
#   lit.py --param qopt_opt=BUILD/tools/qopt-opt/qopt-opt tests/lit
# (optional: --param filecheck=PATH --param exec_root=DIR).
#
# Substitutions:
#   %qopt-opt             the qopt-opt binary
#   %expect-exit N CMD    runs CMD, passes only if it exits with code N exactly
#   FileCheck             the FileCheck binary (FileCheck-14 on Debian)
#   %inputs               the Inputs/ folder (models tests read, not tests)
#   %python               the Python interpreter (for `-m json.tool`)
import os
import shutil
import sys
import tempfile

import lit.formats

config.name = "qopt"
config.test_format = lit.formats.ShTest(execute_external=False)
config.suffixes = [".onnxtxt"]
config.excludes = ["Inputs"]
config.test_source_root = os.path.dirname(os.path.abspath(__file__))


def setting(name, default=None):
    """A --param value, else the site config's, else `default`."""
    return lit_config.params.get(name) or getattr(config, name, None) or default


qopt_opt = setting("qopt_opt")
if not qopt_opt:
    lit_config.fatal("qopt-opt not configured: run through CMake, or pass --param qopt_opt=PATH")
if not os.access(qopt_opt, os.X_OK):
    lit_config.fatal(f"qopt-opt is not an executable: {qopt_opt} (build it first)")

filecheck = setting("filecheck") or shutil.which("FileCheck-14") or shutil.which("FileCheck")
if not filecheck:
    lit_config.fatal("FileCheck not found: install llvm-14-tools or pass --param filecheck=PATH")

python = setting("python", sys.executable)
config.test_exec_root = setting("exec_root") or getattr(config, "qopt_exec_root", None) or os.path.join(
    tempfile.gettempdir(), "qopt-lit")

config.substitutions.append(("%qopt-opt", f'"{qopt_opt}"'))
config.substitutions.append(
    ("%expect-exit", f'"{python}" "{os.path.join(config.test_source_root, "expect_exit.py")}"'))
config.substitutions.append(("%inputs", os.path.join(config.test_source_root, "Inputs")))
config.substitutions.append(("%python", f'"{python}"'))
# A bare FileCheck word (not part of a path or a longer name).
config.substitutions.append((r"(?<![\w/.-])FileCheck(?![\w.-])", f'"{filecheck}"'))

"""Import hygiene: serving from an ONNX bundle never loads torch, onnx or bowgram.export."""

from __future__ import annotations

import json
import subprocess
import sys

SCRIPT = """
import json, sys
from bowgram.runtime import load
identifier = load(sys.argv[1], backend="auto")
answer = identifier.predict(["it is lost on me"])
print(json.dumps({"answer": answer, "modules": sorted(m for m in sys.modules
      if m.split(".")[0] in ("torch", "onnx", "tqdm") or m.startswith("bowgram.export"))}))
"""


def test_onnx_serving_never_imports_torch(tutorial_bundles):
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(tutorial_bundles["langid"])], capture_output=True, text=True, check=True
    )
    result = json.loads(out.stdout)
    assert result["answer"][0][0][0] == "ENGLISH"
    assert result["modules"] == []


def test_cli_prediction_never_imports_torch(tutorial_bundles):
    code = (
        "import sys; from bowgram.runtime.cli import main\n"
        "try:\n    main(['langid', '--bundle', sys.argv[1], 'hola'])\n"
        "except SystemExit:\n    pass\n"
        "print(sorted(m for m in sys.modules\n"
        "             if m.split('.')[0] in ('torch', 'onnx') or m.startswith('bowgram.export')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(tutorial_bundles["langid"])], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip().splitlines()[-1] == "[]"


def test_bowgram_is_a_regular_package():
    """Not a namespace package: a folder named bowgram (a clone) in the current directory would be
    merged into a namespace, and its code imported instead of the installed one."""
    import bowgram

    assert bowgram.__file__ is not None and bowgram.__file__.endswith("__init__.py")

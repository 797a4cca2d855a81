"""Import hygiene: serving from an ONNX bundle never loads torch, onnx or bowgram.export."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

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


def _runtime_imports() -> dict[str, set[str]]:
    """module -> the bowgram.runtime modules it imports anywhere (lazy imports included)."""
    root = Path(__file__).resolve().parents[1] / "runtime"
    graph: dict[str, set[str]] = {}
    files = {}
    for path in root.rglob("*.py"):
        parts = list(path.relative_to(root).with_suffix("").parts)
        is_package = parts[-1] == "__init__"
        files[".".join(["runtime", *parts[:-1]] if is_package else ["runtime", *parts])] = (path, is_package)
    modules = set(files)
    for name, (path, is_package) in files.items():
        package = name.split(".") if is_package else name.split(".")[:-1]
        found = graph.setdefault(name, set())
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.level:
                base = package[: len(package) - node.level + 1]
                target = ".".join([*base, *(node.module.split(".") if node.module else [])])
                for alias in node.names:  # `from . import tasks` imports a module, not a name
                    module = f"{target}.{alias.name}"
                    found.add(module if module in modules else target)
    return {m: {t for t in ts if t in graph and t != m} for m, ts in graph.items()}


def test_the_runtime_has_no_import_circle():
    graph = _runtime_imports()
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(module: str, path: list[str]) -> None:
        state[module] = 1
        for target in sorted(graph[module]):
            assert state.get(target) != 1, "import circle: " + " -> ".join([*path, module, target])
            if target not in state:
                visit(target, [*path, module])
        state[module] = 2

    assert "runtime.manifest" in graph and "runtime.tasks" in graph
    for module in sorted(graph):
        if module not in state:
            visit(module, [])

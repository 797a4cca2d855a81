"""Does a fresh build reproduce the committed default bundles?

Not byte for byte: training on another CPU (or with another thread count) runs other float
kernels, the weights differ in their last bits, and so do the files. What must hold is that it
is the same model: the same answers on the task's held-out data and the same metrics, within the
tolerance each task states (`Reproduction`, in the task's training half). `bowgram build`
checks this against the bundles the runtime loads by default, and fails (exit 5) when a build
no longer reproduces them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bowgram.runtime import tasks
from bowgram.runtime.bundle import default_bundle_path
from bowgram.runtime.errors import VerificationError
from bowgram.runtime.loader import load


@dataclass(frozen=True)
class Reproduction:
    """What 'the same model' means for one task."""

    data: Callable[[], Path]  # the held-out file both bundles are measured on
    texts: Callable[[Path], list[str]]  # its inputs, for the agreement of the top answers
    metrics: dict[str, float]  # metric of `bowgram eval` (dotted for nested) -> largest relative difference
    agreement: float  # least share of inputs whose top answer is the same in both


def _metric(metrics: dict[str, Any], dotted: str) -> float:
    value: Any = metrics
    for part in dotted.split("."):
        value = value[part]
    return float(value)


def _top_answers(predictor: Any, texts: list[str], batch: int = 4096) -> list[str]:
    answers = []
    for start in range(0, len(texts), batch):
        answers += [top[0][0] if top else "" for top in predictor.predict(texts[start : start + batch], k=1)]
    return answers


def compare(built: Path, reference: Path, task: str, rule: Reproduction, data: Path | None = None) -> dict[str, Any]:
    """How far the bundle at `built` is from the one at `reference`, measured on `data` (the
    rule's held-out file by default), and whether that is within the rule."""
    data = data or rule.data()
    new, old = load(built, task=task, backend="onnx"), load(reference, task=task, backend="onnx")
    evaluate = tasks.get(task).evaluate
    measured_new, measured_old = evaluate(new, data), evaluate(old, data)
    metrics = {}
    for name, tolerance in rule.metrics.items():
        a, b = _metric(measured_new, name), _metric(measured_old, name)
        difference = abs(a - b) / abs(b) if b else abs(a - b)
        metrics[name] = {"built": a, "reference": b, "relative_difference": difference, "tolerance": tolerance}
    texts = rule.texts(data)
    same = sum(a == b for a, b in zip(_top_answers(new, texts), _top_answers(old, texts)))
    agreement = same / len(texts) if texts else 1.0
    ok = agreement >= rule.agreement and all(m["relative_difference"] <= m["tolerance"] for m in metrics.values())
    return {
        "task": task,
        "data": data.name,
        "inputs": len(texts),
        "agreement": agreement,
        "min_agreement": rule.agreement,
        "metrics": metrics,
        "ok": ok,
    }


def against(out: Path, reference: Path | None = None) -> tuple[list[dict[str, Any]], list[str]]:
    """Each task's bundle in `out` compared with the one in `reference` (default: the bundles the
    runtime loads by default); also what was not compared, and why."""
    from . import training  # looked up at call time: tests substitute rules measured on small files

    results, skipped = [], []
    for task in tasks.names():
        rule = training.get(task).reproduction
        built, old = out / task, (reference / task if reference else default_bundle_path(task))
        if rule is None:
            skipped.append(f"{task}: the task states no reproduction rule")
        elif not (old / "manifest.json").is_file():
            skipped.append(f"{task}: no bundle to compare with at {old}")
        elif old.resolve() == built.resolve():
            skipped.append(f"{task}: built over the reference itself ({old}); nothing to compare with")
        else:
            results.append(compare(built, old, task, rule))
    return results, skipped


def table(result: dict[str, Any]) -> str:
    """One comparison for people: a line per measure, each with its bound."""
    lines = [
        f"{result['task']}: {'reproduces' if result['ok'] else 'DOES NOT reproduce'} the reference "
        f"(measured on {result['data']})",
        f"  same top answer   {result['agreement']:.4f} of {result['inputs']} inputs "
        f"(at least {result['min_agreement']})",
    ]
    for name, m in result["metrics"].items():
        lines.append(
            f"  {name:<22} {m['built']:.4f} vs {m['reference']:.4f}: "
            f"{m['relative_difference']:.2%} apart (at most {m['tolerance']:.2%})"
        )
    return "\n".join(lines)


def check(results: list[dict[str, Any]]) -> None:
    """Raise when any comparison is outside its tolerance."""
    failed = [r["task"] for r in results if not r["ok"]]
    if failed:
        raise VerificationError(
            f"the build does not reproduce the default bundle of {', '.join(failed)} within tolerance (above); "
            "if the model was changed on purpose, write it over the defaults with 'bowgram build --out artifacts'"
        )

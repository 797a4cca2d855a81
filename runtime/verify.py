"""Proving a bundle: checksums, then its test vectors reproduced on every backend.

`compare_outputs` is the one comparison used both here (stored vectors vs a backend) and by the
exporter (the torch model vs each exported file): names, then shapes, then values, within the
task contract's tolerance.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from . import backends, tasks
from .bundle import Bundle
from .errors import BackendUnavailable, BundleError, VerificationError
from .tasks import Predictor

MAX_EXAMPLES = 10_000  # test vectors a bundle may carry (the exporter writes a few dozen)


def compare_outputs(
    reference: dict[str, np.ndarray], actual: dict[str, np.ndarray], atol: float, rtol: float
) -> dict[str, float]:
    """Max |difference| per output; raises VerificationError naming every failing output.

    Values pass where |actual - reference| <= atol + rtol * |reference| (numpy's allclose rule).
    """
    if sorted(reference) != sorted(actual):
        raise VerificationError(f"output names differ: expected {sorted(reference)}, got {sorted(actual)}")
    report, problems = {}, []
    for name, ref in reference.items():
        got = np.asarray(actual[name])
        if ref.shape != got.shape:
            problems.append(f"{name}: shape {got.shape}, expected {ref.shape}")
            continue
        error = np.abs(ref.astype(np.float64) - got)
        diff = float(np.max(error, initial=0.0))
        report[name] = diff
        excess = error - (atol + rtol * np.abs(ref))
        if not np.all(excess <= 0):
            problems.append(f"{name}: max abs diff {diff:.3g} exceeds {atol:g} + {rtol:g}·|reference|")
        elif ref.ndim == 2 and not np.array_equal(ref.argmax(axis=1), got.argmax(axis=1)):
            problems.append(f"{name}: top-1 differs")
    if problems:
        raise VerificationError("outputs do not match: " + "; ".join(problems))
    return report


def _top_entry(entry: Any, outputs: int) -> bool:
    """[index into the outputs, name, value] as the exporter writes each output it records."""
    return (
        isinstance(entry, list)
        and len(entry) == 3
        and type(entry[0]) is int
        and 0 <= entry[0] < outputs
        and type(entry[2]) in (int, float)
    )


def check_examples(predictor: Predictor, examples: dict[str, Any]) -> dict[str, Any]:
    """Run the bundle's test vectors through a loaded predictor: ids first, then outputs, within
    the file's `tolerance` (the contract's when absent). A vector with no ids has no outputs.

    An int8 model is held to its own recorded outputs (`top_int8`), not to the fp32 ones.
    """
    contract, worst = tasks.get(predictor.task).contract, 0.0
    key = "top_int8" if predictor.precision == "int8" else "top"
    records = examples.get("examples") if isinstance(examples, dict) else None
    tolerance = examples.get("tolerance", {}) if isinstance(examples, dict) else {}
    if not isinstance(tolerance, dict):
        raise BundleError("examples.json: 'tolerance' is not an object")
    atol, rtol = tolerance.get("atol", contract.atol), tolerance.get("rtol", contract.rtol)
    if not all(type(t) in (int, float) and 0 <= t < float("inf") for t in (atol, rtol)):
        raise BundleError(f"examples.json: tolerance atol {atol!r}, rtol {rtol!r}: each must be a number >= 0")
    if isinstance(records, list) and len(records) > MAX_EXAMPLES:
        raise BundleError(f"examples.json holds {len(records)} test vectors, more than {MAX_EXAMPLES}")
    if not isinstance(records, list) or not any(isinstance(ex, dict) and ex.get("ids") for ex in records):
        raise VerificationError("examples.json holds no test vectors: this bundle cannot be verified")
    for ex in records:
        if not (isinstance(ex, dict) and isinstance(ex.get("text"), str) and isinstance(ex.get(key), list)):
            raise VerificationError(f"examples.json: a test vector without text or {key!r}: {str(ex)[:80]}")
        if "units" in ex and predictor.units(ex["text"]) != ex["units"]:
            raise VerificationError(
                f"text recipe mismatch for {ex['text']!r}: words/tokens {predictor.units(ex['text'])[:8]}… "
                "differ from the stored ones"
            )
        ids = predictor.input_ids(ex["text"])
        if ids != ex["ids"]:
            raise VerificationError(
                f"featurizer mismatch for {ex['text']!r}: ids {ids[:8]}… differ from the stored ones"
            )
        if not ids:
            continue
        if not ex[key]:
            raise VerificationError(f"examples.json: no {key!r} outputs for {ex['text']!r}")
        out = predictor.run(np.asarray([ids], dtype=np.int64))[0]
        if not all(_top_entry(t, len(out)) for t in ex[key]):
            raise BundleError(f"examples.json: {key!r} of {ex['text'][:40]!r}: an entry is not [index, name, value]")
        index = [t[0] for t in ex[key]]
        try:
            diff = compare_outputs({"top": np.array([t[2] for t in ex[key]])}, {"top": out[index]}, atol, rtol)
        except VerificationError as exc:
            raise VerificationError(f"{exc} for {ex['text']!r}") from None
        worst = max(worst, diff["top"])
        if int(np.argmax(out)) != index[0]:
            raise VerificationError(f"top-1 for {ex['text']!r} is id {int(np.argmax(out))}, expected {index[0]}")
    return {"examples": len(records), "max_abs_diff": worst}


def verify_bundle(
    path: str | os.PathLike[str], backend_names: list[str] | None = None, trust: bool = False
) -> dict[str, Any]:
    """Checksums of every file, then the test vectors on each named (or every available) backend;
    every model file is loaded once. Formats that can run code as they load (TorchScript, pt2)
    are checked only when named or with `trust=True`."""
    bundle = Bundle.open(path)
    manifest = bundle.manifest
    predictor_class = tasks.get(manifest.task).predictor
    report: dict[str, Any] = {
        "bundle": str(bundle.path),
        "task": manifest.task,
        "files": bundle.verify_checksums(),
        "backends": {},
    }
    results = report["backends"]
    examples = bundle.read_json("examples")
    for fmt, facts in manifest.validation.items():
        if "skipped" in facts and backend_names is None:
            results[fmt] = {"skipped": f"not in this bundle (export skipped it: {facts['skipped']})"}
    for fmt in manifest.model_formats() if backend_names is None else backend_names:
        reason = _reason_to_skip(bundle, fmt, trust) if backend_names is None else None
        if reason:
            results[fmt] = {"skipped": reason}
            continue
        precisions = ["fp32", "int8"] if fmt == "onnx" and manifest.artifact("onnx", "int8") is not None else ["fp32"]
        for precision in precisions:
            name = fmt if precision == "fp32" else f"{fmt}-{precision}"
            try:
                results[name] = check_examples(predictor_class(bundle, backend=fmt, precision=precision), examples)
            except VerificationError as exc:
                raise VerificationError(f"backend {name}: {exc}") from None
    if not any("examples" in r for r in results.values()):
        raise BackendUnavailable("no backend could run this bundle: " + str(results))
    return report


def _reason_to_skip(bundle: Bundle, fmt: str, trust: bool) -> str | None:
    if fmt not in backends.names():
        return f"no backend named {fmt!r} is installed"
    if backends.get(fmt).pickled and not trust:
        return f"{fmt} can run code when loaded: checked only with --trust or --backend {fmt}"
    artifact = bundle.artifact(fmt)
    if artifact.optional and not bundle.present(artifact):
        return f"{artifact.path} is not in this copy of the bundle (optional: it needs torch)"
    if not backends.get(fmt).available():
        return f"needs: pip install {backends.get(fmt).extra}"
    return None

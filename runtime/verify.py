"""Proving a bundle: checksums, then its test vectors reproduced on every backend.

`compare_outputs` is the one comparison used both here (stored vectors vs a backend) and by the
exporter (the torch model vs each exported file): names, then shapes, then values.
"""

from __future__ import annotations

import numpy as np

from .errors import BackendUnavailable, VerificationError

ATOL = 1e-5  # on log-probabilities; our models are small and deterministic
RTOL = 1e-5  # plus this much of |reference|: float32 sums of hundreds of embeddings round differently


def compare_outputs(reference: dict[str, np.ndarray], actual: dict[str, np.ndarray], atol: float = ATOL,
                    rtol: float = RTOL) -> dict:
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


def check_examples(predictor, examples: dict, atol: float = ATOL) -> dict:
    """Run the bundle's test vectors through a loaded predictor: ids first, then outputs.

    An int8 model is held to its own recorded outputs (`top_int8`), not to the fp32 ones.
    """
    backend, worst = predictor.backend, 0.0
    key = "top_int8" if getattr(predictor, "precision", "fp32") == "int8" else "top"
    for ex in examples["examples"]:
        ids = predictor.input_ids(ex["text"])
        if ids != ex["ids"]:
            raise VerificationError(f"featurizer mismatch for {ex['text']!r}: ids {ids[:8]}… differ from the stored ones")
        out = backend.run({backend.input_names[0]: np.asarray([ids], dtype=np.int64)})[backend.output_names[0]][0]
        index = [t[0] for t in ex[key]]
        worst = max(worst, compare_outputs({"top": np.array([t[2] for t in ex[key]])}, {"top": out[index]}, atol)["top"])
        if int(np.argmax(out)) != index[0]:
            raise VerificationError(f"top-1 for {ex['text']!r} is id {int(np.argmax(out))}, expected {index[0]}")
    return {"examples": len(examples["examples"]), "max_abs_diff": worst}


def verify_bundle(path, backend_names: list[str] | None = None, threads: int = 1) -> dict:
    """Checksums of every file, then the test vectors on each named (or every available) backend."""
    from . import backends
    from .bundle import Bundle
    from .loader import load

    bundle = Bundle.open(path)
    report = {"bundle": str(bundle.path), "task": bundle.manifest.task, "files": bundle.verify_checksums(), "backends": {}}
    examples = bundle.read_json("examples")
    for fmt, facts in bundle.manifest.validation.items():
        if "skipped" in facts and backend_names is None:
            report["backends"][fmt] = {"skipped": f"not in this bundle (export skipped it: {facts['skipped']})"}
    for fmt in bundle.manifest.model_formats() if backend_names is None else backend_names:
        if backend_names is None and fmt not in backends.names():
            report["backends"][fmt] = {"skipped": f"no backend named {fmt!r} is installed"}
            continue
        if backend_names is None and not backends.get(fmt).available():
            report["backends"][fmt] = {"skipped": f"needs: pip install {backends.get(fmt).extra}"}
            continue
        predictor = load(bundle.path, backend=fmt, threads=threads)
        report["backends"][fmt] = check_examples(predictor, examples)
        if fmt == "onnx" and bundle.manifest.artifact("onnx", "int8") is not None:
            report["backends"]["onnx-int8"] = check_examples(load(bundle.path, backend="onnx", precision="int8"), examples)
    if not any("examples" in r for r in report["backends"].values()):
        raise BackendUnavailable("no backend could run this bundle: " + str(report["backends"]))
    return report

"""A trained model → a validated bundle: files, test vectors, validation, manifest, atomic commit.

Validation loads every exported file through the runtime's own backends (exactly what users
will run) and compares it with the torch model on the test vectors; any mismatch aborts the
export and nothing is left behind.
"""

from __future__ import annotations

import copy
import logging
import platform
from dataclasses import dataclass
from typing import Callable
import warnings
from pathlib import Path

import numpy as np
import torch

from bowgram.runtime import __version__
from bowgram.runtime.bundle import BundleWriter
from bowgram.runtime.loader import load
from bowgram.runtime.manifest import FORMAT_VERSION
from bowgram.runtime.verify import ATOL, RTOL, check_examples, compare_outputs

from .serialize import OPTIONAL, SERIALIZERS, to_onnx

TOP = 10  # entries of each output kept per test vector


def producer() -> dict:
    import onnx
    import onnxruntime

    return {"bowgram": __version__, "torch": torch.__version__, "onnx": onnx.__version__,
            "onnxruntime": onnxruntime.__version__, "python": platform.python_version()}


@dataclass
class Trained:
    """What a task's `train()` hands to `write_bundle`: the model and everything about it."""

    task: str
    model: torch.nn.Module
    featurizer: dict  # FeaturizerSpec / TokenizerSpec as a dict
    vocab: dict
    names: list[str]  # what each output index means
    example_texts: list[str]  # inputs for the test vectors
    model_info: dict  # architecture, sizes, and "signature" (popped into the manifest's own field)
    metrics: dict
    evaluate: Callable  # predictor -> dev metrics, for the report
    quality: "Quality | None" = None  # gate for the int8 variant
    labels: list[str] | None = None  # classifiers only
    fp16: str | None = None  # ship weights as float16: "embedding" (the table only) or "all"


def write_bundle(out: Path, result: Trained) -> dict:
    """Write, validate and commit a bundle for a trained model.

    An int8 ONNX variant is added if it passes `result.quality`; a training report with plots
    from `result.evaluate`. With `fp16` the shipped files store the embedding table (or all
    weights) as float16 (half the size; the models still compute in float32); validation
    compares against exactly that model.
    """
    task, names, labels, quality = result.task, result.names, result.labels, result.quality
    model_info, featurizer = dict(result.model_info), result.featurizer
    trained = result.model.cpu().eval()
    model = _with_fp16(trained, result.fp16) if result.fp16 else trained
    signature = model_info.pop("signature")
    facts = {"task": task, "format_version": FORMAT_VERSION, "featurizer": featurizer, "model": model_info}
    if labels is not None:
        facts["labels"] = labels
    fields = dict(task=task, producer=producer(), model=model_info, featurizer=featurizer,
                  signature=signature, metrics=result.metrics)
    with BundleWriter(out) as writer:
        writer.write_json("vocab.json", "vocab", result.vocab)
        if labels is not None:
            writer.write_json("labels.json", "labels", labels)
        example = torch.randint(1, model_info["num_inputs"], _example_shape(signature))
        skipped = _serialize_all(model, example, writer, signature, facts)
        writer.write_json("examples.json", "examples", {})  # placeholder: ids come from the runtime
        writer.write_manifest(**fields)
        predictors = {fmt: load(writer.dir, backend=fmt) for fmt in SERIALIZERS if fmt not in skipped}
        examples, validation = _examples_and_validation(model, predictors, result.example_texts, names)
        validation.update({fmt: {"skipped": reason} for fmt, reason in skipped.items()})
        if quality is not None:
            validation["onnx-int8"] = _add_int8(writer, fields, examples, quality, names, trained, signature, facts)
        writer.write_json("examples.json", "examples", examples)
        _add_report(writer, task, fields, result.evaluate(predictors["onnx"]))
        manifest = writer.write_manifest(validation=validation, **fields)
        for fmt in predictors:  # the stored vectors must reproduce on a fresh load
            check_examples(load(writer.dir, backend=fmt), examples)
        if writer.has("model.int8.onnx"):
            check_examples(load(writer.dir, backend="onnx", precision="int8"), examples)
        writer.commit()
    return manifest.to_dict()


@dataclass(frozen=True)
class Quality:
    """A dev-set measure for accepting an int8 variant: `measure(predictor)` → value,
    `acceptable(fp32_value, int8_value)` → bool."""

    name: str
    measure: Callable
    acceptable: Callable
    rule: str


def _add_report(writer: BundleWriter, task: str, fields: dict, dev: dict) -> None:
    """report.md and plots into the bundle; the dev summary into the manifest's metrics."""
    from .report import write_report

    for name in write_report(writer.dir, task, fields["metrics"], dev):
        writer.add(name, "report")
    fields["metrics"]["dev"] = {k: v for k, v in dev.items() if k not in ("per_label", "confusions")}


def _with_fp16(model: torch.nn.Module, which: str) -> torch.nn.Module:
    shipped = copy.deepcopy(model)
    (shipped if which == "all" else shipped.embedding).half()
    return shipped


def _add_int8(writer: BundleWriter, fields: dict, examples: dict, quality: Quality, names: list[str],
              trained: torch.nn.Module, signature: dict, facts: dict) -> dict:
    """Quantize an fp32 ONNX export of the trained model (dynamic, per channel, uint8 weights);
    keep it if it measures up, and store its own outputs on the test vectors."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    fp32 = writer.dir / "fp32.onnx.tmp"
    example = torch.randint(1, fields["model"]["num_inputs"], _example_shape(signature))
    to_onnx(trained, example, fp32, signature, facts)
    root = logging.getLogger()
    level, root.level = root.level, logging.ERROR  # quantize_dynamic logs a pre-processing tip
    try:
        quantize_dynamic(fp32, writer.dir / "model.int8.onnx", per_channel=True,
                         weight_type=QuantType.QUInt8, op_types_to_quantize=["Gather", "MatMul", "Gemm"])
    finally:
        root.level = level
        fp32.unlink()
    fp32_file = next(a for a in writer.artifacts() if a.path == "model.onnx")
    writer.add("model.int8.onnx", "onnx", precision="int8", opset=fp32_file.opset, ir_version=fp32_file.ir_version)
    writer.write_manifest(**fields)
    int8 = load(writer.dir, backend="onnx", precision="int8")
    before, after = quality.measure(load(writer.dir, backend="onnx")), quality.measure(int8)
    facts = {"measure": quality.name, "fp32": before, "int8": after, "rule": quality.rule}
    if not quality.acceptable(before, after):
        writer.remove("model.int8.onnx")
        return {"skipped": f"{quality.name} {before:.4f} -> {after:.4f} breaks the rule: {quality.rule}", **facts}
    backend = int8.backend
    for record in examples["examples"]:
        out = backend.run({backend.input_names[0]: np.asarray([record["ids"]], dtype=np.int64)})[backend.output_names[0]][0]
        record["top_int8"] = [[int(i), names[i], float(out[i])] for i in np.argsort(-out, kind="stable")[:TOP]]
    return {"examples": len(examples["examples"]), **facts}


def _serialize_all(model, example, writer: BundleWriter, signature: dict, facts: dict) -> dict[str, str]:
    """Write every format; returns {format: reason} for the optional ones torch refused."""
    skipped = {}
    for fmt, (name, serialize) in SERIALIZERS.items():
        try:
            extra = serialize(model, example, writer.dir / name, signature, facts) or {}
        except Exception as exc:
            if fmt not in OPTIONAL:
                raise
            reason = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
            warnings.warn(f"{fmt} skipped: this torch ({torch.__version__}) refused to write it ({reason}); "
                          "the bundle has the other formats", stacklevel=2)
            skipped[fmt] = reason
            continue
        writer.add(name, fmt, **extra)
    return skipped


def _example_shape(signature: dict) -> tuple[int, ...]:
    return tuple(3 if isinstance(d, str) and d == "batch" else 7 if isinstance(d, str) else d
                 for d in signature["inputs"][0]["shape"])


def _examples_and_validation(model, predictors: dict, texts: list[str], names: list[str]):
    any_p = predictors["onnx"]
    input_name, output_names = any_p.backend.input_names[0], any_p.backend.output_names
    output_name = output_names[0]
    records, worst = [], {fmt: 0.0 for fmt in predictors}
    for text in texts:
        ids = any_p.input_ids(text)
        if not ids:
            continue
        batch = np.asarray([ids], dtype=np.int64)
        with torch.no_grad():
            out = model(torch.from_numpy(batch))
        outputs = dict(zip(output_names, [t.numpy() for t in (out if isinstance(out, tuple) else (out,))]))
        for fmt, predictor in predictors.items():
            diff = compare_outputs(outputs, predictor.backend.run({input_name: batch}))
            worst[fmt] = max(worst[fmt], max(diff.values()))
        reference = outputs[output_name]
        top = np.argsort(-reference[0], kind="stable")[:TOP]
        records.append({"text": text, "ids": ids,
                        "top": [[int(i), names[i], float(reference[0, i])] for i in top]})
    examples = {"input": input_name, "output": output_name, "examples": records}
    validation = {fmt: {"examples": len(records), "max_abs_diff": worst[fmt], "atol": ATOL, "rtol": RTOL, "top1_identical": True}
                  for fmt in predictors}
    return examples, validation

"""A trained model → a validated bundle, in one straight line (`write_bundle`):

1. write the data files (vocab, labels) and serialize every model format (ONNX, pt2, TorchScript);
2. load each model file once, through the runtime's own backends (exactly what users will run),
   and compare it with the torch model in memory on the test vectors, whose ids come from the
   runtime's predictor;
3. build the int8 ONNX candidate and keep it only if it passes the task's quality gate;
4. write examples.json, the report and the manifest, once each;
5. one fresh-load check of the finished folder (`verify_bundle`: each model file's second load);
6. commit atomically.

Any mismatch aborts the export and nothing is left behind. The exporter knows no task: the
task's contract, predictor and `Trained` record say everything task-specific.
"""

from __future__ import annotations

import copy
import platform
import shutil
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch

from bowgram.runtime import __version__, charclass, tasks
from bowgram.runtime.backends import Backend, open_model
from bowgram.runtime.bundle_writer import BundleWriter, writing
from bowgram.runtime.errors import InputError
from bowgram.runtime.manifest import FORMAT_VERSION
from bowgram.runtime.tasks import Predictor
from bowgram.runtime.verify import compare_outputs, verify_bundle

from .quantize import quantize_weights
from .serialize import OPTIONAL, SERIALIZERS, example_input, to_onnx
from .training import FORMATS, Trained, checked_formats

TOP = 10  # entries of the first output kept per test vector
INT8 = "model.int8.onnx"


def producer() -> dict[str, str]:
    import onnx
    import onnxruntime

    return {
        "bowgram": __version__,
        "torch": torch.__version__,
        "onnx": onnx.__version__,
        "onnxruntime": onnxruntime.__version__,
        "python": platform.python_version(),
    }


def write_bundle(out: Path, trained: Trained, formats: tuple[str, ...] = FORMATS) -> dict[str, Any]:
    """Write, validate and commit a bundle for a trained model; returns its manifest.

    `formats` leaves out the optional ones (ONNX, the portable form, is always written): a bundle
    of ONNX alone exports in a fraction of the time, and is what the runtime serves.

    With `trained.fp16` the shipped files store the embedding table (or the big weight matrices) as float16
    (half the size; the models still compute in float32); validation compares against exactly
    that model. The int8 variant is quantized from the float32 model.
    """
    return _Export(trained, formats).write(Path(out))


class _Export:
    """One export's state, so each step below is a short method of few parameters."""

    def __init__(self, trained: Trained, formats: tuple[str, ...] = FORMATS):
        self.trained, self.formats = trained, checked_formats(formats)
        self.task = tasks.get(trained.task)
        self.contract = self.task.contract
        self.model = trained.model.cpu().eval()
        self.shipped = _with_fp16(self.model, trained.fp16) if trained.fp16 else self.model
        self.example = example_input(self.contract, trained.sizes)
        self.facts = {
            "task": trained.task,
            "format_version": FORMAT_VERSION,
            "featurizer": trained.featurizer,
            "model": trained.model_info,
            **trained.facts,
        }
        self.fields: dict[str, Any] = dict(
            task=trained.task,
            producer=producer(),
            model=trained.model_info,
            featurizer=trained.featurizer,
            signature=self.contract.signature(trained.sizes),
            metrics=trained.metrics,
        )

    def write(self, out: Path) -> dict[str, Any]:
        with BundleWriter(out) as self.writer, writing(self.writer.out):
            self._check_space()
            for name, (fmt, data) in self.trained.data_files.items():
                self.writer.write_json(name, fmt, data)
            validation: dict[str, Any] = {fmt: {"skipped": why} for fmt, why in self._serialize().items()}
            draft = self.writer.draft(**self.fields)
            engines = {a.format: open_model(draft, a.format) for a in draft.manifest.artifacts if a.is_model}
            predictor = self.task.predictor(draft, backend=engines["onnx"])
            examples = self._test_vectors(predictor, engines, validation)
            if self.trained.quality is not None and "int8" in self.formats:
                validation["onnx-int8"] = self._int8(predictor, examples)
            self._report(self.trained.evaluate(predictor))
            self.writer.write_json("examples.json", "examples", examples)
            manifest = self.writer.write_manifest(validation=validation, **self.fields)
            verify_bundle(self.writer.dir, trust=True)  # the files it has just written
            self.writer.commit()
        return manifest.to_dict()

    def _check_space(self) -> None:
        """Refuse before writing when the disk cannot hold the bundle: torch aborts the whole process
        (no exception) when a write fails half-way."""
        weights = sum(p.numel() * p.element_size() for p in self.model.parameters())
        needed = 6 * weights + (64 << 20)  # every format, the int8 source and copy, the report; generously
        free = shutil.disk_usage(self.writer.dir).free
        if free < needed:
            raise InputError(
                f"not enough space to write the bundle next to {self.writer.out}: about {needed >> 20} MB needed, "
                f"{free >> 20} MB free; the previous bundle is unchanged"
            )

    def _serialize(self) -> dict[str, str]:
        """Write every format; returns {format: reason} for the optional ones torch refused."""
        skipped = {}
        for fmt, (name, serialize) in SERIALIZERS.items():
            if fmt != "onnx" and fmt not in self.formats:
                skipped[fmt] = "not asked for (--formats)"
                continue
            try:
                extra = serialize(self.shipped, self.example, self.writer.dir / name, self.contract, self.facts) or {}
            except Exception as exc:
                if fmt not in OPTIONAL:
                    raise
                reason = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
                warnings.warn(
                    f"{fmt} skipped: this torch ({torch.__version__}) refused to write it ({reason}); "
                    "the bundle has the other formats",
                    stacklevel=2,
                )
                skipped[fmt] = reason
                continue
            self.writer.add(name, fmt, **extra)
        return skipped

    def _test_vectors(
        self, predictor: Predictor, engines: dict[str, Backend], validation: dict[str, Any]
    ) -> dict[str, Any]:
        """Each example text (the task's, then `charclass.HARD_TEXTS`) through the runtime's ids,
        torch, and every engine; the records keep torch's top outputs, `validation` the worst
        difference per format. A text without ids is kept with empty `ids` and `top`: no model
        runs for it (language ID answers `und`)."""
        contract, names = self.contract, predictor.output_names()
        records: list[dict[str, Any]] = []
        worst = dict.fromkeys(engines, 0.0)
        for text in dict.fromkeys([*self.trained.example_texts, *charclass.HARD_TEXTS]):
            ids = predictor.input_ids(text)
            if not ids:
                records.append({"text": text, "units": predictor.units(text), "ids": [], "top": []})
                continue
            batch = np.asarray([ids], dtype=np.int64)
            with torch.no_grad():
                out = self.shipped(torch.from_numpy(batch))
            reference = dict(
                zip(contract.output_names, [t.numpy() for t in (out if isinstance(out, tuple) else (out,))])
            )
            for fmt, engine in engines.items():
                diff = compare_outputs(
                    reference, engine.run({engine.input_names[0]: batch}), contract.atol, contract.rtol
                )
                worst[fmt] = max(worst[fmt], *diff.values())
            first = reference[contract.output_names[0]][0]
            records.append({"text": text, "units": predictor.units(text), "ids": ids, "top": _top(first, names)})
        for fmt in engines:
            validation[fmt] = {
                "examples": len(records),
                "max_abs_diff": worst[fmt],
                "atol": contract.atol,
                "rtol": contract.rtol,
                "top1_identical": True,
            }
        return {
            "input": contract.input_names[0],
            "output": contract.output_names[0],
            # a port passes when its ids are equal and every value v of `top` (torch's, or the int8
            # model's own in `top_int8`) is met within atol + rtol * |v|
            "tolerance": {"atol": contract.atol, "rtol": contract.rtol},
            "examples": records,
        }

    def _int8(self, fp32: Predictor, examples: dict[str, Any]) -> dict[str, Any]:
        """Quantize the float32 model's ONNX export (weights only, int8 per channel); keep
        it if it passes the quality gate, and record its own outputs on the test vectors."""
        quality, writer = self.trained.quality, self.writer
        assert quality is not None
        source = writer.dir / "model.onnx"
        if self.shipped is not self.model:  # the shipped file holds float16 weights: export float32 aside
            source = writer.dir / "fp32.onnx.tmp"
            to_onnx(self.model, self.example, source, self.contract, self.facts)
        quantize_weights(source, writer.dir / INT8)
        if source.name != "model.onnx":
            source.unlink()
        fp32_file = writer.draft(**self.fields).manifest.artifact("onnx")
        assert fp32_file is not None
        writer.add(INT8, "onnx", precision="int8", opset=fp32_file.opset, ir_version=fp32_file.ir_version)
        int8 = self.task.predictor(writer.draft(**self.fields), backend="onnx", precision="int8")
        before, after = quality.measure(fp32), quality.measure(int8)
        facts = {"measure": quality.name, "fp32": before, "int8": after, "rule": quality.rule}
        if not quality.acceptable(before, after):
            writer.remove(INT8)
            return {"skipped": f"{quality.name} {before:.4f} -> {after:.4f} breaks the rule: {quality.rule}", **facts}
        names = int8.output_names()
        for record in examples["examples"]:
            ids = np.asarray([record["ids"]], dtype=np.int64)
            record["top_int8"] = _top(int8.run(ids)[0], names) if record["ids"] else []
        return {"examples": len(examples["examples"]), **facts}

    def _report(self, dev: dict[str, Any]) -> None:
        """report.md and plots into the bundle; the dev scalars into the manifest's metrics."""
        from .report import write_report
        from .training import get

        table = self.task.metrics_table(dev)
        plots = get(self.trained.task).plots
        for name in write_report(self.writer.dir, self.trained, table, lambda folder, plt: plots(folder, dev, plt)):
            self.writer.add(name, "report")
        self.fields["metrics"]["dev"] = {k: v for k, v in dev.items() if not isinstance(v, (dict, list))}


def _top(values: np.ndarray, names: list[str]) -> list[list[Any]]:
    """The TOP largest entries as [index, name, value], largest first."""
    return [[int(i), names[i], float(values[i])] for i in np.argsort(-values, kind="stable")[:TOP]]


FP16_MIN_VALUES = 1 << 15  # "matrices": weights at least this big are stored as float16


def _with_fp16(model: torch.nn.Module, which: str) -> torch.nn.Module:
    """A copy whose embedding table ("embedding") or big weight matrices ("matrices") are float16.
    Biases and small layers stay float32: a few KB, and the ONNX exporter keeps their names
    (it folds a small float16 tensor and its cast into a new, unnamed one), which the runtime
    reads a factored model's weights by (class_search.py)."""
    shipped = copy.deepcopy(model)
    if which == "embedding":
        shipped.embedding.half()
    else:
        for param in shipped.parameters():
            if param.numel() >= FP16_MIN_VALUES:
                param.data = param.data.half()
    return shipped

"""The manifest: what a bundle holds and how to use it, as frozen dataclasses ↔ `manifest.json`.

It owns the format version. Reading checks every required field and names the one that is
wrong; it does not touch the files the manifest lists (that is `bundle.py`), nor check the
task-specific parts (`featurizer`, `signature`, `model` sizes: the task's predictor does that).

Format versions: 3 (written now) states the text recipes as Unicode operations a port can
reproduce: the next-word tokenizer names its pattern (`words-v2`: marks stay inside words) and
records `unicode_version` and `casefold` (full case folding) instead of a Python regex and
`lowercase`; it dropped the tokenizer's `sequences` (a training choice); the language-ID
featurizer classes code points of every plane (before, code points from U+32400 up, e.g. the
variation selectors U+E0100..E01EF, were boundaries) and its int8 model quantizes weights only.
2 dropped fields nothing read (featurizer `boundary_codepoint`, tokenizer `bos`/`eos`/`unk`,
model `num_inputs`) and made the tokenizer's `apostrophes` a plain list of characters.
Versions 1 and 2 still load, with their own tokenizer recipe.
The ONNX model files and the data files must be present in every copy of a bundle; the torch
formats (`OPTIONAL_FORMATS`) may be left out of a copy (the runtime wheel does), and a loader
or `verify` reports them absent rather than failing.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any

from .errors import BundleError
from .task_names import names as task_names

FORMAT_VERSION = 3
READABLE_VERSIONS = (1, 2, 3)
MODEL_FORMATS = ("onnx", "pt2", "torchscript")  # in order of preference for backend="auto"
OPTIONAL_FORMATS = ("pt2", "torchscript")  # need torch to run: a copy of a bundle may leave them out
PRECISIONS = ("fp32", "int8")


@dataclass(frozen=True)
class Artifact:
    """One file of the bundle. `format` is a model format or a data role (vocab, labels, …)."""

    path: str
    format: str
    sha256: str
    size: int
    opset: int | None = None
    ir_version: int | None = None
    precision: str = "fp32"

    @property
    def is_model(self) -> bool:
        return self.format in MODEL_FORMATS

    @property
    def optional(self) -> bool:
        return self.format in OPTIONAL_FORMATS


@dataclass(frozen=True)
class Manifest:
    format_version: int
    task: str
    created: str  # ISO 8601, UTC
    producer: dict[str, str]  # versions of bowgram, torch, onnx, python
    model: dict[str, Any]  # architecture name, hyperparameters, and the sizes the task checks
    featurizer: dict[str, Any]  # FeaturizerSpec or TokenizerSpec, with "kind"
    signature: dict[str, Any]  # {"inputs": [{name, dtype, shape}], "outputs": [...]}: see contract.py
    artifacts: tuple[Artifact, ...]
    validation: dict[str, Any] = field(default_factory=dict)  # per model file: max abs diff, top-1 agreement
    metrics: dict[str, Any] = field(default_factory=dict)  # training and dev metrics

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["artifacts"] = [{k: v for k, v in a.items() if v is not None} for a in data["artifacts"]]
        return data

    @classmethod
    def from_dict(cls, data: object) -> Manifest:
        if not isinstance(data, dict):
            raise BundleError("manifest.json: expected a JSON object")
        version = data.get("format_version")
        if type(version) is not int:  # exact: true is no format
            raise BundleError("manifest.json: field 'format_version' is missing or not an integer")
        if version > FORMAT_VERSION:
            raise BundleError(
                f"bundle format_version {version} is newer than this bowgram reads "
                f"({FORMAT_VERSION}); upgrade bowgram to load it"
            )
        if version not in READABLE_VERSIONS:
            raise BundleError(f"bundle format_version {version} is not one this bowgram reads {READABLE_VERSIONS}")
        required = [f.name for f in fields(cls) if f.name not in ("validation", "metrics")]
        for name in required:
            if name not in data:
                raise BundleError(f"manifest.json: required field '{name}' is missing")
        if data["task"] not in task_names():
            raise BundleError(f"manifest.json: field 'task' is {data['task']!r}, expected one of {task_names()}")
        for name in ("producer", "model", "featurizer", "signature"):
            if not isinstance(data[name], dict):
                raise BundleError(f"manifest.json: field '{name}' is not an object")
        if not isinstance(data["artifacts"], list):
            raise BundleError("manifest.json: field 'artifacts' is not a list")
        return cls(
            **{k: data[k] for k in required if k != "artifacts"},
            artifacts=tuple(_artifact(a, i) for i, a in enumerate(data["artifacts"])),
            validation=data.get("validation", {}),
            metrics=data.get("metrics", {}),
        )

    def artifact(self, fmt: str, precision: str = "fp32") -> Artifact | None:
        for a in self.artifacts:
            if a.format == fmt and a.precision == precision:
                return a
        return None

    def model_formats(self) -> list[str]:
        present = {a.format for a in self.artifacts if a.is_model}
        return [f for f in MODEL_FORMATS if f in present] + sorted(present - set(MODEL_FORMATS))


def spec_fields(cls: Any, data: object, kind: str, where: str) -> dict[str, Any]:
    """The fields of a featurizer/tokenizer spec dataclass `cls` from a manifest's `where` object:
    `kind` must match, no field may be unknown, each must have its default's type."""
    if not isinstance(data, dict):
        raise BundleError(f"manifest.json: '{where}' is not an object")
    if data.get("kind") != kind:
        raise BundleError(f"{where}.kind is {data.get('kind')!r}, this task reads {kind!r}")
    known = {f.name: f for f in fields(cls)}
    unknown = sorted(set(data) - set(known) - {"kind"})
    if unknown:
        raise BundleError(f"{where}: unknown fields {unknown}; a newer bowgram may read this bundle")
    values = {k: v for k, v in data.items() if k in known}
    for name, value in values.items():
        expected = type(known[name].default)
        if type(value) is not expected:  # exact: a bool is not an int here, nor an int a bool
            raise BundleError(f"{where}.{name} is {value!r}, expected a {expected.__name__}")
    return values


def _artifact(data: object, index: int) -> Artifact:
    known = {f.name for f in fields(Artifact)}
    if not isinstance(data, dict):
        raise BundleError(f"manifest.json: artifacts[{index}] is not an object")
    for name in ("path", "format", "sha256", "size"):
        if name not in data:
            raise BundleError(f"manifest.json: artifacts[{index}] lacks field '{name}'")
    unknown = sorted(set(data) - known)
    if unknown:
        raise BundleError(f"manifest.json: artifacts[{index}] has unknown fields {unknown}")
    path = data["path"]
    if not isinstance(path, str) or not path or any(c in path for c in "/\\\0") or path in (".", "..", "manifest.json"):
        raise BundleError(
            f"manifest lists {path!r}, which is not a plain file name inside the bundle "
            "(outside the bundle, or not a file of it)"
        )
    if (
        not isinstance(data["size"], int)
        or not isinstance(data["sha256"], str)
        or data.get("precision", "fp32") not in PRECISIONS
    ):
        raise BundleError(f"manifest.json: artifacts[{index}] has a bad size, sha256 or precision")
    return Artifact(**data)

"""The manifest: what a bundle holds and how to use it, as frozen dataclasses ↔ `manifest.json`.

It owns the format version. Reading checks every required field and names the one that is
wrong; it does not touch the files the manifest lists (that is `bundle.py`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields

from .errors import BundleError

FORMAT_VERSION = 1
TASKS = ("langid", "nextword")
MODEL_FORMATS = ("onnx", "pt2", "torchscript")  # in order of preference for backend="auto"


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


@dataclass(frozen=True)
class Manifest:
    format_version: int
    task: str
    created: str  # ISO 8601, UTC
    producer: dict  # versions of bowgram, torch, onnx, python
    model: dict  # architecture name and hyperparameters
    featurizer: dict  # FeaturizerSpec or TokenizerSpec, with "kind"
    signature: dict  # {"inputs": [{name, dtype, shape}], "outputs": [...]}, symbolic axes as str
    artifacts: tuple[Artifact, ...]
    validation: dict = field(default_factory=dict)  # per model file: max abs diff, top-1 agreement
    metrics: dict = field(default_factory=dict)  # training and dev metrics

    def to_dict(self) -> dict:
        data = asdict(self)
        data["artifacts"] = [{k: v for k, v in a.items() if v is not None} for a in data["artifacts"]]
        return data

    @classmethod
    def from_dict(cls, data: object) -> "Manifest":
        if not isinstance(data, dict):
            raise BundleError("manifest.json: expected a JSON object")
        version = data.get("format_version")
        if not isinstance(version, int):
            raise BundleError("manifest.json: field 'format_version' is missing or not an integer")
        if version > FORMAT_VERSION:
            raise BundleError(
                f"bundle format_version {version} is newer than this bowgram reads "
                f"({FORMAT_VERSION}); upgrade bowgram to load it"
            )
        required = [f.name for f in fields(cls) if f.name not in ("validation", "metrics")]
        for name in required:
            if name not in data:
                raise BundleError(f"manifest.json: required field '{name}' is missing")
        if data["task"] not in TASKS:
            raise BundleError(f"manifest.json: field 'task' is {data['task']!r}, expected one of {TASKS}")
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


def _artifact(data: object, index: int) -> Artifact:
    known = {f.name for f in fields(Artifact)}
    if not isinstance(data, dict):
        raise BundleError(f"manifest.json: artifacts[{index}] is not an object")
    for name in ("path", "format", "sha256", "size"):
        if name not in data:
            raise BundleError(f"manifest.json: artifacts[{index}] lacks field '{name}'")
    return Artifact(**{k: v for k, v in data.items() if k in known})

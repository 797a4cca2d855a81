"""The training half of a task, as the exporter and the CLI see it.

Each task's runtime `Task` names its training half (`Task.trainer`, e.g.
`bowgram.export.langid_training:TRAINING`): a `TaskTraining` with the task's configs, its `train`
function, its CLI options and its extra report plots. `train` returns a `Trained`, which is all
the exporter needs to write, validate and commit a bundle; the exporter knows no task.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bowgram.runtime import tasks
from bowgram.runtime.errors import InputError

if TYPE_CHECKING:
    import torch

    from .reproduce import Reproduction


FORMATS = ("onnx", "int8", "pt2", "torchscript")  # what an export can write; ONNX, the portable form, always


def checked_formats(formats: tuple[str, ...]) -> tuple[str, ...]:
    """`formats` with ONNX first, refused when it names one bowgram does not write."""
    unknown = sorted(set(formats) - set(FORMATS))
    if unknown:
        raise InputError(f"unknown format(s) {', '.join(unknown)}; bowgram writes {', '.join(FORMATS)}")
    return tuple(dict.fromkeys(("onnx", *formats)))


@dataclass(frozen=True)
class Source:
    """One ingredient of the training data, as the manifest (`model.training_data`) and report.md
    record it."""

    name: str
    rows: int
    licence: str
    origin: str  # version, commit or snapshot
    credit: str = ""  # the attribution its licence asks for

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def given(cls, data: str, rows: int) -> Source:
        """The tutorial's data, or the user's own file."""
        if data == "tutorial":
            return cls(
                "the PyTorch 'Deep Learning for NLP' tutorial's data",
                rows,
                "BSD-3-Clause (pytorch/tutorials)",
                "export/tutorial.py",
            )
        return cls(f"training file {Path(data).name}", rows, "as its owner says", "given to bowgram train")


@dataclass(frozen=True)
class Quality:
    """The gate for an int8 variant: `measure(predictor)` → a dev value; the variant is kept
    when `acceptable(fp32_value, int8_value)`; `rule` says so in words."""

    name: str
    measure: Callable[[Any], float]
    acceptable: Callable[[float, float], bool]
    rule: str


@dataclass
class Trained:
    """What a task's `train()` hands to the exporter: the model and everything about it."""

    task: str
    model: torch.nn.Module  # float32, as trained
    featurizer: dict[str, Any]  # FeaturizerSpec / TokenizerSpec as a dict
    data_files: dict[str, tuple[str, Any]]  # file name -> (manifest format, JSON data): vocab, labels
    sizes: dict[str, int]  # the contract's fixed axes (labels, vocab, context, top_k)
    model_info: dict[str, Any]  # architecture and hyperparameters, for the manifest
    metrics: dict[str, Any]  # history, best epoch, and whatever the task reports
    example_texts: list[str]  # inputs for the test vectors
    evaluate: Callable[[Any], dict[str, Any]]  # predictor -> dev metrics, for the report and the manifest
    quality: Quality | None = None  # gate for the int8 variant; None: no int8 variant
    fp16: str | None = None  # ship weights as float16: "embedding" (the table only) or "matrices" (the big ones)
    facts: dict[str, Any] = field(default_factory=dict)  # task facts carried inside the model files


@dataclass(frozen=True)
class TaskTraining:
    task: str
    default: Any  # the config of the default model (`--data default`)
    tutorial: Any  # the tutorial's config (`--data tutorial`)
    train: Callable[[str, Any], Trained]  # (data, config) -> Trained
    options: Sequence[Callable[[Any], Any]]  # click options of `bowgram train TASK`, named after config fields
    plots: Callable[[Path, dict[str, Any], Any], list[str]] = lambda folder, dev, plt: []  # extra report plots
    help: str = ""
    reproduction: Reproduction | None = None  # when a rebuilt default bundle is the same model (reproduce.py)


def default_data(folder: str, name: str) -> Path:
    """A file of the default corpora (`export/data/`): in a clone and in the sdist, not in the
    wheel, which carries only what serving needs."""
    path = Path(str(resources.files("bowgram.export") / "data" / folder / name))
    if not path.is_file():
        raise InputError(
            f"the default training data ({name}) is not in this installation: it ships in the source "
            "(a git clone or the sdist: pip install -e .); or train on your own file with --data FILE"
        )
    return path


def get(task: str) -> TaskTraining:
    """The training half of a registered task."""
    module, _, attribute = tasks.get(task).trainer.partition(":")
    training: TaskTraining = getattr(importlib.import_module(module), attribute)
    return training

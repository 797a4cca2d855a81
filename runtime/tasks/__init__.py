"""Tasks: everything task-specific, one module per task, found through one registry.

A task module (`tasks/langid.py`, `tasks/nextword.py`) defines `TASK`, a `Task` that owns its
predictor class, its export contract, how `bowgram eval` measures it and prints the result,
and where its training half lives (a dotted path into `bowgram.export`, imported only there).
Nothing outside the task modules branches on a task's name; adding a task means adding a
module here, its training half under `export/`, and one line to `task_names.MODULES`.
"""

from __future__ import annotations

import importlib
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from ..bundle import Bundle
from ..errors import BowgramError, BundleError, InputError
from ..task_names import MODULES, names

__all__ = ["Predictor", "Task", "get", "names", "open_predictor", "reload"]

if TYPE_CHECKING:  # the registry itself (names(), get()) stays free of numpy: `bowgram --help` lists tasks
    import numpy as np

    from ..backends import Backend
    from ..contract import Contract


class Predictor:
    """Base of every task's predictor, built complete in one call: bundle, backend, precision.

    `backend` is a backend name ("auto", "onnx", …) or an engine already loaded: anything with
    `input_names`, `output_names` and `run` (the exporter passes the engines it has just
    validated, so no file is loaded twice; tests pass fakes).
    """

    task: ClassVar[str]

    def __init__(self, bundle: Bundle, backend: str | Backend = "auto", precision: str = "fp32", threads: int = 1):
        if not isinstance(backend, str) and threads != 1:
            raise InputError("threads are set when a backend is opened by name, not for a loaded engine")
        self.bundle, self.precision = bundle, precision
        contract = get(self.task).contract
        self.sizes = contract.sizes(bundle.manifest.signature)
        # each output's shape after the batch axis, for the check on every call (-1: any size)
        self._shapes = {s.name: tuple(self.sizes.get(a, -1) for a in s.axes[1:]) for s in contract.outputs}
        from ..backends import open_model

        self._prepare()  # vocabulary work first, freed before the engine allocates: a lower peak
        self.backend = open_model(bundle, backend, precision, threads) if isinstance(backend, str) else backend
        self._opened = (backend, threads) if isinstance(backend, str) else None

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        """Pickled as (bundle path, options): the other side loads the bundle itself, once per
        process (`reload`), which is how a predictor travels to Spark executors and Ray workers.
        The path must name the same bundle there (a shared or copied folder)."""
        if self._opened is None:
            raise TypeError("a predictor built on an already loaded engine cannot be pickled; load() it by path")
        backend, threads = self._opened
        return reload, (os.path.abspath(self.bundle.path), self.task, backend, self.precision, threads)

    def __repr__(self) -> str:
        backend = getattr(self.backend, "name", type(self.backend).__name__)  # the one "auto" chose
        path = os.fspath(self.bundle.path)
        return f"<{type(self).__name__} {path!r} backend={backend!r} precision={self.precision!r}>"

    def _prepare(self) -> None:
        """Read and check the task's own files and manifest fields."""
        raise NotImplementedError

    def input_ids(self, text: str) -> list[int]:
        """The model's input ids for one text (what examples.json records)."""
        raise NotImplementedError

    def units(self, text: str) -> list[str]:
        """The folded words or tokens the ids come from (examples.json records them, so a port can
        check its text recipe before its ids)."""
        raise NotImplementedError

    def output_names(self) -> list[str]:
        """What each index of the first output means (labels, or words)."""
        raise NotImplementedError

    def run(self, ids: np.ndarray) -> np.ndarray:
        """The first output for a batch of input ids: the model's answer before any task logic."""
        name = self.backend.output_names[0]
        return self.outputs(ids, [name])[name]

    def outputs(self, ids: np.ndarray, names: list[str]) -> dict[str, np.ndarray]:
        """The backend's `names` outputs for a batch of input ids, each checked against the
        contract's shape: a model that answers another shape than its manifest says is refused,
        not read (a 1-column output for 2 labels would give both labels probability 1)."""
        try:
            outputs = self.backend.run({self.backend.input_names[0]: ids})
        except (BowgramError, MemoryError):
            raise
        except Exception as exc:  # the engine failed on well-formed ids: the model is not what the manifest says
            first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise BundleError(f"{self.bundle.path}: the model failed on its input: {first}") from None
        for name in names:
            got, expected = getattr(outputs.get(name), "shape", None), self._shapes[name]
            if got is None or got[0] != len(ids) or got[1:] != expected:
                if (
                    got is not None
                    and len(got) == len(expected) + 1
                    and got[0] == len(ids)
                    and all(e in (-1, g) for e, g in zip(expected, got[1:]))
                ):
                    continue  # an axis of any size
                raise BundleError(
                    f"{self.bundle.path}: the model's output {name!r} has shape {got}, the manifest says "
                    f"({len(ids)}, {', '.join('any' if e == -1 else str(e) for e in expected)})"
                )
        return {name: outputs[name] for name in names}


_RELOADED: dict[tuple[Any, ...], Predictor] = {}
_RELOAD_LOCK = threading.Lock()


def reload(path: str, task: str, backend: str, precision: str, threads: int) -> Predictor:
    """The predictor a pickle names, loaded once per process and shared (predictors are
    thread-safe), so a job that ships it with every task still loads the bundle only once."""
    key = (path, task, backend, precision, threads)
    with _RELOAD_LOCK:
        if key not in _RELOADED:
            _RELOADED[key] = open_predictor(path, task, backend, precision, threads)
        return _RELOADED[key]


RETRIES = 5  # reads of a bundle that a writer keeps replacing meanwhile


def open_predictor(
    path: str | os.PathLike[str] | Bundle, task: str | None, backend: str, precision: str, threads: int
) -> Predictor:
    """The predictor of the bundle at `path` (of `task`, if given), read again when a writer
    replaced the bundle while it was being read."""
    if isinstance(path, Bundle):
        return get(path.manifest.task).predictor(path, backend, precision, threads)
    for attempt in range(RETRIES):
        bundle = Bundle.open(path, task)
        try:
            return get(bundle.manifest.task).predictor(bundle, backend, precision, threads)
        except BundleError:
            # a writer swapped a new bundle in while this one was read (the old folder's files
            # went with it): read the new one; a real defect of the bundle raises on the spot
            if attempt == RETRIES - 1 or not bundle.replaced():
                raise
    raise AssertionError("unreachable")


@dataclass(frozen=True)
class Task:
    name: str
    predictor: type[Predictor]
    contract: Contract
    evaluate: Callable[[Any, Path], dict[str, Any]]  # `bowgram eval`: predictor, data file -> metrics
    metrics_table: Callable[[dict[str, Any]], str]  # those metrics for people
    data_help: str  # what `bowgram eval --data` and `bowgram train --data` take for this task
    answer: tuple[str, str]  # columns and JSON: (the answer's key, the key of a label/word in it)
    trainer: str  # "module:attribute" of the training half, imported by bowgram.export only


def get(name: str) -> Task:
    if name not in MODULES:
        raise BundleError(f"unknown task {name!r}; known tasks: {', '.join(names())}")
    task: Task = importlib.import_module(MODULES[name]).TASK
    return task

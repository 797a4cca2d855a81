"""`load()`: a bundle path (or a task's default bundle) → a ready predictor."""

from __future__ import annotations

import os
from typing import Any

from . import tasks
from .bundle import Bundle, default_bundle_path
from .errors import InputError


def load(
    path: str | os.PathLike[str] | Bundle | None = None,
    task: str | None = None,
    backend: str = "auto",
    threads: int = 1,
    precision: str = "fp32",
) -> Any:
    """Open a bundle and return its task's predictor (`LanguageIdentifier`, `NextWordPredictor`).

    With no `path`, the default bundle for `task` is used. `backend="auto"` takes the first
    model format of the manifest that an installed backend reads, preferring ONNX.
    """
    if path is None:
        if task not in tasks.names():
            raise InputError(f"give a bundle path, or task= one of {tasks.names()}")
        path = default_bundle_path(task)
    from .backends import check_threads

    check_threads(threads)
    return tasks.open_predictor(path, task, backend, precision, threads)

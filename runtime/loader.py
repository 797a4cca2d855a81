"""`load()`: a bundle path (or a task's default bundle) → a ready predictor."""

from __future__ import annotations

import os
from typing import Any

from . import tasks
from .bundle import Bundle, default_bundle_path
from .errors import BundleError, InputError

RETRIES = 5  # reads of a bundle that a writer keeps replacing meanwhile


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
    if isinstance(path, Bundle):
        return tasks.get(path.manifest.task).predictor(path, backend, precision, threads)
    for attempt in range(RETRIES):
        bundle = Bundle.open(path, task)
        try:
            return tasks.get(bundle.manifest.task).predictor(bundle, backend, precision, threads)
        except BundleError:
            # a writer swapped a new bundle in while this one was read (the old folder's files
            # went with it): read the new one; a real defect of the bundle raises on the spot
            if attempt == RETRIES - 1 or not bundle.replaced():
                raise
    raise AssertionError("unreachable")

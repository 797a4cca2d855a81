"""Backends: run a model file, numpy in, numpy out. Found through the entry-point group
`bowgram.backends`, where the built-ins register exactly as a third-party plugin would.

A backend is a class with `name`, `format` (the manifest model format it reads), `module`
and `extra` (the library it needs and the pip extra that brings it), `pickled` (True when its
format can run code as it loads: such a backend is used only when asked for by name, never by
"auto"), and `__init__(path, signature, threads, data)` / `run(inputs) -> outputs`. `data` holds
the file's bytes, already checked against the manifest's sha256: load from them, not from `path`
(which a writer may replace meanwhile). Discovery is lazy: entry points are read on the first
lookup, and a backend's module is imported only when used.
"""

from __future__ import annotations

import functools
import importlib.util
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from ..bundle import Bundle
from ..errors import BackendUnavailable, InputError

GROUP = "bowgram.backends"


class Backend:
    """Base class: subclasses set the class attributes and implement `run`."""

    name: ClassVar[str]
    format: ClassVar[str]
    module: ClassVar[str]  # the import that must succeed for this backend to work
    extra: ClassVar[str]  # what to `pip install` when it does not
    pickled: ClassVar[bool] = False  # loading the format can run code: only on explicit request

    def __init__(self, path: Path, signature: dict[str, Any], threads: int = 1, data: bytes | None = None):
        self.path = path
        self.data = data
        self.input_names = [t["name"] for t in signature["inputs"]]
        self.output_names = [t["name"] for t in signature["outputs"]]
        self.threads = threads

    @classmethod
    def available(cls) -> bool:
        try:
            return importlib.util.find_spec(cls.module) is not None
        except (ImportError, ValueError):  # a module blocked or half-installed
            return False

    @classmethod
    def require(cls) -> None:
        if not cls.available():
            raise BackendUnavailable(
                f"backend {cls.name!r} needs the Python package {cls.module!r}, which is not "
                f"installed; install it with: pip install {cls.extra}"
            )

    def run(self, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        raise NotImplementedError


@functools.lru_cache(maxsize=1)
def _entry_points() -> dict[str, list[EntryPoint]]:
    found: dict[str, list[EntryPoint]] = {}
    for ep in entry_points(group=GROUP):
        if ep.value not in [e.value for e in found.get(ep.name, [])]:
            found.setdefault(ep.name, []).append(ep)
    return found


def names() -> list[str]:
    return sorted(_entry_points())


def get(name: str) -> type[Backend]:
    """The backend class registered as `name`; unknown or conflicting names are errors."""
    eps = _entry_points().get(name)
    if not eps:
        raise BackendUnavailable(f"unknown backend {name!r}; known backends: {', '.join(names()) or 'none'}")
    if len(eps) > 1:
        raise BackendUnavailable(
            f"backend {name!r} is registered twice ({', '.join(e.value for e in eps)}); uninstall one of them"
        )
    try:
        cls = eps[0].load()
    except ImportError as exc:
        raise BackendUnavailable(f"backend {name!r} could not be imported: {exc}") from None
    if not (isinstance(cls, type) and issubclass(cls, Backend)):
        raise BackendUnavailable(f"backend {name!r} ({eps[0].value}) is not a bowgram Backend class")
    return cls


def choose(name: str, formats: list[str]) -> type[Backend]:
    """The backend class for `name`, or for "auto" the first available one of `formats` whose
    format cannot run code as it loads (a pickle-based format needs its backend named)."""
    if name != "auto":
        return get(name)
    safe = [f for f in formats if f in names() and not get(f).pickled]
    for fmt in safe:
        if get(fmt).available():
            return get(fmt)
    if safe:
        get(safe[0]).require()  # names the missing extra
    if formats and not safe:
        raise BackendUnavailable(
            f"this bundle has only formats that can run code when loaded ({', '.join(formats)}); if you trust "
            f"where it came from, name the backend: --backend {formats[0]} (Python: backend={formats[0]!r})"
        )
    raise BackendUnavailable(
        f"no installed backend reads this bundle's formats ({', '.join(formats)}); known backends: {', '.join(names())}"
    )


MAX_THREADS = 64  # per predictor: far more than a model this small can use; thousands never answer


def check_threads(threads: Any) -> None:
    """Threads for one predictor: a whole number from 1 to MAX_THREADS."""
    if type(threads) is not int or not 1 <= threads <= MAX_THREADS:
        raise InputError(f"threads must be a whole number from 1 to {MAX_THREADS}, got {threads!r}")


def open_model(bundle: Bundle, name: str = "auto", precision: str = "fp32", threads: int = 1) -> Backend:
    """The bundle's model file for `precision`, checked and loaded by the backend `name`
    ("auto": the first format of the manifest that this copy holds and an installed backend reads)."""
    check_threads(threads)
    manifest = bundle.manifest
    formats = manifest.model_formats()
    if name == "auto":  # skip an optional format this copy leaves out; a missing required file fails on reading
        formats = [f for f in formats if not bundle.artifact(f).optional or bundle.present(bundle.artifact(f))]
    cls = choose(name, formats)
    artifact = bundle.artifact(cls.format, precision)
    data = bundle.read(artifact)
    return cls(bundle.path / artifact.path, manifest.signature, threads, data=data)

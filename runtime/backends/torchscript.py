"""The TorchScript backend: imports torch only when a bundle is actually loaded with it.

TorchScript executes code on load; load only bundles you trust.
"""

from __future__ import annotations

import contextlib
import io
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import BundleError
from . import Backend


@contextlib.contextmanager
def quiet_jit_deprecation() -> Iterator[None]:
    """torch 2.13 warns on every torch.jit call; silence exactly those warnings, nothing else."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"`torch\.jit\.\w+` is deprecated", category=DeprecationWarning)
        yield


class TorchScriptBackend(Backend):
    name = "torchscript"
    format = "torchscript"
    module = "torch"
    extra = "torch==2.13.0 'bowgram[torch]'"
    pickled = True  # a TorchScript archive can run code as it loads

    def __init__(self, path: Path, signature: dict[str, Any], threads: int = 1, data: bytes | None = None):
        super().__init__(path, signature, threads, data)
        self.require()
        import torch

        self._torch = torch
        try:
            self.program = self._load(torch, io.BytesIO(data) if data is not None else path)
        except Exception as exc:  # torch raises assorted errors (C++ text) for a bad archive
            first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise BundleError(f"torch cannot load {path.name}: {first}") from None

    def _load(self, torch: Any, source: Path | io.BytesIO) -> Any:
        with quiet_jit_deprecation():
            return torch.jit.load(source if isinstance(source, io.BytesIO) else str(source), map_location="cpu").eval()

    def run(self, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        torch = self._torch
        with torch.inference_mode():
            out = self.program(*[torch.from_numpy(np.ascontiguousarray(inputs[n])) for n in self.input_names])
        out = out if isinstance(out, tuple) else (out,)
        return {n: t.numpy() for n, t in zip(self.output_names, out)}

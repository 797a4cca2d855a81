"""bowgram's runtime: load a bundle, identify languages, predict next words. numpy + onnxruntime;
torch only if you choose the TorchScript or pt2 backend.

The names below are imported on first use (PEP 562), so `bowgram --help` and other commands that
load no model do not pay for numpy and onnxruntime."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_LAZY = {
    "load": "loader",
    "LanguageIdentifier": "tasks.langid",
    "NextWordPredictor": "tasks.nextword",
    "BowgramError": "errors",
    "InputError": "errors",
    "BundleError": "errors",
    "BackendUnavailable": "errors",
    "VerificationError": "errors",
}

__all__ = [
    "load",
    "LanguageIdentifier",
    "NextWordPredictor",
    "BowgramError",
    "InputError",
    "BundleError",
    "BackendUnavailable",
    "VerificationError",
    "__version__",
]

if TYPE_CHECKING:
    from .errors import BackendUnavailable, BowgramError, BundleError, InputError, VerificationError
    from .loader import load
    from .tasks.langid import LanguageIdentifier
    from .tasks.nextword import NextWordPredictor


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
    globals()[name] = value
    return value

"""Checks on what callers pass as text: one place, so every predictor answers alike."""

from __future__ import annotations

from typing import Sequence

from .errors import InputError


def as_batch(texts: str | Sequence[str]) -> tuple[list[str], bool]:
    """(list of texts, whether a single string was given); anything but text is an InputError."""
    if isinstance(texts, str):
        return [texts], True
    if isinstance(texts, (bytes, bytearray)):
        raise InputError("expected text (str), got bytes: decode it first, e.g. data.decode('utf-8')")
    try:
        batch = list(texts)
    except TypeError:
        raise InputError(f"expected a string or a list of strings, got {type(texts).__name__}") from None
    for i, text in enumerate(batch):
        if not isinstance(text, str):
            raise InputError(f"item {i} is {type(text).__name__}, expected str")
    return batch, False

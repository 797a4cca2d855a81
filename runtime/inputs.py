"""What callers pass as text, checked in one place so every predictor and command answers alike:
Python values (`as_batch`) and bytes from files or stdin (`decode_utf8`)."""

from __future__ import annotations

from collections.abc import Sequence

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


def input_lines(text: str) -> list[str]:
    """One text per line: split at "\n" only (a "\r" before it is dropped), so that one input line
    gives exactly one answer whatever it holds (form feeds, U+2028, a lone "\r"...)."""
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()  # the final newline ends the last line; it does not start an empty one
    return [line[:-1] if line.endswith("\r") else line for line in lines]


def decode_utf8(raw: bytes, name: str) -> str:
    """UTF-8 bytes (a BOM allowed) as text; anything else is an InputError naming the line."""
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise InputError(
            f"{name} is not valid UTF-8 (line {line}); convert it to UTF-8 first, e.g. iconv -f latin1 -t utf-8"
        ) from None

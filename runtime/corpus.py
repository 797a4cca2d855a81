"""Reading data files for training and evaluation: labelled lines and plain text.

Labelled lines are `label<TAB>text` (TSV) or fastText's `__label__xx text`; gzip is read
transparently. Bad files fail before any work starts, naming the file and line.
"""

from __future__ import annotations

import gzip
import warnings
from pathlib import Path

import numpy as np

from .errors import InputError
from .inputs import decode_utf8

MAX_DATA_BYTES = 2 << 30  # of one training or evaluation file, decompressed
NO_SPACE_SCRIPTS = ("zh", "ja", "th", "km", "my", "lo", "bo", "dz", "shn")  # spans of these are cut by characters


def read_text(path: str | Path) -> str:
    """A whole training or evaluation file (.gz decompressed), read once (a pipe works), at most
    MAX_DATA_BYTES of it: training holds its data in memory, and a small archive can unpack to
    more than any machine has."""
    path = Path(path)
    try:
        with open(path, "rb") as raw, gzip.GzipFile(fileobj=raw) if path.suffix == ".gz" else raw as stream:
            data = stream.read(MAX_DATA_BYTES + 1)
    except FileNotFoundError:
        raise InputError(f"data file not found: {path}") from None
    except (OSError, EOFError) as exc:
        raise InputError(f"cannot read {path}: {exc}") from None
    except MemoryError:
        raise InputError(f"not enough memory to read {path}") from None
    if len(data) > MAX_DATA_BYTES:
        unpacked = " once decompressed" if path.suffix == ".gz" else ""
        raise InputError(
            f"{path} holds more than {MAX_DATA_BYTES >> 30} GiB of text{unpacked}: "
            "training reads its data into memory; sample it first"
        )
    return decode_utf8(data, str(path))


HEADER_LABELS = ("label", "labels", "lang", "language", "code", "langid", "class")
HEADER_TEXTS = ("text", "texts", "sentence", "sentences", "content", "body")


def read_labelled(path: str | Path) -> tuple[list[str], list[str]]:
    """(labels, texts) from a TSV or fastText-format file; empty texts are skipped, and so is a
    first line that names the columns (`label<TAB>text`), with a warning: read as data, it would
    be a language called "label"."""
    labels: list[str] = []
    texts: list[str] = []
    for number, line in enumerate(read_text(path).splitlines(), 1):
        if not line.strip():
            continue
        label, text = parse_labelled_line(line, path, number)
        if not labels and label.lower() in HEADER_LABELS and text.strip().lower() in HEADER_TEXTS:
            warnings.warn(f"{path}:{number}: {line.strip()!r} reads as a header line, not data: skipped", stacklevel=2)
            continue
        if text.strip():
            labels.append(label)
            texts.append(text)
    if not labels:
        raise InputError(f"{path} holds no labelled lines (expected 'label<TAB>text' or '__label__xx text')")
    return labels, texts


def parse_labelled_line(line: str, path: str | Path, number: int) -> tuple[str, str]:
    if line.startswith("__label__"):
        label, _, text = line[len("__label__") :].partition(" ")
    elif "\t" in line:
        label, _, text = line.partition("\t")
    else:
        raise InputError(f"{path}:{number}: no tab and no __label__ prefix; expected 'label<TAB>text'")
    if not label or label != label.strip() or " " in label:
        raise InputError(f"{path}:{number}: bad label {label!r}: labels are single words without spaces")
    return label, text


def short_spans(
    labels: list[str], texts: list[str], seed: int, per_text: int = 1, max_words: int = 3
) -> tuple[list[str], list[str]]:
    """Random spans of 1 to `max_words` words (2 to 2 * max_words + 2 characters for scripts
    without spaces) of each text: 1-3 words by default, single words with `max_words=1`.

    Training adds them so that short inputs are learnt; evaluation reports accuracy on them.
    """
    rng = np.random.default_rng(seed)
    out_labels, out_texts = [], []
    for label, text in zip(labels, texts):
        words = text.split()
        for _ in range(per_text):
            if label in NO_SPACE_SCRIPTS or len(words) < 2:
                size = int(rng.integers(2, 2 * max_words + 3))
                start = int(rng.integers(0, max(len(text) - size, 0) + 1))
                span = text[start : start + size]
            else:
                size = int(rng.integers(1, max_words + 1))
                start = int(rng.integers(0, max(len(words) - size, 0) + 1))
                span = " ".join(words[start : start + size])
            out_labels.append(label)
            out_texts.append(span)
    return out_labels, out_texts

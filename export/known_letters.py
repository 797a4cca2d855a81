"""Which letters a language identifier knows: the scripts its training text is written in, as the
code point ranges of the featurizer's `known_letters` (see `runtime/featurizer.py`).

A letter of a script the training text never used is no evidence for any label the model has, yet
its n-grams hash into buckets that some label owns: text in an unseen script got a confident,
arbitrary answer (every such script came out as Chinese). With the rule, its letters are word
boundaries and a text written only in them answers `und`.

A script is a letter's Unicode name up to its first space (LATIN, CYRILLIC, GUJARATI, CJK,
HANGUL, COMBINING, MODIFIER, ...): coarse, but it needs no table beyond Python's own, and the
manifest records the resulting ranges, so no runtime needs to know how they were chosen.
"""

from __future__ import annotations

import unicodedata
from collections import Counter

import numpy as np

from ..runtime import charclass
from ..runtime.featurizer import FeaturizerSpec

MIN_LETTERS = 100  # a script with fewer letters in the training text is not known (stray quotes of it),
MIN_SHARE = 0.01  # unless it has this share of all letters (a tiny corpus knows its own script)


def script(cp: int) -> str:
    """A letter's script, as this module counts it."""
    return unicodedata.name(chr(cp), "").split(" ", 1)[0]


def scripts_of(texts: list[str], spec: FeaturizerSpec) -> Counter[str]:
    """How many letters and marks of each script the folded texts hold."""
    counts: Counter[int] = Counter()
    form = spec.normalization
    for start in range(0, len(texts), 8192):
        folded = charclass.fold_each(texts[start : start + 8192], form, spec.casefold)  # type: ignore[arg-type]
        cps, times = np.unique(charclass.codepoints("".join(folded)), return_counts=True)
        counts.update(dict(zip(cps.tolist(), times.tolist())))
    out: Counter[str] = Counter()
    for cp, n in counts.items():
        if charclass.category_class(cp) in "LM":
            out[script(cp)] += n
    return out


def known_ranges(known: set[str]) -> tuple[tuple[int, int], ...]:
    """The fewest [first, last] ranges that hold every letter and mark of the `known` scripts and
    no other letter or mark (what lies between, non-letters, is a boundary anyway)."""
    ranges: list[tuple[int, int]] = []
    start = last = -1
    for cp in range(charclass.CODE_POINTS):
        if 0xD800 <= cp <= 0xDFFF or charclass.category_class(cp) not in "LM":
            continue
        if script(cp) in known:
            start = cp if start < 0 else start
            last = cp
        elif start >= 0:
            ranges.append((start, last))
            start = -1
    if start >= 0:
        ranges.append((start, last))
    return tuple(ranges)


def known_letters(texts: list[str], spec: FeaturizerSpec) -> tuple[tuple[int, int], ...]:
    """`known_letters` for a model trained on `texts`."""
    counts = scripts_of(texts, spec)
    total = sum(counts.values())
    return known_ranges({name for name, n in counts.items() if n >= min(MIN_LETTERS, MIN_SHARE * total)})

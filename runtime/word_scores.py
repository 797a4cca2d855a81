"""Language ID as a sum over words, each word's part computed once and cached.

A bow-classifier bundle without a hidden layer is linear in its bag of features up to the final
log-softmax: logits(text) = b + Σ_words s(word), where s(word) is the word's embedding rows
(its vocabulary id and its n-grams of " word ") summed and multiplied by the output layer. A
word's ids never depend on its neighbours, so s(word) can be taken from the model itself,
run once on the word alone and once on an empty input:

    u(word) = logp(word) − logp(∅) = s(word) − LSE(word) + LSE(∅)
    logp(text) = log_softmax(logp(∅) + Σ u(word))        (the LSE constants cancel)

So a text costs a split into folded words, a dictionary lookup per word and one small sum,
instead of hashing every character n-gram and a model call: what makes one text at a time
fast. Answers equal the model's on the whole text up to float rounding (float32 log-probs
summed in float64: within the bundle's tolerance; tests compare the two on every dev sentence).

The cache is bounded (CAPACITY words, float64 rows: at most 27 MB for 104 labels), evicts the
older half when full, and is shared by threads under a lock (model calls for new words run
outside it).
"""

from __future__ import annotations

import threading
import unicodedata
from collections.abc import Callable, Sequence

import numpy as np

from . import charclass

CAPACITY = 1 << 15


class _NonLetters(dict[int, str]):
    """str.translate table: every code point that is not a letter or mark becomes a space, the
    others stay (looked up once per code point, as the featurizer classes it)."""

    def __missing__(self, cp: int) -> str:
        value = chr(cp) if charclass.category_class(cp) in "LM" else " "
        self[cp] = value
        return value


_SPACES = _NonLetters()


def split_words(text: str, normalization: str, casefold: bool) -> list[str]:
    """The folded words of one text, as `Featurizer.words` finds them, without numpy (one text
    at a time is where numpy's fixed costs dominate)."""
    folded = unicodedata.normalize(normalization, text)  # type: ignore[arg-type]
    if casefold:
        folded = folded.casefold()
    return folded.translate(_SPACES).split()


class WordScores:
    """The cache of u(word) rows: `base` is logp(∅), the model on padding alone; `score(words)`
    gives each word's log-probabilities alone, float64 [n, labels] (NaN rows: words without ids,
    which then stay NaN here)."""

    def __init__(self, base: np.ndarray, score: Callable[[list[str]], np.ndarray], capacity: int = CAPACITY):
        self.base, self._score, self.capacity = base, score, capacity
        self._rows = np.zeros((capacity, len(base)), dtype=np.float64)  # pages are touched only when used
        self._index: dict[str, int] = {}
        self._free = list(range(capacity - 1, -1, -1))
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._index)

    def vectors(self, words: Sequence[str]) -> np.ndarray:
        """u(word) for each word, in order: float64 [len(words), labels]."""
        with self._lock:  # the common case first: every word seen before
            try:
                return self._rows[[self._index[w] for w in words]]
            except KeyError:
                pass
        fresh: dict[str, np.ndarray] = {}
        while True:
            with self._lock:
                index = self._index
                missing = list({w for w in words if w not in index and w not in fresh})
                if not missing:
                    out = np.empty((len(words), self._rows.shape[1]), dtype=np.float64)
                    cached = [i for i, w in enumerate(words) if w in index]
                    if cached:
                        out[cached] = self._rows[[index[words[i]] for i in cached]]
                    for i, w in enumerate(words):
                        if w in fresh:
                            out[i] = fresh[w]
                    self._insert(fresh)
                    return out
            # new words go through the model outside the lock (another thread may add them too)
            fresh.update(zip(missing, self._score(missing) - self.base))

    def _insert(self, fresh: dict[str, np.ndarray]) -> None:
        for word, row in fresh.items():
            if word in self._index:
                continue
            if not self._free:  # full: forget the older half (insertion order)
                old = list(self._index)[: self.capacity // 2]
                self._free += [self._index.pop(w) for w in old]
            slot = self._free.pop()
            self._rows[slot] = row
            self._index[word] = slot

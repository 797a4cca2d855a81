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

The cache is bounded (float32 rows in CACHE_BYTES: 65,536 words for 104 labels, 34,774 for
196; more labels would otherwise grow the runtime's footprint with them), evicts the
older half when full, and is shared by threads under a lock (model calls for new words run
outside it). A text with a new word runs the model on the whole text, as without the cache; a
word is scored only once it has been seen twice (most words of a corpus occur once: scoring
them would cost more than it saves), in batches of SCORE_BATCH words.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence

import numpy as np

from . import charclass

CACHE_BYTES = 26 << 20  # the cache's rows at most; its capacity in words follows from the number of labels
SCORE_BATCH = 256  # words seen twice are scored together, this many at a time


class _NonLetters(dict[int, str]):
    """str.translate table: every code point that is not a letter or mark becomes a space, the
    others stay (looked up once per code point, as the featurizer classes it)."""

    def __missing__(self, cp: int) -> str:
        value = chr(cp) if charclass.category_class(cp) in "LM" else " "
        self[cp] = value
        return value


_SPACES = _NonLetters()


def fold_and_split(text: str, normalization: str, casefold: bool) -> tuple[str, list[str]]:
    """The folded text and its words, as `Featurizer.words` finds them, without numpy (one text
    at a time is where numpy's fixed costs dominate)."""
    folded = charclass.fold(text, normalization, casefold)
    return folded, folded.translate(_SPACES).split()


def split_words(text: str, normalization: str, casefold: bool) -> list[str]:
    """The folded words of one text (see `fold_and_split`)."""
    return fold_and_split(text, normalization, casefold)[1]


class WordScores:
    """The cache of u(word) rows: `base` is logp(∅), the model on padding alone; `score(words)`
    gives each word's log-probabilities alone, float64 [n, labels] (NaN rows: words without ids,
    which then stay NaN here)."""

    def __init__(self, base: np.ndarray, score: Callable[[list[str]], np.ndarray], capacity: int | None = None):
        capacity = capacity or max(1024, CACHE_BYTES // (4 * len(base)))
        self.base, self._score, self.capacity = base, score, capacity
        self._rows = np.zeros((capacity, len(base)), dtype=np.float32)  # pages are touched only when used
        self._index: dict[str, int] = {}
        self._free = list(range(capacity - 1, -1, -1))
        self._lock = threading.Lock()
        self._seen_once: dict[str, None] = {}  # words missed once (bounded: cleared when full)
        self._pending: dict[str, None] = {}  # words missed twice, to be scored

    def __len__(self) -> int:
        return len(self._index)

    def cached(self, words: Sequence[str]) -> np.ndarray | None:
        """u(word) for each word [len(words), labels] if every one is cached, else None."""
        with self._lock:
            try:
                return self._rows[[self._index[w] for w in words]].astype(np.float64)
            except KeyError:
                return None

    def missing(self, words: Sequence[str]) -> list[str]:
        """The words not cached, once each, in order."""
        index = self._index
        return list(dict.fromkeys(w for w in words if w not in index))

    def note(self, missed: Sequence[str]) -> list[str]:
        """Record words a text missed; returns the words due for scoring (SCORE_BATCH of them
        seen twice), which the caller scores and `add`s."""
        with self._lock:
            for word in missed:
                if word in self._seen_once:
                    self._pending[word] = None
                elif len(self._seen_once) < 2 * self.capacity:
                    self._seen_once[word] = None
                else:
                    self._seen_once.clear()
            if len(self._pending) < SCORE_BATCH:
                return []
            due = list(self._pending)
            self._pending.clear()
            for word in due:
                self._seen_once.pop(word, None)
            return due

    def add(self, words: Sequence[str], log_probs: np.ndarray) -> None:
        """Cache words from the model's log-probabilities for each word alone [n, labels]."""
        with self._lock:
            self._insert(dict(zip(words, log_probs - self.base)))

    def vectors(self, words: Sequence[str]) -> np.ndarray:
        """u(word) for each word, in order: float64 [len(words), labels]."""
        with self._lock:  # the common case first: every word seen before
            try:
                return self._rows[[self._index[w] for w in words]].astype(np.float64)
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

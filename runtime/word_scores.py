"""Language ID of one short text at a time, and each word's part of it.

A bow-classifier bundle without a hidden layer is linear in its bag of features up to the final
log-softmax: logits(text) = b + W · Σ_words e(word), where e(word) sums the embedding rows of
the word's ids (its vocabulary id and its n-grams of " word "). Two things follow:

- `LinearWeights`: one text can be answered from the bundle's own weights (its ONNX file's
  embedding table, output weight and bias) in a few numpy steps, without a model call, whether
  or not its words were seen before. Used when the weights can be read and reproduce the model
  on probe words within the bundle's tolerance.
- `WordScores`: each word's part of the logits, cached (what `segments` labels word by word).
  Rows are e(word) from the weights, or, for any other bundle or backend, u(word) =
  logp(word alone) − logp(∅) from model calls; then logp(text) = log_softmax(logp(∅) + Σ u)
  (the log-sum-exp constants cancel).

Answers equal the model's on the whole text up to float rounding (tests compare them on every
dev sentence). The cache is bounded in bytes (CACHE_BYTES of float32 rows), evicts the older
half when full, does not keep words longer than MAX_CACHED_CHARS (scored every time instead, so
one text cannot fill memory with keys), and is shared by threads under a lock (new words are
scored outside it).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from .featurizer import Featurizer

CACHE_BYTES = 8 << 20  # the cache's rows at most; its capacity in words follows from the row width
MAX_CACHED_CHARS = 64  # longer words are scored every time they occur, never kept


class WordScores:
    """Cached word rows and what turns their sum into logits.

    `base`: the logits of no words at all [labels]; `score(words)`: the rows of new words
    [n, width] (a NaN row: a word without ids, which adds nothing); `project`: [width, labels]
    when rows are embedding sums, None when they are label scores already."""

    def __init__(
        self,
        base: np.ndarray,
        score: Callable[[list[str]], np.ndarray],
        project: np.ndarray | None = None,
        capacity: int | None = None,
    ):
        width = len(base) if project is None else project.shape[0]
        self.base, self._score, self.project = np.asarray(base, dtype=np.float64), score, project
        self.capacity = capacity or max(1024, CACHE_BYTES // (4 * width))
        self._rows = np.zeros((self.capacity, width), dtype=np.float32)  # pages are touched only when used
        self._index: dict[str, int] = {}
        self._free = list(range(self.capacity - 1, -1, -1))
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._index)

    def logits(self, words: Sequence[str]) -> np.ndarray | None:
        """The logits of a text of these words, up to a constant (float64 [labels]); None if no
        word has ids."""
        rows = self.rows(words)
        if np.isnan(rows[:, 0]).any():
            rows = rows[~np.isnan(rows[:, 0])]
            if not len(rows):
                return None
        total = rows.sum(axis=0, dtype=np.float64)
        logits: np.ndarray = self.base + (total if self.project is None else total @ self.project)
        return logits

    def label_scores(self, words: Sequence[str]) -> np.ndarray:
        """Each word's part of the logits, float32 [len(words), labels] (NaN rows: no ids)."""
        rows = self.rows(words)
        return rows if self.project is None else rows @ self.project.astype(np.float32, copy=False)

    def rows(self, words: Sequence[str]) -> np.ndarray:
        """Each word's row, in order: float32 [len(words), width]; new words are scored now."""
        with self._lock:  # the common case first: every word seen before
            try:
                return self._rows[[self._index[w] for w in words]]
            except KeyError:
                pass
        fresh: dict[str, np.ndarray] = {}
        while True:
            with self._lock:
                index = self._index
                missing = [w for w in dict.fromkeys(words) if w not in index and w not in fresh]
                if not missing:
                    self._insert({w: r for w, r in fresh.items() if len(w) <= MAX_CACHED_CHARS})
                    try:  # the common case: every word cached now
                        return self._rows[[index[w] for w in words]]
                    except KeyError:  # a long word, or one the insertion evicted (scored again then)
                        if all(w in fresh or w in index for w in words):
                            return np.stack([fresh[w] if w in fresh else self._rows[index[w]] for w in words])
            # new words are scored outside the lock (another thread may evict or add words meanwhile)
            fresh.update(zip(missing, np.asarray(self._score(missing), dtype=np.float32)))

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


class LinearWeights:
    """The model computed from its own weights, for one short text at a time: ids from
    `Featurizer.of_words`, their embedding rows summed, logits b + W·Σ e. No model call and no
    per-word cache, so a stream of distinct texts costs what a repeated one does.

    `embedding` [ids, dim] of any float type is held as float32 (a float16 table would be
    converted on every gather: 3x the cost of the sum); `weight` [labels, dim], `bias` [labels]."""

    def __init__(self, featurizer: Featurizer, embedding: np.ndarray, weight: np.ndarray, bias: np.ndarray):
        self.featurizer = featurizer
        self.embedding = np.asarray(embedding, dtype=np.float32)
        self.project = np.asarray(weight, dtype=np.float32).T.copy()  # [dim, labels]
        self.bias = np.asarray(bias, dtype=np.float32)

    def logits(self, words: list[str]) -> np.ndarray | None:
        """The logits of a text of these words (float32 [labels], as the model computes them); None
        if they have no ids."""
        word_ids, gram_ids, _ = self.featurizer.of_words(words)
        ids = np.concatenate([word_ids[word_ids > 0], gram_ids]) if word_ids.any() else gram_ids
        if not len(ids):
            return None
        total = _ones(len(ids)) @ self.embedding.take(ids, axis=0)  # a BLAS sum: 4x numpy's .sum(axis=0)
        logits: np.ndarray = self.bias + total @ self.project
        return logits

    def rows(self, words: list[str]) -> np.ndarray:
        """Each word's embedding sum e(word), float32 [len(words), dim] (NaN: a word without ids)."""
        word_ids, gram_ids, counts = self.featurizer.of_words(words, per_word=True)
        assert counts is not None
        rows = np.zeros((len(words), self.embedding.shape[1]), dtype=np.float32)
        has = counts > 0
        if has.any():
            starts = (np.cumsum(counts) - counts)[has]
            rows[has] = np.add.reduceat(self.embedding.take(gram_ids, axis=0), starts, axis=0)
        known = word_ids > 0
        if known.any():
            rows[known] += self.embedding.take(word_ids[known], axis=0)
        rows[~(has | known)] = np.nan
        return rows

    def word_scores(self, capacity: int | None = None) -> WordScores:
        """A cache of these rows (for segments: every word's part of the logits)."""
        return WordScores(self.bias, self.rows, self.project, capacity)


_ONES = np.ones(4096, dtype=np.float32)


def _ones(n: int) -> np.ndarray:
    return _ONES[:n] if n <= len(_ONES) else np.ones(n, dtype=np.float32)

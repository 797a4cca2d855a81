"""Batches of feature ids shaped for a model: padded matrices (what the exported graph takes) and
EmbeddingBag-style flat ids with offsets (what training uses). No text here: see `featurizer.py`."""

from __future__ import annotations

import numpy as np

from .featurizer import Features


def bags(features: Features, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows of `features` as (flat ids, start offsets): the EmbeddingBag form, no padding."""
    starts, lengths = features.offsets[rows], features.lengths()[rows]
    firsts = np.cumsum(lengths) - lengths  # where each row starts in the flat output
    flat = np.repeat(starts - firsts, lengths) + np.arange(int(lengths.sum()))
    return features.ids[flat], firsts.astype(np.int64)


def pad(features: Features, rows: np.ndarray | None = None) -> np.ndarray:
    """Rows of `features` as a zero-padded int64 matrix [len(rows), longest] (at least 1 wide)."""
    if features.n_texts == 1 and (rows is None or len(rows) == 1):  # one text: a view, no copy
        return (features.ids if len(features.ids) else np.zeros(1, np.int64))[None, :]
    rows = np.arange(features.n_texts) if rows is None else np.asarray(rows)
    return pad_chunks(features, rows, np.array([len(rows)]))[0]


def pad_chunks(features: Features, rows: np.ndarray, counts: np.ndarray | list[int]) -> list[np.ndarray]:
    """`rows` of `features` cut into consecutive chunks of `counts` rows, each chunk a zero-padded
    matrix as wide as its longest row (at least 1): one pass over the ids for all chunks."""
    counts = np.asarray(counts, dtype=np.int64)
    lengths = features.lengths()[rows]
    bounds = np.cumsum(counts) - counts  # first row of each chunk
    widths = np.maximum(np.maximum.reduceat(lengths, bounds), 1) if len(rows) else np.ones(len(counts), np.int64)
    sizes = counts * widths
    bases = np.cumsum(sizes) - sizes  # where each chunk starts in the flat buffer
    chunk = np.repeat(np.arange(len(counts)), counts)
    row_starts = bases[chunk] + (np.arange(len(rows)) - bounds[chunk]) * widths[chunk]
    flat = np.zeros(int(sizes.sum()), dtype=np.int64)
    shift = np.zeros(features.n_texts, dtype=np.int64)
    shift[rows] = row_starts
    if int(lengths.sum()) == features.total() and np.count_nonzero(shift[rows] == row_starts) == len(rows):
        features.write_rows(shift, flat)  # each row once, and they hold every id: scattered as they lie
    else:
        ids, firsts = bags(features, rows)
        flat[np.repeat(row_starts - firsts, lengths) + np.arange(len(ids))] = ids
    return [
        flat[b : b + n].reshape(c, w)
        for b, n, c, w in zip(bases.tolist(), sizes.tolist(), counts.tolist(), widths.tolist())
    ]

"""Splitting a sequence of scored words into labelled segments: a Viterbi pass over per-word
label scores with a fixed cost per switch, then short segments merged into a neighbour.

Task-free: `LanguageIdentifier.segments` gives it each word's additive label scores (its part of
the model's logits) and the model's bias, and turns the result into character offsets.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Segment:
    first: int  # index of the first word
    last: int  # index of the last word (inclusive)
    label: int


def viterbi(scores: np.ndarray, switch_cost: float) -> list[int]:
    """The label sequence maximizing Σ scores[t, label_t] − switch_cost × (number of switches).
    With one cost for every switch, a step only needs the best label so far: each label either
    stays or takes over from the leader."""
    n = len(scores)
    best = scores[0].astype(np.float64, copy=True)
    stay = np.zeros(scores.shape, dtype=bool)
    leader = np.zeros(n, dtype=np.int64)
    for t in range(1, n):
        lead = int(best.argmax())
        floor = best[lead] - switch_cost
        stay[t] = best >= floor
        leader[t] = lead
        np.maximum(best, floor, out=best)
        best += scores[t]
    path = [int(best.argmax())]
    for t in range(n - 1, 0, -1):
        path.append(path[-1] if stay[t, path[-1]] else int(leader[t]))
    return path[::-1]


def segment(scores: np.ndarray, bias: np.ndarray, switch_cost: float, min_words: int) -> list[Segment]:
    """Segments of words [n, labels] of additive scores: Viterbi, then any segment shorter than
    `min_words` merged into the neighbour whose label scores it best, then each segment labelled
    by its own summed scores (plus the bias)."""
    if not len(scores):
        return []
    path = viterbi(scores, switch_cost)
    runs: list[list[int]] = []  # [first, last, label]
    for t, label in enumerate(path):
        if runs and runs[-1][2] == label:
            runs[-1][1] = t
        else:
            runs.append([t, t, label])
    while len(runs) > 1:
        short = [i for i, (a, b, _) in enumerate(runs) if b - a + 1 < min_words]
        if not short:
            break
        i = min(short, key=lambda j: runs[j][1] - runs[j][0])  # the shortest first
        a, b, _ = runs[i]
        part = scores[a : b + 1].sum(axis=0)
        neighbours = [j for j in (i - 1, i + 1) if 0 <= j < len(runs)]
        j = max(neighbours, key=lambda j: part[runs[j][2]])
        runs[j] = [min(runs[j][0], a), max(runs[j][1], b), runs[j][2]]
        del runs[i]
        merged: list[list[int]] = []
        for run in runs:  # neighbours that now share a label become one
            if merged and merged[-1][2] == run[2]:
                merged[-1][1] = run[1]
            else:
                merged.append(run)
        runs = merged
    out = []
    for a, b, _ in runs:
        total = bias + scores[a : b + 1].sum(axis=0)
        out.append(Segment(a, b, int(total.argmax())))
    return out

"""Splitting a sequence of scored words into labelled segments: a Viterbi pass over per-word
label scores with a fixed cost per switch, then short segments merged into a neighbour.

Task-free: `LanguageIdentifier.segments` gives it each word's additive label scores (its part of
the model's logits) and the model's bias, and turns the result into character offsets.
"""

from __future__ import annotations

import heapq
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
    `min_words` merged into the neighbour whose label scores it best (the shortest first, the
    leftmost among equals; neighbours that come to share a label become one), then each segment
    labelled by its own summed scores (plus the bias). The merging keeps the runs in a linked
    list and the short ones in a heap: n log n, whatever the number of short runs."""
    if not len(scores):
        return []
    path = viterbi(scores, switch_cost)
    first, last, label = [0], [0], [path[0]]
    for t in range(1, len(path)):
        if path[t] == label[-1]:
            last[-1] = t
        else:
            first.append(t)
            last.append(t)
            label.append(path[t])
    prefix = np.concatenate([np.zeros((1, scores.shape[1])), np.cumsum(scores, axis=0, dtype=np.float64)])
    runs = len(first)
    prev, nxt = list(range(-1, runs - 1)), list(range(1, runs + 1))
    nxt[-1] = -1
    alive, count = [True] * runs, runs
    heap = [(last[i] - first[i] + 1, first[i], i) for i in range(runs) if last[i] - first[i] + 1 < min_words]
    heapq.heapify(heap)
    while heap and count > 1:
        length, _, i = heapq.heappop(heap)
        if not alive[i] or last[i] - first[i] + 1 != length:  # merged away, or grown since
            continue
        part = prefix[last[i] + 1] - prefix[first[i]]
        neighbours = [j for j in (prev[i], nxt[i]) if j >= 0]
        j = max(neighbours, key=lambda j: part[label[j]])  # the earlier one on a tie
        first[j], last[j] = min(first[j], first[i]), max(last[j], last[i])
        _unlink(i, prev, nxt, alive)
        count -= 1
        for k in (prev[j], nxt[j]):  # now adjacent to j: one segment if it shares j's label
            if k >= 0 and label[k] == label[j]:
                first[j], last[j] = min(first[j], first[k]), max(last[j], last[k])
                _unlink(k, prev, nxt, alive)
                count -= 1
        if last[j] - first[j] + 1 < min_words:
            heapq.heappush(heap, (last[j] - first[j] + 1, first[j], j))
    out = []
    i = next(r for r in range(runs) if alive[r] and prev[r] < 0)
    while i >= 0:
        total = bias + (prefix[last[i] + 1] - prefix[first[i]])
        out.append(Segment(first[i], last[i], int(total.argmax())))
        i = nxt[i]
    return out


def _unlink(i: int, prev: list[int], nxt: list[int], alive: list[bool]) -> None:
    alive[i] = False
    if prev[i] >= 0:
        nxt[prev[i]] = nxt[i]
    if nxt[i] >= 0:
        prev[nxt[i]] = prev[i]

"""The k best next words of one context from a class-factored bundle's own weights, exactly,
without scoring the whole vocabulary (numpy, no model call).

A factored model (the manifest's `model.classes`) gives p(w | h) = p(c(w) | h) · p(w | c(w), h),
averaged over its members: p(w | h) = mean_m p_m(c | h) · p_m(w | c, h). Since p_m(w | c, h) ≤ 1,
no word of class c is more likely than its bound mean_m p_m(c | h). So classes are scored in order
of their bound, and the search stops once the k-th best word found is at least as likely as the
best bound left: what it returns is the full distribution's top-k. Classes go a block of BLOCK
consecutive ones at a time (a slice of the weights, nothing copied); ids rank words by frequency,
so the first block usually holds the answer: on the default bundle, 86% of validation contexts
need no other.

Each member's weights are read from the bundle's ONNX file by their names (`WEIGHT_NAME`); the
predictor uses them only when they reproduce the bundle's test vectors (else the model answers).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import numpy as np

from .errors import BundleError
from .onnx_weights import Read, Tensor, float_tensors

BLOCK = 8  # consecutive classes scored at once (measured: 4, 6 and 12 are slower on the default bundle)
# the hidden layer's parts kept for the most frequent words (`ClassSearch.state`): on the default
# bundle, its 455 most frequent ids, 82% of the words of validation contexts
TABLE_BYTES = 8 << 20
# a member's tensors, as torch names them: [model.][members.N.]part.weight|bias
WEIGHT_NAME = re.compile(r"(?:^|\.)(?:members\.(\d+)\.)?(embedding|output|hidden|project|classes)\.(weight|bias)$")


def class_starts(model: dict[str, Any], vocab: int, where: str) -> list[int] | None:
    """The manifest's `model.classes` (the first id of each class; classes are runs of consecutive
    ids), validated against the vocabulary size; None when absent."""
    starts = model.get("classes")
    if starts is None:
        return None
    if (
        not isinstance(starts, list)
        or not starts
        or any(type(s) is not int for s in starts)
        or starts[0] != 0
        or any(b <= a for a, b in zip(starts, starts[1:]))
        or starts[-1] >= vocab
    ):
        raise BundleError(
            f"{where}: manifest.json: model.classes must list the first id of each class: "
            f"whole numbers from 0, increasing, each below the vocabulary size ({vocab})"
        )
    return starts


class ClassSearch:
    """A factored model's weights as numpy arrays, members stacked (float32)."""

    def __init__(self, weights: list[dict[str, np.ndarray]], starts: Sequence[int], context: int):
        def stack(name: str) -> np.ndarray:
            return np.ascontiguousarray(np.stack([w[name] for w in weights]).astype(np.float32))

        self.members, self.context = len(weights), context
        embedding = stack("embedding.weight")  # [m, vocab, dim], also the output weight (tied)
        self.vocab, dim = embedding.shape[1:]
        self.hidden_w = stack("hidden.weight").transpose(0, 2, 1).copy()  # [m, context * dim, hidden]
        self.hidden_b = stack("hidden.bias")  # [m, hidden]
        # the hidden layer is linear in each context word's embedding: for the most frequent ids,
        # each position's part of it is kept [m, context, words, hidden], and a context of them
        # sums three rows instead of multiplying by the whole layer (misses are multiplied)
        hidden = self.hidden_w.shape[2]
        self.table_words = min(self.vocab, TABLE_BYTES // (4 * self.members * context * hidden))
        first = self.hidden_w.reshape(self.members, context, dim, hidden)
        self.table = np.stack(
            [embedding[:, : self.table_words] @ first[:, j] for j in range(context)], axis=1
        )  # [m, context, table_words, hidden]
        self._first = first
        self._positions = np.arange(context)
        self.project_w = stack("project.weight").transpose(0, 2, 1).copy()  # [m, hidden, dim]
        self.project_b = stack("project.bias")  # [m, dim]
        self.class_w = stack("classes.weight")  # [m, classes, dim]
        self.class_b = stack("classes.bias")  # [m, classes]
        ends = [*starts[1:], self.vocab]
        width = max(b - a for a, b in zip(starts, ends))
        self.slots = np.full((len(starts), width), self.vocab, dtype=np.int64)  # padding: vocab
        for c, (a, b) in enumerate(zip(starts, ends)):
            self.slots[c, : b - a] = np.arange(a, b)
        self.slots_flat = self.slots.ravel()
        real = self.slots_flat < self.vocab
        self.place = np.empty(self.vocab, dtype=np.int64)  # each id's row in flat_w
        self.place[self.slots_flat[real]] = np.flatnonzero(real)
        # the output weight (the embedding table) and bias, class after class, padded to `width`
        self.flat_w = np.zeros((self.members, len(self.slots_flat), dim), np.float32)
        self.flat_w[:, self.place] = embedding
        del embedding  # this copy is the only one kept
        self.flat_b = np.full((self.members, len(self.slots_flat)), -np.inf, np.float32)
        self.flat_b[:, self.place] = stack("output.bias")
        self.word_w = self.flat_w.reshape(self.members, len(starts), width, dim)  # [m, classes, width, dim]
        self.word_b = self.flat_b.reshape(self.members, len(starts), width)
        self.width, self.block = width, min(BLOCK, len(starts))
        self.blocks = np.arange(0, len(starts), BLOCK)  # each block's first class
        # the class layer and the first classes' words, one matrix: [m, classes + block * width, dim]
        self.head_w = np.concatenate([self.class_w, self.flat_w[:, : self.block * width]], axis=1)
        self.head_b = np.concatenate([self.class_b, self.flat_b[:, : self.block * width]], axis=1)

    @classmethod
    def read(cls, read: Read, size: int, starts: Sequence[int], context: int, vocab: int) -> ClassSearch | None:
        """From an ONNX file's float initializers; None when they are not the members of a factored
        model of this vocabulary, context and these classes (shapes are checked here, before
        anything is read, and values by the caller)."""
        found: dict[int, dict[str, Tensor]] = {}
        for name, tensor in float_tensors(read, size).items():
            match = WEIGHT_NAME.search(name)
            if match:
                member, part, kind = match.groups()
                key = (
                    "embedding.weight"
                    if part == "embedding" or (part, kind) == ("output", "weight")
                    else f"{part}.{kind}"
                )
                found.setdefault(int(member or 0), {})[key] = tensor
        if not found or sorted(found) != list(range(len(found))):
            return None
        first = found[0]
        if "embedding.weight" not in first or "hidden.weight" not in first:
            return None
        dim, hidden = first["embedding.weight"].shape[-1], first["hidden.weight"].shape[0]
        shapes = {
            "embedding.weight": (vocab, dim),
            "output.bias": (vocab,),
            "hidden.weight": (hidden, context * dim),
            "hidden.bias": (hidden,),
            "project.weight": (dim, hidden),
            "project.bias": (dim,),
            "classes.weight": (len(starts), dim),
            "classes.bias": (len(starts),),
        }
        if any(set(tensors) != set(shapes) for tensors in found.values()):
            return None
        if any(tensors[k].shape != shape for tensors in found.values() for k, shape in shapes.items()):
            return None
        weights = [{k: t.array(read, np.float32) for k, t in found[m].items()} for m in sorted(found)]
        return cls(weights, starts, context)

    def state(self, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """For one row of context ids: what each member's output reads [m, dim, 1], each member's
        class probabilities [m, classes], and its scores of the first `block` classes' words
        [m, block * width] (one product gives both)."""
        known = ids < self.table_words
        if known.all():
            pre = self.table[:, self._positions, ids].sum(axis=1) + self.hidden_b  # [m, hidden]
        else:
            pre = self.table[:, self._positions[known], ids[known]].sum(axis=1) + self.hidden_b
            for j in np.flatnonzero(~known).tolist():
                pre = pre + (self.flat_w[:, self.place[ids[j]]][:, None, :] @ self._first[:, j])[:, 0]
        h = np.maximum(pre, 0)[:, None, :] @ self.project_w  # [m, 1, dim]
        h = (h[:, 0] + self.project_b)[:, :, None]  # [m, dim, 1]
        z = (self.head_w @ h)[:, :, 0] + self.head_b  # [m, classes + block * width]
        classes = len(self.slots)
        zc = z[:, :classes]
        e = np.exp(zc - zc.max(axis=1, keepdims=True))
        return h, e / e.sum(axis=1, keepdims=True), z[:, classes:]

    def words(self, h: np.ndarray, class_p: np.ndarray, block: int, scores: np.ndarray | None = None) -> np.ndarray:
        """p(w | h) of the words of block `block` (BLOCK consecutive classes, read in place),
        averaged over members: [classes in it * width] (padding: 0). `scores`: their scores
        already computed (block 0's come with `state`)."""
        lo, hi = block * BLOCK, min((block + 1) * BLOCK, len(self.slots))
        span = slice(lo * self.width, hi * self.width)
        z = (self.flat_w[:, span] @ h)[:, :, 0] + self.flat_b[:, span] if scores is None else scores
        z = z.reshape(self.members, hi - lo, self.width)
        z = np.exp(z - z.max(axis=2, keepdims=True))  # [m, classes, width]
        p: np.ndarray = (z * (class_p[:, lo:hi] / z.sum(axis=2))[:, :, None]).sum(axis=0).ravel()
        p *= np.float32(1 / self.members)
        return p

    def top(self, ids: np.ndarray, k: int, first: int = 0) -> tuple[list[int], list[float]]:
        """The k most likely next ids (from id `first` up: specials below it are never offered)
        and their probabilities, best first, for one row of context ids.

        Classes are scored a block of BLOCK consecutive classes at a time (each block a slice of
        the weights: nothing is copied), the first block (the most frequent words, which usually
        hold the answer) first, then the others in order of their best class bound, until no
        block left could hold a better word."""
        h, class_p, scores = self.state(ids)
        bound = class_p.mean(axis=0)
        k = min(k, self.vocab - first)
        found_p, found_w = self._best(self.words(h, class_p, 0, scores), 0, k, first)
        if len(self.blocks) > 1:
            block_bound = np.maximum.reduceat(bound, self.blocks)
            for block in (1 + np.argsort(-block_bound[1:], kind="stable")).tolist():
                if len(found_p) >= k and found_p.min() >= block_bound[block]:
                    break
                p, w = self._best(self.words(h, class_p, block), block, k, first)
                found_p, found_w = np.concatenate([found_p, p]), np.concatenate([found_w, w])
                if len(found_p) > k:
                    keep = np.argpartition(found_p, -k)[-k:]
                    found_p, found_w = found_p[keep], found_w[keep]
        best = np.argsort(-found_p, kind="stable")[:k]
        return found_w[best].tolist(), found_p[best].astype(np.float64).tolist()

    def _best(self, p: np.ndarray, block: int, k: int, first: int) -> tuple[np.ndarray, np.ndarray]:
        """The k best of a block's word probabilities, and their ids (ids below `first` and the
        padding: never, even where a word's probability is 0 in float32)."""
        start = self.blocks[block] * self.width
        ids = self.slots_flat[start : start + len(p)]
        if ids[0] < first or ids[-1] >= self.vocab:  # the first block has the specials, the last the padding
            p[(ids < first) | (ids >= self.vocab)] = -1.0
        if len(p) > k:
            keep = np.argpartition(p, -k)[-k:]
            return p[keep], ids[keep]
        return p, ids

    def log_probs(self, ids: np.ndarray) -> np.ndarray:
        """The full distribution for one row of context ids, log p [vocab] (what `top` must agree with)."""
        h, class_p, _ = self.state(ids)
        p = np.concatenate([self.words(h, class_p, b) for b in range(len(self.blocks))])
        out = np.empty(self.vocab, np.float64)
        real = self.slots.ravel() < self.vocab
        out[self.slots.ravel()[real]] = p[real]
        return np.log(np.maximum(out, 1e-30))

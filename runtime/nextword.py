"""NextWordPredictor: contexts → likely next words, and sampled continuations, on any backend."""

from __future__ import annotations

import functools
import math
from typing import Sequence

import numpy as np

from .bundle import Bundle
from .errors import BundleError, InputError
from .texts import as_batch
from .tokenizer import SPECIALS, Tokenizer, TokenizerSpec, Vocab, context_ids, detokenize

MAX_GENERATE = 1000  # tokens per generate() call
ROWS = 16  # contexts per backend call


class NextWordPredictor:
    task = "nextword"

    def __init__(self, bundle: Bundle, backend):
        self.bundle, self.backend = bundle, backend
        manifest = bundle.manifest
        self.tokenizer = Tokenizer(TokenizerSpec.from_dict(manifest.featurizer))
        self.vocab = Vocab(bundle.read_json("vocab"))
        self.context_size = int(manifest.model.get("context", 0))
        if manifest.model.get("vocab_size") != len(self.vocab) or self.context_size < 1:
            raise BundleError(f"{bundle.path}: vocab.json has {len(self.vocab)} tokens but the model "
                              f"expects {manifest.model.get('vocab_size')} (context {self.context_size})")
        self._words = np.array(self.vocab.words, dtype=object)
        self._graph_top_k = self._top_k_width()

    def log_probs_of_ids(self, ids: np.ndarray) -> np.ndarray:
        """Log-probabilities [n, vocab] for context id rows [n, context]."""
        return self._run(ids, [self.backend.output_names[0]])[self.backend.output_names[0]]

    def _run(self, ids: np.ndarray, names: list[str]) -> dict[str, np.ndarray]:
        """The backend's `names` outputs for id rows, ROWS rows per call: every call makes a few
        [rows, vocab] float arrays, so this bounds a big batch's memory at no cost in speed."""
        parts = [self.backend.run({self.backend.input_names[0]: ids[start : start + ROWS]})
                 for start in range(0, max(len(ids), 1), ROWS)]
        return {name: np.concatenate([part[name] for part in parts]) for name in names}

    def input_ids(self, text: str) -> list[int]:
        """The model's input ids for one context (what examples.json records)."""
        return self.context_ids([text])[0].tolist()

    def context_ids(self, contexts: list[str]) -> np.ndarray:
        return context_ids([self.tokenizer.tokens(c) for c in contexts], self.vocab, self.context_size)

    def predict(self, contexts: str | Sequence[str], k: int = 5, prefix: str | None = None):
        """Top-k (word, probability) per context; `prefix` keeps only words that start with it.

        `<s>`, `</s>` and `<unk>` are never offered. A single string gives a single list.
        """
        batch, single = as_batch(contexts)
        if k < 1:
            raise InputError(f"k must be at least 1, got {k}")
        if not batch:
            return []
        ids = self.context_ids(batch)
        if not prefix and k + len(SPECIALS) <= self._graph_top_k:
            outputs = self._run(ids, ["top_ids", "top_log_probs"])
            results = [self._from_top(ids, lps, k) for ids, lps in zip(outputs["top_ids"].tolist(),
                                                                       outputs["top_log_probs"].tolist())]
            return results[0] if single else results
        logp = self.log_probs_of_ids(ids)
        allowed = self._candidates(self._normal(prefix) if prefix else "")
        k = min(k, len(allowed))
        if k == 0:
            return [] if single else [[] for _ in batch]
        scores = logp[:, allowed]  # [n, candidates]
        part = np.argpartition(-scores, k - 1, axis=1)[:, :k]  # the k best, unordered
        part_scores = np.take_along_axis(scores, part, axis=1)
        order = np.argsort(-part_scores, axis=1, kind="stable")
        top_ids = allowed[np.take_along_axis(part, order, axis=1)]  # [n, k], best first
        top_p = np.exp(np.take_along_axis(part_scores, order, axis=1).astype(np.float64))
        words = self.vocab.words
        results = [[(words[i], p) for i, p in zip(ids, probs)] for ids, probs in zip(top_ids.tolist(), top_p.tolist())]
        return results[0] if single else results

    def _top_k_width(self) -> int:
        """How many best words the graph itself returns (0 if it has no top-k outputs)."""
        shapes = {o.get("name"): o.get("shape") for o in self.bundle.manifest.signature.get("outputs", [])}
        shape = shapes.get("top_ids")
        return shape[-1] if isinstance(shape, list) and shape and isinstance(shape[-1], int) else 0

    def _from_top(self, ids: list[int], log_probs: list[float], k: int) -> list[tuple[str, float]]:
        """The graph's own top list (ONNX TopK), minus special tokens, cut to k."""
        words = self.vocab.words
        picked = [(words[i], math.exp(lp)) for i, lp in zip(ids, log_probs) if i >= len(SPECIALS)]
        return picked[:k]

    def _normal(self, prefix: str) -> str:
        return "".join(self.tokenizer.tokens(prefix)) if prefix.strip() else prefix

    @functools.lru_cache(maxsize=256)
    def _candidates(self, prefix: str) -> np.ndarray:
        """Ids of the words that may be offered: no specials, and starting with `prefix`."""
        ids = np.arange(len(SPECIALS), len(self.vocab))
        if prefix:
            ids = ids[[self.vocab.words[i].startswith(prefix) for i in ids]]
        return ids

    def generate(self, context: str, n: int = 20, temperature: float = 1.0, top_k: int | None = None,
                 seed: int | None = None, stop_at_eos: bool = True) -> str:
        """Sample up to `n` tokens after `context`; the same seed gives the same text."""
        if not isinstance(context, str):
            raise InputError("context must be a string")
        if not 0 <= n <= MAX_GENERATE:
            raise InputError(f"n must be between 0 and {MAX_GENERATE}, got {n}")
        if not temperature > 0:
            raise InputError(f"temperature must be > 0 (use --top-k 1 for greedy), got {temperature}")
        if top_k is not None and top_k < 1:
            raise InputError(f"top_k must be at least 1, got {top_k}")
        rng = np.random.default_rng(seed)
        tokens = self.tokenizer.tokens(context)
        out: list[str] = []
        banned = [0, 2] if stop_at_eos else [0, 1, 2]  # never <s> or <unk>; </s> ends the text
        for _ in range(n):
            ids = context_ids([tokens + out], self.vocab, self.context_size)
            logits = self.log_probs_of_ids(ids)[0].astype(np.float64) / temperature
            logits[banned] = -np.inf
            if top_k is not None and top_k < len(logits):
                logits[np.argsort(-logits, kind="stable")[top_k:]] = -np.inf
            p = np.exp(logits - logits.max())
            choice = int(rng.choice(len(p), p=p / p.sum()))
            if choice == 1:
                break
            out.append(self.vocab.words[choice])
        return detokenize(out)

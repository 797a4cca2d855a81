"""The next-word task: `NextWordPredictor` (contexts → likely next words, and sampled
continuations, on any backend), its export contract, and its metrics (perplexity, top-1/top-5,
OOV rate) for `bowgram eval` and the training report."""

from __future__ import annotations

import math
import threading
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .. import charclass
from ..contract import Contract, TensorSpec
from ..corpus import read_text
from ..errors import BundleError, InputError
from ..inputs import as_batch
from ..tokenizer import (
    BOS_ID,
    EOS_ID,
    SPECIALS,
    UNK_ID,
    Tokenizer,
    TokenizerSpec,
    Vocab,
    context_ids,
    detokenize,
    windows,
)
from . import Predictor, Task

MAX_GENERATE = 1000  # tokens per generate() call
ROWS = 16  # contexts per backend call
SCORED_ROWS = 256  # contexts whose full-vocabulary scores are held at once (k beyond the graph's top-k, prefixes)
TAIL_CHARS = 10_000  # characters of a context that are tokenized: its end
CANDIDATE_CACHE = 256  # prefixes whose candidate ids are kept
LOG_PROBS, TOP_LOG_PROBS, TOP_IDS = "log_probs", "top_log_probs", "top_ids"

CONTRACT = Contract(
    inputs=(TensorSpec("input_ids", "int64", ("batch", "context")),),  # the last `context` token ids
    outputs=(
        TensorSpec(LOG_PROBS, "float32", ("batch", "vocab")),
        # the graph's own k best (ONNX TopK), best first: top-k answers without sorting the vocabulary
        TensorSpec(TOP_LOG_PROBS, "float32", ("batch", "top_k")),
        TensorSpec(TOP_IDS, "int64", ("batch", "top_k")),
    ),
)


class NextWordPredictor(Predictor):
    task = "nextword"

    def _prepare(self) -> None:
        bundle, manifest = self.bundle, self.bundle.manifest
        spec = TokenizerSpec.from_dict(manifest.featurizer, manifest.format_version)
        charclass.check_version(spec.unicode_version, str(bundle.path))
        self.tokenizer = Tokenizer(spec)
        self.vocab = Vocab(bundle.read_json("vocab"))
        self.context_size = self.sizes["context"]
        if self.sizes["vocab"] != len(self.vocab) or self.sizes["top_k"] > len(self.vocab):
            raise BundleError(
                f"{bundle.path}: vocab.json has {len(self.vocab)} tokens but the model "
                f"expects {self.sizes['vocab']} (top-k {self.sizes['top_k']})"
            )
        self._graph_top_k = self.sizes["top_k"]
        self._candidate_cache: dict[str, np.ndarray] = {}
        self._candidate_lock = threading.Lock()

    def input_ids(self, text: str) -> list[int]:
        ids: list[int] = self.context_ids([text])[0].tolist()
        return ids

    def units(self, text: str) -> list[str]:
        return self.tokenizer.tokens(text[-TAIL_CHARS:])

    def output_names(self) -> list[str]:
        return self.vocab.words

    def log_probs_of_ids(self, ids: np.ndarray) -> np.ndarray:
        """Log-probabilities [n, vocab] for context id rows [n, context]."""
        return self._run(ids, [LOG_PROBS])[LOG_PROBS]

    def _run(self, ids: np.ndarray, names: list[str]) -> dict[str, np.ndarray]:
        """The backend's `names` outputs for id rows, ROWS rows per call: every call makes a few
        [rows, vocab] float arrays, so this bounds a big batch's memory at no cost in speed."""
        parts: dict[str, list[np.ndarray]] = {name: [] for name in names}
        for start in range(0, max(len(ids), 1), ROWS):
            outputs = self.outputs(ids[start : start + ROWS], names)  # only these: not every call's scores
            for name in names:
                parts[name].append(outputs[name])
        return {name: np.concatenate(parts[name]) for name in names}

    def context_ids(self, contexts: list[str]) -> np.ndarray:
        """The last `context_size` token ids of each context. Only a context's last TAIL_CHARS
        characters are tokenized: the last few tokens are all the model sees."""
        return context_ids([self.tokenizer.tokens(c[-TAIL_CHARS:]) for c in contexts], self.vocab, self.context_size)

    def predict(self, contexts: str | Sequence[str], k: int = 5, prefix: str | None = None) -> Any:
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
            outputs = self._run(ids, [TOP_IDS, TOP_LOG_PROBS])
            results = [
                self._from_top(ids, lps, k)
                for ids, lps in zip(outputs[TOP_IDS].tolist(), outputs[TOP_LOG_PROBS].tolist())
            ]
            return results[0] if single else results
        allowed = self._candidates(self._normal(prefix) if prefix else "")
        k = min(k, len(allowed))
        if k == 0:
            return [] if single else [[] for _ in batch]
        results = []
        for start in range(0, len(ids), SCORED_ROWS):  # [rows, vocab] scores for a bounded number of rows
            results += self._best(self.log_probs_of_ids(ids[start : start + SCORED_ROWS]), allowed, k)
        return results[0] if single else results

    def _best(self, logp: np.ndarray, allowed: np.ndarray, k: int) -> list[list[tuple[str, float]]]:
        """The k best allowed words of each row of log-probabilities, best first."""
        scores = logp[:, allowed]  # [n, candidates]
        part = np.argpartition(-scores, k - 1, axis=1)[:, :k]  # the k best, unordered
        part_scores = np.take_along_axis(scores, part, axis=1)
        order = np.argsort(-part_scores, axis=1, kind="stable")
        top_ids = allowed[np.take_along_axis(part, order, axis=1)]  # [n, k], best first
        top_p = np.exp(np.take_along_axis(part_scores, order, axis=1).astype(np.float64))
        words = self.vocab.words
        return [[(words[i], p) for i, p in zip(ids, probs)] for ids, probs in zip(top_ids.tolist(), top_p.tolist())]

    def _from_top(self, ids: list[int], log_probs: list[float], k: int) -> list[tuple[str, float]]:
        """The graph's own top list (ONNX TopK), minus special tokens, cut to k."""
        words = self.vocab.words
        picked = [(words[i], math.exp(lp)) for i, lp in zip(ids, log_probs) if i >= len(SPECIALS)]
        return picked[:k]

    def _normal(self, prefix: str) -> str:
        return "".join(self.tokenizer.tokens(prefix)) if prefix.strip() else prefix

    def _candidates(self, prefix: str) -> np.ndarray:
        """Ids of the words that may be offered: no specials, and starting with `prefix` (the
        last CANDIDATE_CACHE prefixes asked for are kept; threads share the cache under a lock)."""
        with self._candidate_lock:
            ids = self._candidate_cache.get(prefix)
            if ids is None:
                ids = np.arange(len(SPECIALS), len(self.vocab))
                if prefix:
                    ids = ids[[self.vocab.words[i].startswith(prefix) for i in ids]]
                if len(self._candidate_cache) >= CANDIDATE_CACHE:
                    del self._candidate_cache[next(iter(self._candidate_cache))]  # the oldest
                self._candidate_cache[prefix] = ids
            return ids

    def generate(
        self,
        context: str,
        n: int = 20,
        temperature: float = 1.0,
        top_k: int | None = None,
        seed: int | None = None,
        stop_at_eos: bool = True,
    ) -> str:
        """Sample up to `n` tokens after `context`; the same seed gives the same text."""
        if not isinstance(context, str):
            raise InputError("context must be a string")
        if not 0 <= n <= MAX_GENERATE:
            raise InputError(f"n must be between 0 and {MAX_GENERATE}, got {n}")
        if not (temperature > 0 and math.isfinite(temperature)):
            raise InputError(f"temperature must be > 0 (use --top-k 1 for greedy), got {temperature}")
        if top_k is not None and top_k < 1:
            raise InputError(f"top_k must be at least 1, got {top_k}")
        rng = np.random.default_rng(seed)
        tokens = self.tokenizer.tokens(context[-TAIL_CHARS:])
        out: list[str] = []
        banned = [BOS_ID, UNK_ID] if stop_at_eos else [BOS_ID, EOS_ID, UNK_ID]  # </s> ends the text
        for _ in range(n):
            ids = context_ids([tokens + out], self.vocab, self.context_size)
            logits = self.log_probs_of_ids(ids)[0].astype(np.float64)
            logits[banned] = -np.inf
            if top_k is not None and top_k < len(logits):
                logits[np.argsort(-logits, kind="stable")[top_k:]] = -np.inf
            # shift before dividing: scores <= 0 divided by any temperature > 0 stay <= 0 (no overflow,
            # and the best word keeps probability > 0 however small the temperature)
            with np.errstate(over="ignore"):
                p = np.exp((logits - logits.max()) / temperature)
            choice = int(rng.choice(len(p), p=p / p.sum()))
            if choice == EOS_ID:
                break
            out.append(self.vocab.words[choice])
        return detokenize(out)


OOV_WARNING = 0.5  # `bowgram eval` warns when more of a file's tokens than this are unknown to the model


def evaluate(predictor: NextWordPredictor, path: Path) -> dict[str, Any]:
    """Perplexity over every token of a text file (<unk> and </s> targets included, as KenLM
    counts them), top-1/top-5 accuracy, token count and OOV rate."""
    metrics = metrics_of(predictor, predictor.tokenizer.sequences(read_text(path)))
    if not metrics["tokens"]:
        raise InputError(f"{path}: no words to measure (the file is empty or has no tokens)")
    if metrics["oov_rate"] > OOV_WARNING:
        warnings.warn(
            f"{metrics['oov_rate']:.1%} of the tokens of {path} are not in the model's vocabulary: "
            "the perplexity mostly measures how it predicts <unk>, not this text",
            stacklevel=2,
        )
    return metrics


def metrics_of(predictor: NextWordPredictor, sequences: list[list[str]], batch: int = 2048) -> dict[str, Any]:
    """`evaluate` for text already split into token sequences."""
    contexts, targets = windows(sequences, predictor.vocab, predictor.context_size)
    nll, top1, top5 = 0.0, 0, 0
    for start in range(0, len(targets), batch):
        logp = predictor.log_probs_of_ids(contexts[start : start + batch]).astype(np.float64)
        tgt = targets[start : start + batch]
        target_lp = logp[np.arange(len(tgt)), tgt]
        nll -= target_lp.sum()
        rank = (logp > target_lp[:, None]).sum(axis=1)  # how many tokens score above the target
        top1 += int((rank < 1).sum())
        top5 += int((rank < 5).sum())
    n = len(targets)
    oov = int((targets == UNK_ID).sum())
    return {
        "perplexity": float(np.exp(nll / n)) if n else float("nan"),
        "top1": top1 / n if n else 0.0,
        "top5": top5 / n if n else 0.0,
        "tokens": n,
        "oov": oov,
        "oov_rate": oov / n if n else 0.0,
    }


def metrics_table(metrics: dict[str, Any]) -> str:
    """`bowgram eval`'s text output, also the validation section of the training report."""
    return "\n".join(
        f"{k:<12} {metrics[k]:.4f}" if isinstance(metrics[k], float) else f"{k:<12} {metrics[k]}"
        for k in ("perplexity", "top1", "top5", "tokens", "oov", "oov_rate")
    )


TASK = Task(
    name="nextword",
    predictor=NextWordPredictor,
    contract=CONTRACT,
    evaluate=evaluate,
    metrics_table=metrics_table,
    data_help="a UTF-8 text file; blank lines separate paragraphs",
    answer=("next_word", "word"),
    trainer="bowgram.export.nextword_training:TRAINING",
)

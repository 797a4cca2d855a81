"""The next-word task: `NextWordPredictor` (contexts → likely next words, and sampled
continuations, on any backend), its export contract, and its metrics (perplexity, top-1/top-5,
OOV rate) for `bowgram eval` and the training report."""

from __future__ import annotations

import bisect
import math
import threading
import warnings
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .. import charclass
from ..class_search import ClassSearch, class_starts
from ..contract import Contract, TensorSpec
from ..corpus import read_text
from ..errors import BundleError, InputError
from ..inputs import as_batch
from ..tokenizer import (
    BOS_ID,
    EOS_ID,
    PARAGRAPH_BREAK,
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
# contexts a call answers one at a time from a factored model's weights (class_search.py); with 4 or
# more a call, the graph's batch is faster per context (measured on the default bundle)
SEARCHED_ROWS = 2
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
        self.cache = CacheSpec.of(manifest.model)
        self.classes = class_starts(manifest.model, len(self.vocab), str(bundle.path))
        self._search: ClassSearch | None = None
        self._search_read = False
        self._search_lock = threading.Lock()
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
        search = self.class_search() if not prefix and len(batch) <= SEARCHED_ROWS else None
        if search is not None:  # a factored model's own weights: no model call (class_search.py)
            words = self.vocab.words
            results = [
                [(words[i], p) for i, p in zip(*search.top(row, min(k, len(words) - len(SPECIALS)), len(SPECIALS)))]
                for row in ids
            ]
            return results[0] if single else results
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

    def class_search(self) -> ClassSearch | None:
        """A factored model's weights, read on first use from the bundle's ONNX file, if they
        reproduce the bundle's test vectors (`_reproduces`); else None. Only for the fp32 model:
        the int8 one answers as itself."""
        with self._search_lock:
            if not self._search_read:
                self._search, self._search_read = self._read_search(), True
            return self._search

    def _read_search(self) -> ClassSearch | None:
        artifact = self.bundle.manifest.artifact("onnx", "fp32")
        if self.classes is None or self.precision != "fp32" or artifact is None or not self.bundle.present(artifact):
            return None
        try:
            read, size = self.bundle.reader(artifact)
            search = ClassSearch.read(read, size, self.classes, self.context_size, len(self.vocab))
        except (BundleError, OSError):  # not a file this reader understands: the model answers instead
            return None
        return search if search is not None and self._reproduces(search) else None

    def _reproduces(self, search: ClassSearch) -> bool:
        """Whether `search` gives the log-probabilities examples.json records (no model call, which
        matters to a command that answers one context and exits), else the model's own on a few
        contexts; within the contract's tolerance."""
        cases: list[tuple[list[int], list[int], list[float]]] = []
        try:
            for ex in self.bundle.read_json("examples")["examples"]:
                cases.append((list(ex["ids"]), [int(t[0]) for t in ex["top"]], [float(t[2]) for t in ex["top"]]))
        except (BundleError, KeyError, TypeError, ValueError, IndexError):
            cases = []
        if not cases:
            probe = (np.arange(4 * self.context_size, dtype=np.int64) % len(self.vocab)).reshape(4, self.context_size)
            index = list(range(len(self.vocab)))
            cases = [(row.tolist(), index, lp.tolist()) for row, lp in zip(probe, self.log_probs_of_ids(probe))]
        for ids, index, want in cases:
            if len(ids) != self.context_size or not all(0 <= i < len(self.vocab) for i in [*ids, *index]):
                return False
            got = search.log_probs(np.asarray(ids, dtype=np.int64))
            if not np.allclose(got[index], want, atol=CONTRACT.atol, rtol=CONTRACT.rtol):
                return False
        return True

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

    def writer(self) -> Writer:
        """A new writer: answers that adapt to what it is given to write (`Writer`)."""
        return Writer(self)

    def adapted(self, texts: Sequence[str], k: int = 5, writer: Writer | None = None) -> list[list[tuple[str, float]]]:
        """Each text written in turn, as a line, by one writer (`writer`, else a new one), and the
        k words likely to follow all written so far: `bowgram nextword --adapt`."""
        writer = writer or self.writer()
        answers = []
        for text in texts:
            writer.write(text + "\n")
            answers.append(writer.predict(k))
        return answers

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


MAX_CACHE_WINDOW = 1000  # most tokens a writer's cache may hold


@dataclass(frozen=True)
class CacheSpec:
    """A writer's cache (the manifest's `model.cache`; absent: none), over the last `window`
    tokens the writer wrote (`<s>` and `</s>` are not entries; `<unk>` is, as it is a token the
    model predicts and perplexity counts):

        p1(w) = (1 - unigram) · p_model(w) + unigram · c(w) / n
        p(w)  = (1 - bigram) · p1(w) + bigram · c(h, w) / c(h, ·)

    c(w): how often w is among those tokens, n: how many there are; c(h, w): how often w follows
    h, the token before the one predicted, among them. Each step applies only when its counts are
    not empty (before the writer has written anything: the model alone). A text's own recent
    words and word pairs (names, topic words, the phrases it repeats) are the cheapest gain in
    language modelling."""

    window: int
    unigram: float
    bigram: float

    @classmethod
    def of(cls, model: dict[str, Any]) -> CacheSpec | None:
        data = model.get("cache")
        if data is None:
            return None
        if not isinstance(data, dict) or set(data) != {"window", "unigram", "bigram"}:
            raise BundleError('manifest.json: model.cache must be {"window": n, "unigram": w, "bigram": w}')
        for name in ("unigram", "bigram"):  # exact types: a bool is no weight
            if type(data[name]) not in (int, float) or not 0 <= data[name] < 1:
                raise BundleError(f"manifest.json: model.cache.{name} must be a number from 0 up to 1 (not 1)")
        if type(data["window"]) is not int or not 1 <= data["window"] <= MAX_CACHE_WINDOW:
            raise BundleError(f"manifest.json: model.cache.window must be a whole number from 1 to {MAX_CACHE_WINDOW}")
        return cls(data["window"], float(data["unigram"]), float(data["bigram"]))

    def mix(self, probs: np.ndarray, unigrams: np.ndarray, bigrams: dict[int, int] | None) -> np.ndarray:
        """One row of the writer's distribution: the model's `probs` [vocab], the window's token
        counts [vocab], and the counts of the tokens that followed the history there."""
        out = probs
        held = unigrams.sum()
        if held:
            out = out * (1 - self.unigram) + unigrams * (self.unigram / held)
        if bigrams:
            out = out * (1 - self.bigram)
            total = sum(bigrams.values())
            for w, c in bigrams.items():
                out[w] += self.bigram * c / total
        return out


class _Window:
    """The counts of a cache: the last `size` tokens of a stream, and the pairs they end (with
    the token before each). `<s>` and `</s>` are not counted, but `</s>` is a history: who
    speaks after a paragraph ends is worth remembering."""

    def __init__(self, size: int, vocab: int):
        self.size, self.before = size, -1  # before: the token before entries[0]
        self.entries: deque[int] = deque()
        self.unigrams = np.zeros(vocab, dtype=np.float64)
        self.pairs: dict[int, dict[int, int]] = {}

    def add(self, token: int) -> None:
        previous = self.entries[-1] if self.entries else self.before
        self.entries.append(token)
        self._count(previous, token, 1)
        if len(self.entries) > self.size:
            oldest = self.entries.popleft()
            self._count(self.before, oldest, -1)
            self.before = oldest

    def _count(self, history: int, token: int, step: int) -> None:
        if token <= EOS_ID:
            return
        self.unigrams[token] += step
        if history < 0:
            return
        following = self.pairs.setdefault(history, {})
        following[token] = following.get(token, 0) + step
        if not following[token]:
            del following[token]
            if not following:
                del self.pairs[history]

    def following(self, history: int) -> dict[int, int] | None:
        return self.pairs.get(history)


def cache_mixture(probs: np.ndarray, stream: np.ndarray, start: int, cache: CacheSpec) -> np.ndarray:
    """The writer's distribution for rows of model probabilities [n, vocab] of the tokens
    stream[start : start + n], the cache holding the tokens before each (a writer fed the text
    as it is read: the standard cache-model protocol)."""
    window = _Window(cache.window, probs.shape[1])
    for token in stream[max(0, start - cache.window - 1) : start].tolist():
        window.add(token)
    out = np.empty_like(probs)
    for r, token in enumerate(stream[start : start + len(probs)].tolist()):
        history = window.entries[-1] if window.entries else window.before
        out[r] = cache.mix(probs[r], window.unigrams, window.following(history))
        window.add(token)
    return out


CACHE_WINDOWS = (100, 200, 500, 1000)  # what `tune_cache` tries
CACHE_WEIGHTS = (0.0, 0.02, 0.05, 0.08, 0.1, 0.15, 0.2, 0.3)


def tune_cache(target_probs: np.ndarray, stream: np.ndarray) -> tuple[CacheSpec | None, float]:
    """The cache that gives the stream the lowest perplexity (grid over CACHE_WINDOWS and two
    CACHE_WEIGHTS), from the model's probability of each token [n], and that perplexity; None
    when no cache does better than the model alone."""
    plain = float(np.exp(-np.log(target_probs).mean())) if len(stream) else float("nan")
    best: tuple[CacheSpec | None, float] = (None, plain)
    for size in CACHE_WINDOWS:
        window = _Window(size, int(stream.max(initial=EOS_ID)) + 1)
        unigram, has_unigram, bigram, has_bigram = (np.zeros(len(stream)) for _ in range(4))
        for i, token in enumerate(stream.tolist()):
            held = window.unigrams.sum()
            if held:
                unigram[i], has_unigram[i] = window.unigrams[token] / held, 1
            following = window.following(window.entries[-1] if window.entries else window.before)
            if following:
                bigram[i], has_bigram[i] = following.get(token, 0) / sum(following.values()), 1
            window.add(token)
        for u in CACHE_WEIGHTS:
            p1 = np.where(has_unigram > 0, target_probs * (1 - u) + u * unigram, target_probs)
            for b in CACHE_WEIGHTS:
                p = np.where(has_bigram > 0, p1 * (1 - b) + b * bigram, p1)
                perplexity = float(np.exp(-np.log(p).mean()))
                if perplexity < best[1] and (u or b):
                    best = (CacheSpec(size, u, b), perplexity)
    return best


class Writer:
    """One user's writing: next-word answers that adapt to what this writer has written (a
    cache of its recent tokens, `CacheSpec`; a bundle without one answers with the model alone).

    `write(text)` appends what the user typed. `predict()` completes the word being typed (the
    text after the last space) or, after a space, offers the next word. Writers never share state
    (one per user or document); the predictor under them stays thread-safe, but one writer is for
    one thread at a time."""

    def __init__(self, predictor: NextWordPredictor):
        self.predictor, self.cache = predictor, predictor.cache
        self.context = ""  # the written text up to its last space (its last TAIL_CHARS characters)
        self.typing = ""  # after it: the word being typed
        self._window = _Window(self.cache.window if self.cache else 0, len(predictor.vocab))

    def write(self, text: str) -> None:
        """What the user wrote next, appended to all before it (spaces included)."""
        if not isinstance(text, str):
            raise InputError("a writer is given text (a string)")
        pending = self.typing + text
        cut = max(pending.rfind(c) for c in " \t\n\r") + 1  # words are complete up to the last space
        if len(pending) - cut > TAIL_CHARS:  # no space for a long while: the old part counts as written
            cut = len(pending) - TAIL_CHARS
        done, self.typing = pending[:cut], pending[cut:]
        if not done:
            return
        # a blank line ends a paragraph (`</s>`), as `Tokenizer.sequences` cuts a text; one may
        # straddle two writes
        joined = self.context[-16:] + done
        offset = len(joined) - len(done)
        ends = [max(0, m.end() - offset) for m in PARAGRAPH_BREAK.finditer(joined) if m.end() > offset]
        self.context = (self.context + done)[-TAIL_CHARS:]
        if self.cache is None:
            return
        tokenizer, vocab = self.predictor.tokenizer, self.predictor.vocab
        for i, (a, b) in enumerate(zip([0, *ends], [*ends, len(done)])):
            if i:
                self._window.add(EOS_ID)
            for token in vocab.ids(tokenizer.tokens(done[a:b][-TAIL_CHARS:])):
                self._window.add(token)

    def predict(self, k: int = 5) -> list[tuple[str, float]]:
        """The k most likely words: completions of the word being typed, or the next word."""
        predictor, prefix = self.predictor, self.typing or None
        if self.cache is None or not self._window.unigrams.any():
            answer: list[tuple[str, float]] = predictor.predict(self.context, k=k, prefix=prefix)
            return answer
        if k < 1:
            raise InputError(f"k must be at least 1, got {k}")
        probs = np.exp(predictor.log_probs_of_ids(predictor.context_ids([self.context]))[0].astype(np.float64))
        window = self._window
        history = window.entries[-1] if window.entries else window.before
        mixed = self.cache.mix(probs, window.unigrams, window.following(history))
        allowed = predictor._candidates(predictor._normal(prefix) if prefix else "")
        if not len(allowed):
            return []
        return predictor._best(np.log(mixed)[None, :], allowed, min(k, len(allowed)))[0]


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
    """`evaluate` for text already split into token sequences: perplexity, top-1/top-5 and
    keystroke savings with 3 suggestions (`Keystrokes`), of the model alone and, when the bundle
    has a writer's cache, of the model with it fed the text as it is read (`cache_mixture`)."""
    contexts, targets = windows(sequences, predictor.vocab, predictor.context_size)
    typed = [t for seq in sequences for t in seq]  # the tokens as written: an <unk> keeps its length
    keys = Keystrokes(predictor.vocab.words)
    cache = predictor.cache
    plain, mixed = _Scores(), _Scores()
    for start in range(0, len(targets), batch):
        probs = np.exp(predictor.log_probs_of_ids(contexts[start : start + batch]).astype(np.float64))
        tgt = targets[start : start + batch]
        plain.add(probs, tgt, typed[start : start + batch], keys)
        if cache is not None:
            mixed.add(cache_mixture(probs, targets, start, cache), tgt, typed[start : start + batch], keys)
    n = len(targets)
    oov = int((targets == UNK_ID).sum())
    out: dict[str, Any] = {**plain.metrics(n, ""), "tokens": n, "oov": oov, "oov_rate": oov / n if n else 0.0}
    # with the writer's cache fed the text as it is read (None: the bundle has no cache)
    out.update(mixed.metrics(n, "_cache") if cache is not None else dict.fromkeys(plain.metrics(n, "_cache")))
    return out


class _Scores:
    """Running sums of `metrics_of` over batches of probability rows."""

    def __init__(self) -> None:
        self.nll, self.top1, self.top5, self.saved, self.total = 0.0, 0, 0, 0, 0

    def add(self, probs: np.ndarray, targets: np.ndarray, typed: list[str], keys: Keystrokes) -> None:
        target_p = probs[np.arange(len(targets)), targets]
        self.nll -= float(np.log(target_p).sum())
        rank = (probs > target_p[:, None]).sum(axis=1)  # how many tokens score above the target
        self.top1 += int((rank < 1).sum())
        self.top5 += int((rank < 5).sum())
        saved, total = keys.count(probs, targets, typed, KEYSTROKE_SUGGESTIONS)
        self.saved += saved
        self.total += total

    def metrics(self, n: int, suffix: str) -> dict[str, float]:
        return {
            f"perplexity{suffix}": float(np.exp(self.nll / n)) if n else float("nan"),
            f"top1{suffix}": self.top1 / n if n else 0.0,
            f"top5{suffix}": self.top5 / n if n else 0.0,
            f"keystroke_savings_k{KEYSTROKE_SUGGESTIONS}{suffix}": self.saved / self.total if self.total else 0.0,
        }


KEYSTROKE_SUGGESTIONS = 3


class Keystrokes:
    """Keystroke savings, the measure keyboards are judged by: 1 - (keystrokes with suggestions /
    keystrokes without). Every token of the text (a word or a punctuation mark; paragraph ends
    are not counted) costs its characters plus one (the space after it). Before each character
    is typed, and before the first, the `k` most likely vocabulary tokens that begin with what
    has been typed are shown (ties: the intended token first); when the intended token is among
    them, one tap enters it with its space: j + 1 keystrokes after j characters. A word the
    vocabulary lacks is typed in full."""

    def __init__(self, words: list[str]):
        self.order = np.array(sorted(range(len(SPECIALS), len(words)), key=lambda i: words[i]))
        self.sorted = [words[i] for i in self.order]
        self.words = words
        self._ranges: dict[int, list[tuple[int, int]]] = {}

    def ranges(self, word_id: int) -> list[tuple[int, int]]:
        """For each prefix length j of the word (0 .. len - 1): the [lo, hi) of the tokens that
        begin with its first j characters, in alphabetical order."""
        found = self._ranges.get(word_id)
        if found is None:
            word = self.words[word_id]
            found = [
                (bisect.bisect_left(self.sorted, word[:j]), bisect.bisect_left(self.sorted, word[:j] + "\U0010ffff"))
                for j in range(len(word))
            ]
            self._ranges[word_id] = found
        return found

    def count(self, probs: np.ndarray, targets: np.ndarray, typed: list[str], k: int) -> tuple[int, int]:
        """(keystrokes saved, keystrokes without suggestions) over rows of next-token scores."""
        saved = total = 0
        for row, target, token in zip(probs, targets.tolist(), typed):
            if target == EOS_ID:
                continue
            total += len(token) + 1
            if target < len(SPECIALS):  # <unk>: typed in full
                continue
            ranked = row[self.order]
            score = row[target]
            for j, (lo, hi) in enumerate(self.ranges(target)):
                if np.count_nonzero(ranked[lo:hi] > score) < k:
                    saved += len(token) - j
                    break
        return saved, total


def metrics_table(metrics: dict[str, Any]) -> str:
    """`bowgram eval`'s text output, also the validation section of the training report."""
    return "\n".join(
        f"{k:<12} {metrics[k]:.4f}" if isinstance(metrics[k], float) else f"{k:<12} {metrics[k]}"
        for k in (
            "perplexity",
            "top1",
            "top5",
            f"keystroke_savings_k{KEYSTROKE_SUGGESTIONS}",
            *(f"{m}_cache" for m in ("perplexity", "top1", "top5", f"keystroke_savings_k{KEYSTROKE_SUGGESTIONS}")),
            "tokens",
            "oov",
            "oov_rate",
        )
        if metrics.get(k) is not None
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

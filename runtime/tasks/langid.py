"""The language-identification task: `LanguageIdentifier` (texts → (label, probability) lists on
any backend), its export contract, and its metrics (accuracy, macro-F1, per-label scores,
confusions; and the same on 1-3 word spans) for `bowgram eval` and the training report.

Task logic only (features, batching, top-k, threshold, label restriction); the model itself is
behind a backend, numpy in and numpy out.
"""

from __future__ import annotations

import itertools
import re
import threading
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .. import charclass
from .. import languages as language_info
from ..contract import Contract, TensorSpec
from ..corpus import read_labelled, short_spans
from ..errors import BundleError, InputError
from ..featurizer import Features, Featurizer, FeaturizerSpec
from ..inputs import as_batch
from ..languages import UNDETERMINED, none_class, relabel
from ..onnx_weights import float_tensors
from ..padding import pad, pad_chunks
from ..segmenter import segment
from ..word_scores import LinearWeights, WordScores
from . import Predictor, Task

SWITCH_COST = 7.0  # segments: logit units a change of language must win (chosen on mixes of training sentences)
MIN_WORDS = 1  # segments: shorter ones join a neighbour (1: none; the switch cost already guards)
# ids per backend call (rows × padded width) = CALL_VALUES / the model's dim, so the gathered
# [rows, width, dim] embeddings stay cache-sized (~0.5 MB as float32). Measured with onnxruntime
# on the dev sentences, dim 32 (fp16 table): 4,096 ids a call 3.7 µs a text, 16,384 ids 4.5 µs;
# long sentences 7.4 vs 9.1 µs
CALL_VALUES = 1 << 17
CHUNK = 256  # most rows per backend call; rows are sorted by length first, so padding stays small
SMALL_BATCH = 16  # up to this many texts are answered from the weights (one text at a time is their case)
MAX_CHARS = 100_000  # a longer text is identified by its first MAX_CHARS characters (JSON output says so)
PROBE_WORDS = ("bowgram", "language", "язык", "日本語", "ελληνικά", "हिन्दी", "عربي", "x")  # folded already
PROBES_FROM_VOCAB = 8  # and the first words of vocab.json: weights must reproduce the model on all
SHORT_SEED = 12345  # fixed, so every eval of the same file cuts the same spans

CONTRACT = Contract(
    inputs=(TensorSpec("input_ids", "int64", ("batch", "tokens")),),  # feature ids, zero-padded
    outputs=(TensorSpec("log_probs", "float32", ("batch", "labels")),),
    dynamic=("batch", "tokens"),
    # a long text sums ~800 n-gram rows in float32: two onnxruntime builds differ by up to 4.4e-5 on a
    # log-probability of -3.4 (a Bhojpuri sentence, Python 1.32 vs Node 1.30); a recipe error moves it by 0.1
    atol=1e-4,
)


class LanguageIdentifier(Predictor):
    task = "langid"
    batch_size = CHUNK

    def _prepare(self) -> None:
        bundle, manifest = self.bundle, self.bundle.manifest
        self.labels: list[str] = bundle.read_json("labels")
        spec = FeaturizerSpec.from_dict(manifest.featurizer, manifest.format_version)
        charclass.check_version(spec.unicode_version, str(bundle.path))
        vocab = bundle.read_json("vocab")
        ids = list(vocab.values()) if isinstance(vocab, dict) else None
        if ids is None or not all(type(i) is int for i in ids) or sorted(ids) != list(range(1, len(ids) + 1)):
            raise BundleError(f"{bundle.path}: vocab.json must map each word to an id, the ids 1..N each once")
        if not (isinstance(self.labels, list) and all(isinstance(label, str) for label in self.labels)):
            raise BundleError(f"{bundle.path}: labels.json must be a list of strings")
        self.featurizer = Featurizer(spec, vocab)
        self._probes = [*PROBE_WORDS, *itertools.islice(vocab, PROBES_FROM_VOCAB)]
        sizes = {"labels": len(self.labels), "ids": self.featurizer.num_ids}
        recorded = {"labels": self.sizes["labels"], "ids": manifest.model.get("num_ids")}
        if len(set(self.labels)) != len(self.labels) or sizes != recorded:
            raise BundleError(
                f"{bundle.path}: labels.json/vocab.json do not match the model's sizes "
                f"(labels {sizes['labels']} vs {recorded['labels']}, ids {sizes['ids']} vs {recorded['ids']})"
            )
        # a model trained with an `und` class ("none of these languages": text in others) keeps its
        # share of the probability, so text in a language it was not trained on gets a low p; `und`
        # is never a guess itself, nor a language to restrict to
        self._none = none_class(self.labels)
        self._index = {label: i for i, label in enumerate(self.labels) if i != self._none}
        self._answerable = None if self._none is None else np.array(sorted(self._index.values()))
        self.languages: dict[str, dict[str, str]] = {}  # languages.json: names and codes, if the bundle has it
        self._code_maps: dict[str, dict[str, str] | None] = {}  # per kind of code, made once
        if any(a.format == "languages" for a in manifest.artifacts):
            self.languages = language_info.validate(bundle.read_json("languages"), self.labels, str(bundle.path))
        self.max_cells = max(256, CALL_VALUES // max(1, int(manifest.model.get("dim") or 32)))
        # the sum-over-words path (word_scores.py) holds for a model linear up to its log-softmax
        self._linear = manifest.model.get("architecture") == "bow-classifier" and manifest.model.get("hidden") == 0
        self._word_scores: WordScores | None = None
        self._weights: LinearWeights | None = None
        self._weights_read = False
        self._word_scores_lock = threading.Lock()

    @property
    def known_labels(self) -> list[str]:
        """The labels it answers with: all of `labels` but a "none of these" class (`und`)."""
        return list(self._index)

    def input_ids(self, text: str) -> list[int]:
        return self.featurizer([text[:MAX_CHARS]]).row(0)

    def units(self, text: str) -> list[str]:
        return self.featurizer.words([text[:MAX_CHARS]])[0]

    def output_names(self) -> list[str]:
        return self.labels

    def log_probs(self, texts: Sequence[str]) -> np.ndarray:
        """Log-probabilities [n, labels]; rows of texts without letters are NaN. A text is read up to
        its first MAX_CHARS characters: memory stays bounded whatever its length.

        A few texts (≤ SMALL_BATCH) of a linear model are answered one by one from the bundle's
        weights (`word_scores.py`: no model call); big batches through `model_log_probs`, whose
        vectorized featurizer and batched model calls are faster per text."""
        if not self._linear or len(texts) > SMALL_BATCH:  # big batches: the model's batching is as fast
            return self.model_log_probs(texts)
        out = np.full((len(texts), len(self.labels)), np.nan, dtype=np.float32)
        for i, text in enumerate(texts):
            row = self._text_logits(text)
            if row is not None:
                out[i] = row - row.max() - np.log(np.exp(row - row.max()).sum())
        return out

    def _text_logits(self, text: str) -> np.ndarray | None:
        """One text's logits up to a constant (float64), None without ids: from the bundle's weights
        when they reproduce the model (`word_scores.py`), else from the cached scores of its words."""
        words = self.featurizer.split(text[:MAX_CHARS])
        if not words or not_text(text):
            return None
        weights = self.weights()
        return weights.logits(words) if weights is not None else self.word_scores().logits(words)

    def weights(self) -> LinearWeights | None:
        """The model as its own weights, read on first use from the bundle's ONNX file (the tensors
        of the embedding table's, output weight's and bias's shapes), if they reproduce the model
        (`_reproduces`); else None. Only for the fp32 model: the int8 one answers as itself."""
        with self._word_scores_lock:
            if not self._weights_read:
                self._weights, self._weights_read = self._read_weights(), True
            return self._weights

    def _read_weights(self) -> LinearWeights | None:
        artifact = self.bundle.manifest.artifact("onnx", "fp32")
        if not self._linear or self.precision != "fp32" or artifact is None or not self.bundle.present(artifact):
            return None
        labels, ids, dim = len(self.labels), self.featurizer.num_ids, self.bundle.manifest.model.get("dim")
        if type(dim) is not int:
            return None
        try:
            read, size = self.bundle.reader(artifact)
            shapes = {t.shape: t for t in float_tensors(read, size).values()}
            embedding, weight, bias = (shapes.get(shape) for shape in ((ids, dim), (labels, dim), (labels,)))
            if embedding is None or weight is None or bias is None:
                return None
            # the table straight to float32, a block at a time: the file and both tables are never held at once
            arrays = embedding.array(read, np.float32), weight.array(read), bias.array(read)
        except (BundleError, OSError):  # not a file this reader understands: the model answers instead
            return None
        weights = LinearWeights(self.featurizer, *arrays)
        return weights if self._reproduces(weights) else None

    def _reproduces(self, weights: LinearWeights) -> bool:
        """Whether `weights` give the model's outputs: those examples.json records (no model call,
        which matters to a command that answers one text and exits), else the model's own on probe
        words; within the contract's tolerance."""
        cases: list[tuple[list[str], list[int], list[float]]] = []
        try:
            for ex in self.bundle.read_json("examples")["examples"]:
                words = self.featurizer.split(ex["text"][:MAX_CHARS])
                if words and ex.get("ids"):
                    cases.append((words, [int(t[0]) for t in ex["top"]], [float(t[2]) for t in ex["top"]]))
        except (BundleError, KeyError, TypeError, ValueError, IndexError):
            cases = []
        if not cases:  # no usable test vectors: ask the model
            expected = self._score_words(self._probes)
            index = list(range(len(self.labels)))
            cases = [([w], index, row.tolist()) for w, row in zip(self._probes, expected) if not np.isnan(row[0])]
        for words, index, want in cases:
            got = weights.logits(words)
            if got is None or not all(0 <= i < len(self.labels) for i in index):
                return False
            log_probs = got - _logsumexp(got)
            if not np.allclose(log_probs[index], want, atol=CONTRACT.atol, rtol=CONTRACT.rtol):
                return False
        return True

    def word_scores(self) -> WordScores:
        """Each word's part of the logits, cached, made on first use: from the weights when they can
        be used, else from model calls on new words."""
        weights = self.weights()
        with self._word_scores_lock:
            if self._word_scores is None:
                if weights is not None:
                    self._word_scores = weights.word_scores()
                else:
                    base = np.asarray(self.run(np.zeros((1, 1), dtype=np.int64))[0], dtype=np.float64)
                    self._word_scores = WordScores(base, lambda words: self._score_words(words) - base)
            return self._word_scores

    def _score_words(self, words: list[str]) -> np.ndarray:
        """The model's log-probabilities for each folded word alone; NaN for a word without ids."""
        return self._run_features(self.featurizer(words, folded=True)).astype(np.float64)

    def model_log_probs(self, texts: Sequence[str]) -> np.ndarray:
        """`log_probs` through the model on every text's ids (what the word path must equal)."""
        out = self._run_features(self.featurizer([t[:MAX_CHARS] for t in texts]))
        out[[i for i, t in enumerate(texts) if not_text(t)]] = np.nan  # binary data read as text: und
        return out

    def _run_features(self, features: Features) -> np.ndarray:
        """The model on each row of ids (sorted by length, chunked); rows without ids are NaN."""
        lengths = features.lengths()
        out = np.full((len(lengths), len(self.labels)), np.nan, dtype=np.float32)
        order = np.argsort(lengths, kind="stable")  # similar lengths together: little padding
        order = order[lengths[order] > 0]
        counts = self._chunks(lengths[order])
        chunks = [pad(features, order)] if len(order) == 1 else pad_chunks(features, order, counts)  # one: a view
        start = 0
        for count, ids in zip(counts, chunks):
            out[order[start : start + count]] = self.run(ids)
            start += count
        return out

    def _chunks(self, sorted_lengths: np.ndarray) -> list[int]:
        """Rows per backend call, in order: as many as fit in `max_cells` ids (padded to the widest,
        i.e. the last, row of the call), at most `batch_size`, at least one."""
        counts, start, n = [], 0, len(sorted_lengths)
        while start < n:
            widths = np.maximum(sorted_lengths[start : start + self.batch_size], 1)
            cells = np.arange(1, len(widths) + 1) * widths  # increasing: lengths are sorted
            count = max(1, int(np.searchsorted(cells, self.max_cells, side="right")))
            counts.append(count)
            start += count
        return counts

    def predict(
        self,
        texts: str | Sequence[str],
        k: int = 1,
        threshold: float = 0.0,
        languages: Sequence[str] | None = None,
        codes: str = "label",
    ) -> Any:
        """Top-k (label, probability) per text. A text without letters answers [("und", 1.0)]; one
        whose best probability p is below `threshold` answers [("und", p), (best, p), …] (the
        k candidates follow "und", so a caller still sees the best guess and how weak it was).

        `languages` restricts the answer to those labels, renormalizing over them. `codes` gives
        each label as its "iso639-1", "iso639-3" or "flores" code (from languages.json).
        A single string gives a single list; a list gives a list of lists.
        """
        batch, single = as_batch(texts)
        mapping = self.code_map(codes)
        if mapping is not None:
            results = relabel(self.predict(batch, k, threshold, languages), mapping)
            return results[0] if single else results
        if k < 1:
            raise InputError(f"k must be at least 1, got {k}")
        if not 0.0 <= threshold <= 1.0:
            raise InputError(f"threshold must be between 0 and 1, got {threshold}")
        allowed = self._allowed(languages)
        if k == 1 and allowed is None and self._linear and len(batch) <= SMALL_BATCH:  # the one-text path
            results = [self._best(text, threshold) for text in batch]
            return results[0] if single else results
        log_probs = self.log_probs(batch)
        columns = allowed if allowed is not None else self._answerable
        if columns is not None:
            log_probs = log_probs[:, columns]
        names = [self.labels[i] for i in columns] if columns is not None else self.labels
        k = min(k, log_probs.shape[1])
        scores = np.where(np.isnan(log_probs), -np.inf, log_probs)  # rows without letters: NaN
        top = scores.argmax(axis=1)[:, None] if k == 1 else np.argsort(-scores, axis=1, kind="stable")[:, :k]  # [n, k]
        if allowed is None:
            top_p = np.exp(np.take_along_axis(log_probs, top, axis=1).astype(np.float64))  # only k exps per row
        else:  # renormalized over the allowed labels, from their best: all of them may underflow exp()
            shifted = log_probs.astype(np.float64) - log_probs.max(axis=1, keepdims=True)  # rows without letters: NaN
            top_p = np.exp(np.take_along_axis(shifted, top, axis=1)) / np.exp(shifted).sum(axis=1, keepdims=True)
        if k == 1:  # the common case, without a list per row for ids and probabilities
            label_names = np.asarray(names, dtype=object)[top[:, 0]].tolist()
            results = [
                [(name, p)] if p >= threshold else self._answer([i], [p], names, threshold)
                for name, i, p in zip(label_names, top[:, 0].tolist(), top_p[:, 0].tolist())
            ]  # NaN fails >=: und
        else:
            results = [self._answer(ids, ps, names, threshold) for ids, ps in zip(top.tolist(), top_p.tolist())]
        return results[0] if single else results

    def _best(self, text: str, threshold: float) -> list[tuple[str, float]]:
        """The best label of one text in the fewest numpy steps: p(best) = 1 / Σ exp(logit − logit(best))."""
        logits = self._text_logits(text)
        if logits is None:
            return [(UNDETERMINED, 1.0)]
        answerable = self._answerable
        best = int(logits.argmax()) if answerable is None else int(answerable[logits[answerable].argmax()])
        p = 1.0 / float(np.exp(logits - logits[best]).sum())  # `und`'s share included
        return [(self.labels[best], p)] if p >= threshold else self._answer([best], [p], self.labels, threshold)

    def code_map(self, codes: str) -> dict[str, str] | None:
        """label -> its code of kind `codes` ("label": None, the labels themselves), made on first
        use: it depends on the bundle alone, and one text per call must not rebuild it."""
        if codes not in self._code_maps:  # a refused kind raises here, and is never stored
            self._code_maps[codes] = language_info.code_map(self.languages, self.labels, codes)
        return self._code_maps[codes]

    def segments(
        self,
        texts: str | Sequence[str],
        switch_cost: float = SWITCH_COST,
        min_words: int = MIN_WORDS,
        codes: str = "label",
    ) -> Any:
        """Which languages, where: (start, end, label, probability) over character offsets of each
        text itself, covering its words; adjacent words of one language in one segment.

        Each word scores every label by its part of the model's logits (`word_scores.py`); a
        Viterbi pass picks a label per word, paying `switch_cost` per change of language; then
        segments shorter than `min_words` words join a neighbour. A segment's probability is
        the model's on that segment alone. A text of any length is read MAX_CHARS at a time.
        Labels that are never among a word's best three (nor the text's best five) are not
        considered. A single string gives a single list; a list gives a list of lists (the new
        words of all of them go through the model together).
        """
        batch, single = as_batch(texts)
        mapping = self.code_map(codes)
        if not self._linear:
            raise InputError("segments need a model without a hidden layer (sum of word scores)")
        if not 0 <= switch_cost < float("inf") or min_words < 1:  # NaN fails the first
            raise InputError(f"switch_cost must be a number >= 0 and min_words >= 1 ({switch_cost!r}, {min_words!r})")
        scores, split = self.word_scores(), self.featurizer.split
        if len(batch) > 1:  # one model call for the new words of the whole batch
            scores.rows([w for t in batch for w in split(t[:MAX_CHARS])])
        results = relabel([self._segments(text, switch_cost, min_words) for text in batch], mapping, at=2)
        return results[0] if single else results

    def _segments(self, text: str, switch_cost: float, min_words: int) -> list[tuple[int, int, str, float]]:
        """One text's segments, MAX_CHARS characters at a time (memory stays bounded whatever the
        text's length); a segment that goes on in the next window, in the same language, is one."""
        base = self.word_scores().base
        out: list[list[Any]] = []  # [start, end, label index, summed word scores]
        for offset, end in _windows(text):
            spans, vectors = self._word_spans(text, offset, end)
            if not spans:
                continue
            total = base + vectors.sum(axis=0)
            candidates = np.union1d(_top_labels(vectors, 3), np.argsort(-total)[:5])
            if self._none is not None:  # "none of these" is never a segment's language
                candidates = candidates[candidates != self._none]
            for seg in segment(vectors[:, candidates], base[candidates], switch_cost, min_words):
                label, summed = int(candidates[seg.label]), vectors[seg.first : seg.last + 1].sum(axis=0)
                if out and out[-1][2] == label:  # the same language goes on
                    out[-1][1], out[-1][3] = spans[seg.last][1], out[-1][3] + summed
                else:
                    out.append([spans[seg.first][0], spans[seg.last][1], label, summed])
        results = []
        for start, end, label, summed in out:
            logits = base + summed
            results.append((start, end, self.labels[label], 1.0 / float(np.exp(logits - logits[label]).sum())))
        return results

    def shares(self, texts: str | Sequence[str], **options: Any) -> Any:
        """The share of each language in each text by characters of its segments, largest first
        ([("und", 1.0)] for a text without letters); `options` are `segments`'."""
        batch, single = as_batch(texts)
        results = []
        for segs in self.segments(batch, **options):
            chars: Counter[str] = Counter()
            for start, end, label, _ in segs:
                chars[label] += end - start
            total = sum(chars.values())
            results.append([(label, n / total) for label, n in chars.most_common()] if total else [(UNDETERMINED, 1.0)])
        return results[0] if single else results

    def _word_spans(self, text: str, offset: int, end: int) -> tuple[list[tuple[int, int]], np.ndarray]:
        """The runs of letters of `text[offset:end]` (offsets into `text`) that carry features, and
        each run's summed word scores [runs, labels]."""
        scores, featurizer = self.word_scores(), self.featurizer
        runs = [(a + offset, b + offset) for a, b in featurizer.letter_runs(text[offset:end])]
        words = [featurizer.split(text[a:b]) for a, b in runs]
        flat = [w for ws in words for w in ws]
        if not flat:
            return [], np.zeros((0, len(self.labels)), dtype=np.float32)
        vectors = scores.label_scores(flat)
        counts = np.fromiter(map(len, words), dtype=np.int64, count=len(words))
        keep = counts > 0
        sums = np.add.reduceat(np.nan_to_num(vectors), (np.cumsum(counts) - counts)[keep], axis=0)
        has_ids = np.add.reduceat(~np.isnan(vectors[:, 0]), (np.cumsum(counts) - counts)[keep]) > 0
        kept = [run for run, k in zip(runs, keep) if k]
        return [run for run, ok in zip(kept, has_ids) if ok], sums[has_ids]

    def _allowed(self, languages: Sequence[str] | None) -> np.ndarray | None:
        if languages is None:
            return None
        unknown = sorted(set(languages) - set(self._index))
        if unknown or not languages:
            known = " ".join(self.known_labels)
            raise InputError(f"unknown language(s) {', '.join(unknown) or '(none given)'}; this model knows: {known}")
        return np.array(sorted({self._index[lang] for lang in languages}))

    @staticmethod
    def _answer(ids: list[int], probs: list[float], names: list[str], threshold: float) -> list[tuple[str, float]]:
        if probs[0] != probs[0]:  # NaN: the text had no features
            return [(UNDETERMINED, 1.0)]
        answer = [(names[i], p) for i, p in zip(ids, probs)]
        if probs[0] < threshold:  # undetermined: "und" with the best guess's probability, then the guesses
            return [(UNDETERMINED, probs[0]), *answer]
        return answer


_NOT_TEXT = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ufffd]")


def not_text(text: str) -> bool:
    """Whether `text` is binary data read as text rather than text: a third or more of its
    non-space characters (of the first MAX_CHARS) are U+FFFD (bytes that were not UTF-8) or control
    characters. Such input answers `und`, whatever letters it happens to hold (an executable read
    with --on-error replace has runs of ASCII in it). The JavaScript runtime applies the same rule
    (shared cases: js/test/cases/not_text.json)."""
    sample = text[:MAX_CHARS]
    if _NOT_TEXT.search(sample) is None:  # the common case: one C-speed scan
        return False
    return 3 * len(_NOT_TEXT.findall(sample)) >= len(sample) - sum(c.isspace() for c in sample)


def _windows(text: str) -> list[tuple[int, int]]:
    """(start, end) pieces of at most MAX_CHARS characters, cut after the last space of a piece's
    second half when there is one (a word is not cut in two); the JavaScript runtime cuts alike."""
    pieces, start = [], 0
    while start < len(text):
        end = min(start + MAX_CHARS, len(text))
        if end < len(text):
            space = text.rfind(" ", start + MAX_CHARS // 2, end)
            end = space + 1 if space >= 0 else end
        pieces.append((start, end))
        start = end
    return pieces


def _top_labels(vectors: np.ndarray, top: int, rows: int = 4096) -> np.ndarray:
    """The labels among some word's best `top` (a few thousand words at a time: bounded memory)."""
    top = min(top, vectors.shape[1])
    found = [
        np.unique(np.argpartition(-vectors[i : i + rows], top - 1, axis=1)[:, :top])
        for i in range(0, len(vectors), rows)
    ]
    return np.unique(np.concatenate(found))


def _logsumexp(row: np.ndarray) -> float:
    top = float(row.max())
    return top + float(np.log(np.exp(row - top).sum()))


def evaluate(identifier: LanguageIdentifier, path: Path) -> dict[str, Any]:
    """`metrics_of` a labelled file's rows as given, plus accuracy on 1-3 word spans and on single
    words cut from them (short inputs are where language ID is hard: a dev set of clean sentences
    alone overstates how it does on other text)."""
    return evaluate_rows(identifier, *read_labelled(path))


def evaluate_rows(identifier: LanguageIdentifier, gold: list[str], texts: list[str]) -> dict[str, Any]:
    """`evaluate` for labelled rows already read."""
    metrics = metrics_of(identifier, gold, texts)
    short = metrics_of(identifier, *short_spans(gold, texts, SHORT_SEED))
    metrics["short_spans"] = {k: short[k] for k in ("accuracy", "macro_f1", "calibration_error", "covered")}
    words = metrics_of(identifier, *short_spans(gold, texts, SHORT_SEED, max_words=1))
    metrics["single_words"] = {k: words[k] for k in ("accuracy", "macro_f1", "calibration_error", "covered")}
    return metrics


def metrics_of(
    identifier: LanguageIdentifier, gold: list[str], texts: list[str], batch: int = 4096, confusions: int = 10
) -> dict[str, Any]:
    """Accuracy, macro-F1, per-label P/R/F1, top confusions and the calibration error of the top
    probability, over rows whose label is known."""
    known = set(identifier.labels)
    covered = [i for i, g in enumerate(gold) if g in known]
    unknown = Counter(g for g in gold if g not in known)
    predicted: list[str] = []
    confidence: list[float] = []
    for start in range(0, len(covered), batch):
        rows = [texts[i] for i in covered[start : start + batch]]
        for (label, p), *_ in identifier.predict(rows, k=1):
            predicted.append(label)
            confidence.append(p)
    gold_c = [gold[i] for i in covered]
    pairs = list(zip(gold_c, predicted))
    hits = Counter(g for g, p in pairs if g == p)
    n_pred, n_gold = Counter(predicted), Counter(gold_c)
    per_label = {}
    for label in sorted(n_gold):
        precision = hits[label] / n_pred[label] if n_pred[label] else 0.0
        recall = hits[label] / n_gold[label]
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        others = len(gold_c) - n_gold[label]  # rows of other labels: how often they were called this one
        per_label[label] = {
            "precision": precision,
            "recall": recall,
            "f1": f1,
            "false_positive_rate": (n_pred[label] - hits[label]) / others if others else 0.0,
            "support": n_gold[label],
        }
    confused = Counter((g, p) for g, p in pairs if g != p)
    correct = sum(hits.values())
    return {
        "accuracy": correct / len(gold_c) if gold_c else 0.0,
        "macro_f1": float(np.mean([v["f1"] for v in per_label.values()])) if per_label else 0.0,
        "n": len(gold),
        "covered": len(gold_c),
        "calibration_error": calibration_error(gold_c, predicted, confidence),
        # what --threshold 0.5 would answer `und`: the price, on known text, of a low p on unknown text
        "below_half": float(np.mean(np.array(confidence) < 0.5)) if confidence else 0.0,
        "unknown_labels": dict(unknown),
        "per_label": per_label,
        "confusions": [{"gold": g, "predicted": p, "count": c} for (g, p), c in confused.most_common(confusions)],
    }


def calibration_error(gold: list[str], predicted: list[str], confidence: list[float], bins: int = 15) -> float:
    """Expected calibration error of the top probability: |accuracy - mean confidence| per bin of
    confidence (equal widths), weighted by the bin's share of rows. `und` answers are left out:
    their probability is not a confidence in a language."""
    answered = [(g == p, c) for g, p, c in zip(gold, predicted, confidence) if p != UNDETERMINED]
    if not answered:
        return 0.0
    correct, conf = np.array([a for a, _ in answered], dtype=np.float64), np.array([c for _, c in answered])
    which = np.minimum((conf * bins).astype(int), bins - 1)
    error = 0.0
    for b in np.unique(which):
        rows = which == b
        error += rows.mean() * abs(correct[rows].mean() - conf[rows].mean())
    return float(error)


def metrics_table(metrics: dict[str, Any]) -> str:
    """`bowgram eval`'s text output, also the dev section of the training report."""
    lines = [
        f"accuracy     {metrics['accuracy']:.4f}  (calibration error of the top probability "
        f"{metrics.get('calibration_error', float('nan')):.4f})",
        f"macro_f1     {metrics['macro_f1']:.4f}",
        f"rows         {metrics['n']} ({metrics['covered']} with a label the model knows)",
    ]
    for key, what in (("short_spans", "1-3 words cut from each row"), ("single_words", "one word cut from each row")):
        if key in metrics:
            lines.append(
                f"{key.replace('_', ' '):<12} accuracy {metrics[key]['accuracy']:.4f}, "
                f"macro_f1 {metrics[key]['macro_f1']:.4f} ({what})"
            )
    if metrics["unknown_labels"]:
        lines.append("unknown gold labels: " + ", ".join(f"{k} ({v})" for k, v in metrics["unknown_labels"].items()))
    lines.append("\nlabel   precision  recall     f1  support")
    for label, row in sorted(metrics["per_label"].items(), key=lambda kv: kv[1]["f1"]):
        lines.append(f"{label:<7} {row['precision']:>9.3f} {row['recall']:>7.3f} {row['f1']:>6.3f} {row['support']:>8}")
    if metrics["confusions"]:
        lines.append("\nmost frequent confusions (gold -> predicted):")
        lines += [f"  {c['gold']} -> {c['predicted']}: {c['count']}" for c in metrics["confusions"]]
    return "\n".join(lines)


TASK = Task(
    name="langid",
    predictor=LanguageIdentifier,
    contract=CONTRACT,
    evaluate=evaluate,
    metrics_table=metrics_table,
    data_help="TSV 'label<TAB>text' or fastText '__label__xx text' lines (.gz read too)",
    answer=("langid", "label"),
    trainer="bowgram.export.langid_training:TRAINING",
)

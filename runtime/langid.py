"""LanguageIdentifier: texts → (label, probability) lists, on any backend.

Task logic only (features, batching, top-k, threshold, label restriction); the model itself is
behind a backend, numpy in and numpy out.
"""

from __future__ import annotations

import unicodedata
import warnings
from typing import Sequence

import numpy as np

from .bundle import Bundle
from .errors import BundleError, InputError
from .featurizer import Featurizer, FeaturizerSpec, pad, pad_chunks
from .texts import as_batch

UNDETERMINED = "und"
# rows × padded width per backend call. Measured with onnxruntime on the dev set: 2^14 cells
# (~2 MB of float32 intermediates, cache-sized) ran 1.3 µs a text, 128-row calls 3.0 µs
MAX_CELLS = 1 << 14
CHUNK = 256  # most rows per backend call; rows are sorted by length first, so padding stays small


class LanguageIdentifier:
    task = "langid"

    def __init__(self, bundle: Bundle, backend, batch_size: int = CHUNK):
        self.bundle, self.backend, self.batch_size = bundle, backend, batch_size
        manifest = bundle.manifest
        self.labels: list[str] = bundle.read_json("labels")
        spec = FeaturizerSpec.from_dict(manifest.featurizer)
        if spec.unicode_version != unicodedata.unidata_version:  # new characters may class differently
            warnings.warn(f"{bundle.path} was built with Unicode {spec.unicode_version}, this Python has "
                          f"{unicodedata.unidata_version}: characters added in between may get other ids", stacklevel=2)
        self.featurizer = Featurizer(spec, bundle.read_json("vocab"))
        model = manifest.model
        if model.get("num_labels") != len(self.labels) or model.get("num_ids") != self.featurizer.num_ids:
            raise BundleError(f"{bundle.path}: labels.json/vocab.json do not match the model's sizes "
                              f"(labels {len(self.labels)} vs {model.get('num_labels')}, "
                              f"ids {self.featurizer.num_ids} vs {model.get('num_ids')})")
        self._index = {label: i for i, label in enumerate(self.labels)}

    def input_ids(self, text: str) -> list[int]:
        """The model's input ids for one text (what examples.json records)."""
        return self.featurizer([text]).row(0)

    def log_probs(self, texts: Sequence[str]) -> np.ndarray:
        """Log-probabilities [n, labels]; rows of texts without letters are NaN."""
        features = self.featurizer(list(texts))
        lengths = features.lengths()
        out = np.full((len(texts), len(self.labels)), np.nan, dtype=np.float32)
        order = np.argsort(lengths, kind="stable")  # similar lengths together: little padding
        order = order[lengths[order] > 0]
        counts = self._chunks(lengths[order])
        chunks = [pad(features, order)] if len(order) == 1 else pad_chunks(features, order, counts)  # one: a view
        start = 0
        for count, ids in zip(counts, chunks):
            out[order[start : start + count]] = self.backend.run({self.backend.input_names[0]: ids})[
                self.backend.output_names[0]]
            start += count
        return out

    def _chunks(self, sorted_lengths: np.ndarray) -> list[int]:
        """Rows per backend call, in order: as many as fit in MAX_CELLS ids (padded to the widest,
        i.e. the last, row of the call), at most `batch_size`, at least one."""
        counts, start, n = [], 0, len(sorted_lengths)
        while start < n:
            widths = np.maximum(sorted_lengths[start : start + self.batch_size], 1)
            cells = np.arange(1, len(widths) + 1) * widths  # increasing: lengths are sorted
            count = max(1, int(np.searchsorted(cells, MAX_CELLS, side="right")))
            counts.append(count)
            start += count
        return counts

    def predict(self, texts: str | Sequence[str], k: int = 1, threshold: float = 0.0,
                languages: Sequence[str] | None = None):
        """Top-k (label, probability) per text; `und` when no letters or below `threshold`.

        `languages` restricts the answer to those labels, renormalizing over them.
        A single string gives a single list; a list gives a list of lists.
        """
        batch, single = as_batch(texts)
        if k < 1:
            raise InputError(f"k must be at least 1, got {k}")
        if not 0.0 <= threshold <= 1.0:
            raise InputError(f"threshold must be between 0 and 1, got {threshold}")
        allowed = self._allowed(languages)
        log_probs = self.log_probs(batch)
        if allowed is not None:
            log_probs = log_probs[:, allowed]
        names = [self.labels[i] for i in allowed] if allowed is not None else self.labels
        k = min(k, log_probs.shape[1])
        scores = np.where(np.isnan(log_probs), -np.inf, log_probs)  # rows without letters: NaN
        top = scores.argmax(axis=1)[:, None] if k == 1 else np.argsort(-scores, axis=1, kind="stable")[:, :k]  # [n, k]
        top_p = np.exp(np.take_along_axis(log_probs, top, axis=1).astype(np.float64))  # only k exps per row
        if allowed is not None:  # renormalize over the allowed labels
            top_p /= np.exp(log_probs.astype(np.float64)).sum(axis=1, keepdims=True)
        if k == 1:  # the common case, without a list per row for ids and probabilities
            label_names = np.asarray(names, dtype=object)[top[:, 0]].tolist()
            results = [[(name, p)] if p >= threshold else self._answer([0], [p], names, threshold)
                       for name, p in zip(label_names, top_p[:, 0].tolist())]  # NaN fails >=: und
        else:
            results = [self._answer(ids, ps, names, threshold) for ids, ps in zip(top.tolist(), top_p.tolist())]
        return results[0] if single else results

    def _allowed(self, languages):
        if languages is None:
            return None
        unknown = sorted(set(languages) - set(self._index))
        if unknown or not languages:
            raise InputError(f"unknown language(s) {', '.join(unknown) or '(none given)'}; "
                             f"this model knows: {' '.join(self.labels)}")
        return np.array(sorted({self._index[lang] for lang in languages}))

    @staticmethod
    def _answer(ids: list[int], probs: list[float], names: list[str], threshold: float):
        if probs[0] != probs[0]:  # NaN: the text had no features
            return [(UNDETERMINED, 1.0)]
        if probs[0] < threshold:
            return [(UNDETERMINED, 1.0 - probs[0])]
        return [(names[i], p) for i, p in zip(ids, probs)]

"""Text → integer ids for the language identifier, the same code at training and serving time.

The recipe, fully described by `FeaturizerSpec` (stored in the manifest), so that another
language can reproduce the ids from the manifest and `vocab.json` alone:

1. Normalize with Unicode `normalization` (NFKC by default), then `str.casefold()` if `casefold`.
2. Every code point whose Unicode general category is a letter (L*) or a mark (M*) is kept;
   every other one (digits, punctuation, symbols, spaces, controls) is a word boundary.
   A word is a maximal run of kept code points.
3. Word features: a word found in `vocab.json` gives its id (1..V). Unknown words give nothing.
4. Character n-gram features (fastText style): each word is wrapped in boundary markers
   (code point 32, a space: `" word "`), and every substring of `min_n`..`max_n` code points
   of the wrapped word is hashed, except the lone marker. Hash = 32-bit FNV-1a over code
   points: `h = 2166136261; for c in gram: h = ((h ^ c) * 16777619) mod 2**32`.
   Its id is `1 + V + h % buckets`.
5. A text's ids, in order: word ids (in text order), then n-grams by n ascending, each in
   text order. Id 0 is padding. A text without letters has no ids.

This is not a tokenizer for the language model (see `tokenizer.py`), and it does not batch or
pad for a model: `pad()` does that, so callers can bucket by length first.
"""

from __future__ import annotations

import itertools
import unicodedata
from dataclasses import asdict, dataclass, fields

import numpy as np

from .errors import BundleError

FNV_BASIS = 2166136261
FNV_PRIME = 16777619
BOUNDARY = 32
_TABLE_SIZE = 0x32400  # past the last CJK extension block; higher code points are boundaries


@dataclass(frozen=True)
class FeaturizerSpec:
    """How `Featurizer` turns text into ids; stored verbatim in the manifest."""

    normalization: str = "NFKC"
    casefold: bool = True
    keep: str = "unicode-letters-and-marks"  # general categories L*, M*; all else is a boundary
    word_features: bool = True  # look words up in vocab.json
    min_n: int = 1  # shortest character n-gram; 0 with max_n 0 turns n-grams off
    max_n: int = 4
    buckets: int = 2**17
    hash: str = "fnv1a32-codepoints"
    boundary_codepoint: int = BOUNDARY
    unicode_version: str = unicodedata.unidata_version

    def to_dict(self) -> dict:
        return {"kind": "words+char-ngrams", **asdict(self)}

    @classmethod
    def from_dict(cls, data: dict) -> "FeaturizerSpec":
        known = {f.name for f in fields(cls)}
        spec = cls(**{k: v for k, v in data.items() if k in known})
        if spec.normalization not in ("NFC", "NFKC", "NFD", "NFKD"):
            raise BundleError(f"featurizer.normalization: unknown form {spec.normalization!r}")
        if spec.hash != "fnv1a32-codepoints" or spec.keep != "unicode-letters-and-marks":
            raise BundleError("featurizer: unsupported hash or character class in manifest")
        if spec.max_n and not (1 <= spec.min_n <= spec.max_n and 0 < spec.buckets <= 2**32):
            raise BundleError("featurizer: n-grams need 1 <= min_n <= max_n and 0 < buckets <= 2**32")
        return spec


_CLASS = np.zeros(_TABLE_SIZE + 1, dtype=np.uint8)  # per code point: 0 not looked up yet, 1 letter/mark, 2 other
_CLASS[_TABLE_SIZE] = 2


def _is_letter(cp: np.ndarray) -> np.ndarray:
    """Letter-or-mark mask for code points, looking each one up in unicodedata once per process
    (lazily: a cold start pays only for the characters it meets)."""
    cls = _CLASS[np.minimum(cp, _TABLE_SIZE)]
    if (cls == 0).any():
        for c in np.unique(cp[cls == 0]).tolist():
            _CLASS[c] = 1 if unicodedata.category(chr(c))[0] in "LM" else 2
        cls = _CLASS[np.minimum(cp, _TABLE_SIZE)]
    return cls == 1


@dataclass(frozen=True)
class Features:
    """Ids of a batch in CSR form: text i owns `ids[offsets[i]:offsets[i + 1]]`."""

    ids: np.ndarray  # int64 [total]
    offsets: np.ndarray  # int64 [n_texts + 1]

    def lengths(self) -> np.ndarray:
        return np.diff(self.offsets)

    def row(self, i: int) -> list[int]:
        return self.ids[self.offsets[i] : self.offsets[i + 1]].tolist()


class Featurizer:
    """Vectorized over the whole batch: one normalize call, numpy for n-grams and hashing."""

    def __init__(self, spec: FeaturizerSpec, vocab: dict[str, int]):
        self.spec = spec
        self.vocab = vocab if spec.word_features else {}
        self.num_words = len(vocab)
        self.num_ids = 1 + self.num_words + (spec.buckets if spec.max_n else 0)
        self._words = _WordTable.build(self.vocab)

    def _letters(self, texts: list[str]):
        """Collapsed code points of the batch: words separated by one boundary (32).

        Returns (codepoints, is_boundary, text_index) over the kept positions.
        """
        joined = "\0" + "\0".join(texts) + "\0"
        if joined.count("\0") != len(texts) + 1:  # a text holds NUL: it is a boundary anyway
            joined = "\0" + "\0".join(t.replace("\0", " ") for t in texts) + "\0"
        joined = unicodedata.normalize(self.spec.normalization, joined)
        if self.spec.casefold:
            joined = joined.casefold()
        cp = np.frombuffer(joined.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
        text_index = np.cumsum(cp == 0) - 1  # a separator belongs to the text after it
        letter = _is_letter(cp)
        keep = letter.copy()
        keep[1:] |= letter[:-1]  # the boundary right after each word
        keep[0] = True  # and one before the first word
        return np.where(letter, cp, BOUNDARY)[keep], ~letter[keep], text_index[keep]

    def words(self, texts: list[str]) -> list[list[str]]:
        """The normalized words of each text (what vocab.json is built from)."""
        flat, word_tix = _split_words(*self._letters(texts))
        out: list[list[str]] = [[] for _ in texts]
        for word, t in zip(flat, word_tix.tolist()):
            out[t].append(word)
        return out

    def __call__(self, texts: list[str]) -> Features:
        cps, is_b, tix = self._letters(texts)
        parts_ids, parts_tix = [], []
        if self.vocab:
            starts, ends = _word_spans(is_b)
            if self._words is not None:
                wid = self._words.lookup(cps, starts, ends)
            else:
                flat = _split_words(cps, is_b, tix)[0]
                wid = np.fromiter(map(self.vocab.get, flat, itertools.repeat(0)), dtype=np.int64, count=len(flat))
            word_tix = tix[starts]
            found = wid > 0
            parts_ids.append(wid[found])
            parts_tix.append(word_tix[found])
        if self.spec.max_n:
            self._ngrams(cps, is_b, tix, parts_ids, parts_tix)
        return _to_csr(parts_ids, parts_tix, len(texts))

    def _ngrams(self, cps, is_b, tix, parts_ids, parts_tix) -> None:
        spec, m = self.spec, len(cps)
        bcount = np.concatenate([[0], np.cumsum(is_b)])  # boundaries in cps[:k]
        first_letter_tix = tix[np.minimum(np.arange(m) + is_b, m - 1)]
        h = np.full(m, FNV_BASIS, dtype=np.uint32)
        c, prime = cps.astype(np.uint32, copy=False), np.uint32(FNV_PRIME)
        first_id = 1 + self.num_words
        power_of_two = spec.buckets & (spec.buckets - 1) == 0
        for n in range(1, min(spec.max_n, m) + 1):
            h = (h[: m - n + 1] ^ c[n - 1 :]) * prime  # gram cps[i:i+n]; uint32 wraps: mod 2**32
            if n < spec.min_n:
                continue
            if n == 1:
                valid = ~is_b
            else:  # no boundary strictly inside the gram
                valid = bcount[n - 1 : m] == bcount[1 : m - n + 2]
            bucket = h[valid] & np.uint32(spec.buckets - 1) if power_of_two else h[valid] % np.uint32(spec.buckets)
            parts_ids.append(bucket.astype(np.int64) + first_id)
            parts_tix.append(first_letter_tix[: m - n + 1][valid])


def _word_spans(is_b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(start, end) positions of the words (maximal runs of non-boundaries); ends exclusive."""
    letter = ~is_b
    starts = np.flatnonzero(letter & np.concatenate([[True], is_b[:-1]]))
    ends = np.flatnonzero(letter & np.concatenate([is_b[1:], [True]])) + 1
    return starts, ends


_BASE = 0x100000001B3  # odd, so invertible modulo 2**64


def _powers(base: int, n: int) -> np.ndarray:
    """base**0 .. base**(n-1) modulo 2**64."""
    out = np.full(n, base, dtype=np.uint64)
    if n:
        out[0] = 1
        np.cumprod(out, out=out)  # uint64 products wrap: modulo 2**64
    return out


def _span_hashes(cps: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """Polynomial hash sum(cps[i] * B**(i - start)) mod 2**64 of each span, for all spans at once."""
    prefix = np.zeros(len(cps) + 1, dtype=np.uint64)
    np.cumsum(cps.astype(np.uint64) * _powers(_BASE, len(cps)), out=prefix[1:])
    return (prefix[ends] - prefix[starts]) * _powers(pow(_BASE, -1, 2**64), len(cps) + 1)[starts]


@dataclass(frozen=True)
class _WordTable:
    """vocab.json as sorted 64-bit word hashes, so a batch's words are looked up in numpy rather
    than one dict access per word (the slowest step of featurizing). A hit must also match the
    word's length; a vocabulary whose hashes collide falls back to the dict."""

    hashes: np.ndarray  # uint64, sorted
    lengths: np.ndarray
    ids: np.ndarray

    @classmethod
    def build(cls, vocab: dict[str, int]) -> "_WordTable | None":
        if not vocab:
            return None
        words = list(vocab)
        cps = np.frombuffer("".join(words).encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
        lengths = np.fromiter(map(len, words), dtype=np.int64, count=len(words))
        ends = np.cumsum(lengths)
        hashes = _span_hashes(cps, ends - lengths, ends)
        order = np.argsort(hashes, kind="stable")
        if (np.diff(hashes[order]) == 0).any():
            return None
        ids = np.fromiter(vocab.values(), dtype=np.int64, count=len(words))
        return cls(hashes[order], lengths[order], ids[order])

    def lookup(self, cps: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
        """Id of each word span, 0 when not in the vocabulary."""
        hashes = _span_hashes(cps, starts, ends)
        at = np.minimum(np.searchsorted(self.hashes, hashes), len(self.hashes) - 1)
        hit = (self.hashes[at] == hashes) & (self.lengths[at] == ends - starts)
        return np.where(hit, self.ids[at], 0)


def _split_words(cps: np.ndarray, is_b: np.ndarray, tix: np.ndarray) -> tuple[list[str], np.ndarray]:
    """The words of the collapsed code points, and the text each belongs to."""
    starts = np.flatnonzero(~is_b & np.concatenate([[True], is_b[:-1]]))
    return cps.astype("<u4").tobytes().decode("utf-32-le", "surrogatepass").split(), tix[starts]


def _to_csr(parts_ids, parts_tix, n_texts: int) -> Features:
    """Interleave the parts text by text without sorting: each part's text indexes are already
    non-decreasing, so every element's destination can be computed directly."""
    if n_texts == 1:  # the common single-text call: nothing to interleave
        ids = np.concatenate(parts_ids) if parts_ids else np.zeros(0, np.int64)
        return Features(ids, np.array([0, len(ids)], dtype=np.int64))
    counts = [np.bincount(t, minlength=n_texts) for t in parts_tix]
    total = np.sum(counts, axis=0) if counts else np.zeros(n_texts, np.int64)
    offsets = np.concatenate([[0], np.cumsum(total)]).astype(np.int64)
    ids = np.empty(int(offsets[-1]), dtype=np.int64)
    base = offsets[:-1].copy()  # where the next part starts writing, per text
    for part_ids, part_tix, count in zip(parts_ids, parts_tix, counts):
        part_start = np.cumsum(count) - count  # first index of each text inside this part
        ids[base[part_tix] + np.arange(len(part_tix)) - part_start[part_tix]] = part_ids
        base += count
    return Features(ids, offsets)


def bags(features: Features, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows of `features` as (flat ids, start offsets): the EmbeddingBag form, no padding."""
    starts, lengths = features.offsets[rows], features.lengths()[rows]
    firsts = np.cumsum(lengths) - lengths  # where each row starts in the flat output
    flat = np.repeat(starts - firsts, lengths) + np.arange(int(lengths.sum()))
    return features.ids[flat], firsts.astype(np.int64)


def pad(features: Features, rows: np.ndarray | None = None) -> np.ndarray:
    """Rows of `features` as a zero-padded int64 matrix [len(rows), longest] (at least 1 wide)."""
    if len(features.offsets) == 2 and (rows is None or len(rows) == 1):  # one text: a view, no copy
        return (features.ids if len(features.ids) else np.zeros(1, np.int64))[None, :]
    rows = np.arange(len(features.offsets) - 1) if rows is None else np.asarray(rows)
    ids, firsts = bags(features, rows)
    lengths = features.lengths()[rows]
    out = np.zeros((len(rows), max(int(lengths.max(initial=0)), 1)), dtype=np.int64)
    if len(ids):
        out[np.repeat(np.arange(len(rows)), lengths), np.arange(len(ids)) - np.repeat(firsts, lengths)] = ids
    return out

"""Text → integer ids for the language identifier, the same code at training and serving time.

The recipe, fully described by `FeaturizerSpec` (stored in the manifest), so that another
language can reproduce the ids from the manifest and `vocab.json` alone:

1. Fold the text (`charclass.py`): Unicode `normalization` (NFKC by default), then full case
   folding (CaseFolding.txt C+F) if `casefold`; not normalized again.
2. With `drop_format`, format characters (general category Cf: soft hyphen, zero-width space,
   joiners, direction marks and overrides, word joiner, BOM) are removed: invisible, they join
   the letters around them instead of splitting a word.
3. Every code point whose general category in `unicode_version` is a letter (L*) or a mark (M*)
   is kept, in every plane (variation selectors U+E0100..E01EF are marks), unless
   `known_letters` is given and the code point lies in none of its `[first, last]` ranges (the
   scripts of the training text; the letters of any other script are not evidence of a language
   the model knows, so a text written only in them answers `und`). Every other code point
   (numbers, punctuation, symbols, spaces, controls, unassigned) is a word boundary.
   A word is a maximal run of kept code points.
4. Word features: a word found in `vocab.json` gives its id (1..V). Unknown words give nothing.
5. Character n-gram features (fastText style): each word is wrapped in boundary markers
   (code point 32, a space: `" word "`), and every substring of `min_n`..`max_n` code points
   of the wrapped word is hashed, except the lone marker. Hash = 32-bit FNV-1a over code
   points: `h = 2166136261; for c in gram: h = ((h ^ c) * 16777619) mod 2**32`.
   Its id is `1 + V + h % buckets`.
6. A text's ids, in order: word ids (in text order), then n-grams by n ascending, each in
   text order. Id 0 is padding. A text without letters has no ids: the model would answer its
   bias alone, so every runtime answers `und` (undetermined) for it without running the model.

This is not a tokenizer for the language model (see `tokenizer.py`), and it does not batch or
pad for a model: `padding.py` does that, so callers can bucket by length first.
"""

from __future__ import annotations

import bisect
import itertools
import re
import unicodedata
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from . import charclass
from .errors import BundleError
from .manifest import FORMAT_VERSION, spec_fields
from .tokenizer import normal_form
from .wordtable import WordTable

FNV_BASIS = 2166136261
FNV_PRIME = 16777619
BOUNDARY = 32  # the code point that separates words and wraps them for n-grams
KIND = "words+char-ngrams"
MAX_N = 8  # longest n-gram a manifest may ask for (bounds the work per character)
MAX_BUCKETS = 2**24  # most hash buckets (the embedding table has one row each)
MAX_RANGES = 10_000  # most known_letters ranges a manifest may list
_KEPT, _SPLIT, _DROPPED = 1, 2, 3  # what a code point of folded text is to a recipe (`_Characters.kinds`)
_DROPPED_IN_V2 = ("boundary_codepoint",)  # format 1 recorded it; it was always 32
TABLE_MIN_CHARS = 2048  # shorter calls: a dict lookup per word beats numpy's fixed costs (measured on dev
# sentences: 1,351 characters 5.3 vs 5.8 µs a text with the table, 2,601 characters 4.2 vs 4.1)


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
    unicode_version: str = charclass.UNICODE_VERSION
    drop_format: bool = False  # remove format characters (Cf) after folding
    known_letters: tuple[tuple[int, int], ...] = ()  # [first, last] code point ranges; (): every letter

    def to_dict(self) -> dict[str, Any]:
        data = {"kind": KIND, **asdict(self)}
        if not self.drop_format:  # absent from bundles made before these fields (format 3 reads either way)
            del data["drop_format"]
        data["known_letters"] = [list(r) for r in self.known_letters]
        if not self.known_letters:
            del data["known_letters"]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any], format_version: int = FORMAT_VERSION) -> FeaturizerSpec:
        """The spec of a manifest; every field is honoured and bounded, an unknown one is refused."""
        if isinstance(data, dict) and format_version == 1:
            data = {k: v for k, v in data.items() if k not in _DROPPED_IN_V2}
        ranges = _ranges(data.get("known_letters", []) if isinstance(data, dict) else [])
        if isinstance(data, dict) and "known_letters" in data:
            data = {k: v for k, v in data.items() if k != "known_letters"}
        spec = cls(**spec_fields(cls, data, KIND, "featurizer"), known_letters=ranges)
        normal_form(spec.normalization)
        if spec.hash != "fnv1a32-codepoints" or spec.keep != "unicode-letters-and-marks":
            raise BundleError("featurizer: unsupported hash or character class in manifest")
        if spec.max_n and not (1 <= spec.min_n <= spec.max_n <= MAX_N and 0 < spec.buckets <= MAX_BUCKETS):
            raise BundleError(
                f"featurizer: n-grams need 1 <= min_n <= max_n <= {MAX_N} and 0 < buckets <= {MAX_BUCKETS} "
                f"(got {spec.min_n}-{spec.max_n}, {spec.buckets} buckets)"
            )
        if not spec.max_n and (spec.min_n or spec.buckets):
            raise BundleError("featurizer: max_n 0 (no n-grams) goes with min_n 0 and buckets 0")
        return spec


def _ranges(data: object) -> tuple[tuple[int, int], ...]:
    """`known_letters` of a manifest, checked: [first, last] code points, ascending, apart."""
    if not isinstance(data, list) or len(data) > MAX_RANGES:
        raise BundleError(f"featurizer.known_letters must be a list of at most {MAX_RANGES} [first, last] ranges")
    out: list[tuple[int, int]] = []
    for r in data:
        ok = isinstance(r, list) and len(r) == 2 and all(type(x) is int for x in r)
        if not ok or not 0 <= r[0] <= r[1] < charclass.CODE_POINTS or (out and r[0] <= out[-1][1]):
            raise BundleError(
                f"featurizer.known_letters: {str(r)[:40]} is not a [first, last] code point range "
                "after the previous one (ranges ascend and do not overlap)"
            )
        out.append((r[0], r[1]))
    return tuple(out)


class Features:
    """Ids of a batch: text i owns `ids[offsets[i]:offsets[i + 1]]` (CSR form).

    Made from `parts` (word ids, then the n-grams of each n: each part in text order, with how
    many of its ids each text has), which padding scatters straight into the model's rows
    (`write_rows`): the CSR arrays, one more pass over every id, are built only when asked for."""

    def __init__(self, parts: list[tuple[np.ndarray, np.ndarray]], n_texts: int):
        self.parts = parts  # (int64 ids, int64 count per text)
        self.n_texts = n_texts
        self._csr: tuple[np.ndarray, np.ndarray] | None = None
        self._lengths: np.ndarray | None = None

    @classmethod
    def from_csr(cls, ids: np.ndarray, offsets: np.ndarray) -> Features:
        features = cls([(ids, np.diff(offsets))], len(offsets) - 1)
        features._csr = ids, offsets
        return features

    @property
    def ids(self) -> np.ndarray:  # int64 [total]
        return self._build()[0]

    @property
    def offsets(self) -> np.ndarray:  # int64 [n_texts + 1]
        return self._build()[1]

    def lengths(self) -> np.ndarray:
        """Ids per text, read-only. Computed once: training slices it for every batch, and a pass
        over a million texts per batch was a quarter of the language identifier's training time."""
        if self._lengths is None:
            if self._csr is not None:
                self._lengths = np.diff(self._csr[1])
            else:
                self._lengths = sum((count for _, count in self.parts), np.zeros(self.n_texts, dtype=np.int64))
            self._lengths.flags.writeable = False
        return self._lengths

    def total(self) -> int:
        return sum(len(ids) for ids, _ in self.parts)

    def row(self, i: int) -> list[int]:
        ids: list[int] = self.ids[self.offsets[i] : self.offsets[i + 1]].tolist()
        return ids

    def write_rows(self, starts: np.ndarray, out: np.ndarray) -> None:
        """Write text i's ids, in order, to `out[starts[i]:]`, for every text at once: each part's
        ids are in text order, so each one's place is computed directly (no sort)."""
        base = starts.astype(np.int64, copy=True)  # where each text's next part starts
        for ids, count in self.parts:
            part_start = np.cumsum(count) - count  # each text's first index inside this part
            out[np.repeat(base - part_start, count) + np.arange(len(ids))] = ids
            base += count

    def _build(self) -> tuple[np.ndarray, np.ndarray]:
        if self._csr is None:
            if len(self.parts) == 1:  # one part (one text, or CSR already): it is the CSR form
                ids, count = self.parts[0]
                offsets = np.concatenate([[0], np.cumsum(count)]).astype(np.int64)
            else:
                offsets = np.concatenate([[0], np.cumsum(self.lengths())]).astype(np.int64)
                ids = np.empty(int(offsets[-1]), dtype=np.int64)
                self.write_rows(offsets[:-1], ids)
                self.parts = [(ids, np.diff(offsets))]  # the CSR arrays are the one part now: the others are freed
            self._csr = ids, offsets
        return self._csr


class _Characters:
    """What each character is to a recipe's rules (part of words, a boundary, or dropped), as a
    numpy table for batches and str.translate tables for one text, each filled on first sight of
    a code point (a cold start pays only for the characters it meets). Shared by the featurizers
    of one recipe in a process: a bundle loaded again starts warm."""

    _shared: dict[tuple[object, ...], _Characters] = {}

    def __init__(self, spec: FeaturizerSpec):
        self.normalization, self.casefold = spec.normalization, spec.casefold
        self.drop_format, self.ranges = spec.drop_format, spec.known_letters
        self.table = np.zeros(charclass.CODE_POINTS, dtype=np.uint8)  # `kinds`; 0: not looked up yet
        self.spaces = _Translate(self._folded_char)  # folded text → words split by spaces
        self.letterish = _Translate(self._original_char)  # original text → runs of "a"

    @classmethod
    def of(cls, spec: FeaturizerSpec) -> _Characters:
        key = (spec.normalization, spec.casefold, spec.drop_format, spec.known_letters)
        found = cls._shared.get(key)
        if found is None:
            found = cls._shared[key] = cls(spec)
        return found

    def kept(self, cp: int) -> bool:
        if charclass.category_class(cp) not in "LM":
            return False
        i = bisect.bisect_right(self.ranges, (cp, charclass.CODE_POINTS)) - 1
        return not self.ranges or (i >= 0 and cp <= self.ranges[i][1])

    def dropped(self, cp: int) -> bool:
        return self.drop_format and unicodedata.category(chr(cp)) == "Cf"

    def kinds(self, cps: np.ndarray) -> np.ndarray:
        """_KEPT, _SPLIT or _DROPPED for each code point of folded text."""
        out: np.ndarray = self.table[cps]
        if not out.all():
            for c in np.unique(cps[out == 0]).tolist():
                self.table[c] = _DROPPED if self.dropped(c) else _KEPT if self.kept(c) else _SPLIT
            out = self.table[cps]
        return out

    def _folded_char(self, cp: int) -> str:
        return "" if self.dropped(cp) else chr(cp) if self.kept(cp) else " "

    def _original_char(self, cp: int) -> str:
        if self.dropped(cp):
            return "a"  # joins the letters around it
        folded = charclass.fold(chr(cp), self.normalization, self.casefold)
        return "a" if any(self.kept(ord(c)) for c in folded) else " "


class Featurizer:
    """Vectorized over the whole batch: numpy for words, n-grams and hashing (folding is text by
    text, see `charclass.fold_each`)."""

    def __init__(self, spec: FeaturizerSpec, vocab: dict[str, int]):
        self.spec = spec
        self.word_features = bool(vocab) and spec.word_features
        self.num_words = len(vocab)
        self.num_ids = 1 + self.num_words + (spec.buckets if spec.max_n else 0)
        self._dict = vocab if self.word_features else {}
        self._table: WordTable | None = None  # built on the first big batch
        self._table_failed = False
        self._form = normal_form(spec.normalization)
        self._chars = _Characters.of(spec)

    def kept(self, cp: int) -> bool:
        """Whether a folded code point is part of words: a letter or mark of a known script."""
        return self._chars.kept(cp)

    def split(self, text: str) -> list[str]:
        """The folded words of one text, as `words()` finds them, without numpy (one text at a time
        is where numpy's fixed costs dominate)."""
        return charclass.fold(text, self._form, self.spec.casefold).translate(self._chars.spaces).split()

    def letter_runs(self, text: str) -> list[tuple[int, int]]:
        """(start, end) offsets of the runs of `text` (not folded) whose characters fold to word
        characters: the stretches `segments` labels; each run's words are `split(text[start:end])`."""
        return [m.span() for m in _LETTER_RUN.finditer(text.translate(self._chars.letterish))]

    def _letters(self, texts: list[str], folded: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Collapsed code points of the batch: words separated by one boundary (32). `folded`:
        the texts are folded already (words from `words()`): they are not folded again.

        Returns (codepoints, is_boundary, text_index) over the kept positions.
        """
        if not folded:
            texts = charclass.fold_each(texts, self._form, self.spec.casefold)
        joined = "\0" + "\0".join(texts) + "\0"
        if joined.count("\0") != len(texts) + 1:  # a text holds NUL: it is a boundary anyway
            joined = "\0" + "\0".join(t.replace("\0", " ") for t in texts) + "\0"
        cp = charclass.codepoints(joined)
        # which text each position is in (a separator belongs to the text after it; the last, to none)
        spans = np.fromiter(map(len, texts), dtype=np.int64, count=len(texts)) + 1
        spans = np.append(spans, 1) if len(texts) else np.ones(2, dtype=np.int64)  # no texts: "\0\0"
        text_index = np.repeat(np.arange(len(spans)), spans)
        kind = self._chars.kinds(cp)
        if self.spec.drop_format and kind.max(initial=0) == _DROPPED:  # _DROPPED is the highest kind
            visible = kind != _DROPPED
            cp, text_index, kind = cp[visible], text_index[visible], kind[visible]
        letter = kind == _KEPT
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

    def __call__(self, texts: list[str], folded: bool = False) -> Features:
        """The ids of each text (`folded`: of each already folded text, e.g. a word of `words()`)."""
        cps, is_b, tix = self._letters(texts, folded)
        n_texts = len(texts)
        parts: list[tuple[np.ndarray, np.ndarray]] = []  # (ids, count per text), each in text order
        if self.word_features:
            table = self._word_table() if len(cps) >= TABLE_MIN_CHARS else None
            if table is not None:
                starts, ends = _word_spans(is_b)
                wid, word_tix = table.lookup(cps, starts, ends), tix[starts]
            else:
                flat, word_tix = _split_words(cps, is_b, tix)
                wid = np.fromiter(map(self._dict.get, flat, itertools.repeat(0)), dtype=np.int64, count=len(flat))
            known = wid > 0
            counts = (
                np.array([np.count_nonzero(known)]) if n_texts == 1 else np.bincount(word_tix[known], minlength=n_texts)
            )
            parts.append((wid[known], counts))
        if self.spec.max_n:
            self._ngrams(cps, is_b, tix, n_texts, parts)
        if n_texts == 1:  # the common single-text call: nothing to interleave
            ids = np.concatenate([ids for ids, _ in parts]) if parts else np.zeros(0, np.int64)
            return Features.from_csr(ids, np.array([0, len(ids)], dtype=np.int64))
        return Features(parts, n_texts)

    def of_words(self, words: list[str], per_word: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """The ids of folded words (runs of letters, as `words()` finds them): each word's vocabulary
        id (0: none) [k], then the n-gram ids of the words, word after word, and (`per_word`) how
        many n-grams each word has [k]. Together the same ids as `self(words, folded=True)`, in a
        few numpy steps, which is what makes one short text fast: the words joined by single
        boundaries are the collapsed code points already, and every gram is a (start, length)
        cell of one table."""
        spec, k = self.spec, len(words)
        wid = np.zeros(k, dtype=np.int64)
        if self.word_features:
            wid = np.fromiter(map(self._dict.get, words, itertools.repeat(0)), dtype=np.int64, count=k)
        if not spec.max_n or not k:
            return wid, np.zeros(0, dtype=np.int64), np.zeros(k, dtype=np.int64) if per_word else None
        max_n = spec.max_n
        padded = np.frombuffer((" " + " ".join(words) + " " + "\0" * max_n).encode("utf-32-le"), dtype=np.uint32)
        m = len(padded) - max_n
        is_b = padded[:m] == BOUNDARY
        # gram (start s, length n+1) is valid when it ends inside, no boundary is strictly inside,
        # and it is no lone boundary: exactly when the boundaries before s+n equal those up to s
        seen = np.add.accumulate(is_b, dtype=np.int32)  # boundaries at or before each position
        before = np.empty(m + max_n, dtype=np.int32)  # boundaries before each position; -1: past the end
        before[0] = 0
        before[1:m] = seen[:-1]
        before[m:] = -1
        h = (_FNV_BASIS ^ padded[:m]) * _FNV_PRIME  # the grams of length 1, 2, ... at each start
        columns = [h]
        for n in range(1, max_n):
            h = (h ^ padded[n : n + m]) * _FNV_PRIME
            columns.append(h)
        hashes = np.array(columns).T  # [start, length - 1]: start after start, word after word
        valid = before[_windows(m, max_n)] == seen[:, None]
        if spec.min_n > 1:
            valid[:, : spec.min_n - 1] = False
        grams = hashes[valid]
        if spec.buckets & (spec.buckets - 1) == 0:
            grams &= np.uint32(spec.buckets - 1)
        else:
            grams %= np.uint32(spec.buckets)
        ids = np.add(grams, 1 + self.num_words, dtype=np.int64)
        counts = np.add.reduceat(valid.sum(axis=1), np.flatnonzero(is_b)[:k]) if per_word else None
        return wid, ids, counts

    def _word_table(self) -> WordTable | None:
        if self._table is None and not self._table_failed:
            self._table = WordTable.build(self._dict)
            self._table_failed = self._table is None
        return self._table

    def _ngrams(
        self,
        cps: np.ndarray,
        is_b: np.ndarray,
        tix: np.ndarray,
        n_texts: int,
        parts: list[tuple[np.ndarray, np.ndarray]],
    ) -> None:
        """Append the n-gram ids of each n, with each text's count, to `parts`."""
        spec, m = self.spec, len(cps)
        # a gram belongs to the text of its first letter (a leading marker: of the letter after it);
        # those texts are non-decreasing, so each text's grams start in one range of positions
        bounds = None
        if n_texts > 1:
            first_letter_tix = tix[np.minimum(np.arange(m) + is_b, m - 1)]
            bounds = np.searchsorted(first_letter_tix, np.arange(n_texts + 1))
        h = np.full(m, FNV_BASIS, dtype=np.uint32)
        c, prime = cps.astype(np.uint32, copy=False), np.uint32(FNV_PRIME)
        first_id = 1 + self.num_words
        power_of_two = spec.buckets & (spec.buckets - 1) == 0
        letter = ~is_b
        clear = letter  # grams cps[i:i+n] with no boundary strictly inside
        for n in range(1, min(spec.max_n, m) + 1):
            h = (h[: m - n + 1] ^ c[n - 1 :]) * prime  # gram cps[i:i+n]; uint32 wraps: mod 2**32
            if n == 2:  # nothing inside
                clear = np.ones(m - 1, dtype=bool)
            elif n >= 3:  # none inside cps[i:i+n-1], and cps[i+n-2] is a letter
                clear = clear[: m - n + 1] & letter[n - 2 : m - 1]
            if n < spec.min_n:
                continue
            bucket = h & np.uint32(spec.buckets - 1) if power_of_two else h % np.uint32(spec.buckets)
            valid = letter if n == 1 else clear  # a lone marker is no gram
            ids = (bucket if n == 2 else bucket[valid]).astype(np.int64)
            ids += first_id
            if bounds is None:
                counts = np.array([len(ids)])
            elif n == 2:
                counts = np.diff(np.minimum(bounds, m - 1))
            else:
                counts = _segment_counts(valid, np.minimum(bounds, m - n + 1))
            parts.append((ids, counts))


class _Translate(dict[int, str]):
    """str.translate table filled on first sight of each code point (by `value`)."""

    def __init__(self, value: Callable[[int], str]):
        super().__init__()
        self._value = value

    def __missing__(self, cp: int) -> str:
        value = self[cp] = self._value(cp)
        return value


_LETTER_RUN = re.compile("a+")


_FNV_BASIS, _FNV_PRIME = np.uint32(FNV_BASIS), np.uint32(FNV_PRIME)
_WINDOWS: dict[int, np.ndarray] = {}  # width -> [WINDOW_ROWS, width] indices, made once
WINDOW_ROWS = 4096


def _windows(m: int, width: int) -> np.ndarray:
    """[m, width] indices i + j: each start's next `width` positions."""
    if m > WINDOW_ROWS:  # a long text: made for it alone
        return np.arange(m)[:, None] + np.arange(width)
    if width not in _WINDOWS:
        _WINDOWS[width] = np.arange(WINDOW_ROWS)[:, None] + np.arange(width)
    return _WINDOWS[width][:m]


def _segment_counts(mask: np.ndarray, bounds: np.ndarray) -> np.ndarray:
    """How many of mask[bounds[i]:bounds[i + 1]] are set, for each i (bounds non-decreasing)."""
    starts, ends = bounds[:-1], bounds[1:]
    counts = np.zeros(len(starts), dtype=np.int64)
    filled = starts < ends
    if filled.any():  # reduceat sums from each start to the next one (empty segments between add nothing)
        counts[filled] = np.add.reduceat(mask[: ends[-1]].view(np.uint8), starts[filled], dtype=np.int64)
    return counts


def _word_starts(is_b: np.ndarray) -> np.ndarray:
    """Where the words (maximal runs of non-boundaries) start."""
    return np.flatnonzero(~is_b & np.concatenate([[True], is_b[:-1]]))


def _word_spans(is_b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(start, end) positions of the words; ends exclusive."""
    return _word_starts(is_b), np.flatnonzero(~is_b & np.concatenate([is_b[1:], [True]])) + 1


def _split_words(cps: np.ndarray, is_b: np.ndarray, tix: np.ndarray) -> tuple[list[str], np.ndarray]:
    """The words of the collapsed code points, and the text each belongs to."""
    return cps.astype("<u4").tobytes().decode("utf-32-le", "surrogatepass").split(), tix[_word_starts(is_b)]

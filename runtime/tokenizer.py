"""Words for the next-word model: text → tokens → ids, the same code at training and serving time.

The recipe, fully described by `TokenizerSpec` (stored in the manifest), pattern `words-v2`:

1. Fold the text (`charclass.py`): Unicode `normalization` (NFKC), then every character of
   `apostrophes` (’ ‘ ʼ by default) becomes U+0027 `'`, then full case folding (CaseFolding.txt
   C+F) if `casefold`.
2. Classify each code point by its general category in `unicode_version`: *word* (L letter,
   M mark, N number), *space* (Z separator, C other: controls, format characters such as the
   zero-width joiner, private use, unassigned), the apostrophe `'`, or *other* (P punctuation,
   S symbol, except `'`).
3. Tokens, left to right: a maximal run of word code points, extended by `'` + another run as
   long as one follows (`deserv'd`, `beauty's`); or any other single code point that is not a
   space (`,` `-` `_` an emoji, or a `'` not between word runs). Spaces only separate tokens.
4. A context shorter than the model's context size is padded on the left with `<s>`; a token not
   in `vocab.json` maps to `<unk>`. `vocab.json` holds `<s>`, `</s>`, `<unk>` as ids 0, 1, 2.

Bundles of format 1 and 2 name the pattern `words-v1`, the Python `re` pattern in
`LEGACY_PATTERN` (its words are runs of L* and N*; marks are tokens of their own) after `str.lower()`;
this runtime still reads them. How training texts become sequences (paragraphs ending in
`</s>`) is training's business, not the bundle's: see `sequences`.

This is not the language identifier's featurizer (see `featurizer.py`).
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np

from . import charclass
from .errors import BundleError
from .manifest import FORMAT_VERSION, spec_fields

BOS, EOS, UNK = "<s>", "</s>", "<unk>"
SPECIALS = (BOS, EOS, UNK)
BOS_ID, EOS_ID, UNK_ID = 0, 1, 2  # their ids in every vocab.json
KIND = "words"
PATTERN = "words-v2"
LEGACY_PATTERN = r"[^\W_]+(?:'[^\W_]+)*|[^\w\s]|_"  # "words-v1": formats 1 and 2, Python `re` syntax
NormalForm = Literal["NFC", "NFD", "NFKC", "NFKD"]
NORMAL_FORMS: tuple[NormalForm, ...] = ("NFC", "NFD", "NFKC", "NFKD")
_DROPPED_IN_V2 = ("bos", "eos", "unk")  # format 1 recorded the special tokens here; vocab.json holds them
_NO_SPACE_BEFORE = set(".,;:!?')]}\"")
_NO_SPACE_AFTER = set("([{")
# class code (charclass.CLASSES order, 0 unused) → one letter of the class string tokens are matched on
_CLASS_LETTER = np.frombuffer(b"?wwwooss", dtype=np.uint8)
_TOKEN = re.compile(r"w+(?:'w+)*|[o']")


@dataclass(frozen=True)
class TokenizerSpec:
    """How `Tokenizer` splits text; stored verbatim in the manifest."""

    normalization: str = "NFKC"
    casefold: bool = True  # Shakespeare capitalizes every verse line: case is noise here
    apostrophes: str = "\u2019\u2018\u02bc"  # each of these characters becomes '
    pattern: str = PATTERN
    unicode_version: str = charclass.UNICODE_VERSION

    def to_dict(self) -> dict[str, Any]:
        return {"kind": KIND, **asdict(self)}

    @classmethod
    def from_dict(cls, data: dict[str, Any], format_version: int = FORMAT_VERSION) -> TokenizerSpec:
        """The spec of a manifest; every field is honoured, an unknown one is refused."""
        if isinstance(data, dict) and format_version < 3:
            data = _from_format_2(data, format_version)
        spec = cls(**spec_fields(cls, data, KIND, "tokenizer"))
        normal_form(spec.normalization)
        if spec.pattern != PATTERN and not (format_version < 3 and spec.pattern in ("words-v1", "words-v1-lower")):
            raise BundleError(
                f"tokenizer.pattern {spec.pattern!r} is not one this bowgram knows ({PATTERN}); "
                "a bundle cannot bring its own regular expression"
            )
        if len(spec.apostrophes) > 32 or any(charclass.category_class(ord(c)) in "ZC" for c in spec.apostrophes):
            raise BundleError(
                f"tokenizer.apostrophes {spec.apostrophes!r}: at most 32 characters, no spaces or controls"
            )
        return spec


def _from_format_2(data: dict[str, Any], format_version: int) -> dict[str, Any]:
    """A format 1/2 tokenizer as this spec: the `words-v1` regex, after `str.lower()` if it said so."""
    data = {k: v for k, v in data.items() if k not in (*_DROPPED_IN_V2, "sequences", "lowercase")}
    if format_version == 1:
        data["apostrophes"] = str(data.get("apostrophes", "")).split(" -> ")[0].replace(" ", "")  # was "’‘ʼ -> '"
    if data.get("pattern") != LEGACY_PATTERN:
        raise BundleError(f"tokenizer.pattern {data.get('pattern')!r} is not one this bowgram knows")
    data["pattern"] = "words-v1-lower" if data.get("lowercase", True) else "words-v1"
    data.setdefault("casefold", False)
    data.setdefault("unicode_version", charclass.UNICODE_VERSION)
    return data


def normal_form(name: str) -> NormalForm:
    """A manifest's `normalization`, checked: one of Unicode's four normalization forms."""
    for form in NORMAL_FORMS:
        if name == form:
            return form
    raise BundleError(f"normalization: unknown form {name!r}, expected one of {NORMAL_FORMS}")


PARAGRAPH_BREAK = re.compile(r"\n[ \t\r\f\v]*\n")  # a blank line


class Tokenizer:
    def __init__(self, spec: TokenizerSpec):
        self.spec = spec
        self._apostrophes = str.maketrans(dict.fromkeys(spec.apostrophes, "'"))
        self._form = normal_form(spec.normalization)
        self._legacy = re.compile(LEGACY_PATTERN) if spec.pattern.startswith("words-v1") else None

    def tokens(self, text: str) -> list[str]:
        if self._legacy is not None:  # formats 1 and 2
            text = charclass.fold(text, self._form, False).translate(self._apostrophes)
            return self._legacy.findall(text.lower() if self.spec.pattern == "words-v1-lower" else text)
        text = charclass.fold(text, self._form, False).translate(self._apostrophes)
        if self.spec.casefold:
            text = text.casefold()
        if text.isascii():  # the common case, without an array per call
            kinds = text.translate(_ASCII_KINDS)
        else:
            cps = charclass.codepoints(text)
            letters = _CLASS_LETTER[charclass.classes(cps)]
            letters[cps == 39] = ord("'")
            kinds = letters.tobytes().decode("ascii")
        return [text[m.start() : m.end()] for m in _TOKEN.finditer(kinds)]

    def sequences(self, text: str) -> list[list[str]]:
        """Token lists of the paragraphs of `text` (split at blank lines), each ending with `</s>`:
        how training and evaluation cut a corpus."""
        paragraphs = PARAGRAPH_BREAK.split(text.replace("\r\n", "\n"))
        return [toks + [EOS] for toks in map(self.tokens, paragraphs) if toks]


_ASCII_KINDS = {
    c: "w" if chr(c).isalnum() else "'" if c == 39 else "s" if chr(c).isspace() or c < 32 or c == 127 else "o"
    for c in range(128)
}


class Vocab:
    """Token ↔ id. Ids 0, 1, 2 are `<s>`, `</s>`, `<unk>`; words follow by frequency."""

    def __init__(self, token_to_id: dict[str, int]):
        if not isinstance(token_to_id, dict):
            raise BundleError("vocab.json must be an object mapping each token to its id")
        if [token_to_id.get(t) for t in SPECIALS] != [BOS_ID, EOS_ID, UNK_ID]:
            raise BundleError(f"vocab.json must map {', '.join(SPECIALS)} to {BOS_ID}, {EOS_ID}, {UNK_ID}")
        ids = list(token_to_id.values())
        if not all(type(i) is int for i in ids) or sorted(ids) != list(range(len(ids))):  # checked before use
            raise BundleError("vocab.json: ids must be 0..N-1, each used once")
        self.token_to_id = token_to_id
        self.words = [""] * len(token_to_id)
        for token, i in token_to_id.items():
            self.words[i] = token

    def __len__(self) -> int:
        return len(self.words)

    @classmethod
    def build(cls, sequences: list[list[str]], min_count: int = 1, max_size: int | None = None) -> Vocab:
        counts = Counter(t for seq in sequences for t in seq if t not in SPECIALS)
        ranked = sorted((w for w, c in counts.items() if c >= min_count), key=lambda w: (-counts[w], w))
        ranked = ranked[: max_size - len(SPECIALS)] if max_size else ranked
        return cls({t: i for i, t in enumerate([*SPECIALS, *ranked])})

    def ids(self, tokens: list[str]) -> list[int]:
        get, unk = self.token_to_id.get, UNK_ID
        return [get(t, unk) for t in tokens]


def context_ids(token_lists: list[list[str]], vocab: Vocab, size: int) -> np.ndarray:
    """The last `size` tokens of each context as ids, left-padded with `<s>`: int64 [n, size]."""
    out = np.full((len(token_lists), size), BOS_ID, dtype=np.int64)
    for row, tokens in enumerate(token_lists):
        ids = vocab.ids(tokens[-size:]) if size else []
        if ids:
            out[row, size - len(ids) :] = ids
    return out


def windows(sequences: list[list[str]], vocab: Vocab, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Every (context, next token) pair of the sequences: int64 [n, size] and int64 [n]."""
    contexts, targets = [], []
    for seq in sequences:
        ids = np.asarray([BOS_ID] * size + vocab.ids(seq), dtype=np.int64)
        if len(ids) > size:
            idx = np.arange(len(ids) - size)[:, None] + np.arange(size)[None, :]
            contexts.append(ids[idx])
            targets.append(ids[size:])
    if not contexts:
        return np.zeros((0, size), np.int64), np.zeros(0, np.int64)
    return np.concatenate(contexts), np.concatenate(targets)


def detokenize(tokens: list[str]) -> str:
    """Join tokens as text: no space before closing punctuation or after opening brackets."""
    out: list[str] = []
    for tok in tokens:
        if out and tok not in _NO_SPACE_BEFORE and out[-1] not in _NO_SPACE_AFTER:
            out.append(" ")
        out.append(tok)
    return "".join(out)

"""Words for the next-word model: text → tokens → ids, the same code at training and serving time.

The recipe, fully described by `TokenizerSpec` (stored in the manifest):

1. Normalize with Unicode `normalization` (NFKC); every character of `apostrophes` (’ ‘ ʼ by
   default) becomes `'`; lowercase with `str.lower()` if `lowercase`.
2. Tokens are the matches of `pattern`: runs of letters and digits, with apostrophes kept
   inside words (`deserv'd`, `beauty's`), and every other non-space character on its own.
3. Sequences (`sequences: "paragraphs"`, the only kind): a training or evaluation text is split
   into paragraphs at blank lines; each paragraph is one sequence ending in `</s>`. A context
   shorter than the model's context size is padded on the left with `<s>`; a word not in
   `vocab.json` maps to `<unk>`. `vocab.json` holds `<s>`, `</s>`, `<unk>` as ids 0, 1, 2.

This is not the language identifier's featurizer (see `featurizer.py`).
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np

from .errors import BundleError
from .manifest import FORMAT_VERSION, spec_fields

BOS, EOS, UNK = "<s>", "</s>", "<unk>"
SPECIALS = (BOS, EOS, UNK)
BOS_ID, EOS_ID, UNK_ID = 0, 1, 2  # their ids in every vocab.json
KIND = "words"
SEQUENCES = ("paragraphs",)
# the token patterns a bundle may name, in Python `re` syntax: runs of letters and digits with
# inner apostrophes, or any other non-space character alone
PATTERNS = {"words-v1": r"[^\W_]+(?:'[^\W_]+)*|[^\w\s]|_"}
NormalForm = Literal["NFC", "NFD", "NFKC", "NFKD"]
NORMAL_FORMS: tuple[NormalForm, ...] = ("NFC", "NFD", "NFKC", "NFKD")
_DROPPED_IN_V2 = ("bos", "eos", "unk")  # format 1 recorded the special tokens here; vocab.json holds them
_NO_SPACE_BEFORE = set(".,;:!?')]}\"")
_NO_SPACE_AFTER = set("([{")


@dataclass(frozen=True)
class TokenizerSpec:
    """How `Tokenizer` splits text; stored verbatim in the manifest."""

    normalization: str = "NFKC"
    lowercase: bool = True  # Shakespeare capitalizes every verse line: case is noise here
    apostrophes: str = "\u2019\u2018\u02bc"  # each of these characters becomes '
    pattern: str = r"[^\W_]+(?:'[^\W_]+)*|[^\w\s]|_"  # PATTERNS["words-v1"]
    sequences: str = "paragraphs"  # split at blank lines; each paragraph ends with </s>

    def to_dict(self) -> dict[str, Any]:
        return {"kind": KIND, **asdict(self)}

    @classmethod
    def from_dict(cls, data: dict[str, Any], format_version: int = FORMAT_VERSION) -> TokenizerSpec:
        """The spec of a manifest; every field is honoured, an unknown one is refused."""
        if isinstance(data, dict) and format_version == 1:
            data = {k: v for k, v in data.items() if k not in _DROPPED_IN_V2}
            data["apostrophes"] = str(data.get("apostrophes", "")).split(" -> ")[0].replace(" ", "")  # was "’‘ʼ -> '"
        spec = cls(**spec_fields(cls, data, KIND, "tokenizer"))
        normal_form(spec.normalization)
        if spec.sequences not in SEQUENCES:
            raise BundleError(f"tokenizer.sequences: unsupported kind {spec.sequences!r}, expected one of {SEQUENCES}")
        if spec.pattern not in PATTERNS.values():  # a regex from a file could take forever on a short text
            raise BundleError(
                f"tokenizer.pattern {spec.pattern!r} is not one this bowgram knows ({', '.join(PATTERNS)}); "
                "a bundle cannot bring its own regular expression"
            )
        if len(spec.apostrophes) > 32 or any(c.isspace() for c in spec.apostrophes):
            raise BundleError(f"tokenizer.apostrophes {spec.apostrophes!r}: at most 32 characters, no spaces")
        return spec


def normal_form(name: str) -> NormalForm:
    """A manifest's `normalization`, checked: one of Unicode's four normalization forms."""
    for form in NORMAL_FORMS:
        if name == form:
            return form
    raise BundleError(f"normalization: unknown form {name!r}, expected one of {NORMAL_FORMS}")


class Tokenizer:
    def __init__(self, spec: TokenizerSpec):
        self.spec = spec
        self._pattern = re.compile(spec.pattern)
        self._apostrophes = str.maketrans({c: "'" for c in spec.apostrophes})
        self._form = normal_form(spec.normalization)

    def tokens(self, text: str) -> list[str]:
        text = unicodedata.normalize(self._form, text).translate(self._apostrophes)
        if self.spec.lowercase:
            text = text.lower()
        return self._pattern.findall(text)

    def sequences(self, text: str) -> list[list[str]]:
        """Token lists of the paragraphs of `text`, each ending with `</s>`."""
        paragraphs = re.split(r"\n[ \t\r\f\v]*\n", text.replace("\r\n", "\n"))
        return [toks + [EOS] for toks in map(self.tokens, paragraphs) if toks]


class Vocab:
    """Token ↔ id. Ids 0, 1, 2 are `<s>`, `</s>`, `<unk>`; words follow by frequency."""

    def __init__(self, token_to_id: dict[str, int]):
        if [token_to_id.get(t) for t in SPECIALS] != [BOS_ID, EOS_ID, UNK_ID]:
            raise BundleError(f"vocab.json must map {', '.join(SPECIALS)} to {BOS_ID}, {EOS_ID}, {UNK_ID}")
        self.token_to_id = token_to_id
        self.words = [""] * len(token_to_id)
        for token, i in token_to_id.items():
            self.words[i] = token
        ids = list(token_to_id.values())
        if not all(type(i) is int for i in ids) or sorted(ids) != list(range(len(ids))):
            raise BundleError("vocab.json: ids must be 0..N-1, each used once")

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

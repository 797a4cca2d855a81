"""What each label of a language identifier is: `languages.json`, an optional bundle file.

    {"es": {"name": "Spanish", "iso639_1": "es", "iso639_3": "spa", "script": "Latn", "flores": "spa_Latn"}, …}

It lets a pipeline built on other codes take answers in its own (`codes="iso639-3"` or `"flores"`)
with no mapping table of its own, and `bowgram info` name the languages. Every key is a label of
the bundle; every value a string; within one kind of code, no two labels share a code (an answer
must map back to one label). The JavaScript runtime checks the same rules (docs/bundle-spec.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .errors import BundleError, InputError

UNDETERMINED = "und"  # the answer for "no language found", and a model's "none of these" class
FIELDS = ("name", "iso639_1", "iso639_3", "script", "flores")
CODES = ("label", "iso639-1", "iso639-3", "flores")  # what an answer can be given in
MAX_FIELD = 100  # characters: names and codes are short


def none_class(labels: Sequence[str]) -> int | None:
    """The index of a model's "none of these languages" output (`UNDETERMINED`) in `labels`, or
    None. It is never an answer: the runtimes, training's choice of epoch and the benchmarks all
    take the best of the other outputs."""
    return list(labels).index(UNDETERMINED) if UNDETERMINED in labels else None


def validate(data: Any, labels: Sequence[str], where: str) -> dict[str, dict[str, str]]:
    """`languages.json`'s content, checked against the bundle's labels."""
    if not isinstance(data, dict):
        raise BundleError(f"{where}: languages.json must be an object of label -> fields")
    known = set(labels)
    for label, entry in data.items():
        if label not in known:
            raise BundleError(f"{where}: languages.json names {label!r}, which is not one of the model's labels")
        if not isinstance(entry, dict) or not set(entry) <= set(FIELDS):
            raise BundleError(f"{where}: languages.json[{label!r}] must be an object with fields among {FIELDS}")
        if not all(isinstance(v, str) and len(v) <= MAX_FIELD for v in entry.values()):
            raise BundleError(f"{where}: languages.json[{label!r}] fields must be strings of at most {MAX_FIELD}")
    for field in ("iso639_1", "iso639_3", "flores"):
        given = [entry[field] for entry in data.values() if entry.get(field)]
        if len(set(given)) != len(given):
            raise BundleError(f"{where}: languages.json gives two labels the same {field} code")
    return data


def code_map(languages: dict[str, dict[str, str]], labels: Sequence[str], codes: str) -> dict[str, str] | None:
    """label -> its code of kind `codes` (None for "label": answers as they are). "iso639-1" is the
    ISO 639-1 code where there is one, else the ISO 639-3 code (as lid.176 labels languages)."""
    if codes not in CODES:
        raise InputError(f"codes must be one of {', '.join(CODES)}, got {codes!r}")
    if codes == "label":
        return None
    if not languages:
        raise InputError(f"this bundle has no languages.json (names and codes): it answers in labels, not {codes}")
    mapping, missing = {}, []
    for label in labels:
        if label == UNDETERMINED:  # a model's "none of these" class: never answered as a label, needs no code
            continue
        entry = languages.get(label, {})
        if codes == "iso639-1":
            code = entry.get("iso639_1") or entry.get("iso639_3")
        else:
            code = entry.get(codes.replace("-", "_"))
        if code:
            mapping[label] = code
        else:
            missing.append(label)
    if missing:
        raise InputError(
            f"this bundle's languages.json gives no {codes} code for: {', '.join(missing[:10])}"
            + (f" and {len(missing) - 10} more" if len(missing) > 10 else "")
        )
    return mapping


def relabel(answers: list[Any], mapping: dict[str, str] | None, at: int = 0) -> list[Any]:
    """Answers (lists of tuples whose item `at` is a label) with each label given as its code;
    `UNDETERMINED` and any label the mapping lacks stay as they are."""
    if mapping is None:
        return answers
    return [[(*t[:at], mapping.get(t[at], t[at]), *t[at + 1 :]) for t in answer] for answer in answers]

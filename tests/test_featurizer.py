"""The language-ID featurizer: a reference implementation, golden ids, and properties."""

from __future__ import annotations

import unicodedata

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from bowgram.runtime.charclass import HARD_TEXTS
from bowgram.runtime.featurizer import TABLE_MIN_CHARS, Featurizer, FeaturizerSpec
from bowgram.runtime.padding import pad, pad_chunks

SPEC = FeaturizerSpec(min_n=1, max_n=4, buckets=1000)
VOCAB = {"hola": 1, "que": 2, "das": 3}


def reference_ids(text: str, spec: FeaturizerSpec, vocab: dict) -> list[int]:
    """The manifest's recipe, written the slow and obvious way (what a port would do)."""
    t = unicodedata.normalize(spec.normalization, text.replace("\0", " ")).casefold()
    words = "".join(c if unicodedata.category(c)[0] in "LM" else " " for c in t).split()
    ids = [vocab[w] for w in words if w in vocab]
    for n in range(spec.min_n, spec.max_n + 1):
        for w in words:
            wrapped = f" {w} "
            for i in range(len(wrapped) - n + 1):
                gram = wrapped[i : i + n]
                if gram == " ":
                    continue
                h = 2166136261
                for ch in gram:
                    h = ((h ^ ord(ch)) * 16777619) % 2**32
                ids.append(1 + len(vocab) + h % spec.buckets)
    return ids


TEXTS = [
    "Hola, ¿qué tal?",
    "",
    "!!! 123",
    "x\0y hola",
    "नमस्ते दुनिया",
    "你好世界",
    "Straße ǅ",
    "e\u0301cole",
    "Das ist gut",
    *HARD_TEXTS,
]


def test_batch_matches_reference_implementation():
    features = Featurizer(SPEC, VOCAB)(TEXTS)
    for i, text in enumerate(TEXTS):
        assert features.row(i) == reference_ids(text, SPEC, VOCAB), text


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.text(alphabet="ab é,\u0301\0", max_size=12), min_size=1, max_size=5),
    st.integers(1, 5),
    st.integers(0, 3),
    st.sampled_from([1000, 1024]),
)
def test_every_ngram_range_matches_the_reference_in_a_batch(texts, min_n, extra, buckets):
    """Any min_n..max_n (e.g. 3..5: no unigrams or bigrams) and bucket count, many texts at once."""
    spec = FeaturizerSpec(min_n=min_n, max_n=min_n + extra, buckets=buckets)
    features = Featurizer(spec, VOCAB)(texts)
    assert [features.row(i) for i in range(len(texts))] == [reference_ids(t, spec, VOCAB) for t in texts]


def test_golden_ids_never_change_silently():
    """The hash is part of the bundle format: these numbers are fixed forever."""
    f = Featurizer(FeaturizerSpec(min_n=1, max_n=3, buckets=2**17), {"es": 1})
    assert f(["Es"]).row(0) == [1, 8930, 17796, 83440, 28011, 105992, 38441, 2541]


def test_letter_free_text_has_no_ids():
    features = Featurizer(SPEC, VOCAB)(["", "   ", "123 !?", "😀😀"])
    assert features.lengths().tolist() == [0, 0, 0, 0]


def test_combining_and_precomposed_forms_give_identical_ids():
    f = Featurizer(SPEC, VOCAB)
    assert f(["école"]).row(0) == f(["e\u0301cole"]).row(0)


def test_pad_puts_each_row_left_aligned_with_zero_padding():
    features = Featurizer(SPEC, VOCAB)(["ab", "", "abc d"])
    matrix = pad(features)
    assert matrix.shape == (3, features.lengths().max())
    assert matrix[0, : features.lengths()[0]].tolist() == features.row(0)
    assert not matrix[1].any()
    assert pad(features, np.array([2]))[0].tolist() == features.row(2)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(max_size=40), max_size=6))
def test_any_unicode_batch_is_deterministic_and_in_range(texts):
    f = Featurizer(SPEC, VOCAB)
    first, second = f(texts), f(texts)
    assert np.array_equal(first.ids, second.ids) and np.array_equal(first.offsets, second.offsets)
    assert len(first.offsets) == len(texts) + 1
    assert first.ids.size == 0 or (first.ids.min() >= 1 and first.ids.max() < f.num_ids)
    for i, text in enumerate(texts):  # batching never changes a text's ids
        assert first.row(i) == f([text]).row(0)


def test_big_batches_look_words_up_in_the_hash_table_with_the_same_result():
    """Calls with many characters use the numpy word table; it must agree with the reference."""
    vocab = {w: i + 1 for i, w in enumerate(["hola", "que", "das", "ist", "gut", "école", "你好世界", "a" * 300])}
    f = Featurizer(SPEC, vocab)
    texts = (TEXTS + ["das ist gut " * 20, "a" * 300 + " " + "a" * 299, "holas hol hola"]) * 24
    assert sum(map(len, texts)) >= TABLE_MIN_CHARS
    features = f(texts)
    assert f._table is not None
    for i, text in enumerate(texts):
        assert features.row(i) == reference_ids(text, SPEC, vocab), text


def test_pad_chunks_matches_padding_each_chunk_alone():
    features = Featurizer(SPEC, VOCAB)(["ab", "hola que", "x", "das ist gut", "ǅ"])
    counts = np.array([2, 1, 2])
    # every row once (ids scattered where they lie), a row twice and a row left out (gathered first)
    for rows in (np.array([2, 0, 4, 1, 3]), np.array([2, 2, 4, 1, 3]), np.array([0, 0, 3, 1, 4])):
        chunks = pad_chunks(features, rows, counts)
        expected = [pad(features, rows[0:2]), pad(features, rows[2:3]), pad(features, rows[3:5])]
        assert [c.tolist() for c in chunks] == [e.tolist() for e in expected]
        padded_rows = [row for chunk in chunks for row in chunk.tolist()]
        for row, r in zip(padded_rows, rows):
            n = len(features.row(r))
            assert row[:n] == features.row(r) and not any(row[n:])


def test_features_hold_one_copy_of_the_ids_once_in_csr_form():
    """Training featurizes a whole corpus at once: the parts must not outlive the CSR arrays."""
    features = Featurizer(SPEC, VOCAB)(TEXTS)
    assert len(features.parts) > 1  # words, then each n
    ids = features.ids
    assert len(features.parts) == 1 and features.parts[0][0] is ids
    assert features.parts[0][1].tolist() == features.lengths().tolist()

"""The language-ID featurizer: a reference implementation, golden ids, and properties."""

from __future__ import annotations

import json
import unicodedata
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bowgram.runtime.charclass import HARD_TEXTS
from bowgram.runtime.errors import BundleError
from bowgram.runtime.featurizer import TABLE_MIN_CHARS, Featurizer, FeaturizerSpec
from bowgram.runtime.padding import pad, pad_chunks

SPEC = FeaturizerSpec(min_n=1, max_n=4, buckets=1000)
VOCAB = {"hola": 1, "que": 2, "das": 3}


def reference_ids(text: str, spec: FeaturizerSpec, vocab: dict) -> list[int]:
    """The manifest's recipe, written the slow and obvious way (what a port would do)."""
    t = unicodedata.normalize(spec.normalization, text.replace("\0", " ")).casefold()
    if spec.drop_format:
        t = "".join(c for c in t if unicodedata.category(c) != "Cf")

    def kept(c: str) -> bool:
        known = not spec.known_letters or any(a <= ord(c) <= b for a, b in spec.known_letters)
        return unicodedata.category(c)[0] in "LM" and known

    words = "".join(c if kept(c) else " " for c in t).split()
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


# Latin (Basic, Latin-1, Extended-A/B) and Cyrillic letters, and combining marks
LATIN_CYRILLIC = ((0x41, 0x24F), (0x300, 0x36F), (0x400, 0x4FF))
RULES = FeaturizerSpec(min_n=1, max_n=4, buckets=1000, drop_format=True, known_letters=LATIN_CYRILLIC)


def test_batch_matches_reference_implementation():
    for spec in (SPEC, RULES):
        features = Featurizer(spec, VOCAB)(TEXTS)
        for i, text in enumerate(TEXTS):
            assert features.row(i) == reference_ids(text, spec, VOCAB), text


def test_format_characters_join_the_letters_around_them():
    text = "Eng\u200blish te\u00adxt \u202eright\u202c wo\u2060rd"
    assert Featurizer(RULES, {}).words([text])[0] == ["english", "text", "right", "word"]
    assert Featurizer(SPEC, {}).words([text])[0] == ["eng", "lish", "te", "xt", "right", "wo", "rd"]


def test_letters_of_unknown_scripts_are_boundaries():
    featurizer = Featurizer(RULES, VOCAB)
    assert featurizer.words(["hola мир ગુજરાતી 東京"])[0] == ["hola", "мир"]
    assert featurizer(["ગુજરાતી ભાષા 東京"]).row(0) == []  # only unknown scripts: no ids, so und
    assert featurizer.split("hola ગુજરાતી мир") == ["hola", "мир"]
    assert featurizer.letter_runs("hola, ગુજ мир") == [(0, 4), (10, 13)]


@settings(max_examples=300, deadline=None)
@given(st.text(st.characters(codec="utf-8"), max_size=40))
def test_one_text_split_equals_the_batch_words_under_the_rules(text):
    featurizer = Featurizer(RULES, VOCAB)
    assert featurizer.split(text) == featurizer.words([text])[0]
    assert featurizer([text]).row(0) == reference_ids(text, RULES, VOCAB)


def test_rules_round_trip_and_are_absent_when_off():
    assert "drop_format" not in SPEC.to_dict() and "known_letters" not in SPEC.to_dict()
    data = json.loads(json.dumps(RULES.to_dict()))
    assert data["known_letters"] == [list(r) for r in LATIN_CYRILLIC] and data["drop_format"] is True
    assert FeaturizerSpec.from_dict(data) == RULES


@pytest.mark.parametrize(
    "ranges",
    [
        [[0x41, 0x5A], [0x50, 0x7A]],  # overlapping
        [[0x61, 0x7A], [0x41, 0x5A]],  # descending
        [[0x5A, 0x41]],  # first after last
        [[0, 0x110000]],  # past the last code point
        [[-1, 5]],
        [[True, 5]],  # a bool is no code point
        [[65.0, 90]],
        [[65]],
        "0041-005A",
        [[0, 1]] * 10_001,
    ],
)
def test_bad_known_letters_are_refused(ranges):
    data = {**SPEC.to_dict(), "known_letters": ranges}
    with pytest.raises(BundleError, match="known_letters"):
        FeaturizerSpec.from_dict(data)


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


def test_shared_rule_cases_match_the_reference():
    """js/test/cases/featurizer_rules.json: what the JavaScript runtime must reproduce."""
    data = json.loads((Path(__file__).resolve().parents[1] / "js/test/cases/featurizer_rules.json").read_text("utf-8"))
    spec = FeaturizerSpec.from_dict(data["featurizer"])
    featurizer = Featurizer(spec, data["vocab"])
    for case in data["cases"]:
        assert featurizer.words([case["text"]])[0] == case["words"] == featurizer.split(case["text"])
        assert featurizer([case["text"]]).row(0) == case["ids"] == reference_ids(case["text"], spec, data["vocab"])


def test_known_letters_are_the_scripts_of_the_training_text():
    from bowgram.export.known_letters import known_letters

    texts = ["hola señor, ¿qué tal?", "привет мир", "the quick brown fox"] * 40 + ["一 stray ગ letter"]
    ranges = FeaturizerSpec(known_letters=known_letters(texts, FeaturizerSpec())).known_letters
    featurizer = Featurizer(FeaturizerSpec(known_letters=ranges), {})
    assert all(featurizer.kept(ord(c)) for c in "azñéяжǅɐ")  # every letter of a known script, seen or not
    assert not any(featurizer.kept(ord(c)) for c in "一ગαאא")  # a stray letter or two is not a script
    tiny = known_letters(["hola amigo"], FeaturizerSpec())  # a tiny corpus still knows its own script
    assert Featurizer(FeaturizerSpec(known_letters=tiny), {}).words(["hola amigo"]) == [["hola", "amigo"]]

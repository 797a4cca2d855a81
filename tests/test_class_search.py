"""Exact top-k of a class-factored next-word model from its own weights (class_search.py)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bowgram.runtime import load
from bowgram.runtime.bundle import sha256_of
from bowgram.runtime.class_search import BLOCK, ClassSearch
from bowgram.runtime.tokenizer import SPECIALS, Tokenizer, TokenizerSpec, Vocab, windows

ROOT = Path(__file__).resolve().parents[1]
DEFAULT = ROOT / "artifacts/nextword"


def random_search(rng: np.random.Generator, starts: list[int], vocab: int, flat: bool = False) -> ClassSearch:
    """Two members of a small factored model with random weights; `flat`: every class equally
    likely, so no class can be ruled out by its bound early (the search's worst case)."""
    context, dim, hidden = 2, 4, 6
    members = []
    for _ in range(2):
        members.append(
            {
                "embedding.weight": rng.normal(size=(vocab, dim)).astype(np.float32),
                "output.bias": rng.normal(size=vocab).astype(np.float32),
                "hidden.weight": rng.normal(size=(hidden, context * dim)).astype(np.float32),
                "hidden.bias": rng.normal(size=hidden).astype(np.float32),
                "project.weight": rng.normal(size=(dim, hidden)).astype(np.float32),
                "project.bias": rng.normal(size=dim).astype(np.float32),
                "classes.weight": (0 if flat else 1) * rng.normal(size=(len(starts), dim)).astype(np.float32),
                "classes.bias": (0 if flat else 1) * rng.normal(size=len(starts)).astype(np.float32),
            }
        )
    return ClassSearch(members, starts, context)


def brute_force(search: ClassSearch, ids: np.ndarray, starts: list[int]) -> np.ndarray:
    """p(w | h) averaged over members, computed word by word with no padding or chunks."""
    ends = [*starts[1:], search.vocab]
    out = np.zeros(search.vocab)
    for m in range(search.members):
        embedding = search.flat_w[m, search.place]  # [vocab, dim], the tied table
        x = embedding[ids].reshape(-1).astype(np.float64)
        h = np.maximum(x @ search.hidden_w[m] + search.hidden_b[m], 0) @ search.project_w[m] + search.project_b[m]
        zc = search.class_w[m] @ h + search.class_b[m]
        pc = np.exp(zc - zc.max()) / np.exp(zc - zc.max()).sum()
        for c, (a, b) in enumerate(zip(starts, ends)):
            z = embedding[a:b] @ h + search.word_b[m, c, : b - a]
            out[a:b] += pc[c] * np.exp(z - z.max()) / np.exp(z - z.max()).sum() / search.members
    return out


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.integers(1, 9), min_size=1, max_size=30),  # class sizes, uneven
    st.integers(1, 40),
    st.integers(0, 3),
    st.booleans(),
    st.integers(0, 2**31),
)
def test_the_search_finds_the_full_distributions_top_k(sizes, k, first, flat, seed):
    starts = np.cumsum([0, *sizes[:-1]]).tolist()
    vocab = sum(sizes)
    first = min(first, vocab - 1)
    rng = np.random.default_rng(seed)
    search = random_search(rng, starts, vocab, flat)
    for ids in rng.integers(0, vocab, size=(5, 2)):
        full = brute_force(search, ids, starts)
        full[:first] = -1
        got_ids, got_p = search.top(ids, k, first)
        want = np.argsort(-full, kind="stable")[: min(k, vocab - first)]
        assert len(got_ids) == len(want)
        assert np.allclose(got_p, full[want], rtol=1e-4, atol=1e-7)  # the same k best probabilities, in order
        assert np.allclose(full[got_ids], got_p, rtol=1e-4, atol=1e-7)  # and each is its word's
        assert min(got_ids) >= first
        assert np.allclose(np.exp(search.log_probs(ids)), brute_force(search, ids, starts), rtol=1e-4, atol=1e-7)


def test_flat_classes_make_the_search_look_past_its_first_chunk():
    rng = np.random.default_rng(0)
    starts = list(range(0, 200, 5))  # 40 classes of 5 words, every class equally likely
    search = random_search(rng, starts, 200, flat=True)
    ids = np.array([3, 7])
    got_ids, got_p = search.top(ids, 30)
    full = brute_force(search, ids, starts)
    assert np.allclose(got_p, np.sort(full)[::-1][:30], rtol=1e-4)
    assert len(starts) > BLOCK


def test_every_word_can_be_asked_for_even_where_probabilities_underflow():
    rng = np.random.default_rng(2)
    starts = list(range(0, 57, 4))  # the last class has one word and three padding slots
    search = random_search(rng, starts, 57)
    search.class_b[:, 3] = -300  # class 3's words: probability 0 in float32
    search.head_b[:, 3] = -300
    row = np.array([5, 9])
    ids, probs = search.top(row, 1000, first=3)
    assert sorted(ids) == list(range(3, 57))  # every word once, no padding, no specials
    assert probs == sorted(probs, reverse=True) and min(probs) == 0.0
    assert abs(sum(probs) - np.exp(search.log_probs(row))[3:].sum()) < 1e-5


@pytest.fixture(scope="module")
def default():
    predictor = load(DEFAULT)
    assert predictor.classes is not None, "the default next-word bundle is class-factored"
    return predictor


def validation_contexts(predictor, n: int) -> np.ndarray:
    """n distinct context rows of the validation text, as ids."""
    text = (ROOT / "export/data/lm/valid.txt").read_text("utf-8")
    sequences = Tokenizer(TokenizerSpec.from_dict(predictor.bundle.manifest.featurizer)).sequences(text)
    contexts, _ = windows(sequences, predictor.vocab, predictor.context_size)
    unique = np.unique(contexts, axis=0)
    return unique[np.random.default_rng(0).choice(len(unique), n, replace=False)]


def test_the_default_bundles_weights_are_searched_and_agree_with_its_model_on_thousands_of_contexts(default):
    search = default.class_search()
    assert search is not None, "the weights of the default bundle should reproduce its test vectors"
    contexts = validation_contexts(default, 3000)
    for start in range(0, len(contexts), 500):
        rows = contexts[start : start + 500]
        model = default.log_probs_of_ids(rows).astype(np.float64)  # the ONNX model's full distribution
        model[:, : len(SPECIALS)] = -np.inf
        for row, logp in zip(rows, model):
            got_ids, got_p = search.top(row, 5, len(SPECIALS))
            want = np.sort(logp)[::-1][:5]
            assert np.allclose(np.log(got_p), want, atol=2e-5), row
            assert np.allclose(logp[got_ids], np.log(got_p), atol=2e-5), row


def test_predict_answers_from_the_search_as_the_graph_would(default):
    contexts = ["to be or not to", "my lord , i", "when forty winters shall", "", "and"]
    searched = default.predict(contexts, k=10)
    default._search, default._search_read = None, True  # the graph's own top-k instead
    try:
        graph = default.predict(contexts, k=10)
    finally:
        default._search_read = False
    for a, b in zip(searched, graph):
        assert [w for w, _ in a][:3] == [w for w, _ in b][:3]
        assert np.allclose([p for _, p in a], [p for _, p in b], rtol=1e-4)


def with_examples(tmp_path: Path, change) -> Path:
    """A copy of the default bundle whose examples.json `change` edited (its checksum updated)."""
    out = tmp_path / "nextword"
    shutil.copytree(DEFAULT, out)
    examples = json.loads((out / "examples.json").read_text("utf-8"))
    change(examples)
    (out / "examples.json").write_text(json.dumps(examples), "utf-8")
    manifest = json.loads((out / "manifest.json").read_text("utf-8"))
    for a in manifest["artifacts"]:
        if a["path"] == "examples.json":
            a["sha256"], a["size"] = sha256_of(out / "examples.json"), (out / "examples.json").stat().st_size
    (out / "manifest.json").write_text(json.dumps(manifest), "utf-8")
    return out


def test_without_test_vectors_the_weights_are_checked_against_the_model(tmp_path, default):
    predictor = load(with_examples(tmp_path, lambda examples: examples["examples"].clear()))
    assert predictor.class_search() is not None


def test_weights_that_do_not_reproduce_the_model_are_not_used(tmp_path, default):
    def spoil(examples):
        examples["examples"][0]["top"][0][2] += 0.5  # a test vector the weights cannot give

    predictor = load(with_examples(tmp_path, spoil))
    assert predictor.class_search() is None
    assert [w for w, _ in predictor.predict("to be or not to", k=3)] == [
        w for w, _ in default.predict("to be or not to", k=3)
    ]


def test_a_vocabulary_built_by_frequency_puts_frequent_words_in_the_first_classes():
    vocab = Vocab.build([["a", "b", "a", "c", "a", "b"]])
    assert vocab.words[len(SPECIALS) :] == ["a", "b", "c"]  # what makes classes of consecutive ids useful


def test_context_words_beyond_the_kept_table_are_multiplied_out(monkeypatch):
    from bowgram.runtime import class_search

    monkeypatch.setattr(class_search, "TABLE_BYTES", 4 * 2 * 2 * 6 * 10)  # the 10 most frequent ids only
    rng = np.random.default_rng(1)
    starts = list(range(0, 60, 7))
    search = random_search(rng, starts, 60)
    assert search.table_words == 10
    for ids in ([1, 2], [3, 40], [50, 5], [55, 59]):
        ids = np.array(ids)
        assert np.allclose(np.exp(search.log_probs(ids)), brute_force(search, ids, starts), rtol=1e-4, atol=1e-7)

"""One short text at a time (word_scores.py): answered from the bundle's own weights without a
model call, each word's part of the logits cached for segments; both equal the model on whole
texts, with weights that are refused when they do not reproduce it, and a bounded cache shared
safely by threads."""

from __future__ import annotations

import gzip
import threading
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bowgram.runtime import charclass, load
from bowgram.runtime.errors import BundleError
from bowgram.runtime.featurizer import Featurizer, FeaturizerSpec
from bowgram.runtime.onnx_weights import Tensor, float_tensors, from_bytes
from bowgram.runtime.word_scores import MAX_CACHED_CHARS, WordScores

ROOT = Path(__file__).resolve().parent.parent
BUNDLES = ["artifacts/langid", "tests/bundles/langid"]  # n-grams and words; words alone


@pytest.fixture(scope="module")
def dev_texts() -> list[str]:
    rows = gzip.open(ROOT / "export/data/langid/dev.tsv.gz", "rt", encoding="utf-8").read().splitlines()
    return [row.split("\t", 1)[1] for row in rows][::3] + list(charclass.HARD_TEXTS)


@settings(max_examples=300, deadline=None)
@given(st.text(st.characters(codec="utf-8"), max_size=40))
def test_split_words_finds_the_featurizers_words(text):
    lid = load(task="langid")
    assert lid.featurizer.split(text) == lid.featurizer.words([text])[0]


def test_hard_texts_split_alike():
    lid = load(task="langid")
    assert [lid.featurizer.split(t) for t in charclass.HARD_TEXTS] == lid.featurizer.words(list(charclass.HARD_TEXTS))


PLAIN = Featurizer(FeaturizerSpec(), {})  # every letter, nothing dropped
SPECS = [
    FeaturizerSpec(buckets=2**16),
    FeaturizerSpec(min_n=2, max_n=3, buckets=1000),  # no unigrams; buckets not a power of two
    FeaturizerSpec(min_n=3, max_n=6, buckets=2**10, word_features=False),
    FeaturizerSpec(min_n=0, max_n=0, buckets=0),  # words alone
]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(st.characters(categories=("Ll", "Lo", "Mn")), min_size=1, max_size=12), max_size=8))
def test_of_words_gives_the_featurizers_ids_word_after_word(words):
    words = [w for t in words for w in PLAIN.split(t)]  # folded runs of letters, as texts give them
    vocab = {w: i + 1 for i, w in enumerate(sorted(set(words[::2])))}
    for spec in SPECS:
        featurizer = Featurizer(spec, vocab)
        word_ids, gram_ids, counts = featurizer.of_words(words, per_word=True)
        reference = featurizer(words, folded=True) if words else None
        offsets = np.concatenate([[0], np.cumsum(counts)])
        for i in range(len(words)):
            mine = [int(word_ids[i])] * int(word_ids[i] > 0) + gram_ids[offsets[i] : offsets[i + 1]].tolist()
            assert sorted(mine) == sorted(reference.row(i)), (spec, words[i])
        assert sorted(featurizer.of_words(words)[1].tolist()) == sorted(gram_ids.tolist())  # the same without counts


@pytest.mark.parametrize("bundle", BUNDLES)
def test_one_text_from_the_weights_equals_the_model_on_whole_texts(bundle, dev_texts):
    lid = load(ROOT / bundle, backend="onnx")
    assert lid.weights() is not None  # the weights reproduce the model: one text needs no model call
    one_at_a_time = np.concatenate([lid.log_probs(dev_texts[i : i + 8]) for i in range(0, len(dev_texts), 8)])
    _assert_same_as_the_model(lid, dev_texts, one_at_a_time)


@pytest.mark.parametrize("bundle", BUNDLES)
@pytest.mark.parametrize("weights", [True, False])
def test_word_scores_sum_to_the_model(bundle, weights, dev_texts):
    """Each word's part of the logits (what segments label) adds up to the model's answer, whether
    the parts come from the weights or from model calls on each word."""
    lid = load(ROOT / bundle, backend="onnx")
    if not weights:
        lid._weights, lid._weights_read = None, True
    scores = lid.word_scores()
    assert (scores.project is not None) == weights
    rows = []
    for text in dev_texts:
        parts = scores.label_scores(lid.featurizer.split(text))
        parts = parts[~np.isnan(parts[:, 0])] if len(parts) else parts
        logits = scores.base + parts.sum(axis=0) if len(parts) else np.full(len(lid.labels), np.nan)
        rows.append(logits - logits.max() - np.log(np.exp(logits - logits.max()).sum()))
    _assert_same_as_the_model(lid, dev_texts, np.array(rows))


def _assert_same_as_the_model(lid, texts, log_probs):
    model = lid.model_log_probs(texts)
    assert (np.isnan(log_probs[:, 0]) == np.isnan(model[:, 0])).all()  # und for the same texts
    ok = ~np.isnan(model[:, 0])
    assert (log_probs[ok].argmax(1) == model[ok].argmax(1)).all()
    tol = lid.bundle.read_json("examples")["tolerance"]  # what the bundle promises any implementation
    assert np.all(np.abs(log_probs[ok] - model[ok]) <= tol["atol"] + tol["rtol"] * np.abs(model[ok]))


def test_weights_that_do_not_reproduce_the_model_are_not_used(monkeypatch, dev_texts):
    """A bundle whose ONNX tensors are not what the model computes with (another graph, say)
    answers through the model instead."""
    array = Tensor.array
    monkeypatch.setattr(Tensor, "array", lambda self, read, dtype=None: array(self, read, dtype) + 0.01)
    lid = load(task="langid", backend="onnx")
    assert lid.weights() is None
    _assert_same_as_the_model(lid, dev_texts[:400], np.concatenate([lid.log_probs([t]) for t in dev_texts[:400]]))


def test_the_int8_model_is_answered_as_itself(dev_texts):
    lid = load(task="langid", backend="onnx", precision="int8")
    texts = dev_texts[:300]
    one_at_a_time = np.concatenate([lid.log_probs([t]) for t in texts])
    _assert_same_as_the_model(lid, texts, one_at_a_time)


def test_the_onnx_reader_finds_what_onnx_finds():
    onnx = pytest.importorskip("onnx")
    from onnx import numpy_helper

    path = ROOT / "artifacts/langid/model.onnx"
    data = path.read_bytes()
    mine = float_tensors(from_bytes(data), len(data))
    theirs = {t.name: numpy_helper.to_array(t) for t in onnx.load(str(path)).graph.initializer}
    floats = {n: a for n, a in theirs.items() if a.dtype.kind == "f"}
    assert mine.keys() == floats.keys()
    for name, array in floats.items():
        values = mine[name].array(from_bytes(data))
        assert values.dtype == array.dtype and np.array_equal(values, array)
        assert np.array_equal(mine[name].array(from_bytes(data), np.float32), array.astype(np.float32))
    with pytest.raises(BundleError):
        float_tensors(from_bytes(data[:100_000]), 100_000)  # cut inside the embedding table


def test_one_text_answers_as_in_a_batch(dev_texts):
    lid = load(task="langid")
    together = lid.predict(dev_texts)  # the model path (a big batch)
    for text, answer in zip(dev_texts[::11], together[::11]):
        alone = lid.predict(text)  # the weights path
        assert alone[0][0] == answer[0][0] and alone[0][1] == pytest.approx(answer[0][1], abs=1e-5), text


def test_the_cache_is_bounded_and_answers_stay_right(dev_texts):
    lid = load(task="langid")
    small = lid.weights().word_scores(capacity=64)  # evicts all the time
    reference = lid.word_scores()
    for text in dev_texts[:300] * 2:
        words = lid.featurizer.split(text)
        assert np.allclose(small.label_scores(words), reference.label_scores(words), atol=1e-5, equal_nan=True)
        assert len(small) <= 64
    long_word = "a" * (MAX_CACHED_CHARS + 1)
    small.rows([long_word, "hola"])
    assert long_word not in small._index and "hola" in small._index  # one text cannot fill memory with keys


@pytest.mark.parametrize("weights", [True, False])
def test_threads_share_the_predictor_safely(weights, dev_texts):
    lid = load(task="langid")
    if not weights:
        lid._weights, lid._weights_read = None, True
        lid._word_scores = WordScores(lid.word_scores().base, lid.word_scores()._score, capacity=128)
    texts = dev_texts[:400]
    answerable = [i for i, label in enumerate(lid.labels) if label in lid.known_labels]  # never "none of these"
    labels = [lid.labels[answerable[j]] for j in lid.model_log_probs(texts)[:, answerable].argmax(1).tolist()]
    got: dict[int, str] = {}

    def work(offset: int) -> None:
        for i in range(offset, len(texts), 4):
            got[i] = lid.predict(texts[i])[0][0]

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    nonempty = [i for i in range(len(texts)) if lid.input_ids(texts[i])]
    assert [got[i] for i in nonempty] == [labels[i] for i in nonempty]


def test_the_cache_holds_as_many_bytes_whatever_the_width():
    from bowgram.runtime.word_scores import CACHE_BYTES

    for width in (2, 32, 196, 2000):
        cache = WordScores(np.zeros(width), lambda words, n=width: np.zeros((len(words), n)))
        assert cache.capacity * width * 4 <= max(CACHE_BYTES, 1024 * width * 4)

"""Language ID as a sum of cached per-word scores (word_scores.py): the same answers as the model
on whole texts, alone or in a batch, with a bounded cache shared safely by threads."""

from __future__ import annotations

import gzip
import threading
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bowgram.runtime import charclass, load
from bowgram.runtime.word_scores import WordScores, split_words

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def dev_texts() -> list[str]:
    rows = gzip.open(ROOT / "export/data/langid/dev.tsv.gz", "rt", encoding="utf-8").read().splitlines()
    return [row.split("\t", 1)[1] for row in rows][::3] + list(charclass.HARD_TEXTS)


@settings(max_examples=300, deadline=None)
@given(st.text(st.characters(codec="utf-8"), max_size=40))
def test_split_words_finds_the_featurizers_words(text):
    lid = load(task="langid")
    assert split_words(text, "NFKC", True) == lid.featurizer.words([text])[0]


def test_hard_texts_split_alike():
    lid = load(task="langid")
    assert [split_words(t, "NFKC", True) for t in charclass.HARD_TEXTS] == lid.featurizer.words(
        list(charclass.HARD_TEXTS)
    )


@pytest.mark.parametrize("bundle", ["artifacts/langid", "tests/bundles/langid"])
def test_the_word_sum_equals_the_model_on_whole_texts(bundle, dev_texts):
    lid = load(ROOT / bundle, backend="onnx")
    lid.word_scores().vectors([w for ws in lid.featurizer.words(dev_texts) for w in ws])  # every word cached
    words_path = np.concatenate([lid.log_probs(dev_texts[i : i + 8]) for i in range(0, len(dev_texts), 8)])
    model_path = lid.model_log_probs(dev_texts)
    assert (np.isnan(words_path[:, 0]) == np.isnan(model_path[:, 0])).all()  # und for the same texts
    ok = ~np.isnan(model_path[:, 0])
    assert (words_path[ok].argmax(1) == model_path[ok].argmax(1)).all()
    tol = lid.bundle.read_json("examples")["tolerance"]  # what the bundle promises any implementation
    assert np.all(np.abs(words_path[ok] - model_path[ok]) <= tol["atol"] + tol["rtol"] * np.abs(model_path[ok]))


def test_one_text_answers_as_in_a_batch(dev_texts):
    lid = load(task="langid")
    for _ in range(3):  # new words, then words seen twice (scored), then every word cached
        alone = [lid.predict(text) for text in dev_texts[::11]]
    assert len(lid.word_scores()) > 0
    together = lid.predict(dev_texts)  # the model path (a big batch)
    for text, answer in zip(dev_texts[::11], together[::11]):
        alone = lid.predict(text)  # the word path
        assert alone[0][0] == answer[0][0] and alone[0][1] == pytest.approx(answer[0][1], abs=1e-5), text


def test_the_cache_is_bounded_and_answers_stay_right(dev_texts):
    lid = load(task="langid")
    reference = lid.predict(dev_texts[:300])
    scores = lid.word_scores()
    lid._word_scores = WordScores(scores.base, lid._score_words, capacity=64)  # evicts all the time
    for text, answer in zip(dev_texts[:300] * 3, reference * 3):
        alone = lid.predict(text)
        assert alone[0][0] == answer[0][0] and alone[0][1] == pytest.approx(answer[0][1], abs=1e-5)
        assert len(lid.word_scores()) <= 64


def test_threads_share_the_cache_safely(dev_texts):
    lid = load(task="langid")
    lid._word_scores = WordScores(lid.word_scores().base, lid._score_words, capacity=128)
    texts = dev_texts[:400]
    labels = [lid.labels[i] for i in lid.model_log_probs(texts).argmax(1).tolist()]
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


def test_the_cache_holds_as_many_bytes_whatever_the_number_of_labels():
    from bowgram.runtime.word_scores import CACHE_BYTES, WordScores

    for labels in (2, 104, 196, 2000):
        cache = WordScores(np.zeros(labels), lambda words, n=labels: np.zeros((len(words), n)))
        assert cache.capacity * labels * 4 <= max(CACHE_BYTES, 1024 * labels * 4)
    assert WordScores(np.zeros(104), lambda words: None).capacity == 1 << 16  # as before for 104 labels

"""The next-word writer's cache, keystroke savings, and `bowgram nextword --adapt`."""

from __future__ import annotations

import json
import shutil
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from bowgram.runtime import load
from bowgram.runtime.cli import main
from bowgram.runtime.errors import BundleError
from bowgram.runtime.tasks.nextword import Keystrokes, _Window, cache_mixture, metrics_of, tune_cache
from bowgram.runtime.tokenizer import windows

ROOT = Path(__file__).resolve().parents[1]
SHARED = json.loads((ROOT / "js/test/cases/writer.json").read_text("utf-8"))
TEXT = (
    "When forty winters shall besiege thy brow, and dig deep trenches in thy beauty's field, thy youth's proud "
    "livery, so gazed on now, will be a tattered weed of small worth held.\n\nThen being asked where all thy beauty "
    "lies, where all the treasure of thy lusty days, to say within thine own deep sunken eyes were an all-eating "
    "shame and thriftless praise.\n\nHow much more praise deserved thy beauty's use, if thou couldst answer this "
    "fair child of mine shall sum my count and make my old excuse, proving his beauty by succession thine."
)


def with_cache(tmp_path: Path, cache: dict | None) -> Path:
    """A copy of the tutorial next-word bundle whose manifest has `cache` as model.cache."""
    out = tmp_path / "nextword"
    shutil.copytree(ROOT / "tests/bundles/nextword", out)
    manifest = json.loads((out / "manifest.json").read_text())
    manifest["model"]["cache"] = cache
    (out / "manifest.json").write_text(json.dumps(manifest))
    return out


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(0, 7), max_size=60), st.integers(1, 12))
def test_the_window_counts_what_a_recount_of_its_tokens_finds(stream, size):
    window = _Window(size, 8)
    for t, token in enumerate(stream):
        window.add(token)
        entries = stream[max(0, t + 1 - size) : t + 1]
        expected = Counter(x for x in entries if x > 1)
        assert window.unigrams.tolist() == [expected[i] for i in range(8)]
        first = max(0, t + 1 - size)
        pairs: Counter = Counter()
        for i in range(first, t + 1):
            if i >= 1 and stream[i] > 1:  # a pair ends at each counted entry; </s> and <s> are histories too
                pairs[(stream[i - 1], stream[i])] += 1
        assert {(h, w): c for h, f in window.pairs.items() for w, c in f.items()} == dict(pairs)


def test_the_two_ways_of_scoring_a_cache_agree(tmp_path):
    """`metrics_of` (whole rows, `cache_mixture`) and `tune_cache` (the targets alone) are two
    computations of the same perplexity."""
    lm = load(with_cache(tmp_path, None), task="nextword", backend="onnx")
    sequences = lm.tokenizer.sequences(TEXT)
    contexts, targets = windows(sequences, lm.vocab, lm.context_size)
    probs = np.exp(lm.log_probs_of_ids(contexts).astype(np.float64))
    spec, tuned = tune_cache(probs[np.arange(len(targets)), targets], targets)
    assert spec is not None and tuned < metrics_of(lm, sequences)["perplexity"]  # the text repeats itself
    lm.cache = spec
    assert metrics_of(lm, sequences)["perplexity_cache"] == pytest.approx(tuned, rel=1e-9)
    rows = cache_mixture(probs, targets, 0, spec)
    assert np.allclose(rows.sum(axis=1), 1.0)  # a distribution at every step
    split = np.concatenate([cache_mixture(probs[:40], targets, 0, spec), cache_mixture(probs[40:], targets, 40, spec)])
    assert np.allclose(split, rows)  # batches see the tokens before them


def test_a_writer_mixes_its_own_words_in_and_writers_share_nothing(tmp_path):
    lm = load(with_cache(tmp_path, {"window": 50, "unigram": 0.1, "bigram": 0.2}), task="nextword", backend="onnx")
    first, second = lm.writer(), lm.writer()
    first.write("When forty winters shall besiege thy brow, and dig deep trenches in thy beauty's field, thy ")
    answer = first.predict(5)
    # by hand: the model's distribution after the context, mixed with the counts of what was written
    ids = lm.vocab.ids(lm.tokenizer.tokens(first.context))
    probs = np.exp(lm.log_probs_of_ids(lm.context_ids([first.context]))[0].astype(np.float64))
    unigrams = np.bincount([i for i in ids if i > 1], minlength=len(lm.vocab))
    mixed = probs * 0.9 + 0.1 * unigrams / unigrams.sum()
    following = Counter(b for a, b in zip(ids, ids[1:]) if a == ids[-1] and b > 1)
    mixed *= 0.8
    for w, c in following.items():
        mixed[w] += 0.2 * c / sum(following.values())
    mixed[:3] = 0
    expected = np.argsort(-mixed, kind="stable")[:5]
    assert [w for w, _ in answer] == [lm.vocab.words[i] for i in expected]
    assert [p for _, p in answer] == pytest.approx(mixed[expected].tolist())
    assert second.predict(5) == lm.predict("", k=5)  # nothing written: the model alone, untouched by the first
    first.write("bea")
    assert all(w.startswith("bea") for w, _ in first.predict(3))  # the word being typed is completed


def test_a_bundle_without_a_cache_gives_writers_the_models_answers(tmp_path):
    lm = load(with_cache(tmp_path, None), task="nextword", backend="onnx")
    writer = lm.writer()
    writer.write("thy beauty's field, thy ")
    assert writer.predict(4) == lm.predict("thy beauty's field, thy ", k=4)
    assert metrics_of(lm, lm.tokenizer.sequences(TEXT))["perplexity_cache"] is None


def test_shared_writer_cases(tmp_path):
    """js/test/cases/writer.json: what the JavaScript runtime's writer must answer too."""
    lm = load(with_cache(tmp_path, SHARED["cache"]), task="nextword", backend="onnx")
    for case in SHARED["cases"]:
        writer = lm.writer()
        for text, expected in zip(case["writes"], case["answers"]):
            writer.write(text)
            got = writer.predict(5)
            assert [w for w, _ in got] == [w for w, _ in expected]
            assert [p for _, p in got] == pytest.approx([p for _, p in expected], abs=1e-6)


@pytest.mark.parametrize(
    "cache",
    [
        {"window": 0, "unigram": 0.1, "bigram": 0.1},
        {"window": 1001, "unigram": 0.1, "bigram": 0.1},
        {"window": 10.0, "unigram": 0.1, "bigram": 0.1},
        {"window": 10, "unigram": 1, "bigram": 0.1},
        {"window": 10, "unigram": 0.1, "bigram": -0.1},
        {"window": 10, "unigram": True, "bigram": 0.1},
        {"window": 10, "unigram": 0.1},
        {"window": 10, "unigram": 0.1, "bigram": 0.1, "decay": 2},
        [10, 0.1, 0.1],
    ],
)
def test_a_malformed_cache_is_refused(tmp_path, cache):
    with pytest.raises(BundleError, match="model.cache"):
        load(with_cache(tmp_path, cache), task="nextword", backend="onnx")


def test_keystroke_savings_follow_the_stated_protocol():
    words = ["<s>", "</s>", "<unk>", "the", "then", "thee", "a", "cat"]
    keys = Keystrokes(words)
    probs = np.array([[0, 0, 0.0, 0.4, 0.3, 0.2, 0.05, 0.05]] * 4)
    # "the": shown at once (top 3 of all: the, then, thee) -> 1 tap instead of 4 keystrokes, 3 saved
    # "cat": not in the top 3 at first; after "c" only "cat" begins so: 2 keystrokes instead of 4, 2 saved
    # a word the vocabulary lacks ("dog", <unk>): typed in full, 4; a paragraph end: not counted
    saved, total = keys.count(probs, np.array([3, 7, 2, 1]), ["the", "cat", "dog", "</s>"], k=3)
    assert (saved, total) == (5, 12)
    saved, _ = keys.count(probs, np.array([5]), ["thee"], k=1)  # k=1: "the" leads until "thee" is typed out
    assert saved == 0  # after "t", "th", "the" the best word is still "the"


def test_eval_reports_the_cache_and_keystrokes_and_adapt_streams(tmp_path):
    bundle = with_cache(tmp_path, {"window": 50, "unigram": 0.1, "bigram": 0.2})
    data = tmp_path / "valid.txt"
    data.write_text(TEXT)
    result = CliRunner().invoke(main, ["eval", str(bundle), "--data", str(data), "--json"])
    assert result.exit_code == 0, result.output
    metrics = json.loads(result.output)
    for key in ("perplexity_cache", "keystroke_savings_k3", "keystroke_savings_k3_cache"):
        assert key in metrics
    assert 0 < metrics["keystroke_savings_k3"] < 1 and 0 < metrics["perplexity_cache"] != metrics["perplexity"]
    lines = "thy beauty's field\nthy beauty's use\nthy\n"
    adapted = CliRunner().invoke(main, ["nextword", "--bundle", str(bundle), "--adapt", "-k", "3"], input=lines)
    plain = CliRunner().invoke(main, ["nextword", "--bundle", str(bundle), "-k", "3"], input=lines)
    assert adapted.exit_code == plain.exit_code == 0
    assert len(adapted.output.splitlines()) == 3 and adapted.output != plain.output  # it learned from the lines
    refused = CliRunner().invoke(main, ["nextword", "--adapt", "--workers", "2", "x"])
    assert refused.exit_code == 2 and "--adapt" in refused.output

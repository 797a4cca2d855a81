"""Mixed-language text: segments over character offsets of the text itself, the Viterbi pass
they come from, shares, and the CLI's --segments / --shares."""

from __future__ import annotations

import gzip
import itertools
import json
from pathlib import Path

import numpy as np
import pytest

from bowgram.runtime import load
from bowgram.runtime.cli import main
from bowgram.runtime.segmenter import segment, viterbi
from bowgram.runtime.tasks.langid import MAX_CHARS

ROOT = Path(__file__).resolve().parent.parent


def test_viterbi_finds_the_best_labelling():
    rng = np.random.default_rng(0)
    for _ in range(50):
        scores = rng.normal(size=(5, 3)) * 3
        cost = float(rng.uniform(0, 4))

        def value(path, scores=scores, cost=cost):
            return sum(scores[t, y] for t, y in enumerate(path)) - cost * sum(a != b for a, b in zip(path, path[1:]))

        best = max(itertools.product(range(3), repeat=5), key=value)
        assert value(viterbi(scores, cost)) == pytest.approx(value(best))


def test_short_segments_join_a_neighbour():
    scores = np.array([[5.0, 0], [5, 0], [0, 5], [5, 0], [5, 0]])
    assert [s.label for s in segment(scores, np.zeros(2), switch_cost=0.0, min_words=1)] == [0, 1, 0]
    assert [(s.first, s.last, s.label) for s in segment(scores, np.zeros(2), 0.0, min_words=2)] == [(0, 4, 0)]


def test_two_languages_give_two_segments_over_the_texts_own_offsets():
    lid = load(task="langid")
    text = "Eu gosto muito de café. Ella trabaja en un hospital de la ciudad."
    assert [(text[a:b], label) for a, b, label, _ in lid.segments(text)] == [
        ("Eu gosto muito de café", "pt"),
        ("Ella trabaja en un hospital de la ciudad", "es"),
    ]
    ligature = "ﬁnancière ｆｕｌｌ report"  # NFKC changes lengths; offsets stay the original text's
    (start, end, _, _), *_ = lid.segments(ligature)
    assert (start, end) == (0, len(ligature))


def test_single_language_dev_sentences_come_back_whole():
    lid = load(task="langid")
    rows = gzip.open(ROOT / "export/data/langid/dev.tsv.gz", "rt", encoding="utf-8").read().splitlines()[::40]
    texts = [row.split("\t", 1)[1] for row in rows]
    whole = sum(len(segs) <= 1 for segs in lid.segments(texts))
    assert whole / len(texts) >= 0.97


def test_a_list_answers_as_each_text_alone():
    lid = load(task="langid")
    texts = ["Hola, ¿cómo estás? I am fine thanks", "Das ist gut", "", "12345"]
    assert lid.segments(texts) == [lid.segments(t) for t in texts]
    assert lid.segments("12345") == [] and lid.shares("12345") == [("und", 1.0)]


def test_shares_add_up_and_read_a_text_longer_than_max_chars():
    lid = load(task="langid")
    text = "Das ist ein ganz normaler Satz. " * 4000 + "This is a perfectly ordinary sentence. " * 4000
    assert len(text) > 2 * MAX_CHARS
    shares = dict(lid.shares(text))
    assert set(shares) == {"de", "en"} and sum(shares.values()) == pytest.approx(1.0)
    assert shares["en"] == pytest.approx(0.55, abs=0.05)  # the English half is a little longer
    assert lid.segments(text)[-1][1] > MAX_CHARS  # segments go past the first MAX_CHARS characters


def test_cli_segments_and_shares(runner):
    text = "Eu gosto muito de café. Ella trabaja en un hospital de la ciudad."
    result = runner.invoke(main, ["langid", "--segments", text, "123"])
    assert result.exit_code == 0, result.output
    first, second = result.output.splitlines()
    assert first.startswith("pt 0-22 ") and "\tes 24-64 " in first and second == "und"
    result = runner.invoke(main, ["langid", "--segments", "--json", "Das ist gut"])
    row = json.loads(result.output)
    assert row["segments"][0]["label"] == "de" and row["segments"][0]["text"] == "Das ist gut"
    result = runner.invoke(main, ["langid", "--shares", text])
    assert result.output.split() == ["es", "0.6452", "pt", "0.3548"]  # 40 and 22 characters of segments
    result = runner.invoke(main, ["langid", "--segments", "--shares", "x"])
    assert result.exit_code == 2 and "not both" in result.output

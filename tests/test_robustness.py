"""Crash safety, thread safety, and properties over any Unicode input."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bowgram.runtime import load
from bowgram.runtime.bundle import sha256_of
from bowgram.runtime.bundle_writer import BundleWriter
from bowgram.runtime.verify import verify_bundle


def _fingerprint(path):
    return {p.name: sha256_of(p) for p in sorted(path.iterdir())}


@pytest.mark.slow
@pytest.mark.parametrize("delay", [0.3, 1.0, 2.0, 3.0, 4.5])
def test_killed_training_leaves_the_previous_bundle_or_a_complete_new_one(tutorial_bundles, tmp_path, delay):
    pytest.importorskip("torch")
    out = tmp_path / "bundle"
    shutil.copytree(tutorial_bundles["nextword"], out)
    before = _fingerprint(out)
    exe = os.path.join(os.path.dirname(sys.executable), "bowgram")
    proc = subprocess.Popen(
        [exe, "train", "langid", "--data", "tutorial", "--out", str(out), "--quiet"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    time.sleep(delay)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    with BundleWriter(out):  # the next writer (or reader) finds the leftovers harmless and cleans them
        pass
    if out.exists():
        report = verify_bundle(out)
        if report["task"] == "nextword":
            assert _fingerprint(out) == before  # untouched previous bundle
        else:
            assert report["backends"]["onnx"]["examples"] > 0  # a complete new bundle
    leftovers = [p.name for p in tmp_path.iterdir() if p.name.startswith(".")]
    assert leftovers == []


def test_a_dead_writers_staging_folder_goes_and_nothing_else(tutorial_bundles, tmp_path):
    out = tmp_path / "bundle"
    stale = tmp_path / ".bundle.bowgram-tmp-999999-abcd"  # what a killed writer leaves: name and marker
    shutil.copytree(tutorial_bundles["langid"], stale)
    (stale / ".bowgram-writer").write_text("999999")
    users = [tmp_path / ".bundle.old-2024", tmp_path / ".bundle.bowgram-tmp-999998-x"]  # no marker: not ours
    for folder in users:
        folder.mkdir()
        (folder / "precious.txt").write_text("mine")
    with BundleWriter(out):
        pass
    assert not stale.exists()
    assert all((folder / "precious.txt").read_text() == "mine" for folder in users)


@pytest.mark.parametrize(
    "task, inputs",
    [
        ("langid", ["Give it to me", "no creo que sea", "", "lost at sea", "me gusta comer"]),
        ("nextword", ["when forty", "thy beauty's", "", "and dig deep", "so gazed on"]),
    ],
)
def test_eight_threads_give_the_single_threaded_answers(tutorial_bundles, task, inputs):
    predictor = load(tutorial_bundles[task])
    work = [inputs[i % len(inputs)] for i in range(2000)]
    expected = {text: predictor.predict(text, k=2) for text in inputs}

    def run(offset):
        return [(t, predictor.predict(t, k=2)) for t in work[offset:] + work[:offset]]

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(run, range(8)))
    for answers in results:
        assert len(answers) == 2000
        for text, answer in answers:
            assert answer == expected[text]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.text(max_size=60), min_size=1, max_size=5))
def test_langid_never_raises_and_answers_are_probabilities(tutorial_bundles, texts):
    identifier = load(tutorial_bundles["langid"])
    first = identifier.predict(texts, k=2)
    assert first == identifier.predict(texts, k=2)
    for answer in first:
        probs = [p for _, p in answer]
        assert all(np.isfinite(probs)) and sum(probs) <= 1 + 1e-6 and all(p >= 0 for p in probs)


@settings(max_examples=40, deadline=None)
@given(st.text(max_size=60), st.integers(min_value=1, max_value=50))
def test_nextword_never_raises_and_answers_are_probabilities(tutorial_bundles, context, k):
    predictor = load(tutorial_bundles["nextword"])
    answer = predictor.predict(context, k=k)
    assert answer == predictor.predict(context, k=k)
    probs = [p for _, p in answer]
    assert len(answer) == min(k, len(predictor.vocab) - 3)
    assert all(np.isfinite(probs)) and sum(probs) <= 1 + 1e-6
    ids = predictor.input_ids(context)
    assert all(0 <= i < len(predictor.vocab) for i in ids)
    assert predictor.generate(context, n=3, seed=1) == predictor.generate(context, n=3, seed=1)

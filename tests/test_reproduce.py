"""`bowgram build` writes outside artifacts/ and checks that its models are the committed default
models: the same answers and metrics within each task's tolerance, not the same bytes (those
differ from one CPU to another). The build itself is replaced by a copy here: what is tested is
where it writes and how it compares; CI runs the real build."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import pytest

from bowgram.export import commands, reproduce, training
from bowgram.runtime import tasks

ROOT = Path(__file__).resolve().parent.parent
BUNDLES = ROOT / "tests" / "bundles"


@pytest.fixture
def small_rules(monkeypatch):
    """Each task's own tolerance, measured on the small example files (the default corpora are
    not in a runtime-only install)."""
    data = {"langid": ROOT / "examples" / "langid_tiny.tsv", "nextword": ROOT / "examples" / "nextword_tiny.txt"}
    real = training.get

    def get(task):
        half = real(task)
        rule = dataclasses.replace(half.reproduction, data=lambda: data[task])
        return dataclasses.replace(half, reproduction=rule)

    monkeypatch.setattr(training, "get", get)


def copying_build(monkeypatch, sources: dict[str, Path]) -> None:
    """`bowgram build` that copies `sources[task]` to OUT/task instead of training."""

    def build_all(out, device, quiet):
        for task in tasks.names():
            shutil.copytree(sources[task], Path(out) / task)
        return {task: {"metrics": {"best": {}}} for task in tasks.names()}

    monkeypatch.setattr(commands, "_builders", lambda: (build_all, None, None))


def run(runner, *args):
    from bowgram.runtime.cli import main

    return runner.invoke(main, [str(a) for a in args])


def test_build_writes_under_build_not_over_the_default_bundles(runner):
    result = run(runner, "build", "--help")
    assert result.exit_code == 0 and "default: build/bundles" in result.output
    assert "--out artifacts" in result.output  # how to replace the defaults, said where it is asked


def test_a_build_of_the_same_models_passes(runner, monkeypatch, tmp_path, small_rules):
    copying_build(monkeypatch, {task: BUNDLES / task for task in tasks.names()})
    result = run(runner, "build", "--out", tmp_path / "out", "--against", BUNDLES)
    assert result.exit_code == 0, result.output
    for task in tasks.names():
        assert f"{task}: reproduces the reference" in result.output
    assert "same top answer   1.0000" in result.output


def test_a_build_of_another_model_fails_with_exit_5(runner, monkeypatch, tmp_path, small_rules):
    against = tmp_path / "against"
    shutil.copytree(ROOT / "artifacts" / "langid", against / "langid")  # the default model, not the tutorial's
    shutil.copytree(BUNDLES / "nextword", against / "nextword")
    copying_build(monkeypatch, {task: BUNDLES / task for task in tasks.names()})
    result = run(runner, "build", "--out", tmp_path / "out", "--against", against)
    assert result.exit_code == 5, result.output
    assert "langid: DOES NOT reproduce" in result.output and "nextword: reproduces" in result.output
    assert "default bundle of langid" in result.output


def test_a_build_over_the_reference_itself_compares_nothing(runner, monkeypatch, tmp_path, small_rules):
    out = tmp_path / "bundles"
    copying_build(monkeypatch, {task: BUNDLES / task for task in tasks.names()})
    result = run(runner, "build", "--out", out, "--against", out)
    assert result.exit_code == 0, result.output
    assert result.output.count("not compared") == len(tasks.names())


def test_compare_measures_each_metric_against_its_tolerance(small_rules):
    rule = training.get("langid").reproduction
    result = reproduce.compare(ROOT / "artifacts" / "langid", BUNDLES / "langid", "langid", rule)
    assert not result["ok"] and result["agreement"] < rule.agreement
    assert set(result["metrics"]) == set(rule.metrics)
    for m in result["metrics"].values():  # relative to the reference; absolute where the reference is 0
        expected = abs(m["built"] - m["reference"]) / (m["reference"] or 1)
        assert m["relative_difference"] == pytest.approx(expected)
    with pytest.raises(reproduce.VerificationError, match="langid"):
        reproduce.check([result])
    same = reproduce.compare(BUNDLES / "langid", BUNDLES / "langid", "langid", rule)
    assert same["ok"] and same["agreement"] == 1.0
    assert all(m["relative_difference"] == 0 for m in same["metrics"].values())

"""Shared fixtures: the committed tutorial bundles (no torch needed), freshly trained ones
(torch), and a CLI runner."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from bowgram.runtime import tasks

BUNDLES = Path(__file__).resolve().parent / "bundles"  # rebuilt by tests/bundles/rebuild.py


@pytest.fixture(scope="session")
def tutorial_bundles(tmp_path_factory):
    """{task: path}: a session-private copy of the committed tutorial bundles."""
    root = tmp_path_factory.mktemp("bundles")
    return {task: Path(shutil.copytree(BUNDLES / task, root / task)) for task in tasks.names()}


@pytest.fixture(scope="session")
def trained_bundles(tmp_path_factory):
    """{task: path}: every task's tutorial model trained and exported in this session (needs torch)."""
    pytest.importorskip("torch", reason="training needs the [export] extra")
    from bowgram.export.build import config_for, train_and_export

    root = tmp_path_factory.mktemp("trained")
    paths = {}
    for task in tasks.names():
        paths[task] = root / task
        train_and_export(task, "tutorial", paths[task], config_for(task, "tutorial", {}, {"quiet": True}))
    return paths


@pytest.fixture
def bundle_copy(tutorial_bundles, tmp_path):
    """A private copy of a tutorial bundle that a test may damage."""

    def copy(task: str):
        dest = tmp_path / task
        shutil.copytree(tutorial_bundles[task], dest)
        return dest

    return copy


@pytest.fixture
def runner():
    return CliRunner()

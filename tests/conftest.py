"""Shared fixtures: the two tutorial bundles, trained once per test session, and a CLI runner."""

from __future__ import annotations

import shutil

import pytest
from click.testing import CliRunner


@pytest.fixture(scope="session")
def tutorial_bundles(tmp_path_factory):
    """{'langid': path, 'nextword': path}: tutorial models trained and exported (needs torch)."""
    pytest.importorskip("torch", reason="training needs the [export] extra")
    from bowgram.export.build import config_for, train_and_export

    root = tmp_path_factory.mktemp("bundles")
    paths = {}
    for task in ("langid", "nextword"):
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

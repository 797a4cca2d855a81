"""train → bundle for one task, and `build` for both default models."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

from bowgram.runtime.bundle import check_out_dir

from . import langid, nextword
from .package import write_bundle
from .trainer import TrainConfig

TASKS = {"langid": langid, "nextword": nextword}
DEFAULTS = {"langid": langid.LangidConfig(), "nextword": nextword.NextwordConfig()}
TUTORIALS = {"langid": langid.TUTORIAL, "nextword": nextword.TUTORIAL}


def config_for(task: str, data: str, model: dict, train: dict):
    """The task's config for `data` (tutorial settings for the tutorial), with overrides."""
    base = TUTORIALS[task] if data == "tutorial" else DEFAULTS[task]
    train_cfg = dataclasses.replace(base.train, **{k: v for k, v in train.items() if v is not None})
    return dataclasses.replace(base, train=train_cfg, **{k: v for k, v in model.items() if v is not None})


def train_and_export(task: str, data: str, out: Path, config) -> dict:
    """Train `task` on `data` and write a validated bundle to `out`; returns the manifest."""
    check_out_dir(out)
    started = time.perf_counter()
    result = TASKS[task].train(data, config)
    result.metrics["train_seconds"] = round(time.perf_counter() - started, 1)
    result.metrics["data"] = data
    return write_bundle(out, result)


def build(out: Path, device: str = "auto", quiet: bool = False) -> dict[str, dict]:
    """Both default models into `out/langid` and `out/nextword`, deterministically."""
    manifests = {}
    for task in TASKS:
        config = config_for(task, "default", {}, {"device": device, "quiet": quiet})
        manifests[task] = train_and_export(task, "default", Path(out) / task, config)
    return manifests


__all__ = ["TrainConfig", "build", "config_for", "train_and_export"]

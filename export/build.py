"""train → bundle for one task, and `build` for every task's default model. Tasks are looked up
in the runtime's registry; their training halves in `training.get`."""

from __future__ import annotations

import dataclasses
import sys
import time
from pathlib import Path
from typing import Any

from bowgram.runtime import tasks
from bowgram.runtime.bundle_writer import check_out_dir

from .exporter import write_bundle
from .training import FORMATS, get


def config_for(task: str, data: str, model: dict[str, Any], train: dict[str, Any]) -> Any:
    """The task's config for `data` (tutorial settings for the tutorial), with the given overrides
    (None means: keep the config's value)."""
    training = get(task)
    base = training.tutorial if data == "tutorial" else training.default
    train_cfg = dataclasses.replace(base.train, **{k: v for k, v in train.items() if v is not None})
    return dataclasses.replace(base, train=train_cfg, **{k: v for k, v in model.items() if v is not None})


def train_and_export(
    task: str, data: str, out: Path, config: Any, formats: tuple[str, ...] = FORMATS
) -> dict[str, Any]:
    """Train `task` on `data` and write a validated bundle of `formats` to `out`; returns the manifest."""
    check_out_dir(out)
    started = time.perf_counter()
    if not config.train.quiet:  # data preparation says nothing else for a while
        print(f"{task}: preparing the {data} data and training", file=sys.stderr, flush=True)
    trained = get(task).train(data, config)
    trained.metrics["data"] = data
    manifest = write_bundle(out, trained, formats)
    # the time is printed, not stored: a bundle is the same bytes on every build
    print(f"{task}: trained and exported in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    return manifest


def build(out: Path, device: str = "auto", quiet: bool = False) -> dict[str, dict[str, Any]]:
    """Every task's default model into `out/<task>`, deterministically."""
    manifests = {}
    for task in tasks.names():
        config = config_for(task, "default", {}, {"device": device, "quiet": quiet})
        manifests[task] = train_and_export(task, "default", Path(out) / task, config)
    return manifests

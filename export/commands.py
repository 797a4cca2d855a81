"""The CLI commands that need torch (`train`, `build`), plugged into `bowgram` through the
entry-point group `bowgram.commands`, so the runtime CLI never imports this package.
`bowgram train TASK` exists for every registered task, with that task's own options."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from bowgram.runtime import tasks

from .build import build as build_all
from .build import config_for, train_and_export
from .training import get

TRAIN_OPTIONS = ("device", "epochs", "batch_size", "lr", "seed", "quiet")  # what goes to TrainConfig

_common = [
    click.option("--data", required=True, help="tutorial, default, or a file (see each task's --help)."),
    click.option(
        "--out", required=True, type=click.Path(path_type=Path), help="Bundle directory to write (replaced atomically)."
    ),
    click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default="auto", show_default=True),
    click.option("--epochs", type=click.IntRange(min=1), help="Maximum epochs (early stopping may end sooner)."),
    click.option("--batch-size", type=click.IntRange(min=1)),
    click.option("--lr", type=click.FloatRange(min=0, min_open=True), help="Adam learning rate."),
    click.option("--seed", type=int, default=0, show_default=True),
    click.option("--quiet", is_flag=True, help="No progress bar."),
]


def _train_command(task: str) -> click.Command:
    training = get(task)

    def run(data: str, out: Path, **options: Any) -> None:
        train_opts = {k: options.pop(k) for k in TRAIN_OPTIONS}
        manifest = train_and_export(task, data, out, config_for(task, data, options, train_opts))
        click.echo(f"wrote {out} ({task}); metrics: {json.dumps(manifest['metrics']['best'])}")

    command: Callable[..., None] = run
    for option in reversed([*_common, *training.options]):
        command = option(command)
    help_text = f"{training.help}\n\n--data FILE: {tasks.get(task).data_help}."
    return click.command(task, help=help_text)(command)


@click.group(
    help="Train a model and export it as a bundle (needs the [export] extra).\n\n"
    "Example: bowgram train langid --data default --out my-langid"
)
def train() -> None:
    pass


for _task in tasks.names():
    train.add_command(_train_command(_task))


@click.command(
    help="Train and export every default model into OUT (default: artifacts).\n\nExample: bowgram build --out artifacts"
)
@click.option("--out", type=click.Path(path_type=Path), default=Path("artifacts"), show_default=True)
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default="auto", show_default=True)
@click.option("--quiet", is_flag=True, help="No progress bar.")
def build(out: Path, device: str, quiet: bool) -> None:
    for task, manifest in build_all(out, device, quiet).items():
        click.echo(f"wrote {out / task}: {json.dumps(manifest['metrics']['best'])}")

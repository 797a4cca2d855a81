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
from bowgram.runtime.errors import missing_torch

from .training import checked_formats, get

TRAIN_OPTIONS = ("device", "epochs", "batch_size", "lr", "seed", "quiet")  # what goes to TrainConfig


def _builders() -> tuple[Any, Any, Any]:
    """(build, config_for, train_and_export), importing torch only now: listing commands and
    checking arguments stay fast, and a runtime-only install says what to install."""
    try:
        from .build import build, config_for, train_and_export
    except ImportError as exc:
        if "torch" in str(exc) or "onnx" in str(exc):
            raise missing_torch("'bowgram train' and 'bowgram build'") from None
        raise
    return build, config_for, train_and_export


def _data(ctx: click.Context, param: click.Parameter, value: str) -> str:
    """--data: a named corpus, or a file that exists (checked before torch is imported); a pipe
    (`<(zcat big.gz)`, /dev/stdin) counts: it is read once."""
    if value not in ("tutorial", "default") and (not Path(value).exists() or Path(value).is_dir()):
        raise click.BadParameter(f"data file not found: {value} (give a file, 'tutorial' or 'default')")
    return value


_common = [
    click.option(
        "--data", required=True, callback=_data, help="tutorial, default, or a file (see each task's --help)."
    ),
    click.option(
        "--out", required=True, type=click.Path(path_type=Path), help="Bundle directory to write (replaced atomically)."
    ),
    click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default="auto", show_default=True),
    click.option(
        "--epochs",
        type=click.IntRange(min=1),
        help="Maximum epochs (early stopping may end sooner).",
    ),
    click.option(
        "--batch-size",
        type=click.IntRange(min=1),
        help="Examples per step (lowered for small data: >= 20 steps an epoch).",
    ),
    click.option("--lr", type=click.FloatRange(min=0, min_open=True), help="Adam learning rate."),
    click.option("--seed", type=int, default=0, show_default=True),
    click.option(
        "--formats",
        default="onnx,int8,pt2,torchscript",
        show_default=True,
        help="Formats to export (ONNX always): --formats onnx exports in a fraction of the time and size.",
    ),
    click.option("--quiet", is_flag=True, help="No progress output (bars are drawn only on a terminal)."),
]


def _train_command(task: str) -> click.Command:
    training = get(task)

    def run(data: str, out: Path, **options: Any) -> None:
        config_for, train_and_export = _builders()[1:]
        train_opts = {k: options.pop(k) for k in TRAIN_OPTIONS}
        formats = checked_formats(tuple(f.strip() for f in options.pop("formats").split(",") if f.strip()))
        manifest = train_and_export(task, data, out, config_for(task, data, options, train_opts), formats)
        click.echo(f"wrote {out} ({task}); metrics: {json.dumps(manifest['metrics']['best'])}")

    command: Callable[..., None] = run
    for option in reversed([*_common, *training.options]):
        command = option(command)
    help_text = f"{training.help}\n\n--data FILE: {tasks.get(task).data_help}."
    return _with_defaults(click.command(task, help=help_text)(command), training)


def _with_defaults(command: click.Command, training: Any) -> click.Command:
    """Show each option's default in --help: the default model's, and the tutorial's where it differs
    (the options default to None: 'keep the config's value')."""
    for param in command.params:
        if not isinstance(param, click.Option) or param.name is None or param.is_flag:
            continue
        if param.default not in (None, "Sentinel.UNSET") and str(param.default) != "Sentinel.UNSET":
            continue  # a default of its own (shown by click)
        values = []
        for config in (training.default, training.tutorial):
            value = getattr(config, param.name, getattr(config.train, param.name, None))
            values.append(value)
        if values[0] is None:
            continue
        shown = f"default: {values[0]}" + (f"; tutorial: {values[1]}" if values[1] != values[0] else "")
        param.help = f"{(param.help or '').replace(f' (tutorial: {values[1]})', '')}  [{shown}]".strip()
    return command


class _Tasks(click.Group):
    """One subcommand per registered task, built when asked for: `bowgram --help` lists `train`
    without importing any task's training half (nor numpy). `train nextword` also answers to
    `train next-word`, as `bowgram nextword` does."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return tasks.names()

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        name = {"next-word": "nextword"}.get(name, name)
        return _train_command(name) if name in tasks.names() else None


@click.group(
    cls=_Tasks,
    help="Train a model and export it as a bundle (needs the [export] extra).\n\n"
    "Example: bowgram train langid --data default --out my-langid",
)
def train() -> None:
    pass


@click.command(
    help="Train and export every default model into OUT/<task>, then check that each is the same model as "
    "the default bundle the runtime loads: the same answers and metrics on held-out data, within each "
    "task's tolerance (the bytes differ from one CPU to another). Exit 5 if not. To replace the default "
    "bundles themselves (a maintainer's step): bowgram build --out artifacts\n\nExample: bowgram build"
)
@click.option("--out", type=click.Path(path_type=Path), default=Path("build/bundles"), show_default=True)
@click.option(
    "--against",
    type=click.Path(path_type=Path, file_okay=False),
    help="Compare with the bundles in this folder (default: the default bundles the runtime loads).",
)
@click.option("--no-check", is_flag=True, help="Only build: compare with nothing.")
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default="auto", show_default=True)
@click.option("--quiet", is_flag=True, help="No progress output.")
def build(out: Path, against: Path | None, no_check: bool, device: str, quiet: bool) -> None:
    build_all = _builders()[0]
    for task, manifest in build_all(out, device, quiet).items():
        click.echo(f"wrote {out / task}: {json.dumps(manifest['metrics']['best'])}")
    if no_check:
        return
    from .reproduce import against as compare_with
    from .reproduce import check, table

    results, skipped = compare_with(out, against)
    for result in results:
        click.echo(table(result))
    for note in skipped:
        click.echo(f"not compared: {note}")
    check(results)

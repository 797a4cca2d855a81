"""The CLI commands that need torch (`train`, `build`), plugged into `bowgram` through the
entry-point group `bowgram.commands`, so the runtime CLI never imports this package."""

from __future__ import annotations

import json
from pathlib import Path

import click

from .build import build as build_all
from .build import config_for, train_and_export

_common = [
    click.option("--data", required=True, help="tutorial, default, or a file (TSV/fastText for langid, text for nextword)."),
    click.option("--out", required=True, type=click.Path(path_type=Path), help="Bundle directory to write (replaced atomically)."),
    click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default="auto", show_default=True),
    click.option("--epochs", type=click.IntRange(min=1), help="Maximum epochs (early stopping may end sooner)."),
    click.option("--batch-size", type=click.IntRange(min=1)),
    click.option("--lr", type=click.FloatRange(min=0, min_open=True), help="Adam learning rate."),
    click.option("--seed", type=int, default=0, show_default=True),
    click.option("--quiet", is_flag=True, help="No progress bar."),
]


def _with_common(fn):
    for option in reversed(_common):
        fn = option(fn)
    return fn


@click.group(help="Train a model and export it as a bundle (needs the [export] extra).\n\n"
                  "Example: bowgram train langid --data default --out my-langid")
def train():
    pass


def _run(task, data, out, model, device, epochs, batch_size, lr, seed, quiet):
    train_opts = {"device": device, "epochs": epochs, "batch_size": batch_size, "lr": lr, "seed": seed, "quiet": quiet}
    manifest = train_and_export(task, data, out, config_for(task, data, model, train_opts))
    click.echo(f"wrote {out} ({task}); metrics: {json.dumps(manifest['metrics']['best'])}")


@train.command("langid", help="Train the language identifier.\n\nExample: bowgram train langid --data tutorial --out /tmp/lid")
@_with_common
@click.option("--dim", type=click.IntRange(min=1), help="Embedding size.")
@click.option("--buckets", type=click.IntRange(min=1, max=2**24), help="Hash buckets for character n-grams.")
@click.option("--max-n", type=click.IntRange(min=0), help="Longest character n-gram (0 turns them off).")
def train_langid(data, out, device, epochs, batch_size, lr, seed, quiet, dim, buckets, max_n):
    _run("langid", data, out, {"dim": dim, "buckets": buckets, "max_n": max_n}, device, epochs, batch_size, lr, seed, quiet)


@train.command("nextword", help="Train the next-word model.\n\nExample: bowgram train nextword --data default --out my-lm")
@_with_common
@click.option("--context", type=click.IntRange(min=1), help="Words of context (tutorial: 2).")
@click.option("--dim", type=click.IntRange(min=1), help="Embedding size.")
@click.option("--hidden", type=click.IntRange(min=1), help="Hidden layer size.")
@click.option("--models", "members", type=click.IntRange(min=1),
              help="Models trained from different seeds and averaged (default 2; 1 is fastest).")
def train_nextword(data, out, device, epochs, batch_size, lr, seed, quiet, context, dim, hidden, members):
    _run("nextword", data, out, {"context": context, "dim": dim, "hidden": hidden, "members": members}, device, epochs,
         batch_size, lr, seed, quiet)


@click.command(help="Train and export both default models into OUT (default: artifacts).\n\n"
                    "Example: bowgram build --out artifacts")
@click.option("--out", type=click.Path(path_type=Path), default=Path("artifacts"), show_default=True)
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default="auto", show_default=True)
@click.option("--quiet", is_flag=True, help="No progress bar.")
def build(out, device, quiet):
    for task, manifest in build_all(out, device, quiet).items():
        click.echo(f"wrote {out / task}: {json.dumps(manifest['metrics']['best'])}")

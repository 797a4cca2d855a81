"""The `bowgram` command: a thin click shell over the runtime API.

Errors are mapped to a message and an exit code in one place (`Cli.invoke`); no traceback is
shown unless BOWGRAM_DEBUG=1. Commands that need torch (`train`, `build`) are plugged in
through the entry-point group `bowgram.commands` and loaded only when asked for.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path
from typing import Any, NoReturn

import click

from . import __version__, interrupt
from .errors import BowgramError, InputError, missing_torch
from .inputs import decode_utf8, input_lines

COMMAND_GROUP = "bowgram.commands"


class Cli(click.Group):
    def _plugins(self) -> dict[str, EntryPoint]:
        return {ep.name: ep for ep in entry_points(group=COMMAND_GROUP)}

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(super().list_commands(ctx)) | set(self._plugins()))

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        command = super().get_command(ctx, name)
        if command is None and name in self._plugins():
            try:
                command = self._plugins()[name].load()
            except ImportError as exc:
                return _needs_export(name, exc)
        return command

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        _check_arguments(args)
        return super().parse_args(ctx, args)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            with interrupt.cancellable():
                return super().invoke(ctx)
        except BowgramError as exc:
            _fail(str(exc), exc.exit_code)
        except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException):
            raise
        except KeyboardInterrupt:
            _fail("interrupted", 130)
        except BrokenPipeError:
            sys.stderr.close()
            sys.exit(0)
        except Exception as exc:  # unexpected: one line, exit 1; BOWGRAM_DEBUG=1 shows the traceback
            if os.environ.get("BOWGRAM_DEBUG"):
                raise
            _fail(f"unexpected {type(exc).__name__}: {exc} (set BOWGRAM_DEBUG=1 for a traceback)", 1)


def _check_arguments(args: list[str]) -> None:
    """Arguments that were not valid UTF-8 reach Python with lone surrogates: refuse them here
    rather than echo them back (stdin and --input files get the same rule in decode_utf8)."""
    for number, arg in enumerate(args, 1):
        try:
            arg.encode("utf-8")
        except UnicodeEncodeError:
            raise click.UsageError(f"argument {number} is not valid UTF-8; pass text as UTF-8") from None


def _fail(message: str, code: int) -> NoReturn:
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


def _needs_export(name: str, exc: ImportError) -> click.Command:
    @click.command(
        name,
        help="(needs the [export] extra) " + name,
        context_settings={"ignore_unknown_options": True, "allow_extra_args": True},
    )
    def stub() -> None:
        raise (
            missing_torch(f"'bowgram {name}'")
            if "torch" in str(exc)
            else BowgramError(
                f"'bowgram {name}' cannot start: {exc}; install the [export] extra: pip install 'bowgram[export]'"
            )
        )

    return stub


@click.group(cls=Cli, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="bowgram")
def main() -> None:
    """bowgram: language identification and next-word prediction from self-describing bundles.

    Example: bowgram langid "Yo creo que sí"
    """


def _read_inputs(texts: tuple[str, ...], input_path: str | None) -> list[str]:
    """TEXT arguments, else lines of --input FILE (or - for stdin), else lines of stdin."""
    if texts:
        if input_path:
            raise InputError("give TEXT arguments or --input, not both")
        return list(texts)
    if input_path in (None, "-"):
        raw, name = sys.stdin.buffer.read(), "standard input"
    else:
        try:
            with open(input_path, "rb") as fh:
                raw, name = fh.read(), input_path
        except OSError as exc:
            raise InputError(f"cannot read --input {input_path}: {exc.strerror}") from None
    return input_lines(decode_utf8(raw, name))


def _options(fn: Callable[..., None]) -> Callable[..., None]:
    """--bundle, --backend, --threads, --precision: how a prediction command opens its bundle."""
    fn = click.option("--bundle", type=click.Path(), help="Bundle directory (default: the built-in model).")(fn)
    fn = click.option(
        "--backend", default="auto", show_default=True, help="onnx, torchscript, … (see: bowgram backends)."
    )(fn)
    fn = click.option("--threads", type=click.IntRange(min=1), default=1, show_default=True)(fn)
    return click.option(
        "--precision",
        type=click.Choice(["fp32", "int8"]),
        default="fp32",
        show_default=True,
        help="int8: the bundle's quantized ONNX model, if it has one.",
    )(fn)


def _emit(
    texts: list[str], results: list[list[tuple[str, float]]], key: str, as_json: bool, max_chars: int | None = None
) -> None:
    """One line per input: tab-separated `name prob`, or a JSON object (with `"truncated": true`
    when only the first `max_chars` characters of the text were read)."""
    for text, preds in zip(texts, results):
        if as_json:
            items = [{key: name, "prob": round(p, 6)} for name, p in preds]
            row: dict[str, Any] = {"text": text, "predictions": items}
            if max_chars is not None and len(text) > max_chars:
                row["truncated"] = True
            click.echo(json.dumps(row, ensure_ascii=False))
        else:
            click.echo("\t".join(f"{name} {p:.4f}" for name, p in preds))


@main.command()
@click.argument("texts", nargs=-1)
@_options
@click.option("-k", type=click.IntRange(min=1), default=1, show_default=True, help="Labels per text.")
@click.option(
    "--threshold",
    type=click.FloatRange(0, 1),
    default=0.0,
    show_default=True,
    help="Below this top probability, answer 'und'.",
)
@click.option("--only", help="Comma-separated labels to choose from, e.g. en,es,fr.")
@click.option("--input", "input_path", help="File with one text per line, or - for stdin.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per input.")
def langid(
    texts: tuple[str, ...],
    bundle: str | None,
    backend: str,
    threads: int,
    precision: str,
    k: int,
    threshold: float,
    only: str | None,
    input_path: str | None,
    as_json: bool,
) -> None:
    """Identify the language of each text.

    Example: bowgram langid "Yo creo que sí"   (prints: es 0.77…)
    """
    from .loader import load
    from .tasks.langid import MAX_CHARS

    inputs = _read_inputs(texts, input_path)
    identifier = load(bundle, task="langid", backend=backend, threads=threads, precision=precision)
    languages = [x.strip() for x in only.split(",") if x.strip()] if only else None
    answers = identifier.predict(inputs, k=k, threshold=threshold, languages=languages)
    _emit(inputs, answers, "label", as_json, max_chars=MAX_CHARS)


@main.command("next-word")
@click.argument("texts", nargs=-1)
@_options
@click.option("-k", type=click.IntRange(min=1), default=5, show_default=True, help="Words per context.")
@click.option("--prefix", help="Only words starting with this (completion of a half-typed word).")
@click.option("--input", "input_path", help="File with one context per line, or - for stdin.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per input.")
def next_word(
    texts: tuple[str, ...],
    bundle: str | None,
    backend: str,
    threads: int,
    precision: str,
    k: int,
    prefix: str | None,
    input_path: str | None,
    as_json: bool,
) -> None:
    """Predict the next word after each context.

    Example: bowgram next-word "to be or not to" -k 5
    """
    from .loader import load

    inputs = _read_inputs(texts, input_path)
    predictor = load(bundle, task="nextword", backend=backend, threads=threads, precision=precision)
    _emit(inputs, predictor.predict(inputs, k=k, prefix=prefix), "word", as_json)


@main.command()
@click.argument("text")
@_options
@click.option(
    "-n", type=click.IntRange(min=0), default=20, show_default=True, help="Tokens to generate (at most 1000)."
)
@click.option("--temperature", type=float, default=1.0, show_default=True)
@click.option("--top-k", type=click.IntRange(min=1), default=None, help="Sample only from the k likeliest.")
@click.option("--seed", type=int, default=None, help="Same seed, same text.")
def generate(
    text: str,
    bundle: str | None,
    backend: str,
    threads: int,
    precision: str,
    n: int,
    temperature: float,
    top_k: int | None,
    seed: int | None,
) -> None:
    """Continue TEXT by sampling from the next-word model.

    Example: bowgram generate "when forty winters" -n 30 --seed 1
    """
    from .loader import load

    predictor = load(bundle, task="nextword", backend=backend, threads=threads, precision=precision)
    continuation = predictor.generate(text, n=n, temperature=temperature, top_k=top_k, seed=seed)
    click.echo(text.rstrip() + ("" if not continuation or continuation[0] in ".,;:!?'" else " ") + continuation)


@main.command("eval")
@click.argument("bundle", type=click.Path())
@click.option(
    "--data",
    required=True,
    type=click.Path(path_type=Path),
    help="langid: TSV 'label<TAB>text' or fastText lines; nextword: a text file.",
)
@click.option("--backend", default="auto", show_default=True)
@click.option("--precision", type=click.Choice(["fp32", "int8"]), default="fp32", show_default=True)
@click.option("--json", "as_json", is_flag=True, help="One JSON object with the metrics.")
def evaluate(bundle: str, data: Path, backend: str, precision: str, as_json: bool) -> None:
    """Measure a bundle on a labelled file (langid) or a text file (nextword).

    Example: bowgram eval artifacts/langid --data dev.tsv
    """
    from . import tasks
    from .loader import load

    predictor = load(bundle, backend=backend, precision=precision)
    task = tasks.get(predictor.task)
    metrics = task.evaluate(predictor, data)
    click.echo(json.dumps(metrics, ensure_ascii=False) if as_json else task.metrics_table(metrics))


@main.command()
@click.argument("bundle", type=click.Path())
@click.option("--json", "as_json", is_flag=True, help="The whole manifest as JSON.")
def info(bundle: str, as_json: bool) -> None:
    """Show what a bundle holds: task, model, featurizer, files, validation, metrics.

    Example: bowgram info artifacts/langid
    """
    from .bundle import Bundle
    from .summary import manifest_summary

    manifest = Bundle.open(bundle).manifest
    click.echo(json.dumps(manifest.to_dict(), indent=1, ensure_ascii=False) if as_json else manifest_summary(manifest))


@main.command()
@click.argument("bundle", type=click.Path())
@click.option("--backend", "backend_names", multiple=True, help="Check only this backend (repeatable).")
@click.option("--trust", is_flag=True, help="Also load the formats that can run code (TorchScript, pt2).")
def verify(bundle: str, backend_names: tuple[str, ...], trust: bool) -> None:
    """Check checksums and reproduce the test vectors on every available backend.

    Example: bowgram verify artifacts/langid
    """
    from .verify import verify_bundle

    report = verify_bundle(bundle, list(backend_names) or None, trust=trust)
    click.echo(f"{report['bundle']}: {len(report['files'])} files match their sha256")
    for name, result in report["backends"].items():
        if "skipped" in result:
            click.echo(f"  {name}: skipped ({result['skipped']})")
        else:
            click.echo(
                f"  {name}: {result['examples']} test vectors reproduce (max abs diff {result['max_abs_diff']:.2g})"
            )
    click.echo("OK")


@main.command("backends")
@click.option("--json", "as_json", is_flag=True)
def list_backends(as_json: bool) -> None:
    """List the installed backends and whether their library is present.

    Example: bowgram backends
    """
    from . import backends

    rows = []
    for name in backends.names():
        try:
            cls = backends.get(name)
            rows.append(
                {
                    "name": name,
                    "format": cls.format,
                    "available": cls.available(),
                    "install": None if cls.available() else f"pip install {cls.extra}",
                }
            )
        except BowgramError as exc:
            rows.append({"name": name, "format": None, "available": False, "install": str(exc)})
    if as_json:
        click.echo(json.dumps(rows))
        return
    for row in rows:
        state = "available" if row["available"] else f"unavailable ({row['install']})"
        click.echo(f"{row['name']:<12} reads {row['format'] or '?':<12} {state}")

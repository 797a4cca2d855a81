"""The `bowgram` command: a thin click shell over the runtime API.

Errors are mapped to a message and an exit code in one place (`Cli.invoke`); no traceback is
shown unless BOWGRAM_DEBUG=1. Commands that need torch (`train`, `build`) are plugged in
through the entry-point group `bowgram.commands` and loaded only when asked for.
"""

from __future__ import annotations

import json
import os
import re
import sys
import warnings
from collections.abc import Callable
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path
from typing import Any, NoReturn

import click

from . import __version__, interrupt, streaming, tasks
from .errors import BowgramError, InputError, missing_torch

COMMAND_GROUP = "bowgram.commands"
ALIASES = {"next-word": "nextword"}  # the task's one spelling is "nextword"; the hyphenated one still works


class Cli(click.Group):
    def _plugins(self) -> dict[str, EntryPoint]:
        return {ep.name: ep for ep in entry_points(group=COMMAND_GROUP)}

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(super().list_commands(ctx)) | set(self._plugins()))

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        name = ALIASES.get(name, name)
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
        warnings.showwarning = _show_warning  # one "warning: ..." line, not Python's source echo
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


def _show_warning(message: Warning | str, *args: Any, **kwargs: Any) -> None:
    click.echo(f"warning: {printable(str(message))}", err=True)


_UNPRINTABLE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def printable(text: str) -> str:
    """Text from a bundle or an input, safe for a terminal: control characters and bidi overrides
    (a manifest's escape sequences could recolour, retitle or hide output) shown as escapes."""
    return _UNPRINTABLE.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), text)


def _bundle_or_task(bundle: str) -> str:
    """BUNDLE as `info`, `verify` and `eval` take it: a folder, or a task's name for its default
    bundle (as `load(task=...)`), unless a folder of that name is here."""
    from .bundle import default_bundle_path

    if bundle in tasks.names() and not os.path.exists(bundle):
        return str(default_bundle_path(bundle))
    return bundle


def _fail(message: str, code: int) -> NoReturn:
    click.echo(f"error: {printable(message)}", err=True)
    sys.exit(code)


def _needs_export(name: str, exc: ImportError) -> click.Command:
    @click.command(
        name,
        help="Needs the [export] extra: pip install torch==2.13.0 'bowgram[export]'",
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


def _stream_options(fn: Callable[..., None]) -> Callable[..., None]:
    """How a prediction command reads and writes an input of any size (see streaming.py)."""
    for option in reversed(
        [
            click.option(
                "--input", "input_path", help="Read texts from FILE (.gz, .bz2, .xz read too), or - for stdin."
            ),
            click.option("--output", "output_path", help="Write answers to FILE (appears only when complete)."),
            click.option(
                "--format",
                "fmt",
                type=click.Choice(["text", "jsonl", "parquet", "csv"]),
                help="Input format: one text per line; JSON Lines (the text in --field, the answer added to "
                "each object); Parquet or CSV (the --field column; needs the [data] extra).  "
                "[default: from --input's extension (.jsonl, .ndjson, .parquet, .csv, compressed too), else text]",
            ),
            click.option(
                "--field",
                default="text",
                show_default=True,
                help="jsonl: the key of the text; parquet/csv: the column of the text.",
            ),
            click.option(
                "--workers",
                default="1",
                show_default=True,
                help="Processes answering in parallel (same answers, same order); 'auto' = one per core.",
            ),
            click.option(
                "--on-error",
                type=click.Choice(streaming.ON_ERROR),
                default="error",
                show_default=True,
                help="A line that is not UTF-8 (or not a JSON object with --field): stop with its number, "
                "skip it, or replace bad bytes with U+FFFD; skipped lines are counted on stderr.",
            ),
            click.option("--json", "as_json", is_flag=True, help="text format: one JSON object per answer."),
        ]
    ):
        fn = option(fn)
    return fn


FORMATS_BY_EXTENSION = {".jsonl": "jsonl", ".ndjson": "jsonl", ".parquet": "parquet", ".csv": "csv"}


def _stream_io(texts: tuple[str, ...], io: dict[str, Any]) -> tuple[tuple[str, ...], dict[str, Any]]:
    """TEXT "-" means stdin (as --input -); --format, when not given, from --input's extension."""
    if texts == ("-",) and not io["input_path"]:
        texts, io = (), {**io, "input_path": "-"}
    if io["fmt"] is None:
        path = str(io["input_path"] or "")
        stem, ext = os.path.splitext(path.lower())
        if ext in (".gz", ".bz2", ".xz"):
            ext = os.path.splitext(stem)[1]
        io = {**io, "fmt": FORMATS_BY_EXTENSION.get(ext, "text")}
    return texts, io


def _refuse_unused(unused: dict[str, str]) -> None:
    """Options given on the command line that the chosen mode would ignore (name -> why): exit 2,
    never silence."""
    ctx = click.get_current_context()
    for param in ctx.command.params:
        if param.name in unused and ctx.get_parameter_source(param.name) is not click.core.ParameterSource.DEFAULT:
            raise click.UsageError(f"{max(param.opts, key=len)} {unused[param.name]}")


def _answer(texts: tuple[str, ...], job: streaming.Job, io: dict[str, Any]) -> None:
    """TEXT arguments answered at once; otherwise the input streamed, chunk by chunk."""
    from .loader import load

    input_path, output_path, fmt, workers = io["input_path"], io["output_path"], io["fmt"], io["workers"]
    count = streaming.worker_count(workers)
    if texts:
        if input_path or fmt != "text":
            raise InputError("give TEXT arguments or --input, not both")
        predictor = load(task=job.task, **job.load)
        answers = getattr(predictor, job.method)(list(texts), **job.predict)
        out = streaming.Output(output_path)
        ok = False
        try:
            for text, answer in zip(texts, answers):
                out.write(streaming._format(job, text, None, answer).encode("utf-8"))
            ok = True
        finally:
            out.close(ok)
        return
    if fmt in ("parquet", "csv"):
        if job.method != "predict":
            raise InputError(f"--format {fmt} writes labels; --segments, --shares and --adapt write text or JSON")
        from .columns import run_table

        report = run_table(job, input_path, output_path, fmt, count)
    else:
        source = streaming.open_source(input_path)
        if source.pipe_fd is not None and os.isatty(source.pipe_fd):
            click.echo("reading texts from the terminal, one per line; end with Ctrl-D", err=True)
        progress = streaming.Progress() if sys.stderr.isatty() and source.pipe_fd is None else None
        out = streaming.Output(output_path)
        ok = False
        try:
            report = streaming.run(job, source, out.write, count, progress)
            if progress:
                progress.update(report.lines, source, final=True)
            ok = True
        finally:
            out.close(ok)
            source.stream.close()
    if report.skipped:
        notes = "; ".join(report.examples)
        click.echo(f"warning: {report.skipped} of {report.lines} lines skipped ({notes})", err=True)


def _options(fn: Callable[..., None]) -> Callable[..., None]:
    """--bundle, --backend, --threads, --precision: how a prediction command opens its bundle."""
    fn = click.option("--bundle", type=click.Path(), help="Bundle directory (default: the built-in model).")(fn)
    fn = click.option(
        "--backend", default="auto", show_default=True, help="onnx, torchscript, … (see: bowgram backends)."
    )(fn)
    fn = click.option(
        "--threads", type=click.IntRange(min=1), default=1, show_default=True, help="Threads of the model's engine."
    )(fn)
    return click.option(
        "--precision",
        type=click.Choice(["fp32", "int8"]),
        default="fp32",
        show_default=True,
        help="int8: the bundle's quantized ONNX model, if it has one.",
    )(fn)


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
@click.option(
    "--languages", "--only", "only", help="Comma-separated labels to choose from, e.g. en,es,fr (as languages=)."
)
@click.option(
    "--codes",
    type=click.Choice(["label", "iso639-1", "iso639-3", "flores"]),
    default="label",
    show_default=True,
    help="Answer each language as its label, ISO 639-1 code (else 639-3, as lid.176), ISO 639-3 code, or "
    "FLORES-200 code (xxx_Scrp), from the bundle's languages.json.",
)
@click.option(
    "--segments",
    is_flag=True,
    help="Which languages, where: 'label start-end prob' per segment (character offsets of the text).",
)
@click.option("--shares", is_flag=True, help="The share of each language in the text (by characters of its segments).")
@click.option(
    "--switch-cost",
    type=click.FloatRange(min=0),
    help="--segments/--shares: how much evidence a change of language needs (logit units).  [default: 7]",
)
@_stream_options
def langid(
    texts: tuple[str, ...],
    bundle: str | None,
    backend: str,
    threads: int,
    precision: str,
    k: int,
    threshold: float,
    only: str | None,
    codes: str,
    segments: bool,
    shares: bool,
    switch_cost: float | None,
    field: str | None,
    on_error: str,
    as_json: bool,
    **io: Any,
) -> None:
    """Identify the language of each text: TEXT arguments, or lines of --input / stdin, answered
    as they are read (any size; --workers for more cores).

    Example: bowgram langid "Yo creo que sí"   (prints: es 0.75…)
    """
    from .tasks.langid import MAX_CHARS

    texts, io = _stream_io(texts, io)
    languages = [x.strip() for x in only.split(",") if x.strip()] if only else None
    if segments and shares:
        raise InputError("give --segments or --shares, not both")
    if segments or shares:  # -k, --threshold and --languages shape a whole text's answer, not its segments
        _refuse_unused({name: "does not apply to --segments or --shares" for name in ("k", "threshold", "only")})
    else:
        _refuse_unused({"switch_cost": "applies to --segments and --shares only"})
    method = "segments" if segments else "shares" if shares else "predict"
    options: dict[str, Any] = (
        {"k": k, "threshold": threshold, "languages": languages, "codes": codes}
        if method == "predict"
        else {"codes": codes, **({} if switch_cost is None else {"switch_cost": switch_cost})}  # None: its default
    )
    job = streaming.Job(
        task="langid",
        load={"path": bundle, "backend": backend, "threads": threads, "precision": precision},
        predict=options,
        method=method,
        fmt="json" if as_json and io["fmt"] == "text" else io["fmt"],
        field=field,
        answer_key=tasks.get("langid").answer[0],
        name_key=tasks.get("langid").answer[1],
        on_error=on_error,
        max_chars=MAX_CHARS,
    )
    _answer(texts, job, io)


@main.command("nextword")
@click.argument("texts", nargs=-1)
@_options
@click.option("-k", type=click.IntRange(min=1), default=5, show_default=True, help="Words per context.")
@click.option("--prefix", help="Only words starting with this (completion of a half-typed word).")
@click.option(
    "--adapt",
    is_flag=True,
    help="One writer reads the texts in turn (a blank line ends a paragraph): each answer is the next word "
    "after all of them so far, from the model and the bundle's writer's cache of the words written. One worker.",
)
@_stream_options
def next_word(
    texts: tuple[str, ...],
    bundle: str | None,
    backend: str,
    threads: int,
    precision: str,
    k: int,
    prefix: str | None,
    adapt: bool,
    field: str | None,
    on_error: str,
    as_json: bool,
    **io: Any,
) -> None:
    """Predict the next word after each context: TEXT arguments, or lines of --input / stdin.

    Example: bowgram nextword "to be or not to" -k 5   (also: bowgram next-word)
    """
    texts, io = _stream_io(texts, io)
    if adapt:
        _refuse_unused({"prefix": "does not apply to --adapt", "workers": "does not apply to --adapt: one writer"})
    job = streaming.Job(
        task="nextword",
        load={"path": bundle, "backend": backend, "threads": threads, "precision": precision},
        predict={"k": k} if adapt else {"k": k, "prefix": prefix},
        method="adapted" if adapt else "predict",
        fmt="json" if as_json and io["fmt"] == "text" else io["fmt"],
        field=field,
        answer_key=tasks.get("nextword").answer[0],
        name_key=tasks.get("nextword").answer[1],
        on_error=on_error,
    )
    _answer(texts, job, io)


@main.command()
@click.argument("text")
@_options
@click.option(
    "-n",
    type=click.IntRange(min=0),
    default=20,
    show_default=True,
    help="Tokens to generate at most (1000 at most); fewer when the model ends the sentence (see --no-stop).",
)
@click.option("--no-stop", is_flag=True, help="Go on past the end of a sentence: always -n tokens.")
@click.option(
    "--temperature",
    type=float,
    default=1.0,
    show_default=True,
    help="Below 1: likelier words more often; above 1: more variety.",
)
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
    no_stop: bool,
) -> None:
    """Continue TEXT by sampling from the next-word model (it stops early at the end of a sentence).

    Example: bowgram generate "when forty winters" -n 30 --seed 1
    """
    from .loader import load

    predictor = load(bundle, task="nextword", backend=backend, threads=threads, precision=precision)
    continuation = predictor.generate(
        text, n=n, temperature=temperature, top_k=top_k, seed=seed, stop_at_eos=not no_stop
    )
    click.echo(text.rstrip() + ("" if not continuation or continuation[0] in ".,;:!?'" else " ") + continuation)


@main.command("eval")
@click.argument("bundle", type=click.Path())
@click.option(
    "--data",
    required=True,
    type=click.Path(path_type=Path),
    help="langid: TSV 'label<TAB>text' or fastText lines; nextword: a text file.",
)
@click.option("--backend", default="auto", show_default=True, help="onnx, torchscript, … (see: bowgram backends).")
@click.option("--precision", type=click.Choice(["fp32", "int8"]), default="fp32", show_default=True)
@click.option("--json", "as_json", is_flag=True, help="One JSON object with the metrics.")
def evaluate(bundle: str, data: Path, backend: str, precision: str, as_json: bool) -> None:
    """Measure a bundle on a labelled file (langid) or a text file (nextword).

    Example: bowgram eval artifacts/langid --data dev.tsv
    """
    from . import tasks
    from .loader import load

    predictor = load(_bundle_or_task(bundle), backend=backend, precision=precision)
    task = tasks.get(predictor.task)
    metrics = task.evaluate(predictor, data)
    click.echo(json.dumps(metrics, ensure_ascii=False) if as_json else task.metrics_table(metrics))


@main.command()
@click.argument("bundle", type=click.Path())
@click.option("--json", "as_json", is_flag=True, help="The whole manifest as JSON.")
def info(bundle: str, as_json: bool) -> None:
    """Show what a bundle holds: task, model, featurizer, files, validation, metrics.

    Example: bowgram info langid   (a task's name: its default bundle)
    """
    from .bundle import Bundle
    from .summary import languages_summary, manifest_summary

    opened = Bundle.open(_bundle_or_task(bundle))
    manifest = opened.manifest
    if as_json:
        click.echo(json.dumps(manifest.to_dict(), indent=1, ensure_ascii=False))
        return
    click.echo(printable(manifest_summary(manifest)))
    if any(a.format == "languages" for a in manifest.artifacts):
        click.echo(printable(languages_summary(opened.read_json("languages"))))


@main.command()
@click.argument("bundle", type=click.Path())
@click.option("--backend", "backend_names", multiple=True, help="Check only this backend (repeatable).")
@click.option("--trust", is_flag=True, help="Also load the formats that can run code (TorchScript, pt2).")
def verify(bundle: str, backend_names: tuple[str, ...], trust: bool) -> None:
    """Check checksums and reproduce the test vectors on every available backend.

    Example: bowgram verify langid   (or a bundle folder)
    """
    from .verify import verify_bundle

    report = verify_bundle(_bundle_or_task(bundle), list(backend_names) or None, trust=trust)
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
@click.option("--json", "as_json", is_flag=True, help="The backends as a JSON list.")
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

"""Answering an input of any size: read in bounded chunks of whole lines, answer each chunk,
write the answers as they come, in input order; with `workers` > 1 the chunks are answered in
that many processes (each loads the bundle once), at most two chunks per worker in flight, so
memory stays constant whatever the input size.

Line formats (`text`: one text per line; `jsonl`: one JSON object per line, the text in `field`,
the answer added under `answer_key`) go through here byte for byte: the reader only cuts
chunks at newlines, the workers decode, predict and format. A pipe is read as data arrives, so
the first answers come out before the input ends. Columnar files (Parquet, CSV) are in
`columns.py`.

Bad lines (`on_error`): "error" (default) stops with the line number; "skip" leaves the line
out; "replace" decodes invalid UTF-8 with U+FFFD (and skips what still cannot be read: a JSON
line that is not an object or lacks the field). Skipped lines are counted and reported.
"""

from __future__ import annotations

import bz2
import contextlib
import functools
import gzip
import json
import lzma
import os
import select
import stat
import sys
import threading
import time
import uuid
import zlib
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:
    from concurrent.futures import Future

from . import interrupt
from .errors import InputError

CHUNK_BYTES = 1 << 18  # lines per chunk: about 256 KB of them (some 6,000 dev sentences)
MAX_LINE_BYTES = 1 << 24  # a longer line is an error (memory stays bounded)
IN_FLIGHT_PER_WORKER = 2
PARENT_CHECK_S = 0.5  # how often a worker checks that the process that started it still runs
ON_ERROR = ("error", "skip", "replace")
_OPENERS: dict[str, Callable[[IO[bytes]], Any]] = {
    ".gz": lambda raw: gzip.GzipFile(fileobj=raw, mode="rb"),
    ".bz2": lambda raw: bz2.BZ2File(raw),
    ".xz": lambda raw: lzma.LZMAFile(raw),
}
_DAMAGED = (EOFError, OSError, zlib.error, lzma.LZMAError)  # what a truncated or corrupt archive raises


@dataclass(frozen=True)
class Job:
    """What a worker needs to answer chunks: how to load the predictor and how to write answers."""

    task: str
    load: dict[str, Any]  # keyword arguments of `load()`
    predict: dict[str, Any]  # keyword arguments of `predict()`
    fmt: str = "text"  # text | json | jsonl
    field: str | None = None  # jsonl: the key holding the text
    answer_key: str = "predictions"  # jsonl: the key the answer is added under
    name_key: str = "label"  # "label" or "word" in JSON answers
    on_error: str = "error"
    max_chars: int | None = None  # texts longer than this are marked "truncated" in JSON
    method: str = "predict"  # the predictor's method that answers a list of texts: predict, segments, shares, adapted


@dataclass
class Report:
    """What a run read: lines, skipped lines (and the first few of their numbers)."""

    lines: int = 0
    skipped: int = 0
    examples: list[str] = field(default_factory=list)

    def add(self, lines: int, skipped: list[str]) -> None:
        self.lines += lines
        self.skipped += len(skipped)
        self.examples += skipped[: max(0, 5 - len(self.examples))]


# ---- reading -----------------------------------------------------------------------------------


@dataclass
class Source:
    """An input stream and what the progress display needs to know of it."""

    stream: IO[bytes]
    name: str
    raw: IO[bytes] | None = None  # the file under a decompressor: its position is the progress
    total: int | None = None  # bytes of the file, when known
    pipe_fd: int | None = None  # set when data arrives over time (a pipe or a terminal)

    def position(self) -> int | None:
        try:
            return self.raw.tell() if self.raw is not None else None
        except (OSError, ValueError):
            return None


def open_source(path: str | None) -> Source:
    """`path` (".gz", ".bz2", ".xz" by extension), or stdin for None or "-"."""
    if path in (None, "-"):
        try:
            fd = sys.stdin.fileno()
        except (OSError, ValueError):  # an in-memory stdin (tests, embedding): read it as a file
            return Source(sys.stdin.buffer, "standard input")
        if stat.S_ISREG(os.fstat(fd).st_mode):
            return Source(sys.stdin.buffer, "standard input")
        return Source(sys.stdin.buffer, "standard input", pipe_fd=fd)
    try:
        raw = open(path, "rb")  # noqa: SIM115 - closed by the caller through the Source
    except OSError as exc:
        raise InputError(f"cannot read --input {path}: {exc.strerror}") from None
    info = os.fstat(raw.fileno())
    opener = _OPENERS.get(os.path.splitext(path)[1].lower())
    if opener is None and not stat.S_ISREG(info.st_mode):  # a named pipe, a device: read as data arrives
        return Source(raw, path, pipe_fd=raw.fileno())
    return Source(opener(raw) if opener else raw, path, raw=raw, total=info.st_size)


def chunks(source: Source) -> Iterator[bytes]:
    """Whole lines of the source, about CHUNK_BYTES at a time (the last one may lack its final
    newline). From a pipe, a chunk is cut as soon as no more data is waiting: answers flow."""
    pending = b""
    while True:
        try:
            if source.pipe_fd is not None:
                data = os.read(source.pipe_fd, CHUNK_BYTES)
            else:
                data = source.stream.read(CHUNK_BYTES)
        except _DAMAGED as exc:
            raise InputError(f"{source.name} is truncated or damaged: {exc}") from None
        if not data:
            break
        pending += data
        cut = pending.rfind(b"\n") + 1
        if not cut:
            if len(pending) > MAX_LINE_BYTES:
                raise InputError(f"{source.name}: a line is longer than {MAX_LINE_BYTES >> 20} MB")
            continue
        if len(pending) >= CHUNK_BYTES or source.pipe_fd is None or not _ready(source.pipe_fd):
            yield pending[:cut]
            pending = pending[cut:]
    if pending:
        yield pending


def _waiting(fd: int) -> bool:
    """Whether reading `fd` now would wait for input."""
    return not _ready(fd)


def _ready(fd: int) -> bool:
    """Whether more input is waiting right now."""
    try:
        return bool(select.select([fd], [], [], 0)[0])
    except (OSError, ValueError):
        return False


# ---- answering (in a worker, or in this process) ------------------------------------------------

_PREDICTOR: Any = None
_JOB: Job | None = None
_WRITER: Any = None  # `--adapt`: the stream's one writer


def start_worker(job: Job) -> None:
    """Load the predictor once per process."""
    global _PREDICTOR, _JOB
    from .loader import load

    _PREDICTOR, _JOB = load(task=job.task, **job.load), job


def _start_pool_worker(job: Job) -> None:
    """A worker of `ordered_map`'s pool: exits when its parent is gone (killed with SIGKILL, the
    parent cannot stop its workers itself), then loads the predictor."""
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(PARENT_CHECK_S)
        os._exit(1)

    threading.Thread(target=watch, name="bowgram-parent-watch", daemon=True).start()
    start_worker(job)


def answer_chunk(chunk: bytes, first_line: int) -> tuple[bytes, int, list[str]]:
    """Decode, predict and format one chunk: (output bytes, lines read, skipped-line notes)."""
    job = _JOB
    assert job is not None and _PREDICTOR is not None, "start_worker() first"
    lines = chunk.split(b"\n")
    if lines[-1] == b"":
        lines.pop()
    texts: list[str] = []
    payloads: list[Any] = []
    skipped: list[str] = []
    for offset, raw in enumerate(lines):
        number = first_line + offset
        if raw.endswith(b"\r"):
            raw = raw[:-1]
        if number == 1 and raw.startswith(b"\xef\xbb\xbf"):
            raw = raw[3:]  # a UTF-8 byte order mark
        try:
            text = raw.decode("utf-8", "replace" if job.on_error == "replace" else "strict")
            if job.fmt == "jsonl":
                payload, text = _json_text(text, job.field, job.answer_key)
            else:
                payload = None
        except (UnicodeDecodeError, ValueError) as exc:
            why = "not valid UTF-8" if isinstance(exc, UnicodeDecodeError) else str(exc)
            if job.on_error == "error":
                hint = "; convert it first (e.g. iconv -f latin1 -t utf-8)" if why == "not valid UTF-8" else ""
                raise InputError(f"line {number}: {why}{hint}, or pass --on-error skip|replace") from None
            skipped.append(f"line {number}: {why}")
            continue
        texts.append(text)
        payloads.append(payload)
    answers = answer(texts)
    out = [_format(job, text, payload, answer) for text, payload, answer in zip(texts, payloads, answers)]
    try:
        data = "".join(out).encode("utf-8")
    except UnicodeEncodeError:  # a JSON text held a lone surrogate escape ("\ud800"): kept as an escape
        data = "".join(line if line.isascii() or _encodes(line) else _ascii_json(line) for line in out).encode("utf-8")
    return data, len(lines), skipped


def _encodes(line: str) -> bool:
    try:
        line.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _ascii_json(line: str) -> str:
    """A JSON output line holding lone surrogates (valid JSON escapes, not UTF-8), written with
    every non-ASCII character escaped: the same JSON, as the input had it."""
    return json.dumps(json.loads(line)) + "\n"


def answer(texts: list[str]) -> list[Any]:
    """This worker's answers for a list of texts (the job's method and options)."""
    job = _JOB
    assert job is not None and _PREDICTOR is not None, "start_worker() first"
    if job.method == "adapted":  # one writer for the whole stream, chunk after chunk (one worker)
        global _WRITER
        _WRITER = _WRITER or _PREDICTOR.writer()  # type: ignore[attr-defined]
        return _PREDICTOR.adapted(texts, writer=_WRITER, **job.predict) if texts else []  # type: ignore[attr-defined]
    return list(getattr(_PREDICTOR, job.method)(texts, **job.predict)) if texts else []


def _json_text(line: str, key: str | None, answer_key: str) -> tuple[dict[str, Any], str]:
    try:
        obj = json.loads(line)
    except json.JSONDecodeError as exc:
        raise ValueError(f"not JSON ({exc.msg})") from None
    if not isinstance(obj, dict):
        raise ValueError(f"a JSON {type(obj).__name__}, not an object")
    if key not in obj:
        raise ValueError(f"no field {key!r}")
    if not isinstance(obj[key], str):
        raise ValueError(f"field {key!r} is {type(obj[key]).__name__}, not a string")
    if answer_key in obj:  # the answer would overwrite it
        raise ValueError(f"the object already has a field {answer_key!r}, which the answer would replace")
    return obj, obj[key]


def _format(job: Job, text: str, payload: dict[str, Any] | None, answer: list[Any]) -> str:
    if job.method == "segments":  # (start, end, label, probability) over offsets of the text
        if job.fmt == "text":  # "und" alone: no letters, no segment
            return "\t".join(f"{label} {a}-{b} {p:.4f}" for a, b, label, p in answer) + "\n" if answer else "und\n"
        items = [
            {"start": a, "end": b, job.name_key: label, "prob": round(p, 6), "text": text[a:b]}
            for a, b, label, p in answer
        ]
    elif job.fmt == "text":
        if len(answer) > 1 and answer[0][0] == "und" and job.method == "predict":  # und (sl 0.1600, hr 0.1000)
            return "und (" + ", ".join(f"{name} {p:.4f}" for name, p in answer[1:]) + ")\n"
        return "\t".join(f"{name} {p:.4f}" for name, p in answer) + "\n"
    else:
        value = "share" if job.method == "shares" else "prob"
        items = [{job.name_key: name, value: round(p, 6)} for name, p in answer]
    if job.fmt == "jsonl":
        assert payload is not None
        return json.dumps({**payload, job.answer_key: items}, ensure_ascii=False) + "\n"
    key = {"segments": "segments", "shares": "shares"}.get(job.method, "predictions")
    row: dict[str, Any] = {"text": text, key: items}
    if job.max_chars is not None and len(text) > job.max_chars:
        row["truncated"] = True
    return json.dumps(row, ensure_ascii=False) + "\n"


# ---- the pipeline --------------------------------------------------------------------------------


def run(
    job: Job, source: Source, write: Callable[[bytes], None], workers: int, progress: Progress | None = None
) -> Report:
    """Answer every chunk of `source` in order through `write`; returns what was read."""
    report = Report()

    def numbered() -> Iterator[tuple[bytes, int]]:
        line = 1
        for chunk in chunks(source):
            yield chunk, line
            line += chunk.count(b"\n")

    pipe = source.pipe_fd
    idle = None if pipe is None else functools.partial(_waiting, pipe)
    for out, n, skipped in ordered_map(answer_chunk, numbered(), job, workers, idle):
        write(out)
        report.add(n, skipped)
        if progress:
            progress.update(report.lines, source)
    return report


def ordered_map(
    fn: Callable[..., Any],
    items: Iterator[tuple[Any, ...]],
    job: Job,
    workers: int,
    idle: Callable[[], bool] | None = None,
) -> Iterator[Any]:
    """`fn(*item)` for every item, in order: in this process, or in `workers` processes (each
    started with `start_worker(job)`) with at most IN_FLIGHT_PER_WORKER items each in flight.
    `idle()` true means the next item would wait for input (a pipe with nothing waiting): the
    results in flight are given out first, so answers do not wait for input that may come late."""
    if workers <= 1:
        start_worker(job)
        for item in items:
            yield fn(*item)
        return
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    context = multiprocessing.get_context("spawn")  # no fork of a process holding threads and sessions
    with ProcessPoolExecutor(workers, mp_context=context, initializer=_start_pool_worker, initargs=(job,)) as pool:
        pending: deque[Future[Any]] = deque()
        try:
            for item in items:
                pending.append(pool.submit(fn, *item))
                while len(pending) > workers * IN_FLIGHT_PER_WORKER or (pending and idle is not None and idle()):
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()
        finally:
            for future in pending:
                future.cancel()


def worker_count(value: str) -> int:
    """`--workers`: a number >= 1, or "auto" for the machine's cores."""
    if value == "auto":
        return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    try:
        count = int(value)
    except ValueError:
        count = 0
    if count < 1:
        raise InputError(f"--workers must be a number >= 1 or 'auto', got {value!r}")
    return count


class Progress:
    """A one-line progress display on stderr (only where stderr is a terminal)."""

    def __init__(self) -> None:
        self.started = time.monotonic()
        self.shown = 0.0

    def update(self, lines: int, source: Source, final: bool = False) -> None:
        now = time.monotonic()
        if not final and now - self.shown < 0.2:
            return
        self.shown = now
        rate = lines / max(now - self.started, 1e-9)
        done = source.position()
        share = f"  {done / source.total:.0%} of {source.total / 2**20:,.0f} MB" if done and source.total else ""
        sys.stderr.write(f"\r{lines:,} lines  {rate:,.0f} lines/s{share}   " + ("\n" if final else ""))
        sys.stderr.flush()


class Output:
    """Where answers go: stdout as they come (flushed per chunk), or `--output PATH`.

    A regular file (or none yet) at PATH appears only complete: written beside it under a
    temporary name with the existing file's mode, renamed over it at the end, removed on any
    error. A symlink is followed: its target is what gets replaced, the link stays. Anything
    else at PATH (a named pipe, a device such as /dev/null or /dev/stdout) is written through,
    as `tee` and shells do: it is never replaced by a file. A chunk is written whole even when
    Ctrl-C comes meanwhile (a reader never gets half a line); a second Ctrl-C stops at once."""

    def __init__(self, path: str | None):
        self.path, self.temp = path, None
        if path is None:
            self.file: IO[bytes] = sys.stdout.buffer
            return
        if os.path.isdir(path):
            raise InputError(f"--output {path} is a directory")
        target = os.path.realpath(path)  # a symlink's target is written, the link is kept
        try:
            existing: os.stat_result | None = os.stat(target)
        except OSError:
            existing = None
        try:
            if existing is not None and not stat.S_ISREG(existing.st_mode):  # a pipe, a device: through it
                self.file = open(target, "wb")  # noqa: SIM115 - closed in close()
                return
            folder, name = os.path.split(target)
            self.temp = os.path.join(folder, f".{name}.bowgram-tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}")
            mode = stat.S_IMODE(existing.st_mode) if existing is not None else 0o666  # new files: the umask applies
            fd = os.open(self.temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
            if existing is not None:
                os.fchmod(fd, mode)  # exactly the old mode, whatever the umask
                with contextlib.suppress(OSError):  # root replacing another user's file keeps its owner
                    os.fchown(fd, existing.st_uid, existing.st_gid)
            self.file = os.fdopen(fd, "wb")
            self.target = target
        except OSError as exc:
            raise InputError(f"cannot write --output {path}: {exc.strerror}") from None

    def write(self, data: bytes) -> None:
        try:
            with interrupt.deferred():
                self.file.write(data)
                if self.temp is None:
                    self.file.flush()
        except OSError as exc:
            if isinstance(exc, BrokenPipeError) and self.path is None:
                raise
            self._discard()
            raise InputError(f"cannot write {self._name()}: {exc.strerror}") from None

    def close(self, ok: bool) -> None:
        if self.path is None:
            return
        if not ok:
            self._discard()
            return
        try:
            self.file.close()  # the last flush: a full disk shows here
            if self.temp is not None:
                os.replace(self.temp, self.target)
                self.temp = None
        except OSError as exc:
            self._discard()
            raise InputError(f"cannot write {self._name()}: {exc.strerror}") from None

    def _name(self) -> str:
        return f"--output {self.path}" if self.path is not None else "standard output"

    def _discard(self) -> None:
        """Close without the last flush's error, and remove the temporary file (never PATH)."""
        with contextlib.suppress(OSError):
            self.file.close()
        if self.temp is not None:
            with contextlib.suppress(OSError):
                os.unlink(self.temp)
            self.temp = None

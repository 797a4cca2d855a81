"""Columnar inputs and outputs through pyarrow (the `[data]` extra, imported only here): a
Parquet or CSV file's text column answered batch by batch, every other column kept, and the
answers as columns: `<key>` (the best label or word) and `<key>_prob`, or with k > 1 a list of
{label|word, prob} per row (JSON text in CSV, which has no lists). Also `answer_columns`, the
same columns for an in-memory pyarrow array or pandas Series, for Spark and Ray adapters."""

from __future__ import annotations

import json
import os
from collections import deque
from collections.abc import Iterator
from typing import Any

from .errors import InputError
from .streaming import Job, Output, Report, ordered_map, start_worker

BATCH_ROWS = 8192


def pyarrow() -> Any:
    try:
        import pyarrow as pa
    except ImportError:
        raise InputError("Parquet and CSV need pyarrow: pip install 'bowgram[data]'") from None
    return pa


def answer_texts(texts: list[str]) -> list[list[tuple[str, float]]]:
    """Answers for a list of texts in a worker started with `streaming.start_worker`."""
    from . import streaming

    return streaming.answer(texts)


def answer_names(task: str) -> tuple[str, str]:
    """(column of the answer, key of a label or word in it) for a task."""
    from . import tasks

    return tasks.get(task).answer


def answer_columns(predictor: Any, texts: Any, key: str, name_key: str, **options: Any) -> dict[str, Any]:
    """`{key: labels, key_prob: probabilities}` (k = 1) or `{key: [[{name_key, prob}, …], …]}` as
    pyarrow arrays, for a pyarrow array / pandas Series / list of texts (nulls answer as "")."""
    pa = pyarrow()
    options = {"k": 1, **options}
    values = texts.to_pylist() if hasattr(texts, "to_pylist") else list(texts)
    answers = predictor.predict(["" if t is None else t for t in values], **options) if values else []
    return _columns(pa, answers, key, name_key, options["k"], as_json=False)


def _columns(
    pa: Any, answers: list[list[tuple[str, float]]], key: str, name_key: str, k: int, as_json: bool
) -> dict[str, Any]:
    if k == 1:
        names = pa.array([a[0][0] if a else None for a in answers], pa.string()).dictionary_encode()
        probs = pa.array([a[0][1] if a else None for a in answers], pa.float64())
        return {key: names, f"{key}_prob": probs}
    rows = [[{name_key: n, "prob": p} for n, p in a] for a in answers]
    if as_json:
        return {key: pa.array([json.dumps(r, ensure_ascii=False) for r in rows], pa.string())}
    kind = pa.list_(pa.struct([(name_key, pa.string()), ("prob", pa.float64())]))
    return {key: pa.array(rows, kind)}


def run_table(job: Job, path: str | None, output: str | None, fmt: str, workers: int) -> Report:
    """Answer the `job.field` column of a Parquet/CSV file into `output` (same format).

    Every other column comes back as it was: CSV columns are read as text, never re-typed (`001`
    stays `001`, `NA` stays `NA`). A file of no rows gives a file of no rows with the answer
    columns. An input that already has an answer column is refused (its data would be lost or
    doubled); so is a text column that is not text (binary, lists)."""
    pa = pyarrow()
    if path in (None, "-") or output is None:
        raise InputError(f"--format {fmt} reads --input FILE and writes --output FILE")
    if not os.path.isfile(path):
        raise InputError(f"cannot read --input {path}: no such file")
    column, k = job.field, job.predict.get("k", 1)
    schema, batches = _open(pa, path, fmt, job.on_error)
    if column not in schema.names:
        raise InputError(f"{path} has no column {column!r} (columns: {', '.join(schema.names)})")
    kind = schema.field(column).type
    if not (_is_text(pa, kind) or pa.types.is_null(kind)):
        raise InputError(f"{path}: column {column!r} holds {kind}, not text")
    added = [job.answer_key] + ([f"{job.answer_key}_prob"] if k == 1 else [])
    taken = [name for name in added if name in schema.names]
    if taken:
        raise InputError(f"{path} already has a column {taken[0]!r}, which the answers would replace; rename it first")
    out = Output(output)
    report, writer, ok = Report(), None, False
    in_flight: deque[Any] = deque()  # batches whose answers are being computed, in order

    def items() -> Iterator[tuple[list[str]]]:
        for batch in batches:
            in_flight.append(batch)
            yield (["" if t is None else t for t in batch.column(column).to_pylist()],)

    def with_answers(table: Any, answers: list[Any]) -> Any:
        for name, array in _columns(pa, answers, job.answer_key, job.name_key, k, fmt == "csv").items():
            if pa.types.is_dictionary(array.type) and fmt == "csv":
                array = array.cast(pa.string())  # CSV has no dictionary type
            table = table.append_column(name, array)
        return table

    try:
        for answers in ordered_map(answer_texts, items(), job, workers):
            table = with_answers(pa.Table.from_batches([in_flight.popleft()]), answers)
            writer = writer or _writer(pa, out.file, fmt, table.schema)
            writer.write_table(table)
            report.add(len(answers), [])
        if writer is None:  # no rows: the columns alone
            table = with_answers(schema.empty_table(), [])
            writer = _writer(pa, out.file, fmt, table.schema)
            writer.write_table(table)
        writer.close()
        ok = True
    except (pa.ArrowInvalid, pa.ArrowException) as exc:
        raise InputError(f"{path}: cannot read it as {fmt}: {exc}") from None
    finally:
        out.close(ok)
    return report


def _is_text(pa: Any, kind: Any) -> bool:
    if pa.types.is_dictionary(kind):
        kind = kind.value_type
    return bool(
        pa.types.is_string(kind)
        or pa.types.is_large_string(kind)
        or getattr(pa.types, "is_string_view", lambda _: False)(kind)
    )


def _open(pa: Any, path: str, fmt: str, on_error: str) -> tuple[Any, Iterator[Any]]:
    """(schema, batches) of the file. CSV columns are all read as text (as binary and decoded here
    when `on_error` allows bad UTF-8: replaced by U+FFFD)."""
    try:
        if fmt == "parquet":
            import pyarrow.parquet as pq

            parquet = pq.ParquetFile(path)
            return parquet.schema_arrow, _guarded(pa, path, fmt, parquet.iter_batches(batch_size=BATCH_ROWS))
        import pyarrow.csv as pcsv

        read = pcsv.ReadOptions(block_size=1 << 20)
        names = pcsv.open_csv(path, read_options=read).schema.names  # the header only: no type is kept
        kind = pa.string() if on_error == "error" else pa.binary()
        convert = pcsv.ConvertOptions(
            column_types={name: kind for name in names}, strings_can_be_null=False, quoted_strings_can_be_null=False
        )
        reader = pcsv.open_csv(path, read_options=read, convert_options=convert)
        schema = pa.schema([(name, pa.string()) for name in names])
        batches = _guarded(pa, path, fmt, reader)
        return schema, batches if on_error == "error" else (_decoded(pa, b, schema) for b in batches)
    except (pa.ArrowInvalid, pa.ArrowException, OSError) as exc:
        raise InputError(f"{path}: cannot read it as {fmt}: {exc}") from None


def _guarded(pa: Any, path: str, fmt: str, batches: Iterator[Any]) -> Iterator[Any]:
    try:
        yield from batches
    except (pa.ArrowInvalid, pa.ArrowException, OSError) as exc:
        hint = "; --on-error replace reads it with U+FFFD for bad bytes" if "UTF8" in str(exc) else ""
        raise InputError(f"{path}: cannot read it as {fmt}: {exc}{hint}") from None


def _decoded(pa: Any, batch: Any, schema: Any) -> Any:
    columns = [pa.array([v.decode("utf-8", "replace") for v in col.to_pylist()], pa.string()) for col in batch.columns]
    return pa.RecordBatch.from_arrays(columns, schema=schema)


def _writer(pa: Any, sink: Any, fmt: str, schema: Any) -> Any:
    if fmt == "parquet":
        import pyarrow.parquet as pq

        return pq.ParquetWriter(sink, schema)
    import pyarrow.csv as pcsv

    return pcsv.CSVWriter(sink, schema)


__all__ = ["answer_columns", "answer_names", "run_table", "start_worker"]

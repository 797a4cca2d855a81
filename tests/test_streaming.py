"""Inputs of any size: the streaming CLI (compressed files, JSON Lines, Parquet/CSV, worker
processes, bad lines, output files that appear only complete, a pipe answered as it flows), and
predictors that travel by pickle (what Spark and Ray rely on)."""

from __future__ import annotations

import bz2
import gzip
import json
import lzma
import pickle
import subprocess
import sys
from pathlib import Path

import pytest

from bowgram.runtime import load

ROOT = Path(__file__).resolve().parent.parent
CLI = [sys.executable, "-c", "from bowgram.runtime.cli import main; main()"]
TEXTS = ["Yo creo que sí", "it is lost on me", "Das ist gut", "¿Dónde está?", "", "12345", "नमस्ते दुनिया"]


def run(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([*CLI, *args], input=stdin, capture_output=True, timeout=300)


def expected_lines(texts: list[str], **options) -> list[str]:
    answers = load(task="langid").predict(texts, **options)
    return ["\t".join(f"{name} {p:.4f}" for name, p in answer) for answer in answers]


def many_texts(n: int) -> list[str]:
    rows = gzip.open(ROOT / "export/data/langid/dev.tsv.gz", "rt", encoding="utf-8").read().splitlines()
    return [row.split("\t", 1)[1] for row in rows][:n]


@pytest.mark.parametrize("suffix, opener", [("", open), (".gz", gzip.open), (".bz2", bz2.open), (".xz", lzma.open)])
def test_lines_of_a_file_plain_or_compressed_answer_as_the_api(tmp_path, suffix, opener):
    path = tmp_path / f"texts.txt{suffix}"
    with opener(path, "wb") as f:
        f.write(("\n".join(TEXTS) + "\n").encode())
    result = run("langid", "--input", str(path))
    assert result.returncode == 0, result.stderr
    assert result.stdout.decode().splitlines() == expected_lines(TEXTS)


def test_stdin_crlf_and_bom_and_missing_final_newline():
    result = run("langid", stdin=b"\xef\xbb\xbfDas ist gut\r\nYo creo que s\xc3\xad")
    assert result.returncode == 0, result.stderr
    assert result.stdout.decode().splitlines() == expected_lines(["Das ist gut", "Yo creo que sí"])


def test_workers_give_the_same_answers_in_the_same_order(tmp_path):
    texts = many_texts(20_000)  # several chunks
    path = tmp_path / "many.txt"
    path.write_text("\n".join(texts) + "\n", encoding="utf-8")
    one = run("langid", "--input", str(path), "-k", "2")
    two = run("langid", "--input", str(path), "-k", "2", "--workers", "2")
    assert one.returncode == 0 and two.returncode == 0, two.stderr
    assert one.stdout == two.stdout
    assert one.stdout.decode().splitlines() == expected_lines(texts, k=2)


def test_a_pipe_is_answered_before_it_ends():
    """The first answer comes back while the writer still holds the pipe open (a reader that waited
    for the end of input would block here until the timeout)."""
    process = subprocess.Popen([*CLI, "langid"], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        assert process.stdin is not None and process.stdout is not None
        process.stdin.write(b"Das ist gut\n")
        process.stdin.flush()
        assert process.stdout.readline().decode().startswith("de ")
        process.stdin.write("¿Dónde está la biblioteca?\n".encode())
        process.stdin.flush()
        assert process.stdout.readline().decode().startswith("es ")
    finally:
        process.kill()
        process.wait()


def test_jsonl_keeps_every_field_and_adds_the_answer(tmp_path):
    rows = [{"id": 1, "text": "Das ist gut", "meta": {"a": [1, 2]}}, {"id": 2, "text": "Yo creo que sí"}]
    path = tmp_path / "in.jsonl"
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    result = run("langid", "--input", str(path), "--format", "jsonl", "--field", "text")
    assert result.returncode == 0, result.stderr
    out = [json.loads(line) for line in result.stdout.decode().splitlines()]
    answers = load(task="langid").predict([r["text"] for r in rows])
    for row, got, answer in zip(rows, out, answers):
        assert {k: v for k, v in got.items() if k != "langid"} == row
        assert got["langid"] == [{"label": answer[0][0], "prob": round(answer[0][1], 6)}]


@pytest.mark.parametrize(
    "lines, message",
    [
        (b'{"text": "ok"}\n[1, 2]\n', "line 2: a JSON list, not an object"),
        (b'{"text": "ok"}\n{"body": "x"}\n', "line 2: no field 'text'"),
        (b'{"text": "ok"}\n{"text": 3}\n', "line 2: field 'text' is int"),
        (b'{"text": "ok"}\n{"text": \n', "line 2: not JSON"),
    ],
)
def test_bad_json_lines_name_their_line_and_stop(lines, message):
    result = run("langid", "--format", "jsonl", "--field", "text", stdin=lines)
    assert result.returncode == 2 and message in result.stderr.decode() and b"Traceback" not in result.stderr


def test_jsonl_reads_the_text_field_unless_told_otherwise():
    result = run("langid", "--format", "jsonl", stdin=b'{"text": "Das ist gut"}\n')
    assert result.returncode == 0 and json.loads(result.stdout)["langid"][0]["label"] == "de"
    result = run("langid", "--format", "jsonl", stdin=b'{"body": "Das ist gut"}\n')
    assert result.returncode == 2 and "no field 'text'" in result.stderr.decode()


@pytest.mark.parametrize("name", ["docs.jsonl", "docs.ndjson", "docs.jsonl.gz"])
def test_the_format_follows_the_input_extension(tmp_path, name):
    path = tmp_path / name
    data = b'{"text": "Das ist gut", "id": 7}\n'
    path.write_bytes(gzip.compress(data) if name.endswith(".gz") else data)
    result = run("langid", "--input", str(path))
    answer = json.loads(result.stdout)
    assert result.returncode == 0 and answer["id"] == 7 and answer["langid"][0]["label"] == "de"


def test_a_lone_dash_reads_standard_input():
    result = run("langid", "-", stdin="Das ist gut\nCreo que sí, pero no estoy seguro\n".encode())
    assert result.returncode == 0 and [line.split()[0] for line in result.stdout.decode().splitlines()] == ["de", "es"]


@pytest.mark.parametrize(
    "args, message",
    [
        (["--segments", "-k", "3"], "-k does not apply to --segments"),
        (["--shares", "--threshold", "0.5"], "--threshold does not apply"),
        (["--segments", "--languages", "en,es"], "--languages does not apply"),
        (["--switch-cost", "3"], "--switch-cost applies to --segments and --shares only"),
    ],
)
def test_options_the_mode_would_ignore_are_refused(args, message):
    result = run("langid", *args, "hola amigos")
    assert result.returncode == 2 and message in result.stderr.decode()


def test_the_restriction_has_one_name_and_the_old_one_still_works():
    for flag in ("--languages", "--only"):
        result = run("langid", flag, "en,es", "-k", "3", "Das ist gut")
        assert result.returncode == 0 and {x.split()[0] for x in result.stdout.decode().split("\t")} <= {"en", "es"}


def test_invalid_utf8_in_the_middle_of_a_big_stream(tmp_path):
    texts = many_texts(18_000)  # ~800 KB: the bad line is in the fourth chunk
    before, after = ("\n".join(texts[:12_000]) + "\n").encode(), ("\n".join(texts[12_000:]) + "\n").encode()
    data = before + b"caf\xe9 latin-1\n" + after
    stopped = run("langid", stdin=data)
    assert stopped.returncode == 2 and "line 12001: not valid UTF-8" in stopped.stderr.decode()
    skipped = run("langid", "--on-error", "skip", stdin=data)
    assert skipped.returncode == 0 and len(skipped.stdout.splitlines()) == 18_000
    assert "1 of 18001 lines skipped (line 12001: not valid UTF-8)" in skipped.stderr.decode()
    replaced = run("langid", "--on-error", "replace", "--workers", "2", stdin=data)
    assert replaced.returncode == 0 and len(replaced.stdout.splitlines()) == 18_001


def test_a_truncated_gzip_is_an_error_and_leaves_no_output_file(tmp_path):
    path = tmp_path / "cut.txt.gz"
    whole = gzip.compress(("\n".join(many_texts(5000)) + "\n").encode())
    path.write_bytes(whole[: len(whole) // 2])
    out = tmp_path / "answers.txt"
    result = run("langid", "--input", str(path), "--output", str(out))
    assert result.returncode == 2 and "truncated or damaged" in result.stderr.decode()
    assert list(tmp_path.iterdir()) == [path]  # no answers.txt, no temporary file


def test_output_file_is_written_whole(tmp_path):
    out = tmp_path / "answers.txt"
    result = run("langid", "--output", str(out), stdin="\n".join(TEXTS).encode())
    assert result.returncode == 0 and result.stdout == b""
    assert out.read_text().splitlines() == expected_lines(TEXTS)


def test_next_word_streams_too():
    result = run("next-word", "-k", "3", "--json", stdin=b"to be or not to\nwhen forty winters\n")
    assert result.returncode == 0, result.stderr
    got = [json.loads(line) for line in result.stdout.decode().splitlines()]
    answers = load(task="nextword").predict(["to be or not to", "when forty winters"], k=3)
    assert [[p["word"] for p in row["predictions"]] for row in got] == [[w for w, _ in a] for a in answers]


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_columnar_files_keep_every_column_and_add_answers(tmp_path, fmt):
    pa = pytest.importorskip("pyarrow")
    import pyarrow.csv as pcsv
    import pyarrow.parquet as pq

    table = pa.table({"id": list(range(len(TEXTS))), "body": TEXTS})
    source, out = tmp_path / f"in.{fmt}", tmp_path / f"out.{fmt}"
    (pq.write_table if fmt == "parquet" else pcsv.write_csv)(table, source)
    result = run("langid", "--input", str(source), "--output", str(out), "--format", fmt, "--field", "body")
    assert result.returncode == 0, result.stderr
    got = pq.read_table(out) if fmt == "parquet" else pcsv.read_csv(out)
    answers = load(task="langid").predict(TEXTS)
    assert got.column("id").to_pylist() == list(range(len(TEXTS)))
    assert [str(x) for x in got.column("langid").to_pylist()] == [a[0][0] for a in answers]
    assert got.column("langid_prob").to_pylist() == pytest.approx([a[0][1] for a in answers])


def test_a_columnar_file_without_the_column_is_refused_and_writes_nothing(tmp_path):
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    source, out = tmp_path / "in.parquet", tmp_path / "out.parquet"
    pq.write_table(pa.table({"body": TEXTS}), source)
    result = run("langid", "--input", str(source), "--output", str(out), "--format", "parquet", "--field", "text")
    assert result.returncode == 2 and "has no column 'text' (columns: body)" in result.stderr.decode()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.parquet"]


def test_a_file_that_is_not_parquet_is_refused(tmp_path):
    pytest.importorskip("pyarrow")
    source = tmp_path / "in.parquet"
    source.write_text("not parquet at all\n")
    result = run(
        "langid", "--input", str(source), "--output", str(tmp_path / "o"), "--format", "parquet", "--field", "t"
    )
    assert result.returncode == 2 and "cannot read it as parquet" in result.stderr.decode()
    assert b"Traceback" not in result.stderr


@pytest.mark.parametrize("task, text", [("langid", "Das ist gut"), ("nextword", "to be or not to")])
def test_a_predictor_travels_by_pickle_and_loads_once_per_process(task, text):
    predictor = load(task=task)
    copy = pickle.loads(pickle.dumps(predictor))
    assert copy.predict(text) == predictor.predict(text)
    assert pickle.loads(pickle.dumps(predictor)) is copy  # the process's one copy
    assert len(pickle.dumps(predictor)) < 300  # a path and options, not the model


def test_a_predictor_on_a_loaded_engine_refuses_to_pickle(tutorial_bundles):
    from bowgram.runtime.backends import open_model
    from bowgram.runtime.bundle import Bundle
    from bowgram.runtime.tasks.langid import LanguageIdentifier

    bundle = Bundle.open(tutorial_bundles["langid"])
    predictor = LanguageIdentifier(bundle, backend=open_model(bundle, "onnx"))
    with pytest.raises(TypeError, match="load\\(\\) it by path"):
        pickle.dumps(predictor)


def test_workers_must_be_a_number_or_auto():
    result = run("langid", "--workers", "zero", stdin=b"x\n")
    assert result.returncode == 2 and "--workers must be a number >= 1 or 'auto'" in result.stderr.decode()

"""The third round of probing, on the surfaces added since the second: output paths, columnar
files, long lines, bundles and messages, the web service. One test per finding of the issue
"Nothing lost on the new surfaces"; each fails on the code before it."""

from __future__ import annotations

import errno
import gzip
import json
import os
import signal
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from bowgram.runtime import BundleError, InputError, interrupt, load, streaming
from bowgram.runtime.bundle import sha256_of
from bowgram.runtime.bundle_writer import MARKER, STAGING, _hold_marker, recover_interrupted
from bowgram.runtime.cli import main, printable
from bowgram.runtime.segmenter import Segment, segment
from bowgram.runtime.tasks.langid import MAX_CHARS
from bowgram.runtime.verify import MAX_EXAMPLES, verify_bundle

BOWGRAM = os.path.join(os.path.dirname(sys.executable), "bowgram")


@pytest.fixture
def runner():
    return CliRunner()


# ---- output files: never replace what is not a file, never lose a mode, never leave a half --------


def test_output_through_a_symlink_writes_its_target_and_keeps_the_link(runner, tmp_path):
    target, link = tmp_path / "answers.txt", tmp_path / "link.txt"
    target.write_text("old\n")
    link.symlink_to(target)
    assert runner.invoke(main, ["langid", "--output", str(link), "Das ist gut"]).exit_code == 0
    assert link.is_symlink() and target.read_text().startswith("de ")


def test_output_to_a_named_pipe_is_written_through(tmp_path):
    fifo = tmp_path / "answers.fifo"
    os.mkfifo(fifo)
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()), daemon=True)
    reader.start()
    proc = subprocess.run([BOWGRAM, "langid", "--output", str(fifo), "Das ist gut"], capture_output=True, timeout=60)
    reader.join(timeout=10)
    assert proc.returncode == 0, proc.stderr
    assert got and got[0].startswith(b"de ") and stat.S_ISFIFO(os.stat(fifo).st_mode)


def test_a_device_is_written_through_and_a_full_disk_is_one_clear_error(runner, tmp_path):
    if not os.path.exists("/dev/full"):
        pytest.skip("no /dev/full here")
    result = runner.invoke(main, ["langid", "--output", "/dev/full", "Das ist gut"])
    assert result.exit_code == 2 and "No space left" in result.output
    assert stat.S_ISCHR(os.stat("/dev/full").st_mode)  # still the device


def test_an_existing_files_mode_is_kept(runner, tmp_path):
    out = tmp_path / "private.txt"
    out.write_text("old\n")
    out.chmod(0o600)
    assert runner.invoke(main, ["langid", "--output", str(out), "Das ist gut"]).exit_code == 0
    assert stat.S_IMODE(out.stat().st_mode) == 0o600 and out.read_text().startswith("de ")


def test_a_failing_last_flush_removes_the_temporary_file(tmp_path, monkeypatch):
    out = streaming.Output(str(tmp_path / "answers.txt"))
    out.write(b"de 0.9\n")

    def full(*args):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(out.file, "close", full)
    with pytest.raises(InputError, match="No space left"):
        out.close(True)
    assert os.listdir(tmp_path) == []  # neither the answers nor a hidden temporary file


def test_a_signal_during_a_written_chunk_stops_after_it(monkeypatch):
    """Ctrl-C while a chunk is written: the chunk ends whole, then the command stops."""
    written = []
    with interrupt.cancellable():
        with pytest.raises(interrupt.Interrupted):
            with interrupt.deferred():
                os.kill(os.getpid(), signal.SIGINT)
                time.sleep(0.05)  # the handler runs here: remembered, not raised
                written.append("the rest of the chunk")
    assert written == ["the rest of the chunk"]


def test_workers_exit_when_the_main_process_is_killed(tmp_path):
    proc = subprocess.Popen(
        [BOWGRAM, "langid", "--workers", "2", "--input", "-"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    try:
        proc.stdin.write(b"Das ist gut\n" * 2000)  # less than a pipe holds: nobody waits on anybody
        proc.stdin.flush()
        assert proc.stdout.readline().startswith(b"de ")
        children = _children(proc.pid)
        assert children
        proc.kill()
        proc.wait(timeout=10)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and any(_running(pid) for pid in children):
            time.sleep(0.1)
        assert not any(_running(pid) for pid in children)
    finally:
        if proc.poll() is None:
            proc.kill()


def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(c) for c in (task / "children").read_text().split()]
    return found


def _running(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[1][0] != "Z"
    except (FileNotFoundError, IndexError):
        return False


# ---- columns: kept as they were, or refused with the reason -------------------------------------


def test_csv_columns_come_back_as_written(runner, tmp_path):
    source = tmp_path / "in.csv"
    rows = ["id,zip,note,text"] + [f"{i:03d},00501,NA,Das ist gut" for i in range(3)] + ["004,x1,NA,Yo creo que sí"]
    source.write_text("\n".join(rows) + "\n", encoding="utf-8")
    result = runner.invoke(main, ["langid", "--input", str(source), "--output", str(tmp_path / "out.csv")])
    assert result.exit_code == 0, result.output
    lines = (tmp_path / "out.csv").read_text(encoding="utf-8").splitlines()
    assert [line.split(",")[:3] for line in lines[1:]] == [
        ['"000"', '"00501"', '"NA"'],
        ['"001"', '"00501"', '"NA"'],
        ['"002"', '"00501"', '"NA"'],
        ['"004"', '"x1"', '"NA"'],
    ]


def test_a_file_of_no_rows_gives_a_file_of_no_rows_with_the_columns(runner, tmp_path):
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    (tmp_path / "in.csv").write_text("id,text\n")
    pq.write_table(pa.table({"text": pa.array([], pa.string())}), tmp_path / "in.parquet")
    for name in ("in.csv", "in.parquet"):
        out = tmp_path / ("out" + Path(name).suffix)
        result = runner.invoke(main, ["langid", "--input", str(tmp_path / name), "--output", str(out)])
        assert result.exit_code == 0, result.output
        if name.endswith(".csv"):
            assert out.read_text().splitlines() == ['"id","text","langid","langid_prob"']
        else:
            table = pq.read_table(out)
            assert table.num_rows == 0 and table.column_names == ["text", "langid", "langid_prob"]


def test_an_answer_column_already_there_is_refused(runner, tmp_path):
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"text": ["Das ist gut"], "langid": ["mine"]}), tmp_path / "in.parquet")
    result = runner.invoke(main, ["langid", "--input", str(tmp_path / "in.parquet"), "--output", str(tmp_path / "o")])
    assert result.exit_code == 2 and "already has a column 'langid'" in result.output
    (tmp_path / "in.jsonl").write_text('{"text": "Das ist gut", "langid": "mine"}\n')
    result = runner.invoke(main, ["langid", "--input", str(tmp_path / "in.jsonl")])
    assert result.exit_code == 2 and "already has a field 'langid'" in result.output


def test_a_text_column_that_is_not_text_is_refused(runner, tmp_path):
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"text": pa.array([b"Das ist gut"], pa.binary())}), tmp_path / "in.parquet")
    result = runner.invoke(main, ["langid", "--input", str(tmp_path / "in.parquet"), "--output", str(tmp_path / "o")])
    assert result.exit_code == 2 and "not text" in result.output


def test_a_lone_surrogate_escape_in_json_lines_is_answered_and_kept(runner, tmp_path):
    source = tmp_path / "in.jsonl"
    source.write_text('{"text": "Das ist gut \\ud800", "id": 1}\n{"text": "Yo creo que sí", "id": 2}\n')
    result = runner.invoke(main, ["langid", "--input", str(source)])
    assert result.exit_code == 0, result.output
    first, second = (json.loads(line) for line in result.output.splitlines())
    assert first["text"] == "Das ist gut \ud800" and first["langid"][0]["label"] == "de"
    assert second["langid"][0]["label"] == "es"


def test_on_error_replace_reads_a_csv_with_bad_bytes(runner, tmp_path):
    pytest.importorskip("pyarrow")
    source = tmp_path / "in.csv"
    source.write_bytes(b"text,other\nDas ist gut \xff,a\xfeb\n")
    out = tmp_path / "out.csv"
    assert runner.invoke(main, ["langid", "--input", str(source), "--output", str(out)]).exit_code == 2
    result = runner.invoke(main, ["langid", "--input", str(source), "--output", str(out), "--on-error", "replace"])
    assert result.exit_code == 0, result.output
    assert out.read_text(encoding="utf-8").splitlines()[1].startswith('"Das ist gut \ufffd","a\ufffdb","de"')


def test_a_named_pipe_input_is_answered_as_lines_arrive(tmp_path):
    fifo = tmp_path / "in.fifo"
    os.mkfifo(fifo)
    proc = subprocess.Popen([BOWGRAM, "langid", "--input", str(fifo)], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    with open(fifo, "wb", buffering=0) as writer:
        writer.write(b"Das ist gut\n")
        try:
            ready = _readline(proc.stdout, 30)  # while the writer still holds the pipe open
        finally:
            writer.close()
    proc.wait(timeout=30)
    assert ready.startswith(b"de ")


def _readline(stream, timeout: float) -> bytes:
    got: list[bytes] = []
    thread = threading.Thread(target=lambda: got.append(stream.readline()), daemon=True)
    thread.start()
    thread.join(timeout)
    return got[0] if got else b""


# ---- memory and time that must not grow with one input ------------------------------------------


def test_segments_read_a_long_text_one_window_at_a_time(monkeypatch):
    lid = load(task="langid")
    scores = lid.word_scores()
    seen: list[int] = []
    original = scores.label_scores
    monkeypatch.setattr(scores, "label_scores", lambda words: seen.append(len(words)) or original(words))
    text = ("Das ist ein guter Tag und wir gehen heute in den Park. " * 5000)[: 3 * MAX_CHARS]
    (start, end, label, _), *rest = lid.segments(text)
    assert (start, label, rest) == (0, "de", []) and end >= len(text) - 2  # one segment across the windows
    assert max(seen) <= MAX_CHARS // 2  # never the whole text's words at once


def _quadratic_segment(scores, bias, switch_cost, min_words):
    """The merging as it was (one pass over every run per merge), the oracle of the heap version."""
    from bowgram.runtime.segmenter import viterbi

    path = viterbi(scores, switch_cost)
    runs = []
    for t, label in enumerate(path):
        if runs and runs[-1][2] == label:
            runs[-1][1] = t
        else:
            runs.append([t, t, label])
    while len(runs) > 1:
        short = [i for i, (a, b, _) in enumerate(runs) if b - a + 1 < min_words]
        if not short:
            break
        i = min(short, key=lambda j: runs[j][1] - runs[j][0])
        a, b, _ = runs[i]
        part = scores[a : b + 1].sum(axis=0)
        j = max([j for j in (i - 1, i + 1) if 0 <= j < len(runs)], key=lambda j: part[runs[j][2]])
        runs[j] = [min(runs[j][0], a), max(runs[j][1], b), runs[j][2]]
        del runs[i]
        merged = []
        for run in runs:
            if merged and merged[-1][2] == run[2]:
                merged[-1][1] = run[1]
            else:
                merged.append(run)
        runs = merged
    return [Segment(a, b, int((bias + scores[a : b + 1].sum(axis=0)).argmax())) for a, b, _ in runs]


def test_merging_short_segments_finds_what_the_quadratic_merging_found():
    rng = np.random.default_rng(1)
    for _ in range(300):
        n, labels = int(rng.integers(1, 40)), int(rng.integers(2, 5))
        scores = rng.normal(size=(n, labels)) * 3
        cost, min_words = float(rng.uniform(0, 2)), int(rng.integers(1, 6))
        assert segment(scores, np.zeros(labels), cost, min_words) == _quadratic_segment(
            scores, np.zeros(labels), cost, min_words
        )


def test_thousands_of_threads_are_refused():
    with pytest.raises(InputError, match="from 1 to"):
        load(task="langid", threads=5000)
    with pytest.raises(InputError):
        load(task="langid", threads=True)


def test_a_decompression_bomb_is_refused_before_memory_runs_out(tmp_path, monkeypatch):
    from bowgram.runtime import corpus

    bomb = tmp_path / "bomb.tsv.gz"
    bomb.write_bytes(gzip.compress(b"en\t" + b"a" * (1 << 20)))
    monkeypatch.setattr(corpus, "MAX_DATA_BYTES", 1 << 16)
    with pytest.raises(InputError, match="once decompressed"):
        corpus.read_labelled(bomb)


# ---- bundles and messages: a BundleError, never "unexpected" -----------------------------------


def _rewrite(path: Path, name: str, text: str) -> None:
    (path / name).write_text(text)
    manifest = json.loads((path / "manifest.json").read_text())
    for a in manifest["artifacts"]:
        if a["path"] == name:
            a["sha256"], a["size"] = sha256_of(path / name), (path / name).stat().st_size
    (path / "manifest.json").write_text(json.dumps(manifest))


def test_deeply_nested_json_in_a_bundle_is_a_bundle_error(bundle_copy):
    path = bundle_copy("langid")
    _rewrite(path, "vocab.json", "[" * 200_000 + "]" * 200_000)
    with pytest.raises(BundleError, match="nested too deep"):
        load(path)
    (path / "manifest.json").write_text("[" * 200_000 + "]" * 200_000)
    with pytest.raises(BundleError, match="nested too deep"):
        load(path)


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda m: m.update(format_version=True), "format_version"),
        (lambda m: m["artifacts"][0].update(path="vocab\0.json"), "not a plain file name"),
    ],
    ids=["format-version-true", "nul-in-a-name"],
)
def test_manifest_fields_of_the_wrong_kind_are_bundle_errors(bundle_copy, change, message):
    path = bundle_copy("langid")
    manifest = json.loads((path / "manifest.json").read_text())
    change(manifest)
    (path / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(BundleError, match=message):
        load(path)


@pytest.mark.parametrize("last", [9, "3"])
def test_next_word_vocab_ids_out_of_range_or_not_numbers_are_bundle_errors(bundle_copy, last):
    path = bundle_copy("nextword")
    _rewrite(path, "vocab.json", json.dumps({"<s>": 0, "</s>": 1, "<unk>": 2, "a": last}))
    with pytest.raises(BundleError, match="ids must be"):
        load(path)


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda e: e.update(tolerance={"atol": "a lot", "rtol": 0}), "tolerance"),
        (lambda e: e["examples"][0]["top"].insert(0, [10**9, "x", 0.0]), "index, name, value"),
        (lambda e: e.update(examples=e["examples"] * (MAX_EXAMPLES // len(e["examples"]) + 1)), "more than"),
    ],
    ids=["tolerance-not-a-number", "top-past-the-outputs", "too-many-vectors"],
)
def test_malformed_test_vectors_are_bundle_errors(bundle_copy, change, message):
    path = bundle_copy("langid")
    examples = json.loads((path / "examples.json").read_text())
    change(examples)
    _rewrite(path, "examples.json", json.dumps(examples))
    with pytest.raises(BundleError, match=message):
        verify_bundle(path)


def test_info_shows_a_manifests_escape_sequences_escaped(runner, bundle_copy):
    path = bundle_copy("langid")
    manifest = json.loads((path / "manifest.json").read_text())
    manifest["producer"]["bowgram"] = "0.1\x1b]2;pwned\x07\u202e"
    (path / "manifest.json").write_text(json.dumps(manifest))
    result = runner.invoke(main, ["info", str(path)])
    assert result.exit_code == 0 and "\x1b" not in result.output and "\\x1b]2;pwned" in result.output
    assert printable("tab\tand\nnewline") == "tab\tand\nnewline"  # layout stays


def test_training_data_can_come_from_a_pipe(tmp_path):
    from bowgram.export.commands import _data

    fifo = tmp_path / "data.fifo"
    os.mkfifo(fifo)
    assert _data(None, None, str(fifo)) == str(fifo)


def test_a_switch_cost_that_is_not_a_number_is_refused():
    lid = load(task="langid")
    for cost in (float("nan"), float("inf"), -1.0):
        with pytest.raises(InputError, match="switch_cost"):
            lid.segments("Das ist gut", switch_cost=cost)


def test_a_live_writers_staging_folder_is_kept_whatever_its_pid_says(tmp_path):
    """A writer in another PID namespace: its pid means nothing here, its lock does."""
    out = tmp_path / "bundle"
    staging = tmp_path / f".bundle.{STAGING}-999999-abcd"
    staging.mkdir()
    held = _hold_marker(staging / MARKER)
    (staging / MARKER).write_text("999999")  # the pid as the other namespace sees it
    recover_interrupted(out)
    assert staging.exists()  # the lock is held: a live writer
    os.close(held)
    recover_interrupted(out)
    assert not staging.exists()  # its writer is gone


def test_a_signal_during_the_swap_says_the_new_bundle_is_in_place(tmp_path, tutorial_bundles, monkeypatch):
    import shutil

    from bowgram.runtime import bundle_writer

    out = tmp_path / "bundle"
    shutil.copytree(tutorial_bundles["langid"], out)
    exchange = bundle_writer._exchange

    def interrupted_exchange(new, old):
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(0.05)
        exchange(new, old)

    monkeypatch.setattr(bundle_writer, "_exchange", interrupted_exchange)
    manifest = json.loads((tutorial_bundles["langid"] / "manifest.json").read_text())
    with interrupt.cancellable():
        with bundle_writer.BundleWriter(out) as writer:
            for a in manifest["artifacts"]:
                shutil.copy(tutorial_bundles["langid"] / a["path"], writer.dir / a["path"])
                writer.add(a["path"], a["format"], **{k: a[k] for k in ("opset", "ir_version", "precision") if k in a})
            fields = {k: manifest[k] for k in ("task", "producer", "model", "featurizer", "signature")}
            writer.write_manifest(**{**fields, "created": "2030-01-01T00:00:00+00:00"})
            with pytest.raises(interrupt.Interrupted, match="already in place"):
                writer.commit()
    assert json.loads((out / "manifest.json").read_text())["created"] == "2030-01-01T00:00:00+00:00"


# ---- the same refusals in both runtimes (shared cases: js/test/cases/refusals.json) --------------

REFUSALS = json.loads((Path(__file__).resolve().parents[1] / "js/test/cases/refusals.json").read_text("utf-8"))


def apply_edits(path: Path, edits: list[dict]) -> None:
    """Edit a bundle copy as a refusal case says: each file's value at a path of keys is set."""
    for edit in edits:
        target = path / edit["file"]
        data = json.loads(target.read_text("utf-8"))
        if edit["path"]:
            node = data
            for key in edit["path"][:-1]:
                node = node[key]
            node[edit["path"][-1]] = edit["value"]
        else:
            data = edit["value"]
        target.write_text(json.dumps(data), "utf-8")
        if edit["file"] != "manifest.json":
            _rewrite(path, edit["file"], target.read_text("utf-8"))


@pytest.mark.parametrize("case", REFUSALS["cases"], ids=[c["case"] for c in REFUSALS["cases"]])
def test_bundles_both_runtimes_refuse(bundle_copy, case):
    path = bundle_copy(case["bundle"])
    apply_edits(path, case["edits"])
    with pytest.raises(BundleError):
        load(path)


def test_a_file_changed_after_it_was_verified_is_hashed_again(bundle_copy):
    """The second read of an unchanged file skips its hash (the model is read for the engine and
    for its weights); a file written meanwhile is checked again."""
    from bowgram.runtime.bundle import Bundle

    path = bundle_copy("langid")
    bundle = Bundle.open(path)
    labels = bundle.manifest.artifact("labels")
    assert json.loads(bundle.read(labels)) == ["ENGLISH", "SPANISH"]
    assert json.loads(bundle.read(labels)) == ["ENGLISH", "SPANISH"]  # unchanged: no second hash needed
    time.sleep(0.01)
    with open(path / labels.path, "r+b") as fh:  # same size, other bytes, written in place
        data = fh.read()
        fh.seek(0)
        fh.write(data.replace(b"ENGLISH", b"ENGLISX"))
    with pytest.raises(BundleError, match="sha256"):
        bundle.read(labels)


NOT_TEXT = json.loads((Path(__file__).resolve().parents[1] / "js/test/cases/not_text.json").read_text("utf-8"))


def test_binary_data_read_as_text_answers_und_on_every_path(runner, tmp_path):
    lid = load(task="langid")
    texts = [case["text"] for case in NOT_TEXT["cases"]]
    expected = [case["not_text"] or not case["text"] for case in NOT_TEXT["cases"]]
    one_by_one = [lid.predict(t)[0][0] == "und" for t in texts]
    in_a_batch = [a[0][0] == "und" for a in lid.predict(texts * 3)[: len(texts)]]  # > 16 texts: the model path
    assert one_by_one == expected and in_a_batch == expected
    binary = tmp_path / "binary"
    binary.write_bytes(Path(sys.executable).resolve().read_bytes()[:200_000])  # an executable, as /bin/ls was
    result = runner.invoke(main, ["langid", "--input", str(binary), "--on-error", "replace"])
    answers = [line.split()[0] for line in result.output.splitlines()]
    assert result.exit_code == 0 and answers.count("und") / len(answers) >= 0.9

"""The second round of probing, one test per finding (numbers as in the hardening issue): user
folders, interrupted and concurrent writes, hostile bundles, resource bounds, wrong answers."""

from __future__ import annotations

import errno
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from bowgram.runtime import BackendUnavailable, BundleError, InputError, VerificationError, load
from bowgram.runtime.bundle import Bundle, sha256_of
from bowgram.runtime.bundle_writer import MARKER, BundleWriter
from bowgram.runtime.cli import main
from bowgram.runtime.verify import verify_bundle

BOWGRAM = os.path.join(os.path.dirname(sys.executable), "bowgram")


def _manifest(path: Path) -> dict:
    return json.loads((path / "manifest.json").read_text())


def _rewrite(path: Path, change) -> None:
    data = _manifest(path)
    change(data)
    (path / "manifest.json").write_text(json.dumps(data))


def _refresh(path: Path, name: str) -> None:
    def fix(data):
        for a in data["artifacts"]:
            if a["path"] == name:
                a["sha256"], a["size"] = sha256_of(path / name), (path / name).stat().st_size

    _rewrite(path, fix)


def _drop(path: Path, name: str) -> None:
    (path / name).unlink()
    _rewrite(path, lambda d: d.update(artifacts=[a for a in d["artifacts"] if a["path"] != name]))


def _copy_into(writer: BundleWriter, source: Path) -> None:
    """Stage a copy of the bundle `source` (what a training run would write)."""
    manifest = _manifest(source)
    for a in manifest["artifacts"]:
        shutil.copy(source / a["path"], writer.dir / a["path"])
        writer.add(a["path"], a["format"], **{k: a[k] for k in ("opset", "ir_version", "precision") if k in a})
    writer.write_manifest(**{k: manifest[k] for k in ("task", "producer", "model", "featurizer", "signature")})


# ---------------------------------------------------------------- 1-8: nothing lost, no half-states


def test_01_a_folder_with_another_tools_manifest_is_never_replaced(tmp_path):
    out = tmp_path / "site"
    out.mkdir()
    (out / "manifest.json").write_text('{"name": "my web app", "start_url": "/"}')
    (out / "index.html").write_text("<h1>mine</h1>")
    with pytest.raises(InputError, match="not a bowgram bundle"):
        with BundleWriter(out):
            pass
    assert (out / "index.html").read_text() == "<h1>mine</h1>"


def test_02_a_user_folder_named_like_a_leftover_is_kept(tutorial_bundles, tmp_path):
    out = tmp_path / "bundle"
    for name in (".bundle.old-2024", ".bundle.tmp-1-x", ".bundle.bowgram-tmp-999999-y"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "thesis.txt").write_text("mine")
    with BundleWriter(out) as writer:
        _copy_into(writer, tutorial_bundles["langid"])
        writer.commit()
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == [
        ".bundle.bowgram-tmp-999999-y",
        ".bundle.old-2024",
        ".bundle.tmp-1-x",
    ]


def test_03_files_a_user_added_to_a_bundle_are_carried_over(bundle_copy, tutorial_bundles):
    out = bundle_copy("langid")
    (out / "NOTES.md").write_text("why this model")
    with BundleWriter(out) as writer:
        _copy_into(writer, tutorial_bundles["langid"])
        writer.commit()
    assert (out / "NOTES.md").read_text() == "why this model"
    assert not (out / MARKER).exists() and verify_bundle(out)["task"] == "langid"


def test_04_an_interrupt_that_a_library_swallows_still_cancels_the_export(monkeypatch, tmp_path, runner):
    pytest.importorskip("torch")
    from bowgram.export import serialize

    original = serialize.SERIALIZERS["pt2"]

    def swallowing(*args, **kwargs):
        try:
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.05)
        except BaseException:  # what a careless library does
            pass
        return original[1](*args, **kwargs)

    monkeypatch.setitem(serialize.SERIALIZERS, "pt2", (original[0], swallowing))
    result = runner.invoke(main, ["train", "langid", "--data", "tutorial", "--out", str(tmp_path / "b"), "--quiet"])
    assert result.exit_code == 130 and "interrupted" in result.output
    assert list(tmp_path.iterdir()) == []


def test_04_sigterm_during_training_exits_143_and_keeps_the_old_bundle(tutorial_bundles, tmp_path):
    pytest.importorskip("torch")
    out = tmp_path / "bundle"
    shutil.copytree(tutorial_bundles["nextword"], out)
    before = {p.name: sha256_of(p) for p in out.iterdir()}
    proc = subprocess.Popen(
        [BOWGRAM, "train", "langid", "--data", "tutorial", "--out", str(out), "--quiet"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    time.sleep(2.0)  # importing torch and training: well before the export
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 143 and "interrupted" in err and "Traceback" not in err
    assert {p.name: sha256_of(p) for p in out.iterdir()} == before
    assert [p.name for p in tmp_path.iterdir()] == ["bundle"]


@pytest.mark.parametrize("step", ["chmod", "write_marker", "_exchange", "unlink_marker", "rmtree"])
def test_05_a_writer_killed_at_any_step_of_the_swap_leaves_a_whole_bundle(
    monkeypatch, tutorial_bundles, tmp_path, step
):
    """Each step of commit() fails in turn (as a kill would stop it there): --out then holds the
    old bundle or the new one, whole, and the next writer clears what is left."""
    from bowgram.runtime import bundle_writer

    out = tmp_path / "bundle"
    shutil.copytree(tutorial_bundles["nextword"], out)

    def fail(*args, **kwargs):
        raise KeyboardInterrupt

    if step == "chmod":
        monkeypatch.setattr(Path, "chmod", fail)
    elif step == "write_marker":
        real = Path.write_text
        monkeypatch.setattr(
            Path, "write_text", lambda self, *a, **k: fail() if self == out / MARKER else real(self, *a, **k)
        )
    elif step == "unlink_marker":
        real_unlink = Path.unlink
        monkeypatch.setattr(
            Path, "unlink", lambda self, *a, **k: fail() if self == out / MARKER else real_unlink(self, *a, **k)
        )
    else:
        monkeypatch.setattr(
            bundle_writer,
            "_exchange" if step == "_exchange" else "shutil",
            fail if step == "_exchange" else _FailingRmtree(),
        )
    with pytest.raises(KeyboardInterrupt), BundleWriter(out) as writer:
        _copy_into(writer, tutorial_bundles["langid"])
        writer.commit()
    monkeypatch.undo()
    assert verify_bundle(out)["task"] in ("langid", "nextword")
    for leftover in tmp_path.glob(".bundle.bowgram-tmp-*"):  # a kill: the writing process is gone
        (leftover / MARKER).write_text("999999")
        leftover.rename(tmp_path / f".bundle.bowgram-tmp-999999-{leftover.name.rsplit('-', 1)[1]}")
    with BundleWriter(out):  # the next writer clears the leftovers of a dead one
        pass
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bundle"]


class _FailingRmtree:
    """shutil for bundle_writer, whose rmtree is interrupted (copy functions still work)."""

    def __getattr__(self, name):
        return getattr(shutil, name)

    def rmtree(self, *args, **kwargs):
        raise KeyboardInterrupt


READER = """
import sys, time
from bowgram.runtime import load
errors, loads, deadline = [], 0, time.time() + float(sys.argv[2])
while time.time() < deadline:
    try:
        answer = load(sys.argv[1]).predict("Give it to me")
        assert answer[0][0] == "ENGLISH" or answer[0][0] in ("en", "es"), answer
        loads += 1
    except Exception as exc:
        errors.append(f"{type(exc).__name__}: {exc}")
print(loads, len(errors), errors[:3])
"""


@pytest.mark.slow
def test_06_readers_never_see_half_a_swap(tutorial_bundles, tmp_path):
    """4 reader processes load and predict in a loop while this process swaps two bundles in
    turn (BOWGRAM_SWAP_SECONDS, default 8; run with 60 for the full check)."""
    seconds = float(os.environ.get("BOWGRAM_SWAP_SECONDS", "8"))
    out = tmp_path / "bundle"
    shutil.copytree(tutorial_bundles["langid"], out)
    other = tmp_path / "other"
    shutil.copytree(tutorial_bundles["langid"], other)
    _rewrite(other, lambda d: d.update(created="2000-01-01T00:00:00+00:00"))  # a different manifest, same model
    readers = [
        subprocess.Popen([sys.executable, "-c", READER, str(out), str(seconds)], stdout=subprocess.PIPE, text=True)
        for _ in range(4)
    ]
    swaps, deadline = 0, time.time() + seconds
    while time.time() < deadline:
        with BundleWriter(out) as writer:
            _copy_into(writer, other if swaps % 2 else tutorial_bundles["langid"])
            writer.commit()
        swaps += 1
    results = [r.communicate(timeout=60)[0].split(maxsplit=2) for r in readers]
    print(f"{swaps} swaps, loads per reader {[int(loads) for loads, _, _ in results]}")
    assert swaps > 10 and all(int(loads) > 0 for loads, _, _ in results)
    assert [int(errors) for _, errors, _ in results] == [0, 0, 0, 0], results


def test_07_a_disk_too_full_for_the_bundle_is_refused_before_writing(monkeypatch, bundle_copy):
    pytest.importorskip("torch")
    from bowgram.export import exporter
    from bowgram.export.build import config_for, train_and_export

    out = bundle_copy("nextword")
    before = _manifest(out)
    monkeypatch.setattr(exporter.shutil, "disk_usage", lambda path: shutil._ntuple_diskusage(10**9, 10**9, 10**5))
    with pytest.raises(InputError, match="not enough space .* previous bundle is unchanged"):
        train_and_export("langid", "tutorial", out, config_for("langid", "tutorial", {}, {"quiet": True}))
    assert _manifest(out) == before and [p.name for p in out.parent.iterdir()] == [out.name]


def test_07_no_space_while_writing_is_one_clear_message(monkeypatch, tmp_path):
    def full(self, *args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    with pytest.raises(InputError, match="no space left on the device"), BundleWriter(tmp_path / "b") as writer:
        monkeypatch.setattr(Path, "write_text", full)
        writer.write_json("vocab.json", "vocab", {})
    monkeypatch.undo()
    assert list(tmp_path.iterdir()) == []


def test_08_out_under_a_file_inside_itself_or_read_only_is_refused_clearly(tmp_path, monkeypatch, bundle_copy):
    (tmp_path / "afile").write_text("x")
    with pytest.raises(InputError, match="afile is a file, not a folder"):
        BundleWriter(tmp_path / "afile" / "bundle").__enter__()
    bundle = bundle_copy("langid")
    monkeypatch.chdir(bundle)
    with pytest.raises(InputError, match="is the current folder"):
        BundleWriter(".").__enter__()
    monkeypatch.chdir(tmp_path)

    def read_only(self, *args, **kwargs):
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr(Path, "mkdir", read_only)
    with pytest.raises(InputError, match="read-only"):
        BundleWriter(tmp_path / "new" / "bundle").__enter__()


# ---------------------------------------------------------------- 9-11, 16-19: hostile or broken bundles


def test_09_a_bundle_with_only_pickle_formats_needs_the_backend_named(bundle_copy):
    path = bundle_copy("langid")
    _drop(path, "model.onnx")
    _drop(path, "model.int8.onnx")
    with pytest.raises(BackendUnavailable, match="can run code when loaded.*--backend"):
        load(path)
    pytest.importorskip("torch")
    assert load(path, backend="pt2").predict("Give it to me")[0][0] == "ENGLISH"


def test_10_a_bundle_cannot_bring_its_own_regular_expression(bundle_copy):
    path = bundle_copy("nextword")
    _rewrite(path, lambda d: d["featurizer"].update(pattern="(a|aa)+$"))
    started = time.perf_counter()
    with pytest.raises(BundleError, match="not one this bowgram knows"):
        load(path)
    assert time.perf_counter() - started < 5


@pytest.mark.parametrize(
    "task, change, message",
    [
        ("langid", {"max_n": 10**9}, "n-grams need"),
        ("langid", {"min_n": 1, "max_n": 4, "buckets": 2**40}, "n-grams need"),
        ("nextword", {"normalization": "NFX"}, "unknown form 'NFX'"),
        ("langid", {"max_n": "4"}, "featurizer.max_n is '4', expected a int"),
    ],
)
def test_11_featurizer_values_are_bounded_and_typed(runner, bundle_copy, task, change, message):
    path = bundle_copy(task)
    _rewrite(path, lambda d: d["featurizer"].update(change))
    with pytest.raises(BundleError, match=message):
        load(path)
    result = runner.invoke(main, ["langid" if task == "langid" else "next-word", "--bundle", str(path), "hi"])
    assert result.exit_code == 3 and "Traceback" not in result.output


def test_16_a_bundle_without_test_vectors_cannot_be_verified(bundle_copy, runner):
    path = bundle_copy("langid")
    (path / "examples.json").write_text('{"input": "input_ids", "output": "log_probs", "examples": []}')
    _refresh(path, "examples.json")
    with pytest.raises(VerificationError, match="no test vectors"):
        verify_bundle(path)
    assert runner.invoke(main, ["verify", str(path)]).exit_code == 5


def _onnx_with_one_column(path: Path) -> None:
    """A model.onnx that answers [batch, 1] although labels.json has two labels."""
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper

    node = helper.make_node("ReduceMax", ["input_ids"], ["m"], keepdims=1, axes=[1])
    cast = helper.make_node("Cast", ["m"], ["log_probs"], to=TensorProto.FLOAT)
    graph = helper.make_graph(
        [node, cast],
        "g",
        [helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch", "tokens"])],
        [helper.make_tensor_value_info("log_probs", TensorProto.FLOAT, ["batch", 1])],
    )
    onnx.save(
        helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8), str(path / "model.onnx")
    )
    _refresh(path, "model.onnx")


def test_17_a_model_whose_output_does_not_fit_the_manifest_is_refused(bundle_copy):
    path = bundle_copy("langid")
    _onnx_with_one_column(path)
    with pytest.raises(BundleError, match="output 'log_probs' has shape \\(1, 1\\)"):
        load(path).predict("Give it to me")


@pytest.mark.parametrize("vocab", [{"give": -1, "it": 1}, {"give": "1"}, ["give"]], ids=["negative", "str", "list"])
def test_17_vocabulary_ids_must_be_1_to_n(bundle_copy, vocab):
    path = bundle_copy("langid")
    (path / "vocab.json").write_text(json.dumps(vocab))
    _refresh(path, "vocab.json")
    with pytest.raises(BundleError, match="vocab.json must map"):
        load(path)


def test_17_wrongly_typed_manifest_fields_exit_3_naming_the_field(runner, bundle_copy):
    path = bundle_copy("langid")
    _rewrite(path, lambda d: d["artifacts"][0].update(size="big"))
    result = runner.invoke(main, ["langid", "--bundle", str(path), "hi"])
    assert result.exit_code == 3 and "artifacts[0]" in result.output


def test_18_onnx_external_data_is_never_read(bundle_copy, monkeypatch):
    onnx = pytest.importorskip("onnx")
    path = bundle_copy("langid")
    model = onnx.load(str(path / "model.onnx"))
    onnx.save_model(
        model, str(path / "model.onnx"), save_as_external_data=True, location="weights.bin", size_threshold=0
    )
    _refresh(path, "model.onnx")
    monkeypatch.chdir(path)  # where onnxruntime looks for side files of a model given as bytes
    with pytest.raises(BundleError, match="onnxruntime cannot load model.onnx"):
        load(path, backend="onnx")


def test_18_a_manifest_that_is_a_link_or_a_fifo_is_refused(bundle_copy, tmp_path):
    path = bundle_copy("langid")
    outside = tmp_path / "elsewhere.json"
    shutil.move(path / "manifest.json", outside)
    os.symlink(outside, path / "manifest.json")
    with pytest.raises(BundleError, match="symbolic link"):
        load(path)
    (path / "manifest.json").unlink()
    os.mkfifo(path / "manifest.json")
    code = f"from bowgram.runtime import load\nload({str(path)!r})"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30)
    assert proc.returncode != 0 and "not a regular file" in proc.stderr


def test_19_an_argument_that_is_not_utf8_is_refused(tutorial_bundles):
    proc = subprocess.run(
        [BOWGRAM, "langid", "--json", "--bundle", str(tutorial_bundles["langid"]).encode(), b"caf\xe9"],
        capture_output=True,
        timeout=60,
    )
    assert proc.returncode == 2 and b"not valid UTF-8" in proc.stderr and proc.stdout == b""


# ---------------------------------------------------------------- 12-15: resource bounds, one answer per line


def test_12_a_big_next_word_query_scores_a_bounded_number_of_rows_at_once(tutorial_bundles, monkeypatch):
    from bowgram.runtime.tasks.nextword import SCORED_ROWS

    predictor = load(tutorial_bundles["nextword"])
    seen = []
    real = predictor.log_probs_of_ids
    monkeypatch.setattr(predictor, "log_probs_of_ids", lambda ids: seen.append(len(ids)) or real(ids))
    answers = predictor.predict(["when forty winters"] * 2000, k=50)
    assert len(answers) == 2000 and max(seen) <= SCORED_ROWS


def test_12_a_huge_text_is_read_up_to_max_chars_and_says_so(tutorial_bundles, runner, monkeypatch):
    from bowgram.runtime.tasks.langid import MAX_CHARS

    identifier = load(tutorial_bundles["langid"])
    lengths = []
    featurize, of_words = identifier.featurizer.__class__.__call__, identifier.featurizer.__class__.of_words
    monkeypatch.setattr(
        identifier.featurizer.__class__,
        "__call__",
        lambda self, texts, folded=False: lengths.append(max(map(len, texts))) or featurize(self, texts, folded),
    )
    monkeypatch.setattr(  # one text from the weights: its words' ids (their characters and spaces count)
        identifier.featurizer.__class__,
        "of_words",
        lambda self, words, per_word=False: (
            lengths.append(sum(map(len, words)) + len(words) - 1) or of_words(self, words, per_word)
        ),
    )
    huge = "Give it to me " * 200_000  # 2.8 MB
    assert identifier.predict(huge)[0][0] == "ENGLISH" and max(lengths) <= MAX_CHARS
    assert identifier.predict([huge] * 40)[0][0][0] == "ENGLISH" and max(lengths) <= MAX_CHARS  # the model path
    assert identifier.units(huge) == identifier.units(huge[:MAX_CHARS])  # the word path reads as far
    monkeypatch.undo()
    result = runner.invoke(
        main, ["langid", "--json", "--bundle", str(tutorial_bundles["langid"])], input=(huge + "\nno creo\n").encode()
    )
    rows = [json.loads(line) for line in result.output.splitlines()]
    assert rows[0]["truncated"] is True and "truncated" not in rows[1]


def test_13_a_tiny_temperature_samples_greedily(tutorial_bundles, runner):
    predictor = load(tutorial_bundles["nextword"])
    assert predictor.generate("when forty", n=5, temperature=1e-310, seed=1) == predictor.generate(
        "when forty", n=5, temperature=1e-300, seed=2
    )
    result = runner.invoke(
        main,
        ["generate", "--bundle", str(tutorial_bundles["nextword"]), "when forty", "--temperature", "1e-310", "-n", "5"],
    )
    assert result.exit_code == 0, result.output


class _Scores(np.ndarray):
    """A full-vocabulary score array that counts how many of its kind are alive at once."""

    live = peak = 0

    def __del__(self):
        _Scores.live -= 1


class _CountingBackend:
    """Answers every call with full scores besides the top-k outputs, counting the full ones alive."""

    input_names, output_names = ["input_ids"], ["log_probs", "top_log_probs", "top_ids"]

    def __init__(self, vocab: int, top_k: int):
        self.vocab, self.top_k = vocab, top_k

    def run(self, inputs):
        n = len(inputs["input_ids"])
        scores = np.full((n, self.vocab), -5.0, np.float32).view(_Scores)
        _Scores.live += 1
        _Scores.peak = max(_Scores.peak, _Scores.live)
        return {
            "log_probs": scores,
            "top_log_probs": np.full((n, self.top_k), -1.0, np.float32),
            "top_ids": np.tile(np.arange(3, 3 + self.top_k), (n, 1)),
        }


def test_14_top_k_queries_do_not_keep_every_calls_full_scores(tutorial_bundles):
    predictor = load(tutorial_bundles["nextword"])
    engine = _CountingBackend(len(predictor.vocab), predictor.sizes["top_k"])
    fake = type(predictor)(Bundle.open(tutorial_bundles["nextword"]), backend=engine)
    answers = fake.predict(["when forty"] * 640, k=3)  # 40 backend calls of 16 rows
    assert len(answers) == 640 and _Scores.peak <= 2


def test_15_one_input_line_gives_exactly_one_answer(tutorial_bundles, runner):
    text = "Give it\fto me\nno\x1c creo\u2028que\rsi\nla\x85 casa\r\n".encode()
    result = runner.invoke(main, ["langid", "--bundle", str(tutorial_bundles["langid"])], input=text)
    assert result.exit_code == 0 and len(result.output.splitlines()) == 3

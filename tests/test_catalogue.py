"""The catalogue of bad inputs: one table per kind, each case run through the Python API and
through the CLI, each asserting the exact outcome and that the CLI never shows a traceback."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, field

import pytest

from bowgram.runtime import BackendUnavailable, BundleError, InputError, load
from bowgram.runtime.bundle import sha256_of
from bowgram.runtime.cli import main

# ---------------------------------------------------------------- text given to the language identifier

BIG = "Give it to me " * 75_000  # ~1 MB on one line


@dataclass
class TextCase:
    id: str
    text: str
    expect: str  # "und", "label" (any known label), or a label name


TEXT_CASES = [
    TextCase("empty", "", "und"),
    TextCase("only-whitespace", " \t  ", "und"),
    TextCase("only-punctuation", "?!… — «»", "und"),
    TextCase("only-digits", "12 345 6789", "und"),
    TextCase("one-megabyte-line", BIG, "ENGLISH"),
    TextCase("nul-and-controls", "Give\x00 it\x07 to\x1b me", "ENGLISH"),
    TextCase("bom", "\ufeffGive it to me", "ENGLISH"),
    TextCase("mixed-scripts", "Give it to me Привет 你好", "ENGLISH"),
    TextCase("emoji-only", "😀🎉👍", "und"),
    TextCase("emoji-and-words", "Give it to me 😀", "ENGLISH"),
    TextCase("right-to-left-unknown-words", "שלום עולם مرحبا", "und"),  # no feature the model knows
    TextCase("right-to-left-mark", "\u200fGive it to me\u200f", "ENGLISH"),
    TextCase("lone-surrogate", "Give \ud800 it to me", "ENGLISH"),
    TextCase("tabs-inside", "Give\tit\tto\tme", "ENGLISH"),
]


def _check_answer(answer, expect, labels):
    label, prob = answer[0]
    assert 0.0 <= prob <= 1.0
    if expect == "label":
        assert label in labels
    else:
        assert label == expect


@pytest.mark.parametrize("case", TEXT_CASES, ids=lambda c: c.id)
def test_text_through_api(tutorial_bundles, case):
    identifier = load(tutorial_bundles["langid"])
    _check_answer(identifier.predict(case.text), case.expect, identifier.labels)


@pytest.mark.parametrize(
    "case", [c for c in TEXT_CASES if "\n" not in c.text and "\ud800" not in c.text], ids=lambda c: c.id
)
def test_text_through_cli(runner, tutorial_bundles, case):
    result = runner.invoke(
        main, ["langid", "--bundle", str(tutorial_bundles["langid"]), "--json"], input=case.text.encode("utf-8") + b"\n"
    )
    assert result.exit_code == 0 and "Traceback" not in result.output
    rows = [json.loads(line) for line in result.output.splitlines()]
    assert len(rows) == 1
    answer = [(p["label"], p["prob"]) for p in rows[0]["predictions"]]
    _check_answer(answer, case.expect, ["ENGLISH", "SPANISH"])


def test_combining_and_precomposed_forms_give_identical_ids(tutorial_bundles):
    identifier = load(tutorial_bundles["langid"])
    assert identifier.input_ids("cafe\u0301 idea") == identifier.input_ids("café idea")


def test_hundred_thousand_lines_on_stdin(runner, tutorial_bundles):
    lines = ["Give it to me", "no creo", ""] * 33_334
    result = runner.invoke(
        main, ["langid", "--bundle", str(tutorial_bundles["langid"])], input=("\n".join(lines) + "\n").encode()
    )
    out = result.output.splitlines()
    assert result.exit_code == 0 and len(out) == len(lines)
    assert [o.split()[0] for o in out[:3]] == ["ENGLISH", "SPANISH", "und"]


def test_crlf_input_file_reads_like_lf(runner, tutorial_bundles, tmp_path):
    crlf, lf = tmp_path / "crlf.txt", tmp_path / "lf.txt"
    crlf.write_bytes(b"Give it to me\r\nno creo\r\n")
    lf.write_bytes(b"Give it to me\nno creo\n")
    args = ["langid", "--bundle", str(tutorial_bundles["langid"]), "--json", "--input"]
    assert (
        runner.invoke(main, args + [str(crlf)]).output.replace("\r", "") == runner.invoke(main, args + [str(lf)]).output
    )


@pytest.mark.parametrize("where", ["stdin", "input-file"])
def test_invalid_utf8_is_rejected_with_exit_2(runner, tutorial_bundles, tmp_path, where):
    raw = b"Give it\n to \xff\xfe me\n"
    args = ["langid", "--bundle", str(tutorial_bundles["langid"])]
    if where == "input-file":
        (tmp_path / "bad.txt").write_bytes(raw)
        result = runner.invoke(main, args + ["--input", str(tmp_path / "bad.txt")])
    else:
        result = runner.invoke(main, args, input=raw)
    assert result.exit_code == 2 and "line 2: not valid UTF-8" in result.output
    assert "Traceback" not in result.output


# ---------------------------------------------------------------- next-word arguments


@dataclass
class NextWordCase:
    id: str
    call: str  # "predict" or "generate"
    kwargs: dict
    cli: list
    expect: object  # an exception class, or a callable that checks the answer


def _all_words(answer):
    return len(answer) > 0 and not {"<s>", "</s>", "<unk>"} & {w for w, _ in answer}


NEXTWORD_CASES = [
    NextWordCase(
        "empty-context", "predict", {"contexts": "", "k": 3}, ["next-word", "-k", "3", ""], lambda a: len(a) == 3
    ),
    NextWordCase(
        "unknown-words-only",
        "predict",
        {"contexts": "qwerty zxcvb", "k": 3},
        ["next-word", "-k", "3", "qwerty zxcvb"],
        lambda a: len(a) == 3,
    ),
    NextWordCase(
        "k-larger-than-vocab",
        "predict",
        {"contexts": "when", "k": 10**6},
        ["next-word", "-k", "1000000", "when"],
        _all_words,
    ),
    NextWordCase("k-zero", "predict", {"contexts": "when", "k": 0}, ["next-word", "-k", "0", "when"], InputError),
    NextWordCase("k-negative", "predict", {"contexts": "when", "k": -2}, ["next-word", "-k", "-2", "when"], InputError),
    NextWordCase(
        "prefix-matches-nothing",
        "predict",
        {"contexts": "when", "prefix": "qqq"},
        ["next-word", "--prefix", "qqq", "when"],
        lambda a: a == [],
    ),
    NextWordCase(
        "temperature-zero",
        "generate",
        {"context": "when", "temperature": 0},
        ["generate", "when", "--temperature", "0"],
        InputError,
    ),
    NextWordCase(
        "temperature-negative",
        "generate",
        {"context": "when", "temperature": -1},
        ["generate", "when", "--temperature", "-1"],
        InputError,
    ),
    NextWordCase(
        "n-huge", "generate", {"context": "when", "n": 10**9}, ["generate", "when", "-n", "1000000000"], InputError
    ),
    NextWordCase(
        "top-k-zero", "generate", {"context": "when", "top_k": 0}, ["generate", "when", "--top-k", "0"], InputError
    ),
]


@pytest.mark.parametrize("case", NEXTWORD_CASES, ids=lambda c: c.id)
def test_next_word_through_api_and_cli(runner, tutorial_bundles, case):
    predictor = load(tutorial_bundles["nextword"])
    call = getattr(predictor, case.call)
    result = runner.invoke(main, case.cli[:1] + ["--bundle", str(tutorial_bundles["nextword"])] + case.cli[1:])
    assert "Traceback" not in result.output
    if isinstance(case.expect, type):
        with pytest.raises(case.expect):
            call(**case.kwargs)
        assert result.exit_code == 2, result.output
    else:
        assert case.expect(call(**case.kwargs))
        assert result.exit_code == 0, result.output


# ---------------------------------------------------------------- damaged bundles


def _rewrite_manifest(path, change):
    data = json.loads((path / "manifest.json").read_text())
    change(data)
    (path / "manifest.json").write_text(json.dumps(data))


def _refresh_checksum(path, name):
    def fix(data):
        for a in data["artifacts"]:
            if a["path"] == name:
                a["sha256"], a["size"] = sha256_of(path / name), (path / name).stat().st_size

    _rewrite_manifest(path, fix)


def _flip(path, name):
    data = bytearray((path / name).read_bytes())
    data[len(data) // 3] ^= 0x55
    (path / name).write_bytes(bytes(data))


def _shrink_vocab(path, name="vocab.json"):
    vocab = json.loads((path / name).read_text())
    vocab.popitem()
    (path / name).write_text(json.dumps(vocab))
    _refresh_checksum(path, name)


def _symlink_out(path, name="model.onnx"):
    outside = path.parent / "outside.onnx"
    shutil.copy(path / name, outside)
    (path / name).unlink()
    os.symlink(outside, path / name)


@dataclass
class BundleCase:
    id: str
    damage: object  # callable(path) -> None
    error: type = BundleError
    code: int = 3
    message: str = ""
    task: str = "langid"
    backend: str = "onnx"
    command: list = field(default_factory=lambda: ["langid", "hola"])


BUNDLE_CASES = [
    BundleCase("missing-directory", lambda p: shutil.rmtree(p), message="bundle not found"),
    BundleCase("missing-manifest", lambda p: (p / "manifest.json").unlink(), message="no manifest.json"),
    BundleCase("missing-vocab", lambda p: (p / "vocab.json").unlink(), message="missing vocab.json"),
    BundleCase("missing-model", lambda p: (p / "model.onnx").unlink(), message="missing model.onnx"),
    BundleCase("manifest-not-json", lambda p: (p / "manifest.json").write_text("{oops"), message="not valid JSON"),
    BundleCase(
        "manifest-missing-field", lambda p: _rewrite_manifest(p, lambda d: d.pop("signature")), message="'signature'"
    ),
    BundleCase(
        "newer-format-version",
        lambda p: _rewrite_manifest(p, lambda d: d.update(format_version=7)),
        message="format_version 7 is newer",
    ),
    BundleCase("wrong-task", lambda p: None, task="nextword", command=["langid", "hola"], message="'nextword' bundle"),
    BundleCase("flipped-byte-onnx", lambda p: _flip(p, "model.onnx"), message="sha256"),
    BundleCase(
        "flipped-byte-torchscript", lambda p: _flip(p, "model.torchscript.pt"), backend="torchscript", message="sha256"
    ),
    BundleCase(
        "truncated-model",
        lambda p: (p / "model.onnx").write_bytes((p / "model.onnx").read_bytes()[:500]),
        message="sha256",
    ),
    BundleCase("vocab-disagrees-with-model", _shrink_vocab, message="do not match the model"),
    BundleCase(
        "nextword-vocab-disagrees", _shrink_vocab, task="nextword", command=["next-word", "when"], message="expects"
    ),
    BundleCase("symlink-outside", _symlink_out, message="outside the bundle"),
    BundleCase(
        "unknown-backend", lambda p: None, backend="tflite", error=BackendUnavailable, code=4, message="known backends"
    ),
]


@pytest.mark.parametrize("case", BUNDLE_CASES, ids=lambda c: c.id)
def test_damaged_bundles_through_api_and_cli(runner, tutorial_bundles, tmp_path, case):
    source = "nextword" if case.id.startswith("nextword") or case.id == "wrong-task" else "langid"
    path = tmp_path / "bundle"
    shutil.copytree(tutorial_bundles[source], path)
    case.damage(path)
    expected_task = "nextword" if case.id.startswith("nextword") else "langid"
    with pytest.raises(case.error, match=case.message):
        load(path, task=expected_task, backend=case.backend)
    result = runner.invoke(
        main, case.command[:1] + ["--bundle", str(path), "--backend", case.backend] + case.command[1:]
    )
    assert result.exit_code == case.code, result.output
    assert case.message in result.output and "Traceback" not in result.output


def test_torchscript_bundle_without_torch_exits_4(tutorial_bundles):
    code = (
        "import sys; sys.modules['torch'] = None\n"
        "from bowgram.runtime.cli import main\n"
        "main(['langid', '--bundle', sys.argv[1], '--backend', 'torchscript', 'hola'])"
    )
    proc = subprocess.run([sys.executable, "-c", code, str(tutorial_bundles["langid"])], capture_output=True, text=True)
    assert proc.returncode == 4
    assert "bowgram[torch]" in proc.stderr and "Traceback" not in proc.stderr


def test_train_without_torch_names_the_export_extra():
    code = (
        "import sys; sys.modules['torch'] = None\n"
        "from bowgram.runtime.cli import main\n"
        "main(['train', 'langid', '--data', 'tutorial', '--out', '/tmp/never'])"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 4 and "bowgram[export]" in proc.stderr and "Traceback" not in proc.stderr


# ---------------------------------------------------------------- training data


@dataclass
class DataCase:
    id: str
    task: str
    content: bytes
    message: str


DATA_CASES = [
    DataCase("empty-file", "langid", b"", "no labelled lines"),
    DataCase("tsv-line-without-tab", "langid", b"en\tHello there\nthis line has no tab\n", ":2: no tab"),
    DataCase("label-with-spaces", "langid", b"en us\tHello there\n", "bad label"),
    DataCase("not-utf8", "langid", b"fr\tcaf\xe9 cr\xe8me\n", "not valid UTF-8"),
    DataCase("one-label-only", "langid", b"en\tHello\nen\tWorld\n", "two different labels"),
    DataCase("too-small-for-context", "nextword", b"hello\n", "too little text"),
    DataCase("nextword-not-utf8", "nextword", b"\xff\xfe\x00h\x00i", "not valid UTF-8"),
]


@pytest.mark.parametrize("case", DATA_CASES, ids=lambda c: c.id)
def test_bad_training_data_fails_before_training(runner, tmp_path, case):
    pytest.importorskip("torch")
    from bowgram.export.build import config_for, train_and_export

    data = tmp_path / "data.txt"
    data.write_bytes(case.content)
    out = tmp_path / "out"
    with pytest.raises(InputError, match=case.message):
        train_and_export(case.task, str(data), out, config_for(case.task, str(data), {}, {"quiet": True}))
    result = runner.invoke(main, ["train", case.task, "--data", str(data), "--out", str(out), "--quiet"])
    assert result.exit_code == 2 and case.message in result.output and "Traceback" not in result.output
    assert not out.exists()


def test_missing_training_file_exits_2(runner, tmp_path):
    result = runner.invoke(
        main, ["train", "langid", "--data", str(tmp_path / "nope.tsv"), "--out", str(tmp_path / "o")]
    )
    assert result.exit_code == 2 and "data file not found" in result.output


def test_out_that_is_not_a_bundle_is_never_replaced(runner, tmp_path):
    pytest.importorskip("torch")
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "thesis.txt").write_text("do not delete")
    result = runner.invoke(main, ["train", "langid", "--data", "tutorial", "--out", str(precious), "--quiet"])
    assert result.exit_code == 2 and "refusing to replace" in result.output
    assert (precious / "thesis.txt").read_text() == "do not delete"

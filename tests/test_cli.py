"""Every command through click's CliRunner: output, --json, stdin, and exit codes."""

from __future__ import annotations

import json
import shutil

import pytest

from bowgram.runtime.cli import main


def run(runner, *args, input=None):
    return runner.invoke(main, [str(a) for a in args], input=input)


def test_langid_text_and_json(runner, tutorial_bundles):
    result = run(runner, "langid", "--bundle", tutorial_bundles["langid"], "Yo creo que si", "it is lost on me")
    assert result.exit_code == 0, result.output
    assert [line.split()[0] for line in result.output.splitlines()] == ["SPANISH", "ENGLISH"]
    result = run(runner, "langid", "--bundle", tutorial_bundles["langid"], "--json", "-k", "2", "Give it to me")
    row = json.loads(result.output)
    assert row["text"] == "Give it to me" and len(row["predictions"]) == 2
    assert sum(p["prob"] for p in row["predictions"]) <= 1 + 1e-6


def test_langid_reads_stdin_one_text_per_line(runner, tutorial_bundles):
    result = run(runner, "langid", "--bundle", tutorial_bundles["langid"], "--json", input="Give it to me\n\nno creo\n")
    rows = [json.loads(line) for line in result.output.splitlines()]
    assert [r["predictions"][0]["label"] for r in rows] == ["ENGLISH", "und", "SPANISH"]


def test_langid_input_file_and_only(runner, tutorial_bundles, tmp_path):
    path = tmp_path / "in.txt"
    path.write_text("Yo creo que si\n", encoding="utf-8")
    result = run(runner, "langid", "--bundle", tutorial_bundles["langid"], "--input", path, "--only", "ENGLISH")
    assert result.exit_code == 0 and result.output.startswith("ENGLISH 1.0000")


def test_invalid_utf8_on_stdin_exits_2(runner, tutorial_bundles):
    result = runner.invoke(main, ["langid", "--bundle", str(tutorial_bundles["langid"])], input=b"caf\xe9\n")
    assert result.exit_code == 2 and "line 1: not valid UTF-8" in result.output


def test_next_word_and_generate(runner, tutorial_bundles):
    b = tutorial_bundles["nextword"]
    result = run(runner, "next-word", "--bundle", b, "-k", "3", "--json", "When forty")
    assert len(json.loads(result.output)["predictions"]) == 3
    result = run(runner, "next-word", "--bundle", b, "--prefix", "w", "When forty")
    assert result.exit_code == 0 and all(w.split()[0].startswith("w") for w in result.output.split("\t"))
    first = run(runner, "generate", "--bundle", b, "When forty", "-n", "8", "--seed", "1")
    second = run(runner, "generate", "--bundle", b, "When forty", "-n", "8", "--seed", "1")
    assert first.exit_code == 0 and first.output == second.output and first.output.startswith("When forty")


def test_eval_json_for_both_tasks(runner, tutorial_bundles, tmp_path):
    tsv = tmp_path / "dev.tsv"
    tsv.write_text("SPANISH\tYo creo que si\n__label__ENGLISH it is lost on me\n", encoding="utf-8")
    m = json.loads(run(runner, "eval", tutorial_bundles["langid"], "--data", tsv, "--json").output)
    assert (m["accuracy"], m["n"], m["covered"]) == (1.0, 2, 2)
    txt = tmp_path / "valid.txt"
    txt.write_text("When forty winters shall besiege thy brow,\n", encoding="utf-8")
    m = json.loads(run(runner, "eval", tutorial_bundles["nextword"], "--data", txt, "--json").output)
    assert {"perplexity", "top1", "top5", "tokens", "oov_rate"} <= set(m) and m["tokens"] == 9
    human = run(runner, "eval", tutorial_bundles["langid"], "--data", tsv)
    assert "accuracy     1.0000" in human.output


def test_info_verify_backends(runner, tutorial_bundles):
    result = run(runner, "info", tutorial_bundles["langid"])
    assert result.exit_code == 0 and "task:        langid" in result.output and "model.onnx" in result.output
    assert json.loads(run(runner, "info", tutorial_bundles["langid"], "--json").output)["task"] == "langid"
    result = run(runner, "verify", tutorial_bundles["nextword"])
    assert result.exit_code == 0 and "onnx: 24 test vectors reproduce" in result.output
    rows = json.loads(run(runner, "backends", "--json").output)
    assert {r["name"] for r in rows} >= {"onnx", "torchscript"}
    assert "onnx" in run(runner, "backends").output


@pytest.mark.parametrize(
    "args, code, message",
    [
        (["langid", "--bundle", "/nonexistent", "hi"], 3, "bundle not found"),
        (["langid", "--backend", "tflite", "--bundle", "{langid}", "hi"], 4, "known backends: onnx"),
        (["next-word", "--bundle", "{langid}", "hi"], 3, "'langid' bundle"),
        (["generate", "--bundle", "{nextword}", "hi", "--temperature", "0"], 2, "temperature must be > 0"),
        (["langid", "--bundle", "{langid}", "--input", "/nonexistent.txt"], 2, "cannot read --input"),
        (["eval", "{langid}", "--data", "/nonexistent.tsv"], 2, "data file not found"),
        (["langid", "-k", "0", "hi"], 2, "Invalid value"),
    ],
    ids=["missing-bundle", "unknown-backend", "wrong-task", "temperature-0", "missing-input", "missing-data", "k-0"],
)
def test_errors_exit_with_their_code_and_no_traceback(runner, tutorial_bundles, args, code, message):
    args = [a.format(**{k: str(v) for k, v in tutorial_bundles.items()}) for a in args]
    result = runner.invoke(main, args)
    assert result.exit_code == code, result.output
    assert message in result.output and "Traceback" not in result.output


def test_verify_flipped_byte_exits_3(runner, bundle_copy):
    path = bundle_copy("langid")
    data = bytearray((path / "model.onnx").read_bytes())
    data[100] ^= 1
    (path / "model.onnx").write_bytes(bytes(data))
    result = run(runner, "verify", path)
    assert result.exit_code == 3 and "sha256" in result.output


def test_train_tutorial_through_the_cli(runner, tmp_path):
    pytest.importorskip("torch")
    out = tmp_path / "lid"
    result = run(runner, "train", "langid", "--data", "tutorial", "--out", out, "--quiet")
    assert result.exit_code == 0, result.output
    assert (out / "model.onnx").is_file() and run(runner, "verify", out).exit_code == 0


def test_version_and_help(runner):
    assert "bowgram, version" in run(runner, "--version").output
    for command in ("langid", "next-word", "generate", "eval", "info", "verify", "backends"):
        assert "Example: bowgram" in run(runner, command, "--help").output
    pytest.importorskip("torch")
    for command in (["train", "langid"], ["train", "nextword"], ["build"]):
        assert "Example: bowgram" in run(runner, *command, "--help").output


def _imported_by(args: list[str], modules: tuple[str, ...]) -> tuple[str, list[str]]:
    """(what `bowgram ARGS` prints, which of `modules` it imported), in a fresh interpreter."""
    import ast
    import subprocess
    import sys

    code = (
        "import sys\nfrom bowgram.runtime.cli import main\n"
        f"try:\n    main({args!r})\nexcept SystemExit:\n    pass\n"
        f"print(sorted(m for m in {modules!r} if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60).stdout
    printed, _, imported = out.rstrip().rpartition("\n")
    return printed, ast.literal_eval(imported)


@pytest.mark.parametrize("args", [["--help"], ["train", "--help"], ["train", "langid", "--help"], ["build", "--help"]])
def test_help_lists_commands_without_importing_torch(args):
    """Help and argument checks stay fast: torch is imported only when training starts."""
    printed, imported = _imported_by(args, ("torch",))
    assert imported == [] and "Usage:" in printed


@pytest.mark.parametrize("args", [["--help"], ["--version"], ["langid", "--help"]])
def test_help_imports_neither_numpy_nor_onnxruntime(args):
    """`bowgram --help` loads no model, so it pays for no model library (numpy was 0.2 s of 0.3 s)."""
    printed, imported = _imported_by(args, ("numpy", "onnxruntime", "torch"))
    assert imported == [] and printed


def test_train_help_shows_defaults(runner):
    result = runner.invoke(main, ["train", "langid", "--help"])
    for option in ("--epochs", "--batch-size", "--lr", "--dim", "--buckets", "--max-n", "--seed"):
        line = next(line for line in result.output.splitlines() if line.strip().startswith(option))
        block = result.output[result.output.index(line) :].split("\n  --")[0]
        assert "default" in block, option


def test_und_shows_the_best_guess_not_one_minus_it(runner):
    """Below --threshold: `und (label p)`, and JSON keeps the candidates after "und"."""
    from bowgram.runtime import load

    (label, p), *_ = load(task="langid").predict("ok")
    result = runner.invoke(main, ["langid", "--threshold", "0.99", "ok", "12345"])
    assert result.output.splitlines() == [f"und ({label} {p:.4f})", "und 1.0000"]
    row = json.loads(runner.invoke(main, ["langid", "--threshold", "0.99", "--json", "-k", "2", "ok"]).output)
    assert [x["label"] for x in row["predictions"]][:2] == ["und", label] and len(row["predictions"]) == 3


def test_info_verify_and_eval_take_a_task_name(runner, tutorial_bundles, tmp_path, monkeypatch):
    """A task's name means its default bundle (as load(task=...)), unless a folder of that name is here."""
    monkeypatch.chdir(tmp_path)
    info = run(runner, "info", "langid")
    assert info.exit_code == 0 and "task:        langid" in info.output
    assert "data:        Common Voice + Tatoeba sentences: 330,939 rows" in info.output  # not a Python repr
    assert "[{" not in info.output
    assert run(runner, "verify", "nextword").output.rstrip().endswith("OK")
    shutil.copytree(tutorial_bundles["langid"], tmp_path / "langid")  # a folder named like the task wins
    assert "dim=8," in run(runner, "info", "langid").output  # the tutorial's model, not the default (dim 32)


def test_eval_refuses_an_empty_text_and_warns_when_most_words_are_unknown(runner, tutorial_bundles, tmp_path):
    empty, unknown = tmp_path / "empty.txt", tmp_path / "unknown.txt"
    empty.write_text("\n\n", encoding="utf-8")
    unknown.write_text("zzqx qqzx wwzq xxqz vvqz\n", encoding="utf-8")
    result = run(runner, "eval", tutorial_bundles["nextword"], "--data", empty)
    assert result.exit_code == 2 and "no words to measure" in result.output and "nan" not in result.output
    result = run(runner, "eval", tutorial_bundles["nextword"], "--data", unknown)
    assert result.exit_code == 0 and "not in the model's vocabulary" in result.output


def test_train_writes_only_the_formats_asked_for(runner, tmp_path):
    pytest.importorskip("torch")
    out = tmp_path / "lid"
    result = run(runner, "train", "langid", "--data", "tutorial", "--out", out, "--formats", "onnx", "--quiet")
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.glob("model*")) == ["model.onnx"]
    validation = json.loads((out / "manifest.json").read_text())["validation"]
    assert validation["pt2"] == {"skipped": "not asked for (--formats)"} and "onnx-int8" not in validation
    assert run(runner, "verify", out).exit_code == 0
    refused = run(runner, "train", "langid", "--data", "tutorial", "--out", tmp_path / "x", "--formats", "onnx,coreml")
    assert refused.exit_code == 2 and "unknown format(s) coreml" in refused.output and not (tmp_path / "x").exists()

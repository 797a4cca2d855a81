"""The task registry: every task complete, no task branching elsewhere, the contract checked,
format 1 bundles still read, and the exporter's straight line (each file loaded at most twice)."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from bowgram.runtime import BundleError, load, tasks
from bowgram.runtime.contract import Contract
from bowgram.runtime.tasks import Predictor
from bowgram.runtime.tokenizer import LEGACY_PATTERN
from bowgram.runtime.verify import verify_bundle

ROOT = Path(__file__).resolve().parents[1]
BUNDLES = Path(__file__).resolve().parent / "bundles"
TASK_MODULES = {
    "runtime/tasks/langid.py",
    "runtime/tasks/nextword.py",
    "export/langid_training.py",
    "export/nextword_training.py",
}


def test_no_code_outside_the_task_modules_branches_on_a_task():
    pattern = re.compile(r"""task\s*==|[!=]=\s*["'](""" + "|".join(tasks.names()) + r""")["']""")
    found = [
        f"{path.relative_to(ROOT)}:{n}: {line.strip()}"
        for folder in ("runtime", "export")
        for path in sorted((ROOT / folder).rglob("*.py"))
        if str(path.relative_to(ROOT)) not in TASK_MODULES
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if pattern.search(line)
    ]
    assert found == []


@pytest.mark.parametrize("name", tasks.names())
def test_every_task_has_every_part(name):
    task = tasks.get(name)
    assert task.name == name
    assert issubclass(task.predictor, Predictor) and task.predictor.task == name
    assert isinstance(task.contract, Contract) and task.contract.inputs and task.contract.outputs
    assert callable(task.evaluate) and callable(task.metrics_table) and task.data_help
    assert (BUNDLES / name / "manifest.json").is_file(), "rebuild the test bundles: python tests/bundles/rebuild.py"
    module, _, attribute = task.trainer.partition(":")
    assert module.startswith("bowgram.export.") and attribute


@pytest.mark.parametrize("name", tasks.names())
def test_every_task_has_a_training_half(name):
    pytest.importorskip("torch")
    from bowgram.export import training

    half = training.get(name)
    assert half.task == name and callable(half.train) and half.default.train and half.tutorial.train


@pytest.mark.parametrize("name", tasks.names())
def test_round_trip_train_export_load_verify(trained_bundles, name):
    """Train tiny → export → every backend reproduces the vectors; and the committed test bundle
    is what the current code builds (same answers)."""
    report = verify_bundle(trained_bundles[name], trust=True)
    assert {"onnx", "onnx-int8", "pt2", "torchscript"} <= set(report["backends"])
    assert all(r["examples"] > 0 for r in report["backends"].values())
    texts = ["Yo creo que si", "it is lost on me", "When forty winters", "thy beauty's", ""]
    fresh, committed = load(trained_bundles[name]), load(BUNDLES / name)
    assert [fresh.input_ids(t) for t in texts] == [committed.input_ids(t) for t in texts]
    for a, b in zip(fresh.predict(texts, k=2), committed.predict(texts, k=2)):
        assert [x[0] for x in a] == [x[0] for x in b]
        assert [x[1] for x in a] == pytest.approx([x[1] for x in b], abs=1e-6)


def test_export_loads_each_file_at_most_twice_and_writes_the_manifest_once(monkeypatch, tmp_path):
    pytest.importorskip("torch")
    from bowgram.export.build import config_for, train_and_export
    from bowgram.runtime.backends.onnx import OnnxBackend
    from bowgram.runtime.backends.torchscript import TorchScriptBackend
    from bowgram.runtime.bundle_writer import BundleWriter

    loads: dict[str, int] = {}
    manifests = []
    for cls in (OnnxBackend, TorchScriptBackend):  # pt2 inherits TorchScriptBackend's __init__
        original = cls.__init__

        def counted(self, path, *args, _original=original, **kwargs):
            loads[path.name] = loads.get(path.name, 0) + 1
            _original(self, path, *args, **kwargs)

        monkeypatch.setattr(cls, "__init__", counted)
    write_manifest = BundleWriter.write_manifest
    monkeypatch.setattr(
        BundleWriter, "write_manifest", lambda self, **f: manifests.append(1) or write_manifest(self, **f)
    )
    train_and_export("langid", "tutorial", tmp_path / "b", config_for("langid", "tutorial", {}, {"quiet": True}))
    assert set(loads) == {"model.onnx", "model.int8.onnx", "model.pt2", "model.torchscript.pt"}
    assert max(loads.values()) <= 2, loads
    assert len(manifests) == 1


def _signature(path: Path) -> dict:
    return json.loads((path / "manifest.json").read_text())["signature"]


def test_the_contract_reads_sizes_and_refuses_a_different_signature(tutorial_bundles):
    contract = tasks.get("nextword").contract
    sizes = contract.sizes(_signature(tutorial_bundles["nextword"]))
    assert sizes["context"] == 2 and sizes["top_k"] == 16 and sizes["vocab"] > 16
    assert contract.signature(sizes) == _signature(tutorial_bundles["nextword"])
    renamed = _signature(tutorial_bundles["nextword"])
    renamed["outputs"][2]["name"] = "best_ids"
    with pytest.raises(BundleError, match="best_ids.*top_ids"):
        contract.sizes(renamed)
    retyped = _signature(tutorial_bundles["langid"])
    retyped["inputs"][0]["dtype"] = "int32"
    with pytest.raises(BundleError, match="'input_ids' is int32"):
        tasks.get("langid").contract.sizes(retyped)
    fixed = _signature(tutorial_bundles["langid"])
    fixed["inputs"][0]["shape"] = ["batch", 7]
    with pytest.raises(BundleError, match="'tokens'.*dynamic"):
        tasks.get("langid").contract.sizes(fixed)


def _rewrite(path: Path, change) -> None:
    data = json.loads((path / "manifest.json").read_text())
    change(data)
    (path / "manifest.json").write_text(json.dumps(data))


def _as_format_1(data: dict) -> None:
    """What a bowgram of format 1 wrote: fields that formats 2 and 3 dropped or spelled differently."""
    data["format_version"] = 1
    if data["task"] == "langid":
        data["featurizer"]["boundary_codepoint"] = 32
    else:
        tokenizer = data["featurizer"]
        tokenizer.update(bos="<s>", eos="</s>", unk="<unk>", apostrophes="\u2019\u2018\u02bc -> '")
        tokenizer.update(pattern=LEGACY_PATTERN, lowercase=tokenizer.pop("casefold"), sequences="paragraphs")
        del tokenizer["unicode_version"]


@pytest.mark.parametrize("task, text", [("langid", "Yo creo que si"), ("nextword", "Thy youth\u2019s proud")])
def test_format_1_bundles_still_load_and_answer_alike(bundle_copy, tutorial_bundles, task, text):
    path = bundle_copy(task)
    _rewrite(path, _as_format_1)
    old, new = load(path), load(tutorial_bundles[task])
    assert old.bundle.manifest.format_version == 1
    assert old.input_ids(text) == new.input_ids(text) and old.predict(text) == new.predict(text)


@pytest.mark.parametrize("task", ["langid", "nextword"])
def test_format_2_refuses_a_featurizer_field_it_would_ignore(bundle_copy, task):
    path = bundle_copy(task)
    _rewrite(path, lambda d: d["featurizer"].update(strip_accents=True))
    with pytest.raises(BundleError, match="unknown fields \\['strip_accents'\\]"):
        load(path)


def test_apostrophes_are_read_from_the_manifest(bundle_copy):
    path = bundle_copy("nextword")
    assert load(path).tokenizer.tokens("youth\u2019s") == ["youth's"]
    _rewrite(path, lambda d: d["featurizer"].update(apostrophes="\u2018"))
    assert load(path).tokenizer.tokens("youth\u2019s") == ["youth", "\u2019", "s"]


@pytest.mark.parametrize("name", tasks.names())
def test_a_built_bundle_carries_no_path_of_the_machine_that_built_it(trained_bundles, name):
    import sys
    import zipfile

    needles = [str(ROOT).encode(), sys.prefix.encode(), str(trained_bundles[name].parent).encode()]
    for path in trained_bundles[name].iterdir():
        blobs = [path.read_bytes()]
        if zipfile.is_zipfile(path):  # pt2 and TorchScript archives: their members too
            with zipfile.ZipFile(path) as archive:
                blobs += [archive.read(info) for info in archive.infolist()]
        assert not [n for n in needles for blob in blobs if n in blob], path.name


@pytest.mark.parametrize("name", tasks.names())
def test_torch_archives_are_written_compressed(trained_bundles, name):
    """torch writes its archives uncompressed; the exporter deflates every entry (verify, in
    test_round_trip_train_export_load_verify, loads them and reproduces the test vectors)."""
    import zipfile

    for file in ("model.pt2", "model.torchscript.pt"):
        with zipfile.ZipFile(trained_bundles[name] / file) as archive:
            infos = archive.infolist()
        assert infos and {i.compress_type for i in infos} == {zipfile.ZIP_DEFLATED}, file
        assert sum(i.compress_size for i in infos) < sum(i.file_size for i in infos), file


@pytest.mark.slow
@pytest.mark.parametrize("name", tasks.names())
def test_a_rebuild_is_the_same_bytes(trained_bundles, tmp_path, name):
    """Building again gives byte-identical files (ONNX, pt2, TorchScript, vocab, examples, report,
    plots), manifests that differ only in `created`, and over an unchanged bundle not even that:
    `bowgram build` in a clone leaves `git status` clean."""
    from bowgram.export.build import config_for, train_and_export

    first = trained_bundles[name]
    again = tmp_path / name
    train_and_export(name, "tutorial", again, config_for(name, "tutorial", {}, {"quiet": True}))
    for path in first.iterdir():
        if path.name != "manifest.json":
            assert path.read_bytes() == (again / path.name).read_bytes(), path.name
    a, b = (json.loads((p / "manifest.json").read_text()) for p in (first, again))
    assert {**a, "created": None} == {**b, "created": None}
    shutil.copytree(first, tmp_path / "copy")
    train_and_export(name, "tutorial", tmp_path / "copy", config_for(name, "tutorial", {}, {"quiet": True}))
    assert all(p.read_bytes() == (tmp_path / "copy" / p.name).read_bytes() for p in first.iterdir())

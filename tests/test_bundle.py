"""Bundle integrity: checksums, format version, missing pieces, paths outside the bundle."""

from __future__ import annotations

import importlib.util
import json
import os

import pytest

from bowgram.runtime import BundleError, VerificationError, load
from bowgram.runtime.bundle import Bundle
from bowgram.runtime.bundle_writer import BundleWriter
from bowgram.runtime.manifest import FORMAT_VERSION
from bowgram.runtime.verify import verify_bundle


def _edit_manifest(path, change):
    data = json.loads((path / "manifest.json").read_text())
    change(data)
    (path / "manifest.json").write_text(json.dumps(data))


def test_a_good_bundle_verifies_on_every_backend_installed(tutorial_bundles):
    torch_installed = importlib.util.find_spec("torch") is not None
    for task in ("langid", "nextword"):
        results = verify_bundle(tutorial_bundles[task], trust=True)["backends"]
        assert set(results) == {"onnx", "onnx-int8", "torchscript", "pt2"}
        for name, result in results.items():
            if name.startswith("onnx") or torch_installed:
                assert result["examples"] > 0, name
            else:
                assert "pip install" in result["skipped"] and "bowgram[torch]" in result["skipped"]


def test_formats_that_run_code_are_verified_only_when_trusted(tutorial_bundles):
    results = verify_bundle(tutorial_bundles["langid"])["backends"]
    assert results["onnx"]["examples"] > 0
    for fmt in ("pt2", "torchscript"):
        assert "can run code when loaded" in results[fmt]["skipped"]


def test_a_copy_without_the_torch_formats_still_verifies(bundle_copy):
    """The runtime wheel ships the default bundles without model.pt2 and model.torchscript.pt."""
    path = bundle_copy("langid")
    (path / "model.pt2").unlink()
    (path / "model.torchscript.pt").unlink()
    results = verify_bundle(path, trust=True)["backends"]
    assert results["onnx"]["examples"] > 0 and "not in this copy" in results["pt2"]["skipped"]
    assert load(path).predict("Give it to me")[0][0] == "ENGLISH"
    with pytest.raises(BundleError, match="missing model.pt2 .*optional"):
        load(path, backend="pt2")
    (path / "model.onnx").unlink()  # ONNX is not optional
    with pytest.raises(BundleError, match="missing model.onnx"):
        verify_bundle(path)


def test_manifest_records_what_the_brief_asks_for(tutorial_bundles):
    m = Bundle.open(tutorial_bundles["langid"]).manifest
    onnx = m.artifact("onnx")
    assert onnx.opset >= 17 and onnx.ir_version >= 8 and len(onnx.sha256) == 64
    assert {"bowgram", "torch", "onnx"} <= set(m.producer)
    assert m.signature["inputs"][0]["shape"] == ["batch", "tokens"]
    assert set(m.validation) == {"onnx", "onnx-int8", "torchscript", "pt2"}
    assert not any(p.name.endswith(".data") for p in tutorial_bundles["langid"].iterdir())


def test_stray_onnx_file_says_what_it_is(tutorial_bundles):
    onnx = pytest.importorskip("onnx")
    props = {p.key: p.value for p in onnx.load(str(tutorial_bundles["langid"] / "model.onnx")).metadata_props}
    assert json.loads(props["bowgram.task"]) == "langid"
    assert json.loads(props["bowgram.labels"]) == ["ENGLISH", "SPANISH"]


@pytest.mark.parametrize(
    "name, backend", [("model.onnx", "onnx"), ("model.torchscript.pt", "torchscript"), ("model.pt2", "pt2")]
)
def test_flipped_byte_is_refused_before_loading(bundle_copy, name, backend):
    path = bundle_copy("langid")
    data = bytearray((path / name).read_bytes())
    data[len(data) // 2] ^= 0xFF
    (path / name).write_bytes(bytes(data))
    with pytest.raises(BundleError, match="sha256"):
        load(path, backend=backend)
    with pytest.raises(BundleError, match="sha256"):
        verify_bundle(path)


def test_newer_format_version_names_both_versions(bundle_copy):
    path = bundle_copy("langid")
    _edit_manifest(path, lambda d: d.update(format_version=99))
    with pytest.raises(BundleError, match=rf"99.*newer.*\({FORMAT_VERSION}\)"):
        load(path)


@pytest.mark.parametrize("field", ["task", "artifacts", "signature", "featurizer"])
def test_missing_manifest_field_is_named(bundle_copy, field):
    path = bundle_copy("langid")
    _edit_manifest(path, lambda d: d.pop(field))
    with pytest.raises(BundleError, match=f"'{field}'"):
        load(path)


def test_wrong_task_is_refused(tutorial_bundles):
    with pytest.raises(BundleError, match="'nextword' bundle"):
        load(tutorial_bundles["nextword"], task="langid")


def test_missing_directory_and_manifest(tmp_path):
    with pytest.raises(BundleError, match="not found"):
        load(tmp_path / "nope")
    with pytest.raises(BundleError, match="no manifest.json"):
        load(tmp_path)


def test_symlink_leading_outside_is_refused(bundle_copy, tmp_path):
    path = bundle_copy("langid")
    outside = tmp_path / "elsewhere.onnx"
    outside.write_bytes((path / "model.onnx").read_bytes())
    (path / "model.onnx").unlink()
    os.symlink(outside, path / "model.onnx")
    with pytest.raises(BundleError, match="outside the bundle"):
        load(path, backend="onnx")


def test_stored_vectors_that_do_not_reproduce_fail_verification(bundle_copy):
    path = bundle_copy("langid")
    examples = json.loads((path / "examples.json").read_text())
    examples["examples"][0]["top"][0][2] -= 0.5
    (path / "examples.json").write_text(json.dumps(examples))
    from bowgram.runtime.bundle import sha256_of

    def fix(d):
        for a in d["artifacts"]:
            if a["path"] == "examples.json":
                a["sha256"], a["size"] = sha256_of(path / "examples.json"), (path / "examples.json").stat().st_size

    _edit_manifest(path, fix)
    with pytest.raises(VerificationError):
        verify_bundle(path)


def test_writer_leaves_nothing_behind_on_failure(tmp_path):
    out = tmp_path / "bundle"
    with pytest.raises(RuntimeError):
        with BundleWriter(out) as writer:
            writer.write_json("vocab.json", "vocab", {})
            raise RuntimeError("crash mid-export")
    assert list(tmp_path.iterdir()) == []


def test_writer_replaces_a_previous_bundle_whole(bundle_copy, tmp_path):
    out = bundle_copy("langid")
    with BundleWriter(out) as writer:
        writer.write_json("vocab.json", "vocab", {"x": 1})
        writer.write_manifest(task="langid", producer={}, model={}, featurizer={}, signature={})
        writer.commit()
    assert sorted(p.name for p in out.iterdir()) == ["manifest.json", "vocab.json"]
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_export_without_torchscript_still_writes_onnx_and_pt2(monkeypatch, tmp_path):
    pytest.importorskip("torch")
    from bowgram.export import serialize
    from bowgram.export.build import config_for, train_and_export

    def refuse(*args, **kwargs):
        raise RuntimeError("TorchScript is no longer supported")

    monkeypatch.setitem(serialize.SERIALIZERS, "torchscript", ("model.torchscript.pt", refuse))
    with pytest.warns(UserWarning, match="torchscript skipped"):
        manifest = train_and_export(
            "langid", "tutorial", tmp_path / "b", config_for("langid", "tutorial", {}, {"quiet": True})
        )
    assert {a["format"] for a in manifest["artifacts"]} >= {"onnx", "pt2"}
    assert "torchscript" not in {a["format"] for a in manifest["artifacts"]}
    assert "no longer supported" in manifest["validation"]["torchscript"]["skipped"]
    report = verify_bundle(tmp_path / "b", trust=True)
    assert "not in this bundle" in report["backends"]["torchscript"]["skipped"]

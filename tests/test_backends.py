"""The backend registry, and one conformance suite that every backend runs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from bowgram.runtime import BackendUnavailable, backends
from bowgram.runtime.bundle import Bundle


def test_builtins_are_registered_through_entry_points():
    assert {"onnx", "torchscript", "pt2"} <= set(backends.names())
    assert backends.get("onnx").format == "onnx"


def test_unknown_backend_lists_the_known_ones():
    with pytest.raises(BackendUnavailable, match=r"unknown backend 'tflite'.*onnx.*torchscript"):
        backends.get("tflite")


def test_auto_prefers_onnx():
    assert backends.choose("auto", ["onnx", "torchscript"]).name == "onnx"


def test_missing_library_names_the_extra(monkeypatch):
    cls = backends.get("torchscript")
    monkeypatch.setattr(cls, "module", "torch_that_is_not_installed")
    with pytest.raises(BackendUnavailable, match=r"pip install .*bowgram\[torch\]"):
        cls.require()


class BackendConformance:
    """Subclass with `backend_name` set: each backend must pass these in a few lines."""

    backend_name: str

    @pytest.fixture
    def engine(self, tutorial_bundles):
        bundle = Bundle.open(tutorial_bundles["langid"])
        cls = backends.get(self.backend_name)
        artifact = bundle.artifact(cls.format)
        return cls(bundle.path / artifact.path, bundle.manifest.signature, 1, data=bundle.read(artifact))

    def test_names_come_from_the_signature(self, engine):
        assert engine.input_names == ["input_ids"] and engine.output_names == ["log_probs"]

    def test_numpy_in_numpy_out_with_dynamic_batch_and_length(self, engine):
        for shape in [(1, 1), (3, 5), (2, 17)]:
            out = engine.run({"input_ids": np.ones(shape, dtype=np.int64)})["log_probs"]
            assert isinstance(out, np.ndarray) and out.shape == (shape[0], 2) and out.dtype == np.float32
            assert np.allclose(np.exp(out).sum(axis=1), 1.0, atol=1e-5)

    def test_padding_does_not_change_the_answer(self, engine):
        short = engine.run({"input_ids": np.array([[3, 4]], dtype=np.int64)})["log_probs"]
        padded = engine.run({"input_ids": np.array([[3, 4, 0, 0, 0]], dtype=np.int64)})["log_probs"]
        assert np.allclose(short, padded, atol=1e-6)


class TestOnnxBackend(BackendConformance):
    backend_name = "onnx"


class TestTorchScriptBackend(BackendConformance):
    backend_name = "torchscript"

    @pytest.fixture(autouse=True)
    def _needs_torch(self):
        pytest.importorskip("torch")


class TestPt2Backend(BackendConformance):
    backend_name = "pt2"

    @pytest.fixture(autouse=True)
    def _needs_torch(self):
        pytest.importorskip("torch")


@pytest.fixture
def numpy_plugin(tmp_path, monkeypatch):
    """Register examples/numpy_backend the way `pip install` would: a dist-info with its entry point."""
    root = Path(__file__).resolve().parents[1] / "examples" / "numpy_backend"
    info = tmp_path / "bowgram_numpy_backend-0.1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: bowgram-numpy-backend\nVersion: 0.1.0\n")
    (info / "entry_points.txt").write_text(
        "[bowgram.backends]\nnumpy-langid = bowgram_numpy_backend:NumpyLangidBackend\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.syspath_prepend(str(root))
    backends._entry_points.cache_clear()
    yield
    backends._entry_points.cache_clear()


class TestThirdPartyNumpyBackend(BackendConformance):
    """examples/numpy_backend, found through the entry-point group like any plugin."""

    backend_name = "numpy-langid"

    @pytest.fixture(autouse=True)
    def _registered(self, numpy_plugin):
        pytest.importorskip("onnx")

    def test_it_answers_like_onnxruntime(self, tutorial_bundles):
        from bowgram.runtime import load

        texts = ["Yo creo que si", "it is lost on me", "Give it to me"]
        ours = load(tutorial_bundles["langid"], backend="numpy-langid").predict(texts, k=2)
        reference = load(tutorial_bundles["langid"], backend="onnx").predict(texts, k=2)
        for a, b in zip(ours, reference):
            assert [x[0] for x in a] == [x[0] for x in b]
            assert np.allclose([x[1] for x in a], [x[1] for x in b], atol=1e-5)

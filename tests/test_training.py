"""Training pieces: bag-mode sums, weight averaging, float16 storage, averaged next-word models, the
optimizer, and what the language identifier's epoch is chosen on."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="training needs the [export] extra")

from bowgram.export.build import config_for, train_and_export  # noqa: E402
from bowgram.export.models import BowClassifier, Ensemble, NgramLM  # noqa: E402
from bowgram.export.train_config import TrainConfig  # noqa: E402
from bowgram.export.trainer import _adam, _update_average  # noqa: E402
from bowgram.runtime import load  # noqa: E402
from bowgram.runtime.featurizer import Features  # noqa: E402
from bowgram.runtime.padding import bags, pad  # noqa: E402


def test_bag_mode_gives_the_padded_sums():
    torch.manual_seed(0)
    model = BowClassifier(num_ids=50, num_labels=3, dim=4).eval()
    features = Features.from_csr(
        np.array([5, 7, 9, 1, 2, 3, 4, 8], dtype=np.int64), np.array([0, 3, 3, 8], dtype=np.int64)
    )
    rows = np.array([2, 0])  # the empty text is not asked for, as in training
    ids, offsets = bags(features, rows)
    assert ids.tolist() == [1, 2, 3, 4, 8, 5, 7, 9] and offsets.tolist() == [0, 5]
    padded = model(torch.from_numpy(pad(features, rows)))
    bagged = model(torch.from_numpy(ids), torch.from_numpy(offsets))
    assert torch.allclose(padded, bagged, atol=1e-6)


def test_bag_mode_gradient_is_embedding_bags_own():
    torch.manual_seed(0)
    model = BowClassifier(num_ids=20, num_labels=3, dim=4)
    ids = torch.tensor([5, 5, 7, 1, 7, 19, 3, 5])  # ids repeated within a bag and across bags
    offsets = torch.tensor([0, 3, 3, 6])  # the third bag is empty
    gold = torch.tensor([0, 2, 1, 2])
    torch.nn.functional.nll_loss(model(ids, offsets), gold).backward()
    ours = model.embedding.weight.grad.clone()
    model.zero_grad()
    pooled = torch.nn.functional.embedding_bag(ids, model.embedding.weight, offsets, mode="sum")
    torch.nn.functional.nll_loss(torch.log_softmax(model.output(pooled), -1), gold).backward()
    assert ours.abs().sum() > 0 and torch.allclose(ours, model.embedding.weight.grad, atol=1e-7)


def test_average_moves_toward_the_current_weights():
    kept, current = torch.nn.Linear(2, 1), torch.nn.Linear(2, 1)
    before = kept.weight.detach().clone()
    _update_average(kept, current, decay=0.75)
    assert torch.allclose(kept.weight, 0.75 * before + 0.25 * current.weight)


def test_ensemble_averages_probabilities_not_log_probabilities():
    torch.manual_seed(0)
    members = [NgramLM(12, 2, 4, 8).eval() for _ in range(3)]
    x = torch.tensor([[1, 2], [3, 0]])
    expected = torch.stack([m(x).exp() for m in members]).mean(0).log()
    assert torch.allclose(Ensemble(members)(x), expected, atol=1e-6)
    assert torch.allclose(Ensemble(members)(x).exp().sum(-1), torch.ones(2), atol=1e-5)


def test_float16_storage_still_computes_in_float32():
    torch.manual_seed(0)
    model = NgramLM(20, 3, 8, 16, tie=True).eval()
    x = torch.tensor([[1, 2, 3]])
    reference = model(x)
    model.half()
    out = model(x)
    assert out.dtype == torch.float32
    assert torch.allclose(out, reference, atol=1e-2) and not torch.equal(out, reference)


def test_averaged_float16_factored_nextword_bundle(tmp_path):
    """Two averaged class-factored models, their big matrices stored as float16, through the same
    export path as the default; the runtime finds their weights by name and searches them."""
    text = tmp_path / "lm.txt"
    words = "the cat sat on the mat and the dog sat on the log".split()
    text.write_text(
        "\n\n".join(" ".join(words[i:] + words[:i]) + " ." for i in range(len(words))) * 3, encoding="utf-8"
    )
    config = config_for(
        "nextword",
        str(text),
        {"members": 2, "fp16": True, "dim": 8, "hidden": 1400, "class_size": 4},  # hidden.weight: 33,600 values
        {"epochs": 2, "batch_size": 16, "quiet": True},
    )
    manifest = train_and_export("nextword", str(text), tmp_path / "lm", config)
    assert manifest["model"]["members"] == 2 and manifest["model"]["weights_dtype"] == "float16"
    assert manifest["model"]["architecture"] == "factored-ngram-lm"
    vocab = json.loads((tmp_path / "lm" / "vocab.json").read_text(encoding="utf-8"))
    assert manifest["model"]["classes"] == list(range(0, len(vocab), 4))  # runs of 4 consecutive ids
    assert [h["model"] for h in manifest["metrics"]["history"]] == [1, 1, 2, 2]
    assert len(manifest["metrics"]["best"]["models"]) == 2
    onnx = pytest.importorskip("onnx")
    stored = {
        init.name: (init.data_type, init.dims)
        for init in onnx.load(str(tmp_path / "lm" / "model.onnx")).graph.initializer
    }
    for member in (0, 1):  # big matrices float16, the rest float32; all under their own names
        assert stored[f"model.members.{member}.hidden.weight"][0] == onnx.TensorProto.FLOAT16
        for part in ("output.weight", "output.bias", "hidden.bias", "project.weight", "project.bias", "classes.weight"):
            assert stored[f"model.members.{member}.{part}"][0] == onnx.TensorProto.FLOAT
    searched = load(tmp_path / "lm", backend="onnx")
    assert searched.class_search() is not None  # named weights that reproduce the test vectors
    graph = load(tmp_path / "lm", backend="onnx")
    graph._search, graph._search_read = None, True
    for context in ("the cat", "sat on the", ""):
        a, b = searched.predict(context, k=5), graph.predict(context, k=5)
        assert np.allclose([p for _, p in a], [p for _, p in b], rtol=1e-4)
    for backend in ("onnx", "torchscript", "pt2"):
        predictor = load(tmp_path / "lm", backend=backend)
        probs = [p for _, p in predictor.predict("the cat", k=100)]
        assert 0.0 < sum(probs) <= 1.0 + 1e-5 and probs == sorted(probs, reverse=True)
    report = (tmp_path / "lm" / "report.md").read_text(encoding="utf-8")
    assert "averages 2 models" in report
    examples = json.loads((tmp_path / "lm" / "examples.json").read_text(encoding="utf-8"))
    assert examples["examples"] and math.isfinite(examples["examples"][0]["top"][0][2])


def test_adam_is_fused_where_torch_has_the_kernel_and_steps_as_plain_adam():
    torch.manual_seed(0)
    fused_model, plain_model = BowClassifier(100, 3, 4), BowClassifier(100, 3, 4)
    plain_model.load_state_dict(fused_model.state_dict())
    start = fused_model.embedding.weight.detach().clone()
    fused = _adam(list(fused_model.parameters()), TrainConfig(lr=0.01))
    plain = torch.optim.Adam(plain_model.parameters(), lr=0.01)
    assert fused.defaults["fused"]  # torch >= 2.4 has a CPU kernel: most of the language identifier's step time
    ids, offsets, gold = torch.tensor([3, 5, 7, 9, 11]), torch.tensor([0, 2]), torch.tensor([1, 2])
    for model, optimizer in ((fused_model, fused), (plain_model, plain)):
        for _ in range(3):
            optimizer.zero_grad()
            torch.nn.functional.nll_loss(model(ids, offsets), gold).backward()
            optimizer.step()
    for a, b in zip(fused_model.parameters(), plain_model.parameters()):
        assert torch.allclose(a, b, atol=1e-6)
    assert not torch.allclose(fused_model.embedding.weight, start)  # it did train


def test_the_epoch_is_chosen_on_the_served_answer_which_is_never_the_none_class():
    from bowgram.export.langid_training import accuracy
    from bowgram.runtime.featurizer import Featurizer, FeaturizerSpec

    class Fixed(torch.nn.Module):  # "none of these" most likely, the gold label next
        def forward(self, ids):
            return torch.log(torch.tensor([[0.6, 0.3, 0.1]])).repeat(len(ids), 1)

    featurizer = Featurizer(FeaturizerSpec(min_n=1, max_n=2, buckets=64), {})
    texts, cpu = ["hola amigo", "buenos dias"], torch.device("cpu")
    assert accuracy(Fixed(), featurizer, {"und": 0, "es": 1, "en": 2}, ["es", "es"], texts, cpu) == 1.0
    assert accuracy(Fixed(), featurizer, {"xx": 0, "es": 1, "en": 2}, ["es", "es"], texts, cpu) == 0.0

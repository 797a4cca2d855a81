"""The tutorial's two toys, reproduced: torch model and both exported backends agree."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch", reason="training needs the [export] extra")

from bowgram.export import langid_training, nextword_training  # noqa: E402
from bowgram.export.models import BowClassifier  # noqa: E402
from bowgram.export.trainer import seed_everything  # noqa: E402
from bowgram.export.tutorial import LANGID_TEST  # noqa: E402
from bowgram.runtime import load  # noqa: E402
from bowgram.runtime.padding import pad  # noqa: E402


def _creo_lean(model, vocab, labels) -> float:
    """How much the word 'creo' alone pushes toward SPANISH rather than ENGLISH."""
    with torch.no_grad():
        scores = model.output(model.embedding.weight[vocab["creo"]])
    return float(scores[labels.index("SPANISH")] - scores[labels.index("ENGLISH")])


@pytest.mark.slow
def test_langid_tutorial_classifies_both_test_sentences_everywhere(tutorial_bundles):
    result = langid_training.train("tutorial", langid_training.TUTORIAL)
    model, labels, vocab = result.model, result.data_files["labels.json"][1], result.data_files["vocab.json"][1]
    seed_everything(langid_training.TUTORIAL.train.seed)
    untrained = BowClassifier(len(vocab) + 1, len(labels), langid_training.TUTORIAL.dim)
    assert _creo_lean(model, vocab, labels) > _creo_lean(untrained, vocab, labels)

    texts, gold = [t for _, t in LANGID_TEST], [g for g, _ in LANGID_TEST]
    identifier = load(tutorial_bundles["langid"], backend="onnx")
    with torch.no_grad():
        torch_pred = model(torch.from_numpy(pad(identifier.featurizer(texts)))).argmax(1).tolist()
    assert [labels[i] for i in torch_pred] == gold
    for backend in ("onnx", "torchscript"):
        answers = load(tutorial_bundles["langid"], backend=backend).predict(texts)
        assert [a[0][0] for a in answers] == gold, backend


@pytest.mark.slow
def test_nextword_tutorial_loss_falls_every_epoch():
    result = nextword_training.train("tutorial", nextword_training.TUTORIAL)
    losses = [h["train_loss"] for h in result.metrics["history"]]
    assert len(losses) == 10
    assert all(later < earlier for earlier, later in zip(losses, losses[1:])), losses


@pytest.mark.parametrize("task", ["langid", "nextword"])
def test_backends_give_the_torch_models_predictions(tutorial_bundles, task):
    texts = ["Yo creo que si", "it is lost on me", "When forty winters", "thy beauty's"]
    answers = {b: load(tutorial_bundles[task], backend=b).predict(texts, k=2) for b in ("onnx", "torchscript")}
    for a, b in zip(answers["onnx"], answers["torchscript"]):
        assert [x[0] for x in a] == [x[0] for x in b]
        assert [x[1] for x in a] == pytest.approx([x[1] for x in b], abs=1e-5)

"""Task logic on top of any backend: und, thresholds, label restriction, prefixes, generation,
and the evaluation metrics on hand-checked data."""

from __future__ import annotations

import numpy as np
import pytest

from bowgram.runtime import InputError, load
from bowgram.runtime.bundle import Bundle
from bowgram.runtime.tasks import langid, nextword


@pytest.fixture(scope="module")
def identifier(tutorial_bundles):
    return load(tutorial_bundles["langid"])


@pytest.fixture(scope="module")
def predictor(tutorial_bundles):
    return load(tutorial_bundles["nextword"])


@pytest.mark.parametrize("text", ["", "   ", "123 !?", "😀"], ids=["empty", "spaces", "digits-punct", "emoji"])
def test_letter_free_input_is_undetermined(identifier, text):
    assert identifier.predict(text) == [("und", 1.0)]


def test_threshold_turns_a_weak_guess_into_und(identifier):
    best = identifier.predict("me gusta")[0]
    assert identifier.predict("me gusta", threshold=min(1.0, best[1] + 1e-6))[0][0] == "und"
    assert identifier.predict("me gusta", threshold=best[1] - 1e-6)[0] == best


def test_k_returns_probabilities_that_sum_to_at_most_one(identifier):
    (answer,) = identifier.predict(["Give it to me"], k=5)
    assert len(answer) == 2 and sum(p for _, p in answer) <= 1 + 1e-6


def test_restricting_labels_renormalizes(identifier):
    assert identifier.predict("Yo creo que si", k=2, languages=["ENGLISH"]) == [("ENGLISH", 1.0)]
    with pytest.raises(InputError, match="unknown language"):
        identifier.predict("hola", languages=["xx"])


def test_bad_arguments_are_input_errors(identifier):
    with pytest.raises(InputError):
        identifier.predict("hola", k=0)
    with pytest.raises(InputError):
        identifier.predict(b"hola")
    with pytest.raises(InputError):
        identifier.predict(["hola", 3])


def test_next_word_never_offers_special_tokens(predictor):
    words = [w for w, _ in predictor.predict("", k=len(predictor.vocab))]
    assert not {"<s>", "</s>", "<unk>"} & set(words)
    assert len(words) == len(predictor.vocab) - 3


def test_prefix_keeps_only_matching_words(predictor):
    answer = predictor.predict("when forty winters shall", k=5, prefix="th")
    assert answer and all(w.startswith("th") for w, _ in answer)
    assert predictor.predict("when", prefix="zzz") == []


def test_unknown_context_words_still_predict(predictor):
    assert len(predictor.predict("qwerty asdfgh", k=3)) == 3


def test_generation_is_reproducible_for_a_seed(predictor):
    first = predictor.generate("When forty", n=15, seed=7)
    assert first == predictor.generate("When forty", n=15, seed=7)
    assert first != predictor.generate("When forty", n=15, seed=8) or len(first) == 0
    with pytest.raises(InputError):
        predictor.generate("x", temperature=0)
    with pytest.raises(InputError):
        predictor.generate("x", n=10**6)


class UniformBackend:
    """A fake backend: every word equally likely, so perplexity must equal the vocab size."""

    input_names, output_names = ["input_ids"], ["log_probs"]

    def __init__(self, size):
        self.size = size

    def run(self, inputs):
        n = len(inputs["input_ids"])
        return {"log_probs": np.full((n, self.size), -np.log(self.size), dtype=np.float32)}


def test_perplexity_of_a_uniform_model_is_the_vocab_size(tutorial_bundles, tmp_path):
    vocab_size = len(load(tutorial_bundles["nextword"]).vocab)
    predictor = load(Bundle.open(tutorial_bundles["nextword"]), backend=UniformBackend(vocab_size))
    data = tmp_path / "valid.txt"
    data.write_text("When forty winters zzzz\n\nthy brow", encoding="utf-8")
    metrics = nextword.evaluate(predictor, data)
    assert metrics["tokens"] == 8  # 4 words + </s>, 2 words + </s>
    assert metrics["oov"] == 1 and metrics["oov_rate"] == pytest.approx(1 / 8)
    assert metrics["perplexity"] == pytest.approx(len(predictor.vocab), rel=1e-5)


def test_langid_metrics_on_a_hand_checked_file(identifier):
    gold = ["SPANISH", "ENGLISH", "SPANISH", "FRENCH"]
    texts = ["me gusta comer en la cafeteria", "Give it to me", "Give it to me", "bonjour"]
    m = langid.metrics_of(identifier, gold, texts)
    assert (m["n"], m["covered"], m["unknown_labels"]) == (4, 3, {"FRENCH": 1})
    assert m["accuracy"] == pytest.approx(2 / 3)
    # SPANISH: P=1/1 R=1/2 F1=2/3; ENGLISH: P=1/2 R=1/1 F1=2/3
    assert m["macro_f1"] == pytest.approx(2 / 3)
    assert m["confusions"] == [{"gold": "SPANISH", "predicted": "ENGLISH", "count": 1}]
    # false-positive rate: of the rows of other labels, the share called this one
    assert m["per_label"]["ENGLISH"]["false_positive_rate"] == pytest.approx(1 / 2)  # 1 of 2 Spanish rows
    assert m["per_label"]["SPANISH"]["false_positive_rate"] == 0.0


def test_graph_top_k_answers_like_a_full_sort(predictor):
    contexts = ["when forty winters", "thy beauty's", ""]
    fast = predictor.predict(contexts, k=5)  # from the graph's TopK output
    full = predictor.predict(contexts, k=20)  # too many for TopK: sorts the full log-probs
    for a, b in zip(fast, full):
        assert [w for w, _ in a] == [w for w, _ in b[:5]]
        assert np.allclose([p for _, p in a], [p for _, p in b[:5]], atol=1e-6)


@pytest.mark.parametrize("task", ["langid", "nextword"])
def test_int8_variant_loads_and_agrees_on_the_best_answer(tutorial_bundles, task):
    texts = ["Give it to me", "no creo que sea"] if task == "langid" else ["when forty winters", "thy"]
    fp32 = load(tutorial_bundles[task]).predict(texts)
    int8 = load(tutorial_bundles[task], precision="int8").predict(texts)
    assert [a[0][0] for a in fp32] == [a[0][0] for a in int8]


def test_backend_calls_stay_within_the_cell_budget(identifier):
    lengths = np.array([1] * 1000 + [300] * 70 + [50_000])
    counts = identifier._chunks(lengths)
    assert sum(counts) == len(lengths) and min(counts) >= 1
    start = 0
    for count in counts:
        widest = lengths[start + count - 1]
        assert count <= identifier.batch_size and (count * widest <= identifier.max_cells or count == 1)
        start += count


def test_batched_and_one_by_one_answers_agree(identifier):
    texts = ["Yo creo que sí", "it is lost on me", "", "das ist gut " * 40, "x"] * 30
    together, alone = identifier.predict(texts, k=2), [identifier.predict(t, k=2) for t in texts]
    assert [[label for label, _ in a] for a in together] == [[label for label, _ in a] for a in alone]
    probs = [p for a in together for _, p in a]
    assert probs == pytest.approx([p for a in alone for _, p in a], abs=1e-6)  # one at a time: float32 rounding


def test_a_predictor_says_what_it_is(tutorial_bundles):
    lid = load(tutorial_bundles["langid"], precision="int8")
    assert repr(lid) == f"<LanguageIdentifier {str(tutorial_bundles['langid'])!r} backend='onnx' precision='int8'>"


def test_a_restriction_to_unlikely_labels_still_answers_them(identifier):
    """Renormalizing over the allowed labels starts from their best: when every allowed label's
    probability underflows exp(), the answer is still those labels (it was 0/0, so "und")."""
    log_probs = identifier.log_probs(["Yo creo que si"])[0].astype(float)
    weakest = identifier.labels[int(np.argmin(log_probs))]
    (label, p), *_ = identifier.predict("Yo creo que si" * 120, languages=[weakest])  # log-prob about -1244
    assert (label, p) == (weakest, pytest.approx(1.0))


@pytest.mark.parametrize(
    "mark", ["\u200b", "\u00ad", "\u202e", "\u2060", "\ufeff"], ids=["zwsp", "shy", "rlo", "wj", "bom"]
)
def test_invisible_format_characters_inside_words_change_nothing(mark):
    """The default bundle drops format characters (featurizer.drop_format): an English sentence
    with one between every two letters of each word is English, with the same probabilities."""
    lid = load(task="langid")
    text = "The weather is lovely today and we are going for a walk"
    marked = " ".join(mark.join(word) for word in text.split())
    assert lid.featurizer.spec.drop_format
    got, expected = lid.predict(marked, k=3), lid.predict(text, k=3)
    assert [label for label, _ in got] == [label for label, _ in expected] and expected[0][0] == "en"
    assert [p for _, p in got] == pytest.approx([p for _, p in expected], rel=1e-6)


def test_text_in_a_script_the_default_model_never_saw_is_undetermined():
    """Ol Chiki (Santali) and Javanese script are in none of the training text: their letters are
    boundaries (featurizer.known_letters), so the text answers und instead of a confident guess."""
    lid = load(task="langid")
    assert lid.predict("ᱥᱟᱱᱛᱟᱲᱤ ᱯᱟᱹᱨᱥᱤ ᱨᱮ ᱚᱞ ᱢᱮ") == [("und", 1.0)]
    assert lid.predict("ꦧꦱꦗꦮ ꦲꦏ꧀ꦱꦫ") == [("und", 1.0)]
    assert lid.predict("ᱥᱟᱱᱛᱟᱲᱤ The weather is lovely today")[0][0] == "en"  # the known part still counts

"""The text recipes as the manifest states them for every port (Unicode classes in every plane,
full case folding, the `words-v2` tokenizer), the JavaScript runtime's data and parity files
kept in step with this runtime, and int8 answers that do not depend on the batch."""

from __future__ import annotations

import gzip
import importlib.util
import json
import unicodedata
from pathlib import Path

import numpy as np
import pytest

from bowgram.runtime import BundleError, charclass, load
from bowgram.runtime.featurizer import Featurizer, FeaturizerSpec
from bowgram.runtime.tokenizer import LEGACY_PATTERN, Tokenizer, TokenizerSpec

ROOT = Path(__file__).resolve().parent.parent
PARITY = ROOT / "js" / "test" / "parity"


def parity(name: str) -> dict:
    """A parity file, checked to be about the bundle in artifacts/ (it records the ONNX checksums
    of the bundle it was written from)."""
    data = json.loads(gzip.open(PARITY / f"{name}.json.gz").read())
    manifest = json.loads((ROOT / "artifacts" / data["bundle"] / "manifest.json").read_text())
    now = {a["path"]: a["sha256"] for a in manifest["artifacts"] if a["format"] == "onnx"}
    assert data["sha256"] == now, (
        f"js/test/parity/{name}.json.gz was written from another artifacts/{data['bundle']}: after replacing "
        "a default bundle (bowgram build --out artifacts), rewrite them: python js/tools/write_parity.py"
    )
    return data


TOK = Tokenizer(TokenizerSpec())
WORDS = Featurizer(FeaturizerSpec(), {})


def test_variation_selectors_and_other_high_planes_are_classed_not_cut():
    # the mark U+E0100 is kept in its word; a private-use character cuts
    assert WORDS.words(["葛\U000e0100飾区 x\U000f0000y"]) == [["葛\U000e0100飾区", "x", "y"]]


def test_full_case_folding_not_lowercasing():
    assert WORDS.words(["Straße ẞ ΣΊΣΥΦΟΣ İ ᏣᎳᎩ"]) == [["strasse", "ss", "σίσυφοσ", "i\u0307", "ᏣᎳᎩ"]]


def test_words_v2_keeps_marks_inside_words_and_numbers_with_letters():
    assert TOK.tokens("नमस्ते दुनिया, สวัสดีครับ x2 ½") == ["नमस्ते", "दुनिया", ",", "สวัสดีครับ", "x2", "1", "⁄", "2"]


def test_words_v2_joins_runs_across_apostrophes_only_between_words():
    assert TOK.tokens("'tis youth’s ʼbeauty' o''k") == ["'", "tis", "youth's", "'", "beauty", "'", "o", "'", "'", "k"]


def test_words_v2_drops_controls_and_format_characters_and_splits_emoji():
    assert TOK.tokens("a\u200db\u00adc\0d 👩\u200d👧") == ["a", "b", "c", "d", "👩", "👧"]


def test_the_ascii_shortcut_classes_like_the_table():
    from bowgram.runtime import tokenizer

    kinds = tokenizer._CLASS_LETTER[charclass.classes(np.arange(128))].tobytes().decode()
    expected = "".join("'" if c == 39 else k for c, k in enumerate(kinds))
    assert "".join(map(chr, range(128))).translate(tokenizer._ASCII_KINDS) == expected


def test_format_2_tokenizer_reads_with_its_own_regex_and_lower():
    spec = TokenizerSpec.from_dict(
        {
            "kind": "words",
            "normalization": "NFKC",
            "lowercase": True,
            "apostrophes": "\u2019",
            "pattern": LEGACY_PATTERN,
            "sequences": "paragraphs",
        },
        format_version=2,
    )
    assert Tokenizer(spec).tokens("STRAẞE नमस्ते it\u2019s") == ["straße", "नमस", "्", "त", "े", "it's"]


@pytest.mark.parametrize(
    "change, message",
    [
        ({"pattern": r"\w+"}, "not one this bowgram knows"),
        ({"lowercase": True}, "unknown fields"),
        ({"sequences": "paragraphs"}, "unknown fields"),
        ({"apostrophes": "\u2019 "}, "no spaces"),
        ({"casefold": 1}, "expected a bool"),
    ],
)
def test_format_3_tokenizer_fields_are_validated(change, message):
    data = {**TokenizerSpec().to_dict(), **change}
    with pytest.raises(BundleError, match=message):
        TokenizerSpec.from_dict(data)


def test_javascript_unicode_data_is_this_runtimes():
    if charclass.UNICODE_VERSION != "14.0.0":
        pytest.skip("the committed table is Unicode 14.0.0; this Python has another version")
    spec = importlib.util.spec_from_file_location("unicode_table", ROOT / "js" / "tools" / "unicode_table.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert (ROOT / "js" / "src" / "unicode-data.js").read_text(encoding="utf-8") == module.render()


@pytest.mark.parametrize("task", ["langid", "nextword"])
def test_parity_files_match_this_runtime(task):
    """What the JavaScript conformance test holds a port to is what this runtime answers."""
    data = parity(task)
    tol = data["tolerance"]
    for precision in ("fp32", "int8"):
        predictor = load(ROOT / "artifacts" / data["bundle"], backend="onnx", precision=precision)
        for record in data["records"][:: 3 if precision == "int8" else 1]:
            assert predictor.units(record["text"]) == record["units"], record["text"]
            assert predictor.input_ids(record["text"]) == record["ids"], record["text"]
            if record["ids"]:
                out = predictor.run(np.asarray([record["ids"]], dtype=np.int64))[0]
                for index, value in record[precision]:
                    assert abs(out[index] - value) <= tol["atol"] + tol["rtol"] * abs(value)
    assert {unicodedata.normalize("NFC", t) for t in charclass.HARD_TEXTS} <= {
        unicodedata.normalize("NFC", r["text"]) for r in data["records"]
    }


def test_segments_parity_file_matches_this_runtime():
    data = parity("segments")
    lid = load(ROOT / "artifacts" / data["bundle"], backend="onnx")
    for record in data["records"][::4]:
        got = lid.segments(record["text"])
        assert [s[:3] for s in got] == [tuple(s[:3]) for s in record["segments"]], record["text"]


def test_int8_answers_do_not_depend_on_the_batch():
    """Weights-only int8: a text's label and probability are the same alone or among 2,000 others
    (dynamic activation quantization changed 7 of 4,096 dev labels)."""
    texts = [r["text"] for r in json.loads(gzip.open(PARITY / "langid.json.gz").read())["records"]]
    int8 = load(ROOT / "artifacts" / "langid", precision="int8")
    tol = int8.bundle.read_json("examples")["tolerance"]
    together = int8.predict(texts)
    for text, answer in zip(texts[::5], together[::5]):
        alone = int8.predict(text)
        # padding changes float sums only: within the bundle's tolerance, on log-probabilities
        assert alone[0][0] == answer[0][0], text
        assert abs(np.log(alone[0][1]) - np.log(answer[0][1])) <= tol["atol"] + tol["rtol"] * abs(np.log(answer[0][1]))


def test_the_default_int8_model_quantizes_weights_only_and_is_small():
    onnx = pytest.importorskip("onnx")
    bundle = ROOT / "artifacts" / "langid"
    ops = {node.op_type for node in onnx.load(bundle / "model.int8.onnx").graph.node}
    assert "DynamicQuantizeLinear" not in ops and "DequantizeLinear" in ops
    assert (bundle / "model.int8.onnx").stat().st_size <= 5 * 2**20
    gate = json.loads((bundle / "manifest.json").read_text())["validation"]["onnx-int8"]
    assert gate["fp32"] - gate["int8"] <= 0.003

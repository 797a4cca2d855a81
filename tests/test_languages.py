"""languages.json: each label's name and codes, answers in ISO 639-1/639-3 or FLORES-200 codes,
and the bundles both runtimes refuse (the cases are shared with the JavaScript conformance test:
js/test/cases/languages.json)."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from bowgram.runtime import BundleError, InputError, load
from bowgram.runtime.bundle import sha256_of
from bowgram.runtime.cli import main

ROOT = Path(__file__).resolve().parent.parent
CASES = json.loads((ROOT / "js" / "test" / "cases" / "languages.json").read_text(encoding="utf-8"))


def with_languages(path: Path, languages) -> Path:
    """The bundle at `path` with `languages` as its languages.json, listed in its manifest."""
    (path / "languages.json").write_text(json.dumps(languages), encoding="utf-8")
    manifest = json.loads((path / "manifest.json").read_text())
    manifest["artifacts"].append(
        {
            "path": "languages.json",
            "format": "languages",
            "sha256": sha256_of(path / "languages.json"),
            "size": (path / "languages.json").stat().st_size,
            "precision": "fp32",
        }
    )
    (path / "manifest.json").write_text(json.dumps(manifest))
    return path


@pytest.mark.parametrize("codes", list(CASES["valid"]["answers"]))
def test_answers_in_each_kind_of_code(bundle_copy, codes):
    lid = load(with_languages(bundle_copy("langid"), CASES["valid"]["languages"]))
    expected = CASES["valid"]["answers"][codes]
    assert lid.predict(CASES["text"], codes=codes)[0][0] == expected
    assert [a[0][0] for a in lid.predict([CASES["text"]] * 2, codes=codes)] == [expected] * 2
    both = {label for label, _ in lid.predict(CASES["text"], k=2, codes=codes)}
    assert expected in both and len(both) == 2
    assert lid.predict("12345", codes=codes) == [("und", 1.0)]  # und stays und
    assert lid.predict(CASES["text"], threshold=1.0, codes=codes)[0][0] == "und"
    assert lid.predict(CASES["text"], threshold=1.0, codes=codes)[1][0] == expected
    mapped = set(lid.code_map(codes).values()) if codes != "label" else set(lid.labels)
    assert {s[2] for s in lid.segments(CASES["text"] + " and it is lost on me", codes=codes)} <= mapped
    assert {label for label, _ in lid.shares(CASES["text"], codes=codes)} <= mapped


def test_names_are_listed_by_info_and_codes_reach_the_cli(bundle_copy, runner):
    path = with_languages(bundle_copy("langid"), CASES["valid"]["languages"])
    info = runner.invoke(main, ["info", str(path)])
    assert info.exit_code == 0 and "languages:   2" in info.output and "SPANISH Spanish" in info.output
    answer = runner.invoke(main, ["langid", "--bundle", str(path), "--codes", "iso639-3", CASES["text"]])
    assert answer.exit_code == 0 and answer.output.startswith("spa "), answer.output


@pytest.mark.parametrize("case", CASES["refused"], ids=[c["case"] for c in CASES["refused"]])
def test_a_bad_languages_file_is_refused(bundle_copy, case):
    with pytest.raises(BundleError, match=case["message"]):
        load(with_languages(bundle_copy("langid"), case["languages"]))


def test_a_label_without_the_asked_code_is_an_input_error(bundle_copy):
    case = CASES["missing_code"]
    lid = load(with_languages(bundle_copy("langid"), case["languages"]))
    with pytest.raises(InputError, match=case["message"]):
        lid.predict(CASES["text"], codes=case["codes"])
    assert lid.predict(CASES["text"])[0][0] == "SPANISH"  # labels need no file


def test_a_bundle_without_languages_answers_in_labels_only(tutorial_bundles, runner):
    lid = load(tutorial_bundles["langid"])
    with pytest.raises(InputError, match="no languages.json"):
        lid.predict(CASES["text"], codes="iso639-3")
    with pytest.raises(InputError, match="codes must be one of"):
        lid.predict(CASES["text"], codes="bcp47")
    result = runner.invoke(main, ["langid", "--bundle", str(tutorial_bundles["langid"]), "--codes", "flores", "hola"])
    assert result.exit_code == 2 and "no languages.json" in result.output


def test_the_exporter_describes_the_labels_its_table_knows():
    from bowgram.export.langid_data import language_table

    table = language_table(["es", "zh", "fa", "my-own-label"])
    assert set(table) == {"es", "zh", "fa"}  # a label of one's own gets no entry
    spanish = {"name": "Spanish", "iso639_1": "es", "iso639_3": "spa", "script": "Latn", "flores": "spa_Latn"}
    assert table["es"] == spanish
    assert table["zh"]["flores"] == "zho_Hans" and table["fa"]["flores"] == "pes_Arab"
    full = language_table([line.split("\t")[0] for line in _codes_lines()])
    for field in ("iso639_3", "flores"):  # every code of the shipped table is one label's
        codes = [entry[field] for entry in full.values()]
        assert len(codes) == len(set(codes)) == len(full) == 201


def _codes_lines() -> list[str]:
    return (ROOT / "export" / "language_codes.tsv").read_text(encoding="utf-8").splitlines()[1:]


def test_a_none_of_these_class_lowers_p_and_is_never_answered(bundle_copy):
    """A label `und` is a model's "none of these languages" class (shared case: the JavaScript
    runtime answers the same): its share is left out of every language's probability, so text
    it claims gets a low p (and `und` at a threshold), but it is never a guess itself."""
    case = CASES["none_of_these"]
    path = with_languages(bundle_copy("langid"), case["languages"])
    (path / "labels.json").write_text(json.dumps(case["labels"]), encoding="utf-8")
    manifest = json.loads((path / "manifest.json").read_text())
    entry = next(a for a in manifest["artifacts"] if a["path"] == "labels.json")
    entry.update(sha256=sha256_of(path / "labels.json"), size=(path / "labels.json").stat().st_size)
    (path / "manifest.json").write_text(json.dumps(manifest))
    lid = load(path)
    for row in case["answers"]:
        options = {k: row[k] for k in ("k", "threshold", "codes")}
        for got in (lid.predict(row["text"], **options), lid.predict([row["text"]] * 20, **options)[0]):
            assert [label for label, _ in got] == [label for label, _ in row["answer"]]
            assert [p for _, p in got] == pytest.approx([p for _, p in row["answer"]], rel=1e-4)
    with pytest.raises(InputError, match="unknown language"):
        lid.predict(case["answers"][0]["text"], languages=case["refused_languages"])
    mixed = " ".join(row["text"] for row in case["answers"])
    assert {s[2] for s in lid.segments(mixed)} == {"ENGLISH"}  # the Spanish words: "none of these" is no segment


def test_the_none_of_these_text_is_in_no_labelled_language_and_leaves_out_relatives(monkeypatch):
    from bowgram.export import langid_data
    from bowgram.export.langid_data import RELATIVES, language_table, other_rows

    # the checkout's data: a wheel (the runtime-only CI venv) does not carry the training corpora
    monkeypatch.setattr(langid_data, "default_data", lambda folder, name: ROOT / "export" / "data" / folder / name)
    labels, texts, source = other_rows()
    assert set(labels) == {"und"} and len(texts) == source.rows > 20000
    codes = [line.split("\t")[0] for line in gzip.open(ROOT / "export/data/langid/other_languages.tsv.gz", "rt")]
    labelled = json.loads((ROOT / "artifacts" / "langid" / "labels.json").read_text())
    ours = {entry["iso639_3"] for entry in language_table(labelled).values()}
    assert not ours & set(codes) and "cmn" not in codes  # no label's language, nor a variety of one
    without_somali, _, _ = other_rows(("so",))
    assert len(labels) - len(without_somali) == sum(code in RELATIVES["so"] for code in codes) > 0


def test_enciphered_text_is_a_made_up_language_in_the_same_script():
    import unicodedata

    from bowgram.export.langid_data import enciphered_rows

    labels = ["en", "en", "en", "el", "el", "zh", "fa"]
    texts = ["The cat sat.", "A dog ran home!", "Hello world", "Καλημέρα κόσμε", "Ένα σπίτι", "你好世界", "سلام ok"]

    def shape(text: str) -> str:  # each letter as its script, everything else as itself
        return "".join(unicodedata.name(c).split()[0][:2] if c.isalpha() else c for c in text)

    out_labels, out = enciphered_rows(labels, texts, 5, seed=0)
    assert set(out_labels) == {"und"} and len(out) == 6  # zh: a permutation of Han reads as rare Chinese
    kept = [t.casefold() for label, t in zip(labels, texts) if label != "zh"]
    assert sorted(map(shape, out)) == sorted(map(shape, kept))  # letters swap within their own script
    assert not set(out) & set(kept)
    assert enciphered_rows(labels, texts, 5, seed=0)[1] == out and enciphered_rows(labels, texts, 5, seed=1)[1] != out
    english = [t for t in out if t.isascii() and len(t) > 10]
    pairs = {(a, b) for old in kept[:3] for t in english if shape(t) == shape(old) for a, b in zip(old, t)}
    images = {a: {b for x, b in pairs if x == a} for a, _ in pairs}
    assert len(english) == 3 and all(len(b) == 1 for b in images.values())  # one permutation per language
    assert len({b for (b,) in images.values()}) == len(images)  # and a permutation: no two letters merge
    assert enciphered_rows(labels, texts, 1, seed=0)[0] == ["und"] * 3
    alphabet = "abcdefghijklmnopqrstuvwxyz"
    (near,) = enciphered_rows(["en"], [alphabet], 1, seed=0, share=1 / 3)[1]
    (far,) = enciphered_rows(["en"], [alphabet], 1, seed=0)[1]
    assert sorted(near) == sorted(far) == list(alphabet)  # letters are swapped, none lost or added
    assert 2 <= sum(a != b for a, b in zip(alphabet, near)) <= 9 < sum(a != b for a, b in zip(alphabet, far))

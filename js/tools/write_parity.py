"""Write the parity files the JavaScript conformance test checks against (`test/parity/*.json.gz`):
a few thousand texts per default bundle with the Python runtime's words/tokens, ids and outputs
(the five largest log-probabilities, fp32 and int8), so a port that passes them matches the
Python runtime, not only the bundle's handful of examples.

    python js/tools/write_parity.py [langid] [nextword] [segments]   # after `bowgram build`; all by default

`tests/test_js_parity.py` checks that the committed files still match the Python runtime.
"""

from __future__ import annotations

import gzip
import json
import random
import sys
from pathlib import Path
from typing import Any

import numpy as np

from bowgram.runtime import charclass, load

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "js" / "test" / "parity"
TOP = 5
SEED = 20261201


def langid_texts() -> list[str]:
    """Dev sentences (up to 20 per language, data v3's too), one- and two-word cuts of them, and the
    hard cases."""
    rows = [
        line.split("\t", 1)
        for name in ("dev.tsv.gz", "v3/dev_extra.tsv.gz")  # data v3's languages and scripts too
        for line in gzip.open(ROOT / "export/data/langid" / name, "rt", encoding="utf-8")
    ]
    rng = random.Random(SEED)
    per_label: dict[str, list[str]] = {}
    for label, text in rows:
        per_label.setdefault(label, []).append(text.rstrip("\n"))
    texts = []
    for label in sorted(per_label):
        chosen = rng.sample(per_label[label], min(20, len(per_label[label])))
        texts += chosen
        for sentence in chosen[:5]:
            words = sentence.split()
            start = rng.randrange(len(words))
            texts += [words[start], " ".join(words[start : start + 2])]
    return [*charclass.HARD_TEXTS, *texts]


def nextword_texts() -> list[str]:
    """Every line of the validation sonnets as a context, its first words as another, and the hard cases."""
    lines = [line.strip() for line in (ROOT / "export/data/lm/valid.txt").read_text(encoding="utf-8").splitlines()]
    lines = [line for line in lines if line]
    return [*charclass.HARD_TEXTS, *lines, *(" ".join(line.split()[:2]) for line in lines)]


def records(bundle: Path, texts: list[str]) -> dict[str, Any]:
    """Each text's units and ids, and the top outputs of the fp32 and int8 models (the first output)."""
    models = {p: load(bundle, backend="onnx", precision=p) for p in ("fp32", "int8")}
    first = models["fp32"]
    out: list[dict[str, Any]] = []
    for text in dict.fromkeys(texts):
        ids = first.input_ids(text)
        record: dict[str, Any] = {"text": text, "units": first.units(text), "ids": ids}
        for precision, model in models.items():
            if ids:
                values = model.run(np.asarray([ids], dtype=np.int64))[0]
                top = np.argsort(-values, kind="stable")[:TOP]
                record[precision] = [[int(i), float(values[i])] for i in top]
            else:
                record[precision] = []
        out.append(record)
    examples = first.bundle.read_json("examples")
    return {
        "bundle": bundle.name,
        "sha256": written_from(bundle),
        "tolerance": examples["tolerance"],
        "records": out,
        "answers": answers(first, texts),
    }


def written_from(bundle: Path) -> dict[str, str]:
    """The checksums of the bundle's ONNX files: a parity file holds for that bundle only, and its
    test says so when the bundle was replaced (`bowgram build --out artifacts`) without it."""
    manifest = json.loads((bundle / "manifest.json").read_text(encoding="utf-8"))
    return {a["path"]: a["sha256"] for a in manifest["artifacts"] if a["format"] == "onnx"}


def answers(predictor: Any, texts: list[str]) -> list[dict[str, Any]]:
    """`predict` with each of its options on some of the texts, as the Python API answers."""
    labels = predictor.output_names()
    calls: list[dict[str, Any]] = (
        [{"k": 3}, {"threshold": 0.9}, {"k": 2, "languages": [labels[0], labels[-1], labels[len(labels) // 2]]}]
        if predictor.task == "langid"
        else [{"k": 5}, {"k": 20}, {"k": 5, "prefix": "th"}, {"k": 3, "prefix": "Lo"}]
    )
    sample = texts[:: max(1, len(texts) // 60)]
    return [
        {"options": options, "texts": sample, "expected": predictor.predict(sample, **options)} for options in calls
    ]


def segment_records() -> dict[str, Any]:
    """`segments` of mixed-language texts (the segments benchmark's mixes of dev sentences) and
    of the hard cases, as the Python runtime answers them."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("langid_segments", ROOT / "benchmarks" / "langid_segments.py")
    assert spec is not None and spec.loader is not None
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    labels = set(json.loads((ROOT / "artifacts/langid/labels.json").read_text()))
    texts = [text for text, _ in bench.mixes(bench.sentences("dev", labels), 600, seed=0)]
    texts += list(charclass.HARD_TEXTS)
    lid = load(ROOT / "artifacts" / "langid", backend="onnx")
    records = [{"text": t, "segments": lid.segments(t)} for t in texts]
    return {"bundle": "langid", "sha256": written_from(ROOT / "artifacts" / "langid"), "records": records}


def main(tasks: list[str]) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    if not tasks or "segments" in tasks:
        data = segment_records()
        with gzip.GzipFile(OUT / "segments.json.gz", "wb", mtime=0) as f:
            f.write(json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode())
        print(f"segments: {len(data['records'])} texts")
    for task, texts in (("langid", langid_texts()), ("nextword", nextword_texts())):
        if tasks and task not in tasks:
            continue
        data = records(ROOT / "artifacts" / task, texts)
        with gzip.GzipFile(OUT / f"{task}.json.gz", "wb", mtime=0) as f:
            f.write(json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode())
        print(f"{task}: {len(data['records'])} texts")


if __name__ == "__main__":
    main(sys.argv[1:])

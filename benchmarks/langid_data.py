"""Training data and capacity of the default language identifier, candidate by candidate.

Each candidate is the default `LangidConfig` with some fields changed. It is trained on
`--data default` (not exported) and its torch model is scored through the runtime's featurizer on:
dev sentences, dev 1-3 word spans, dev single words (cut with the seed `bowgram eval` uses), UDHR
lines (held out unless the candidate trains on them: the leave-one-source-out check), wordfreq
words ranked 5,001-6,000 (a source of single words no candidate trains on), the calibration error
of the top probability, and the sibling groups that the held-out suite found weak. Choose by the
out-of-domain columns, not by dev sentences.

    python benchmarks/langid_data.py                  # every candidate (about 4 min each on 2 cores)
    python benchmarks/langid_data.py --only today all

Results are appended to benchmarks/results/langid_data.json and the table rewritten in
benchmarks/results/langid_data.md.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import platform
import time
from pathlib import Path

import numpy as np
import torch

from bowgram.export import langid_training
from bowgram.export.langid_data import WORDFREQ_CODES
from bowgram.export.training import default_data
from bowgram.runtime.corpus import read_labelled, short_spans
from bowgram.runtime.featurizer import Featurizer, FeaturizerSpec
from bowgram.runtime.languages import none_class
from bowgram.runtime.padding import pad
from bowgram.runtime.tasks.langid import SHORT_SEED

RESULTS = Path(__file__).resolve().parent / "results"
OLD = {"buckets": 2**15}  # the previous default's capacity
NONE = {**OLD, "corpus_words": 0, "wordfreq_words": 0, "udhr": False, "calibrate": False}
CANDIDATES = {
    "today": NONE,
    "+corpus words": {**NONE, "corpus_words": 5000},
    "+wordfreq": {**NONE, "wordfreq_words": 5000},
    "+udhr": {**NONE, "udhr": True},
    "+corpus words +wordfreq": {**NONE, "corpus_words": 5000, "wordfreq_words": 5000},
    "all": OLD,  # corpus words, wordfreq, UDHR, calibration: the new default
    "all, dim 48": {**OLD, "dim": 48},
    "all, 2^16 buckets": {"buckets": 2**16},
    "all, dim 48, 2^16 buckets": {"dim": 48, "buckets": 2**16},
    "all, 5 epochs": {**OLD, "epochs": 5},
    "all, n-grams 1-5": {**OLD, "max_n": 5},
    "all, balanced class weights": {**OLD, "class_weight_power": 1.0},
}
GROUPS = [
    ("ms", "id"),
    ("nb", "nn", "da"),
    ("sr", "mk", "bg"),
    ("hr", "sl"),
    ("af", "nl"),
    ("mr", "hi"),
    ("bn", "as"),
    ("ur", "fa"),
    ("az", "tr"),
    ("cs", "sk"),
    ("sw", "rw"),
]


def eval_sets() -> dict[str, tuple[list[str], list[str]]]:
    import wordfreq

    dev = read_labelled(default_data("langid", "dev.tsv.gz"))
    words_labels, words = [], []
    labels = set(dev[0])
    for label in sorted(labels):
        code = WORDFREQ_CODES.get(label, label)
        if code in wordfreq.available_languages() and label != "sr":
            held = wordfreq.top_n_list(code, 6000)[5000:]
            words_labels += [label] * len(held)
            words += held
    return {
        "sentences": dev,
        "spans": short_spans(*dev, SHORT_SEED),
        "words": short_spans(*dev, SHORT_SEED, max_words=1),
        "udhr": read_labelled(default_data("langid", "udhr.tsv.gz")),
        "wordfreq 5k-6k": (words_labels, words),
    }


@torch.no_grad()
def score(trained, sets) -> dict:
    names = trained.data_files["labels.json"][1]
    index = {label: i for i, label in enumerate(names)}
    featurizer = Featurizer(FeaturizerSpec.from_dict(trained.featurizer), trained.data_files["vocab.json"][1])
    model = trained.model.cpu().eval()
    none = none_class(names)  # never an answer, as in the runtimes
    out = {}
    for name, (labels, texts) in sets.items():
        x = featurizer(texts)
        order = np.argsort(x.lengths(), kind="stable")
        pred, conf = np.full(len(texts), -1), np.zeros(len(texts))
        for s in range(0, len(order), 4096):
            rows = order[s : s + 4096]
            probs = model(torch.from_numpy(pad(x, rows))).exp().numpy()
            if none is not None:
                probs[:, none] = -1.0
            pred[rows], conf[rows] = probs.argmax(1), probs.max(1)
        empty = x.lengths() == 0
        pred[empty] = -1
        gold = np.array([index.get(label, -2) for label in labels])
        correct = pred == gold
        answered = ~empty
        bins = np.minimum((conf * 15).astype(int), 14)
        ece = sum(
            (answered & (bins == b)).sum()
            / max(answered.sum(), 1)
            * abs(correct[answered & (bins == b)].mean() - conf[answered & (bins == b)].mean())
            for b in range(15)
            if (answered & (bins == b)).any()
        )
        groups = {}
        for group in GROUPS:
            rows = np.isin(np.array(labels), group)
            if rows.any():
                groups["/".join(group)] = float(correct[rows].mean())
        out[name] = {"accuracy": float(correct.mean()), "ece": float(ece), "n": len(texts), "groups": groups}
    return out


def run(name: str, overrides: dict, sets) -> dict:
    base = langid_training.LangidConfig()
    epochs = overrides.pop("epochs", None)
    train_cfg = dataclasses.replace(base.train, quiet=True, **({"epochs": epochs} if epochs else {}))
    config = dataclasses.replace(base, train=train_cfg, **overrides)
    started = time.perf_counter()
    trained = langid_training.train("default", config)
    seconds = time.perf_counter() - started
    embedding = trained.model.embedding.weight
    return {
        "candidate": name,
        "train_seconds": round(seconds, 1),
        "train_rows": trained.metrics["train_rows"],
        "parameters": int(embedding.numel() + sum(p.numel() for p in trained.model.output.parameters())),
        "temperature": trained.model_info["temperature"],
        "udhr_in_training": config.udhr,
        "sets": score(trained, sets),
    }


def table(results: list[dict]) -> str:
    sets = ["sentences", "spans", "words", "udhr", "wordfreq 5k-6k"]
    lines = [
        "# Language ID training data and capacity (dev protocol)",
        "",
        f"Machine: {platform.machine()}, {torch.get_num_threads()} torch threads; torch {torch.__version__}. "
        "Each candidate trained once (seed 0) on `--data default`; accuracy of the torch model through the "
        "runtime featurizer. `words`/`spans`: one word / 1-3 words cut from each dev sentence (seed 12345, as "
        "`bowgram eval`); `udhr`: held out unless marked *in training*; `wordfreq 5k-6k`: words ranked "
        "5,001-6,000 in wordfreq's lists (40 languages), which no candidate trains on; ECE: expected "
        "calibration error of the top probability (15 bins).",
        "",
        "| candidate | " + " | ".join(sets) + " | ECE sentences | ECE spans | ECE words | T | params | train s |",
        "|---" * (len(sets) + 7) + "|",
    ]
    for r in results:
        cells = []
        for s in sets:
            cell = f"{r['sets'][s]['accuracy']:.4f}"
            cells.append(cell + (" *in training*" if s == "udhr" and r["udhr_in_training"] else ""))
        eces = [f"{r['sets'][s]['ece']:.3f}" for s in ("sentences", "spans", "words")]
        lines.append(
            f"| {r['candidate']} | "
            + " | ".join(cells + eces)
            + f" | {r['temperature']:.2f} | {r['parameters'] / 1e6:.1f} M | {r['train_seconds']:.0f} |"
        )
    lines += [
        "",
        "## Sibling groups (accuracy on the group's rows: sentences / spans / words)",
        "",
        "| candidate | " + " | ".join("/".join(g) for g in GROUPS) + " |",
        "|---" * (len(GROUPS) + 1) + "|",
    ]
    for r in results:
        cells = [
            "{:.2f} / {:.2f} / {:.2f}".format(
                *(r["sets"][s]["groups"].get("/".join(g), float("nan")) for s in ("sentences", "spans", "words"))
            )
            for g in GROUPS
        ]
        lines.append(f"| {r['candidate']} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", nargs="*", help="candidate names (default: all)")
    args = parser.parse_args()
    store = RESULTS / "langid_data.json"
    results = json.loads(store.read_text()) if store.exists() else []
    sets = eval_sets()
    for name in args.only or list(CANDIDATES):
        result = run(name, dict(CANDIDATES[name]), sets)
        results = [r for r in results if r["candidate"] != name] + [result]
        results.sort(key=lambda r: list(CANDIDATES).index(r["candidate"]) if r["candidate"] in CANDIDATES else 99)
        store.write_text(json.dumps(results, indent=1) + "\n")
        (RESULTS / "langid_data.md").write_text(table(results))
        print(
            name,
            {s: round(v["accuracy"], 4) for s, v in result["sets"].items()},
            result["train_seconds"],
            "s",
            flush=True,
        )


if __name__ == "__main__":
    main()

"""Would a lower prior for the languages FLORES-200 lacks help language ID out of domain? Measured,
not shipped (run by hand):

    python benchmarks/langid_label_prior.py --out benchmarks/results/langid_label_prior.md

47 of the default bundle's 196 labels have no FLORES-200 text (constructed languages such as
Interlingua, Lingua Franca Nova and Ido; regional ones such as Low German, Breton, Chavacano). On
FLORES-200 dev every answer with one of them is wrong (the report says what share of the wrong
answers they are), and everyday phrases go to them: "¿Dónde está el baño?" is Chavacano, "la casa
es grande" Lingua Franca Nova. The candidate
fix: subtract a constant `delta` from those labels' log-probabilities (the same as lowering their
output bias by `delta` x the bundle's temperature: no runtime change), chosen out of domain. What
it costs is seen only in domain, where those languages have rows: so both are reported, the
in-domain figures on the held-out half of the dev rows (`langid_v3.in_domain_dev`).

Sentences, 1-3 word spans and single words are cut as `bowgram eval` cuts them.
"""

from __future__ import annotations

import argparse
import platform
from pathlib import Path

import numpy as np
from langid_v3 import excluded, flores_dev, in_domain_dev

from bowgram.runtime import load
from bowgram.runtime.languages import none_class
from bowgram.runtime.tasks.langid import SHORT_SEED, short_spans

DELTAS = (0.0, 0.5, 1.0, 1.5, 2.0, 3.0)
PHRASES = ("Me gusta mucho el café.", "¿Dónde está el baño?", "la casa es grande", "it is lost on me", "non lo so")


def parts(gold: list[str], texts: list[str]) -> dict[str, tuple[list[str], list[str]]]:
    return {
        "sentences": (gold, texts),
        "spans": short_spans(gold, texts, SHORT_SEED),
        "words": short_spans(gold, texts, SHORT_SEED, max_words=1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bundle", type=Path, default=Path(__file__).resolve().parent.parent / "artifacts/langid")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    lid = load(args.bundle, backend="onnx")
    index = {label: i for i, label in enumerate(lid.labels)}
    flores = flores_dev()
    absent = np.array([label not in set(flores[0]) for label in lid.labels])
    none = none_class(lid.labels)  # "none of these": never an answer (as in the runtimes), not a label to lower
    answerable = np.ones(len(lid.labels), dtype=bool)
    if none is not None:
        absent[none], answerable[none] = False, False
    scored = {}  # (set, part) -> gold ids, log-probabilities (rows of known labels)
    for name, rows in (("FLORES-200 dev", flores), ("in-domain dev", in_domain_dev(excluded(args.bundle)))):
        for part, (gold, texts) in parts(*rows).items():
            keep = [i for i, g in enumerate(gold) if g in index]
            log_probs = lid.model_log_probs([texts[i] for i in keep])
            log_probs = np.where(answerable, np.nan_to_num(log_probs, nan=-np.inf), -np.inf)
            scored[name, part] = np.array([index[gold[i]] for i in keep]), log_probs
    lines = [
        "# Language ID: a lower prior for the labels FLORES-200 lacks (measured, not shipped)",
        "",
        f"Machine: {platform.machine()}, Python {platform.python_version()}. Written by "
        f"`benchmarks/langid_label_prior.py` on the bundle `{args.bundle.name}`: {int(absent.sum())} of its "
        f"{len(lid.labels)} labels have no FLORES-200 text; `delta` is subtracted from their log-probabilities. "
        "Accuracy over the rows of known labels; `und` answers count as wrong. The last column: the recall of "
        "those labels' own in-domain rows (sentences / spans / words).",
        "",
        "| delta | FLORES sentences | FLORES spans | FLORES words | in-domain sentences | in-domain spans "
        "| in-domain words | recall of those labels in domain |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for delta in DELTAS:
        shift = np.where(absent, -delta, 0.0).astype(np.float32)
        cells, recall = [], []
        for key, (gold, log_probs) in scored.items():
            predicted = (log_probs + shift).argmax(axis=1)
            defined = np.isfinite(log_probs).any(axis=1)
            cells.append(f"{((predicted == gold) & defined).mean():.4f}")
            if key[0] == "in-domain dev":
                own = absent[gold]
                recall.append(f"{(predicted[own] == gold[own]).mean():.3f}")
        lines.append(f"| {delta:g} | " + " | ".join(cells) + f" | {' / '.join(recall)} |")
    shares = []
    for key, (gold, log_probs) in scored.items():
        if key[0] == "FLORES-200 dev":
            predicted = log_probs.argmax(axis=1)
            wrong = (predicted != gold) & np.isfinite(log_probs).any(axis=1)  # `und` answers not counted
            shares.append(f"{absent[predicted[wrong]].mean():.3f}")
    lines += ["", f"At delta 0 they are {' / '.join(shares)} of the wrong FLORES answers (sentences / spans / words)."]
    lines += ["", "Everyday phrases (best label and its probability):", "", "| delta | " + " | ".join(PHRASES) + " |"]
    lines.append("|---|" + "---|" * len(PHRASES))
    log_probs = lid.model_log_probs(list(PHRASES))
    for delta in DELTAS:
        shifted = log_probs - np.where(absent, delta, 0.0)
        p = np.exp(shifted - shifted.max(axis=1, keepdims=True))
        p /= p.sum(axis=1, keepdims=True)
        best = np.where(answerable, p, -1.0).argmax(axis=1)
        lines.append(
            f"| {delta:g} | " + " | ".join(f"{lid.labels[b]} {p[i, b]:.2f}" for i, b in enumerate(best)) + " |"
        )
    args.out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()

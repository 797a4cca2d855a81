"""Language ID in domain and out of domain, and on languages it does not know (run by hand).

    python benchmarks/langid_v3.py --bundle default=artifacts/langid --bundle wide=/tmp/wide \\
        --train-left-out /tmp/minus10 --out benchmarks/results/langid_v3

Every bundle gets the same measures (`bowgram eval`'s protocol: sentences, 1-3 word spans and single
words cut from them, accuracy and macro-F1 over the labels the bundle knows) on two sets:

- in-domain dev: the held-out half of `dev.tsv.gz` plus data v3's `dev_extra.tsv.gz` (drawn from
  the training pools), as training splits it (`split_dev`: the odd rows, once the bundle's
  excluded labels are out), which neither early stopping nor calibration saw. A bundle trained
  before that split tuned on all rows: its figures on these rows are somewhat flattered;
- FLORES-200 dev (`v3/flores_dev.tsv.gz`): Wikinews, Wikivoyage and Wikibooks sentences translated
  from English, never trained on: the out-of-domain set candidates are chosen by. Per language:
  precision, recall, F1 and false-positive rate, as the language-ID literature reports on FLORES.

`--left-out PATH` is a bundle trained with `exclude` (its manifest's `model.training.exclude`): the
rows of the excluded languages (dev and FLORES) are text in languages it does not know. Reported:
the share answered `und` at the bundle's default threshold, the share whose top probability is below
0.5 (the issue's goal: 80% between the two), and the share answered with p >= 0.9. Its `und` class
("none of these languages") keeps the other-language text of the default recipe, less the languages
`langid_data.RELATIVES` names for the ones left out (the Somali languages when Somali is out).
Writes OUT.md and OUT.json, and OUT_languages.md: per language of the first bundle, its name,
codes, script, training sentences and FLORES-200 dev precision / recall / F1 (the README's table).
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import numpy as np

from bowgram.export.langid_training import split_dev
from bowgram.runtime import load
from bowgram.runtime.corpus import read_labelled
from bowgram.runtime.tasks.langid import UNDETERMINED, evaluate_rows

ROOT = Path(__file__).resolve().parent.parent
# the unknown-language protocol: a model trained without these (and the default's own exclusions)
LEFT_OUT = ("gu", "am", "my", "si", "ps", "bs", "zu", "so", "yo", "lb")
DATA = ROOT / "export" / "data" / "langid"


def all_dev() -> tuple[list[str], list[str]]:
    labels, texts = read_labelled(DATA / "dev.tsv.gz")
    extra_labels, extra_texts = read_labelled(DATA / "v3" / "dev_extra.tsv.gz")
    return labels + extra_labels, texts + extra_texts


def in_domain_dev(exclude: tuple[str, ...] = ()) -> tuple[list[str], list[str]]:
    """The held-out half of the in-domain dev rows, for a bundle trained with `exclude`."""
    rows = [(g, t) for g, t in zip(*all_dev()) if g not in exclude]
    _, held, _ = split_dev([g for g, _ in rows], [t for _, t in rows])
    return held


def excluded(path: Path | str) -> tuple[str, ...]:
    return tuple(json.loads((Path(path) / "manifest.json").read_text())["model"]["training"].get("exclude", ()))


def flores_dev() -> tuple[list[str], list[str]]:
    return read_labelled(DATA / "v3" / "flores_dev.tsv.gz")


def summary(metrics: dict) -> dict:
    """The headline numbers of one `evaluate_rows` result."""
    row = {"accuracy": metrics["accuracy"], "macro_f1": metrics["macro_f1"], "covered": metrics["covered"]}
    for part in ("short_spans", "single_words"):
        row[f"{part}_accuracy"] = metrics[part]["accuracy"]
        row[f"{part}_macro_f1"] = metrics[part]["macro_f1"]
    row["calibration_error"] = metrics["calibration_error"]
    row["below_half"] = metrics["below_half"]
    return row


def unknown_language(path: Path, sets: dict[str, tuple[list[str], list[str]]]) -> dict:
    """How a bundle trained without some languages answers text in them."""
    lid = load(path, backend="onnx")
    exclude = json.loads((path / "manifest.json").read_text())["model"]["training"]["exclude"]
    excluded = [x for x in LEFT_OUT if x in exclude]  # not the default's own exclusions (arz nso rn taq)
    out: dict = {"excluded": excluded}
    for name, (labels, texts) in sets.items():
        gold = np.array([g for g in labels if g in excluded])
        rows = [t for g, t in zip(labels, texts) if g in excluded]
        answers = lid.predict(rows, k=1)  # the bundle's default threshold
        und = np.array([a[0][0] == UNDETERMINED for a in answers])
        p = np.array([a[0][1] for a in answers])
        out[name] = {
            "rows": len(rows),
            "und": float(und.mean()),
            "und_or_below_0.5": float((und | (p < 0.5)).mean()),
            "per_language": {x: float((und | (p < 0.5))[gold == x].mean()) for x in excluded if (gold == x).any()},
            "confident_wrong_0.9": float((~und & (p >= 0.9)).mean()),
            "answered_as": _most_common([a[0][0] for a in answers]),
        }
    return out


def train_left_out(out: Path) -> None:
    """The default recipe without LEFT_OUT (about as long as the default's training), ONNX only."""
    from bowgram.export.build import config_for, train_and_export
    from bowgram.export.training import get

    exclude = tuple(dict.fromkeys(get("langid").default.exclude + LEFT_OUT))
    config = config_for("langid", "default", {"exclude": exclude}, {"quiet": True})
    train_and_export("langid", "default", out, config, formats=("onnx",))


def _most_common(labels: list[str], n: int = 8) -> dict[str, int]:
    values, counts = np.unique(labels, return_counts=True)
    order = np.argsort(-counts)[:n]
    return {str(values[i]): int(counts[i]) for i in order}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bundle", action="append", default=[], help="NAME=PATH, repeatable")
    parser.add_argument("--left-out", type=Path, action="append", default=[], help="a bundle trained with exclude")
    parser.add_argument("--train-left-out", type=Path, help="first train the default model without LEFT_OUT here")
    parser.add_argument("--out", type=Path, required=True, help="OUT.md and OUT.json are written")
    parser.add_argument("--common", help="NAME of a --bundle: every bundle is also scored on the rows of its labels")
    args = parser.parse_args()
    if args.train_left_out:
        train_left_out(args.train_left_out)
        args.left_out.append(args.train_left_out)
    paths = dict(spec.partition("=")[::2] for spec in args.bundle)
    first = next(iter(paths.values()), None)
    sets = {"dev": in_domain_dev(excluded(first) if first else ()), "flores": flores_dev()}
    results: dict = {"machine": f"{platform.machine()}, Python {platform.python_version()}", "bundles": {}}
    if args.common:  # the rows of one bundle's labels, for all: the same texts, whatever each one knows
        known = set(json.loads((Path(paths[args.common]) / "labels.json").read_text()))
        for part in ("dev", "flores"):
            gold, texts = sets[part]
            rows = [(g, t) for g, t in zip(gold, texts) if g in known]
            sets[f"{part}, {args.common}'s languages"] = ([g for g, _ in rows], [t for _, t in rows])
    for spec in args.bundle:
        name, _, path = spec.partition("=")
        lid = load(path, backend="onnx")
        started = time.perf_counter()
        measured = {k: evaluate_rows(lid, *rows) for k, rows in sets.items()}  # "dev", "flores" and the common rows
        results["bundles"][name] = {
            "bundle": Path(path).name,  # a name, not this machine's path
            "labels": len(lid.known_labels),
            "bytes": {p.name: p.stat().st_size for p in Path(path).iterdir() if p.is_file()},
            "seconds": time.perf_counter() - started,
            **{k: summary(m) for k, m in measured.items()},
            "flores_per_label": measured["flores"]["per_label"],
            "flores_confusions": measured["flores"]["confusions"],
        }
        print(name, json.dumps({k: summary(m) for k, m in measured.items()}))
    left_out_sets = {"dev": all_dev(), "flores": sets["flores"]}  # no model tuned on the left-out languages' rows
    results["left_out"] = {p.name: unknown_language(p, left_out_sets) for p in args.left_out}
    args.out.with_suffix(".json").write_text(json.dumps(results, indent=1, ensure_ascii=False) + "\n")
    args.out.with_suffix(".md").write_text(report(results))
    if results["bundles"]:
        first_name, first = next(iter(results["bundles"].items()))
        first_path = Path(dict(spec.partition("=")[::2] for spec in args.bundle)[first_name])
        Path(f"{args.out}_languages.md").write_text(languages_table(first_path, first["flores_per_label"]))
    print(report(results))


def languages_table(bundle: Path, flores: dict) -> str:
    """One row per label of `bundle`: what it is (languages.json), how much it was trained on, and
    how it does out of domain."""
    named = bundle / "languages.json"
    languages = json.loads(named.read_text(encoding="utf-8")) if named.is_file() else {}
    labels = json.loads((bundle / "labels.json").read_text(encoding="utf-8"))
    rows: dict[str, int] = {}
    for name in ("train.tsv.gz", "v3/train_extra.tsv.gz"):
        for label in read_labelled(DATA / name)[0]:
            rows[label] = rows.get(label, 0) + 1
    lines = [
        "| label | language | ISO 639-3 | script | FLORES-200 | training sentences | FLORES dev P / R / F1 |",
        "|---|---|---|---|---|---|---|",
    ]
    for label in (label for label in labels if label != UNDETERMINED):  # "none of these" is no language
        entry, score = languages.get(label, {}), flores.get(label)
        measured = f"{score['precision']:.3f} / {score['recall']:.3f} / {score['f1']:.3f}" if score else "not in FLORES"
        lines.append(
            f"| {label} | {entry.get('name', '')} | {entry.get('iso639_3', '')} | {entry.get('script', '')} "
            f"| {entry.get('flores', '')} | {rows.get(label, 0):,} | {measured} |"
        )
    return "\n".join(lines) + "\n"


def report(results: dict) -> str:
    lines = [
        "# Language ID: in domain, out of domain (FLORES-200 dev), and unknown languages",
        "",
        f"Machine: {results['machine']}. Written by `benchmarks/langid_v3.py`. Accuracy / macro-F1 over "
        "the rows of the labels each bundle knows; spans are 1-3 words (2-8 characters in scripts "
        "without spaces) and single words cut from the same rows. `dev` is the held-out half of the "
        "in-domain dev rows (the odd rows, as the first bundle's training split them: neither its choice "
        "of epoch nor its calibration saw them). The default model's epoch is chosen on FLORES-200 dev "
        "(every 5th row, sentences and spans): its FLORES figures are tuned on that one choice, as the "
        "`previous` bundle's dev figures were (it stopped on all of dev). "
        "[langid_v3_candidates.md](langid_v3_candidates.md) holds the candidates the recipe was chosen "
        'from, measured before the split. `labels` counts the languages (a `und` class, "none of '
        'these", is not one); `sentences with p < 0.5` are what `--threshold 0.5` answers `und`.',
        "",
        "| bundle | labels | set | rows | sentences acc / F1 | spans acc / F1 | words acc / F1 | calibration error "
        "| sentences with p < 0.5 |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, b in results["bundles"].items():
        for part in [
            k for k in b if k.startswith(("dev", "flores")) and k not in ("flores_per_label", "flores_confusions")
        ]:
            m = b[part]
            lines.append(
                f"| {name} | {b['labels']} | {part} | {m['covered']} | {m['accuracy']:.4f} / {m['macro_f1']:.4f} "
                f"| {m['short_spans_accuracy']:.4f} / {m['short_spans_macro_f1']:.4f} "
                f"| {m['single_words_accuracy']:.4f} / {m['single_words_macro_f1']:.4f} "
                f"| {m['calibration_error']:.4f} | {m['below_half']:.4f} |"
            )
    for path, u in results["left_out"].items():
        lines += [
            "",
            f"Unknown languages: `{Path(path).name}` was trained without {', '.join(u['excluded'])}.",
            "",
            "| set | rows | `und` | `und` or p < 0.5 | wrong with p >= 0.9 | answered as (most often) |",
            "|---|---|---|---|---|---|",
        ]
        for part in ("dev", "flores"):
            m = u[part]
            common = ", ".join(f"{k} {v}" for k, v in m["answered_as"].items())
            lines.append(
                f"| {part} | {m['rows']} | {m['und']:.3f} | {m['und_or_below_0.5']:.3f} "
                f"| {m['confident_wrong_0.9']:.3f} | {common} |"
            )
        lines += ["", "`und` or p < 0.5 per left-out language (FLORES): "]
        lines[-1] += ", ".join(f"{x} {v:.2f}" for x, v in u["flores"]["per_language"].items()) + "."
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()

"""Mixed-language texts (run by hand): bowgram's `segments` next to lingua's
`detect_multiple_languages_of` and a naive per-sentence baseline.

    python benchmarks/langid_segments.py --out benchmarks/results/langid_segments.md
    python benchmarks/langid_segments.py --tune      # choose the defaults on mixes of *training* sentences

Mixes are made from the dev sentences (or, for --tune, the training sentences): 2 or 3 sentences
of different languages joined with a space (final punctuation kept, "with punctuation") or with
their final punctuation removed ("without"); a third of the mixes pair close languages (es/pt,
nb/da, hr/sl, ms/id, cs/sk, ru/uk). Only languages that both bowgram and lingua know take part.

Scores: word-level accuracy (each word of the text gets the label of the segment covering it),
boundary F1 (a predicted language change matches a true one within one word), and, on single
dev sentences, the share that come back as exactly one segment. Speed: texts/s on the same mixes,
one thread.
"""

from __future__ import annotations

import argparse
import gzip
import json
import platform
import random
import re
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CLOSE = [("es", "pt"), ("nb", "da"), ("hr", "sl"), ("ms", "id"), ("cs", "sk"), ("ru", "uk")]
WORD = re.compile(r"\w+")


def sentences(split: str, known: set[str]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for line in gzip.open(ROOT / f"export/data/langid/{split}.tsv.gz", "rt", encoding="utf-8"):
        label, text = line.rstrip("\n").split("\t", 1)
        if label in known and len(WORD.findall(text)) >= 3:
            out.setdefault(label, []).append(text)
    return out


def mixes(pool: dict[str, list[str]], n: int, seed: int) -> list[tuple[str, list[tuple[int, int, str]]]]:
    """n texts with their gold spans (start, end, label) per sentence."""
    rng = random.Random(seed)
    labels = sorted(pool)
    close = [pair for pair in CLOSE if all(p in pool for p in pair)]
    out = []
    for i in range(n):
        if i % 3 == 0 and close:
            chosen = list(rng.choice(close))
            rng.shuffle(chosen)
        else:
            chosen = rng.sample(labels, 2 if i % 2 else 3)
        punctuation = i % 4 < 2
        text, spans = "", []
        for label in chosen:
            sentence = rng.choice(pool[label]).strip()
            if not punctuation:
                sentence = sentence.rstrip(".!?。！？;:,")
            start = len(text) + (1 if text else 0)
            text = f"{text} {sentence}" if text else sentence
            spans.append((start, len(text), label))
        out.append((text, spans))
    return out


def words_of(text: str) -> list[tuple[int, int]]:
    return [(m.start(), m.end()) for m in WORD.finditer(text)]


def label_words(words: list[tuple[int, int]], segments: list[tuple[int, int, str]]) -> list[str]:
    """Each word's label: the segment covering its first character ("none" if none does)."""
    out = []
    for a, _ in words:
        out.append(next((label for s, e, label in segments if s <= a < e), "none"))
    return out


def boundaries(labels: list[str]) -> set[int]:
    return {i for i in range(1, len(labels)) if labels[i] != labels[i - 1]}


def score(items: list[tuple[str, list[tuple[int, int, str]]]], predicted: list[list[tuple[int, int, str]]]) -> dict:
    right = total = hit_pred = hit_gold = n_pred = n_gold = 0
    for (text, gold), pred in zip(items, predicted):
        words = words_of(text)
        g, p = label_words(words, gold), label_words(words, pred)
        right += sum(a == b for a, b in zip(g, p))
        total += len(words)
        gb, pb = boundaries(g), boundaries(p)
        n_gold += len(gb)
        n_pred += len(pb)
        hit_pred += sum(any(abs(b - x) <= 1 for x in gb) for b in pb)
        hit_gold += sum(any(abs(b - x) <= 1 for x in pb) for b in gb)
    precision = hit_pred / n_pred if n_pred else 0.0
    recall = hit_gold / n_gold if n_gold else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "word_accuracy": right / total,
        "boundary_precision": precision,
        "boundary_recall": recall,
        "boundary_f1": f1,
    }


def bowgram_system(**options):
    from bowgram.runtime import load

    lid = load(task="langid")
    return lambda text: [(a, b, label) for a, b, label, _ in lid.segments(text, **options)]


def bowgram_batches(items, size: int = 100) -> tuple[list, float]:
    """bowgram's segments over lists of `size` texts (one model call for a list's new words),
    from a freshly loaded bundle: no word seen before."""
    from bowgram.runtime import load

    lid = load(task="langid")
    texts = [text for text, _ in items]
    started = time.perf_counter()
    out = []
    for i in range(0, len(texts), size):
        out += [[(a, b, label) for a, b, label, _ in segs] for segs in lid.segments(texts[i : i + size])]
    return out, len(texts) / (time.perf_counter() - started)


def naive_system():
    from bowgram.runtime import load

    lid = load(task="langid")
    split = re.compile(r"[^.!?。！？]+[.!?。！？]*")

    def run(text: str) -> list[tuple[int, int, str]]:
        parts = [(m.start(), m.end()) for m in split.finditer(text) if m.group().strip()]
        labels = lid.predict([text[a:b] for a, b in parts])
        return [(a, b, answer[0][0]) for (a, b), answer in zip(parts, labels)]

    return run


def lingua_system(known: set[str]):
    from lingua import Language, LanguageDetectorBuilder

    languages = [lang for lang in Language.all() if lang.iso_code_639_1.name.lower() in known]
    detector = LanguageDetectorBuilder.from_languages(*languages).build()

    def run(text: str) -> list[tuple[int, int, str]]:
        return [
            (r.start_index, r.end_index, r.language.iso_code_639_1.name.lower())
            for r in detector.detect_multiple_languages_of(text)
        ]

    return run, {lang.iso_code_639_1.name.lower() for lang in languages}


def timed(system, items) -> tuple[list, float]:
    started = time.perf_counter()
    out = [system(text) for text, _ in items]
    return out, len(items) / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/langid_segments.md")
    parser.add_argument("--n", type=int, default=1500)
    parser.add_argument("--tune", action="store_true", help="grid of switch costs and minimum lengths on train mixes")
    args = parser.parse_args()
    labels = set(json.loads((ROOT / "artifacts/langid/labels.json").read_text()))
    lingua, both = lingua_system(labels)
    if args.tune:
        pool = sentences("train", both)
        items = mixes(pool, args.n, seed=1)
        singles = [t for texts in pool.values() for t in texts[:20]]
        for cost in (4.0, 5.0, 6.0, 7.0, 8.0, 10.0):
            for min_words in (1, 2, 3):
                system = bowgram_system(switch_cost=cost, min_words=min_words)
                predicted, _ = timed(system, items)
                one = sum(len(system(t)) == 1 for t in singles) / len(singles)
                print(cost, min_words, json.dumps({**score(items, predicted), "single": one}), flush=True)
        return
    pool = sentences("dev", both)
    items = mixes(pool, args.n, seed=0)
    systems = {
        "bowgram segments": bowgram_system(),
        "lingua detect_multiple_languages_of": lingua,
        "naive: one label per sentence (bowgram)": naive_system(),
    }
    rows = {}
    for name, system in systems.items():
        predicted, rate = timed(system, items)
        rows[name] = {**score(items, predicted), "texts_per_s": rate}
        print(name, rows[name], flush=True)
    predicted, rate = bowgram_batches(items)
    rows["bowgram segments, lists of 100 texts"] = {**score(items, predicted), "texts_per_s": rate}
    singles = [t for texts in pool.values() for t in texts]
    one = bowgram_system()
    single_share = sum(len(one(t)) == 1 for t in singles) / len(singles)
    lines = [
        "# Mixed-language texts: segments",
        "",
        f"Measured {time.strftime('%Y-%m-%d')} with `benchmarks/langid_segments.py` on {platform.machine()}, "
        f"Python {platform.python_version()}, one thread. {len(items):,} mixes of 2-3 dev sentences in "
        f"{len(both)} languages both systems know (a third of them close pairs: "
        f"{', '.join('/'.join(p) for p in CLOSE)}; half without punctuation between sentences).",
        "",
        "| system | word accuracy | boundary F1 | boundary P | boundary R | texts/s |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name, r in rows.items():
        lines.append(
            f"| {name} | {r['word_accuracy']:.3f} | {r['boundary_f1']:.3f} | {r['boundary_precision']:.3f} | "
            f"{r['boundary_recall']:.3f} | {r['texts_per_s']:,.0f} |"
        )
    lingua_rate = rows["lingua detect_multiple_languages_of"]["texts_per_s"]
    ratio = rows["bowgram segments"]["texts_per_s"] / lingua_rate
    ratio_lists = rows["bowgram segments, lists of 100 texts"]["texts_per_s"] / lingua_rate
    lines += [
        "",
        f"bowgram is {ratio:.0f}× lingua's speed one text at a time and {ratio_lists:.0f}× with lists of 100 texts "
        "(both from a freshly loaded bundle: every word is new to its cache; all one thread). "
        f"Single dev sentences ({len(singles):,}) that come back "
        f"as one segment: {single_share:.1%}.",
        "",
        "Word accuracy: each word (a `\\w+` run) takes the label of the segment covering its first character. "
        "Boundary F1: a predicted change of language counts when a true one is within one word. Defaults "
        "(switch cost 7, no minimum length) were chosen with `--tune` on mixes of training sentences.",
    ]
    args.out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()

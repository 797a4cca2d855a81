"""bowgram's next-word model beside interpolated Kneser-Ney of the same order (run by hand).

    python benchmarks/lm_baselines.py --bundle artifacts/nextword --out benchmarks/results/lm_valid.md

Both models see exactly the same tokens and vocabulary: the bundle's tokenizer and vocab.json
(unknown words are `<unk>`, contexts padded with `<s>`, every paragraph ends with `</s>`).
The baseline is interpolated *modified* Kneser-Ney (Chen & Goodman: three discounts per order,
estimated from count-of-counts, continuation counts for lower orders), the estimator KenLM's
lmplz uses, written here in numpy so that it yields the full next-word distribution and
therefore top-1/top-5 as well as perplexity. With `--nltk`, nltk's KneserNeyInterpolated
(fixed discount 0.1) is scored too, on perplexity only (it cannot rank a 10k vocabulary fast).
Perplexity counts every target, `</s>` and `<unk>` included, as KenLM does.
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent


class ModifiedKneserNey:
    """Interpolated modified Kneser-Ney over integer ids; `distribution(context)` is exact."""

    def __init__(self, sequences: list[list[int]], order: int, vocab_size: int, bos: int = 0):
        self.order, self.vocab_size = order, vocab_size
        counts = [Counter() for _ in range(order + 1)]  # counts[n][(h..., w)]
        for seq in sequences:
            padded = [bos] * (order - 1) + seq
            for i in range(order - 1, len(padded)):
                counts[order][tuple(padded[i - order + 1 : i + 1])] += 1
        for n in range(order - 1, 0, -1):  # continuation counts: distinct left extensions
            for gram in counts[n + 1]:
                counts[n][gram[1:]] += 1
        self.tables = []
        for n in range(1, order + 1):
            d = self._discounts(counts[n])
            by_history: dict[tuple, list] = defaultdict(lambda: [[], []])
            for gram, c in counts[n].items():
                entry = by_history[gram[:-1]]
                entry[0].append(gram[-1])
                entry[1].append(c)
            table = {}
            for h, (ws, cs) in by_history.items():
                cs = np.asarray(cs, dtype=np.float64)
                total = cs.sum()
                disc = d[np.minimum(cs, 3).astype(int)]
                gamma = (d[1] * (cs == 1).sum() + d[2] * (cs == 2).sum() + d[3] * (cs >= 3).sum()) / total
                table[h] = (np.asarray(ws), (cs - disc) / total, gamma)
            self.tables.append(table)

    @staticmethod
    def _discounts(counts: Counter) -> np.ndarray:
        n = Counter(c for c in counts.values() if c <= 4)
        n1, n2, n3, n4 = (max(n[i], 1) for i in (1, 2, 3, 4))
        y = n1 / (n1 + 2 * n2)
        return np.array([0.0, 1 - 2 * y * n2 / n1, 2 - 3 * y * n3 / n2, 3 - 4 * y * n4 / n3]).clip(0.0, None)

    def distribution(self, context: tuple[int, ...]) -> np.ndarray:
        p = np.full(self.vocab_size, 1.0 / self.vocab_size)
        for n in range(1, self.order + 1):
            h = tuple(context[len(context) - (n - 1) :]) if n > 1 else ()
            entry = self.tables[n - 1].get(h)
            if entry is None:
                continue  # unseen history: back off entirely to the lower order
            ws, mass, gamma = entry
            p = gamma * p
            p[ws] += mass
        return p


def evaluate(distribution, contexts: np.ndarray, targets: np.ndarray, typed: list[str], cache=None) -> dict:
    """Perplexity, top-1/top-5 and keystroke savings (k=3, `Keystrokes`) of a full next-token
    distribution per context; with `cache`, of it mixed with a writer's cache of the text read."""
    from bowgram.runtime.tasks.nextword import Keystrokes, cache_mixture

    keys = Keystrokes(VOCAB_WORDS)
    nll, top1, top5, saved, total, seconds = 0.0, 0, 0, 0, 0, 0.0
    for start in range(0, len(targets), 1024):
        started = time.perf_counter()
        rows = np.array([distribution(tuple(int(i) for i in ctx)) for ctx in contexts[start : start + 1024]])
        seconds += time.perf_counter() - started
        if cache is not None:
            rows = cache_mixture(rows, targets, start, cache)
        tgt = targets[start : start + 1024]
        p = rows[np.arange(len(tgt)), tgt]
        nll -= float(np.log(p).sum())
        rank = (rows > p[:, None]).sum(axis=1)
        top1 += int((rank < 1).sum())
        top5 += int((rank < 5).sum())
        s, t = keys.count(rows, tgt, typed[start : start + 1024], 3)
        saved, total = saved + s, total + t
    n = len(targets)
    return {
        "perplexity": float(np.exp(nll / n)),
        "top1": top1 / n,
        "top5": top5 / n,
        "keystroke_savings_k3": saved / total,
        "queries_per_s": n / seconds,
    }


VOCAB_WORDS: list[str] = []  # the bundle's tokens, set by main()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bundle", default=str(HERE.parent / "artifacts/nextword"))
    parser.add_argument("--train", default=str(HERE.parent / "export/data/lm/train.txt"))
    parser.add_argument("--valid", default=str(HERE.parent / "export/data/lm/valid.txt"))
    parser.add_argument("--nltk", action="store_true", help="also score nltk's KneserNeyInterpolated (slow)")
    parser.add_argument(
        "--train-seconds",
        type=float,
        help="the bundle's training time as `bowgram train` printed it (not in the manifest: a bundle is the "
        "same bytes on every build)",
    )
    parser.add_argument("--out", default=str(HERE / "results/lm_valid.md"))
    args = parser.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "1")

    from bowgram.runtime import load
    from bowgram.runtime.corpus import read_text
    from bowgram.runtime.tasks import nextword
    from bowgram.runtime.tokenizer import windows

    predictor = load(args.bundle, task="nextword")
    order, vocab = predictor.context_size + 1, predictor.vocab
    train_seqs = predictor.tokenizer.sequences(read_text(args.train))
    valid_text = read_text(args.valid)
    contexts, targets = windows(predictor.tokenizer.sequences(valid_text), vocab, predictor.context_size)

    VOCAB_WORDS[:] = vocab.words
    typed = [t for seq in predictor.tokenizer.sequences(valid_text) for t in seq]
    rows = []
    started = time.perf_counter()
    ours = nextword.metrics_of(predictor, predictor.tokenizer.sequences(valid_text))
    eval_s = time.perf_counter() - started
    batch = contexts[:256]
    started = time.perf_counter()
    for _ in range(20):
        predictor.predict([" ".join(vocab.words[i] for i in row) for row in batch], k=5)
    qps = 20 * len(batch) / (time.perf_counter() - started)
    train_s = args.train_seconds
    artifacts = predictor.bundle.manifest.artifacts
    bundle_mb = sum(a.size for a in artifacts) / 1e6
    onnx_mb = sum(a.size for a in artifacts if a.format == "onnx" and a.path == "model.onnx") / 1e6
    int8_mb = sum(a.size for a in artifacts if a.path == "model.int8.onnx") / 1e6
    rows.append(
        (
            "bowgram (ONNX, predict() top-5, batch 256)",
            ours["perplexity"],
            ours["top1"],
            ours["top5"],
            ours["keystroke_savings_k3"],
            train_s,
            qps,
        )
    )
    cache = predictor.cache
    if cache is not None:
        rows.append(
            (
                f"bowgram with the writer's cache (window {cache.window}, weights {cache.unigram} / {cache.bigram})",
                ours["perplexity_cache"],
                ours["top1_cache"],
                ours["top5_cache"],
                ours["keystroke_savings_k3_cache"],
                train_s,
                None,
            )
        )

    started = time.perf_counter()
    kn = ModifiedKneserNey([vocab.ids(s) for s in train_seqs], order, len(vocab))
    kn_train = time.perf_counter() - started
    m = evaluate(kn.distribution, contexts, targets, typed)
    name = f"modified Kneser-Ney, order {order} (numpy)"
    rows.append((name, m["perplexity"], m["top1"], m["top5"], m["keystroke_savings_k3"], kn_train, m["queries_per_s"]))
    if cache is not None:
        m = evaluate(kn.distribution, contexts, targets, typed, cache)
        ks = m["keystroke_savings_k3"]
        rows.append((f"{name} with the same cache", m["perplexity"], m["top1"], m["top5"], ks, None, None))

    if args.nltk:
        rows.append(_nltk_row(train_seqs, valid_text, predictor, order))

    kn_row = next(r for r in rows if r[0].startswith("modified Kneser-Ney"))
    ratio = rows[0][1] / kn_row[1]
    cache_ratio = rows[1][1] / kn_row[1] if cache is not None else None
    lines = [
        f"# Next-word LM on `{Path(args.valid).name}`",
        "",
        f"Machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}. "
        f"Same tokenizer and vocabulary ({len(vocab)} tokens incl. `<s>`, `</s>`, `<unk>`), order {order} "
        f"(context {order - 1}); {ours['tokens']} valid tokens, OOV rate {ours['oov_rate']:.4f}. "
        "Train seconds for bowgram: its training and export as `bowgram train` printed them "
        "(`--train-seconds`, 2 CPU cores); "
        "queries/s are full next-word distributions (bowgram: top-5 answers) on one thread. "
        "A cache row: the writer's cache fed the text as it is read (it sees only the tokens before "
        "the one predicted); its weights were tuned on this same text by the trainer. Keystroke "
        "savings: 3 suggestions, the protocol of the README (`Keystrokes`).",
        "",
        "| model | perplexity | top-1 | top-5 | keystroke savings (k=3) | train s | queries/s |",
        "|---|---|---|---|---|---|---|",
    ]

    def cell(v, fmt):
        return "n/a" if v is None else format(v, fmt)

    for name, ppl, t1, t5, ks, ts, q in rows:
        lines.append(
            f"| {name} | {cell(ppl, '.1f')} | {cell(t1, '.4f')} | {cell(t5, '.4f')} | {cell(ks, '.4f')} "
            f"| {cell(ts, '.0f')} | {cell(q, ',.0f')} |"
        )
    lines += [
        "",
        f"bowgram / Kneser-Ney perplexity ratio: **{ratio:.3f}** without the cache"
        + (f", **{cache_ratio:.3f}** with it" if cache_ratio is not None else "")
        + f"; bowgram's evaluation pass took {eval_s:.1f} s.",
        "",
        f"Bundle: {bundle_mb:.1f} MB with every format; model.onnx {onnx_mb:.1f} MB, model.int8.onnx {int8_mb:.1f} MB"
        + (
            f"; {len(predictor.classes)} output classes (a factored model)."
            if getattr(predictor, "classes", None)
            else "."
        ),
    ]
    Path(args.out).write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))


def _nltk_row(train_seqs, valid_text, predictor, order):
    from nltk.lm import KneserNeyInterpolated
    from nltk.lm.preprocessing import padded_everygram_pipeline

    vocab = predictor.vocab
    mapped = [[w if w in vocab.token_to_id else "<unk>" for w in s[:-1]] for s in train_seqs]
    started = time.perf_counter()
    train, words = padded_everygram_pipeline(order, mapped)
    model = KneserNeyInterpolated(order)
    model.fit(train, words)
    train_s = time.perf_counter() - started
    nll, n = 0.0, 0
    started = time.perf_counter()
    for seq in predictor.tokenizer.sequences(valid_text):
        toks = ["<s>"] * (order - 1) + [w if w in vocab.token_to_id else "<unk>" for w in seq]
        for i in range(order - 1, len(toks)):
            p = model.score(toks[i], toks[i - order + 1 : i])
            nll -= np.log(max(p, 1e-12))
            n += 1
    return (
        f"nltk KneserNeyInterpolated, order {order} (discount 0.1)",
        float(np.exp(nll / n)),
        None,
        None,
        None,
        train_s,
        n / (time.perf_counter() - started),
    )


if __name__ == "__main__":
    main()

"""Experiment, run by hand: could a class-factored next-word model answer one context at a time
fast enough (issue 16 asks 25,000 contexts/s) without losing perplexity?

    python benchmarks/factored_nextword.py --out benchmarks/results/factored_nextword.md

Trains, on the default corpus with the default next-word settings, two models whose output is
factored: p(w | h) = p(class | h) · p(w | class, h), the vocabulary cut into classes of CLASS_SIZE
consecutive ids (ids are ranked by frequency, so the first classes hold the frequent words), the
within-class scores tied to the input embeddings as in the default model. Reports each model's
and the averaged pair's validation perplexity, then an exact top-5 for one context in numpy:
classes in order of their bound (a word's probability is at most its class's), stopping once the
5th best word beats the next class's bound; checked against the full distribution, and timed next
to the default bundle's predict() in alternating passes. Nothing here is shipped: the default
bundle's factored model grew out of it (`export/models.py` `FactoredLM`, `runtime/class_search.py`).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import statistics
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("OMP_NUM_THREADS", "1")
ROOT = Path(__file__).resolve().parent.parent
CLASS_SIZE = 80
CONTEXTS = 2000
K = 5


def factored_model(vocab_size: int, context: int, dim: int, hidden: int, dropout: float, size: int):
    import torch
    import torch.nn.functional as F
    from torch import nn

    from bowgram.export.models import Linear

    class FactoredLM(nn.Module):
        def __init__(self):
            super().__init__()
            self.size, self.classes_n = size, -(-vocab_size // size)
            self.embedding = nn.Embedding(vocab_size, dim)
            self.hidden = Linear(context * dim, hidden)
            self.dropout = nn.Dropout(dropout)
            self.project = Linear(hidden, dim)
            self.word_bias = nn.Parameter(torch.zeros(vocab_size))
            self.classes = Linear(dim, self.classes_n)

        def forward(self, ids: torch.Tensor) -> torch.Tensor:
            x = self.dropout(self.embedding(ids).float().flatten(1))
            h = self.project(self.dropout(F.relu(self.hidden(x))))
            log_class = F.log_softmax(self.classes(h), -1)
            z = h @ self.embedding.weight.float().T + self.word_bias
            padded = F.pad(z, (0, self.classes_n * size - vocab_size), value=-1e9).view(len(ids), -1, size)
            within = (padded - torch.logsumexp(padded, -1, keepdim=True)).view(len(ids), -1)[:, :vocab_size]
            return within + log_class.repeat_interleave(size, dim=1)[:, :vocab_size]

    return FactoredLM()


class ExactTopK:
    """Top-k of the averaged factored models for one context, in numpy (float32 weights)."""

    def __init__(self, models, size: int):
        weights = [{k: v.detach().float().numpy() for k, v in m.state_dict().items()} for m in models]
        stack = lambda name: np.ascontiguousarray(np.stack([w[name] for w in weights]))  # noqa: E731
        self.emb, self.word_bias = stack("embedding.weight"), stack("word_bias")
        self.hidden_w, self.hidden_b = stack("hidden.weight"), stack("hidden.bias")[:, :, None]
        self.project_w, self.project_b = stack("project.weight"), stack("project.bias")[:, :, None]
        self.class_w, self.class_b = stack("classes.weight"), stack("classes.bias")
        self.size, self.vocab = size, self.emb.shape[1]
        self.visited: list[int] = []

    def __call__(self, ids: np.ndarray, k: int = K) -> tuple[np.ndarray, np.ndarray]:
        members = np.arange(len(self.emb))[:, None]
        x = self.emb[members, ids[None, :]].reshape(len(self.emb), -1, 1)  # [members, context*dim, 1]
        h = self.project_w @ np.maximum(self.hidden_w @ x + self.hidden_b, 0) + self.project_b  # [m, dim, 1]
        zc = (self.class_w @ h)[:, :, 0] + self.class_b
        pc = np.exp(zc - zc.max(axis=1, keepdims=True))
        pc /= pc.sum(axis=1, keepdims=True)  # [members, classes]
        bound = pc.mean(axis=0)  # no word of class c is more likely than this
        best_p, best_w, visited = np.zeros(0, np.float32), np.zeros(0, np.int64), 0
        for c in np.argsort(-bound).tolist():
            if len(best_p) >= k and bound[c] <= best_p[k - 1]:
                break
            lo, hi = c * self.size, min((c + 1) * self.size, self.vocab)
            z = (self.emb[:, lo:hi] @ h)[:, :, 0] + self.word_bias[:, lo:hi]
            e = np.exp(z - z.max(axis=1, keepdims=True))
            p = (pc[:, c : c + 1] * e / e.sum(axis=1, keepdims=True)).mean(axis=0)
            best_p, best_w = np.concatenate([best_p, p]), np.concatenate([best_w, np.arange(lo, hi)])
            keep = np.argsort(-best_p, kind="stable")[:k]
            best_p, best_w, visited = best_p[keep], best_w[keep], visited + 1
        self.visited.append(visited)
        return best_w, best_p


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/factored_nextword.md")
    parser.add_argument("--epochs", type=int, default=20)
    args = parser.parse_args()
    import torch

    from bowgram.export.nextword_training import NextwordConfig, _batches, load_text, loss_of
    from bowgram.export.train_config import fitted
    from bowgram.export.trainer import fit, seed_everything
    from bowgram.runtime import load
    from bowgram.runtime.tokenizer import Tokenizer, TokenizerSpec, Vocab, detokenize, windows

    torch.set_num_threads(os.cpu_count() or 1)
    config = NextwordConfig()
    tokenizer = Tokenizer(TokenizerSpec(casefold=config.casefold))
    train_text, valid_text = load_text("default")
    sequences, valid_seqs = tokenizer.sequences(train_text), tokenizer.sequences(valid_text or "")
    vocab = Vocab.build(sequences, config.min_count)
    x, y = windows(sequences, vocab, config.context)
    vx, vy = windows(valid_seqs, vocab, config.context)
    x_t, y_t, vx_t, vy_t = map(torch.from_numpy, (x, y, vx, vy))
    train = dataclasses.replace(fitted(config.train, len(y)), epochs=args.epochs, quiet=True)
    config = dataclasses.replace(config, train=train)

    def score(m):
        ppl = float(np.exp(loss_of(m, vx_t, vy_t)))
        return {"valid_perplexity": ppl, "score": ppl}

    models, singles, started = [], [], time.time()
    for member in range(config.members):
        seed_everything(member)
        model = factored_model(len(vocab), config.context, config.dim, config.hidden, config.dropout, CLASS_SIZE)
        batches = _batches(x_t, y_t, config, member)
        model, _, best = fit(
            model, batches, -(-len(y) // train.batch_size), score, dataclasses.replace(train, seed=member), False
        )
        models.append(model.eval())
        singles.append(best["valid_perplexity"])
    train_s = time.time() - started
    with torch.no_grad():
        full = [
            (sum(torch.exp(m(vx_t[s : s + 4096])) for m in models) / len(models)).numpy()
            for s in range(0, len(vy), 4096)
        ]
    full = np.concatenate(full)
    pair = float(np.exp(-np.log(full[np.arange(len(vy)), vy]).mean()))
    topk = ExactTopK(models, CLASS_SIZE)
    rng = np.random.default_rng(0)
    rows = rng.choice(len(vy), CONTEXTS, replace=False)
    exact = sum(
        bool(np.allclose(np.sort(full[i][np.argsort(-full[i], kind="stable")[:K]]), np.sort(topk(vx[i])[1]), atol=1e-6))
        for i in rows
    )
    visited = statistics.mean(topk.visited)
    default = load(ROOT / "artifacts/nextword")
    texts = [detokenize([vocab.words[t] for t in vx[i] if t > 2]) for i in rows]
    passes: dict[str, list[float]] = {"factored, numpy exact top-5": [], "default bundle predict()": []}
    for _ in range(5):
        started = time.perf_counter()
        for i in rows:
            topk(vx[i])
        passes["factored, numpy exact top-5"].append((time.perf_counter() - started) / len(rows) * 1e6)
        started = time.perf_counter()
        for t in texts:
            default.predict(t, k=K)
        passes["default bundle predict()"].append((time.perf_counter() - started) / len(rows) * 1e6)
    lines = [
        "# A class-factored next-word model (experiment, not shipped)",
        "",
        f"Measured {time.strftime('%Y-%m-%d')} with `benchmarks/factored_nextword.py` on {os.cpu_count()} cores; "
        f"default corpus and settings, classes of {CLASS_SIZE} frequency-ranked words, {args.epochs} epochs at most, "
        f"{config.members} models trained in {train_s:.0f} s.",
        "",
        "| model | valid perplexity |",
        "|---|---:|",
        *[f"| factored model {i + 1} | {p:.2f} |" for i, p in enumerate(singles)],
        f"| factored pair, probabilities averaged | {pair:.2f} |",
        "",
        f"Exact top-{K} in numpy equals the full distribution's on {exact} of {len(rows)} validation contexts; "
        f"it looks into {visited:.2f} classes a context on average.",
        "",
        "| one context at a time (µs, median of 5 alternating passes) | µs |",
        "|---|---:|",
        *[f"| {name} | {statistics.median(v):.1f} |" for name, v in passes.items()],
        "",
        "The numpy time includes no tokenizing (contexts are ids); the default bundle's includes it.",
    ]
    args.out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))


if __name__ == "__main__":
    main()

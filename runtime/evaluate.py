"""Evaluation metrics for both tasks, computed from a loaded predictor and a data file."""

from __future__ import annotations

from collections import Counter

import numpy as np

from .corpus import short_spans
from .tokenizer import windows


SHORT_SEED = 12345  # fixed, so every eval of the same file cuts the same spans


def langid_report(identifier, gold: list[str], texts: list[str]) -> dict:
    """`langid_metrics` on the rows as given, plus accuracy on 1-3 word spans cut from them."""
    metrics = langid_metrics(identifier, gold, texts)
    short = langid_metrics(identifier, *short_spans(gold, texts, SHORT_SEED))
    metrics["short_spans"] = {k: short[k] for k in ("accuracy", "macro_f1", "covered")}
    return metrics


def langid_metrics(identifier, gold: list[str], texts: list[str], batch: int = 4096, confusions: int = 10) -> dict:
    """Accuracy, macro-F1, per-label P/R/F1 and top confusions, over rows whose label is known."""
    known = set(identifier.labels)
    covered = [i for i, g in enumerate(gold) if g in known]
    unknown = Counter(g for g in gold if g not in known)
    predicted = []
    for start in range(0, len(covered), batch):
        rows = [texts[i] for i in covered[start : start + batch]]
        predicted += [p[0][0] for p in identifier.predict(rows, k=1)]
    gold_c = [gold[i] for i in covered]
    pairs = list(zip(gold_c, predicted))
    hits = Counter(g for g, p in pairs if g == p)
    n_pred, n_gold = Counter(predicted), Counter(gold_c)
    per_label = {}
    for label in sorted(n_gold):
        precision = hits[label] / n_pred[label] if n_pred[label] else 0.0
        recall = hits[label] / n_gold[label]
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per_label[label] = {"precision": precision, "recall": recall, "f1": f1, "support": n_gold[label]}
    confused = Counter((g, p) for g, p in pairs if g != p)
    correct = sum(hits.values())
    return {
        "accuracy": correct / len(gold_c) if gold_c else 0.0,
        "macro_f1": float(np.mean([v["f1"] for v in per_label.values()])) if per_label else 0.0,
        "n": len(gold),
        "covered": len(gold_c),
        "unknown_labels": dict(unknown),
        "per_label": per_label,
        "confusions": [{"gold": g, "predicted": p, "count": c} for (g, p), c in confused.most_common(confusions)],
    }


def nextword_metrics(predictor, text: str) -> dict:
    """Perplexity over every token (<unk> and </s> targets included, as KenLM counts them),
    top-1/top-5 accuracy, token count and OOV rate."""
    return sequence_metrics(predictor, predictor.tokenizer.sequences(text))


def sequence_metrics(predictor, sequences: list[list[str]], batch: int = 2048) -> dict:
    """`nextword_metrics` for text already split into token sequences."""
    contexts, targets = windows(sequences, predictor.vocab, predictor.context_size)
    nll, top1, top5 = 0.0, 0, 0
    for start in range(0, len(targets), batch):
        logp = predictor.log_probs_of_ids(contexts[start : start + batch]).astype(np.float64)
        tgt = targets[start : start + batch]
        target_lp = logp[np.arange(len(tgt)), tgt]
        nll -= target_lp.sum()
        rank = (logp > target_lp[:, None]).sum(axis=1)  # how many tokens score above the target
        top1 += int((rank < 1).sum())
        top5 += int((rank < 5).sum())
    n = len(targets)
    oov = int((targets == predictor.vocab.unk_id).sum())
    return {
        "perplexity": float(np.exp(nll / n)) if n else float("nan"),
        "top1": top1 / n if n else 0.0,
        "top5": top5 / n if n else 0.0,
        "tokens": n,
        "oov": oov,
        "oov_rate": oov / n if n else 0.0,
    }

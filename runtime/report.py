"""Readable text for people: manifest summaries and metric tables (the CLI's non-JSON output)."""

from __future__ import annotations

from .manifest import Manifest


def manifest_summary(m: Manifest) -> str:
    lines = [f"task:        {m.task}  (format_version {m.format_version}, created {m.created})",
             "model:       " + ", ".join(f"{k}={v}" for k, v in m.model.items() if not isinstance(v, dict)),
             "featurizer:  " + ", ".join(f"{k}={v}" for k, v in m.featurizer.items()),
             "producer:    " + ", ".join(f"{k} {v}" for k, v in m.producer.items())]
    for io in ("inputs", "outputs"):
        for t in m.signature.get(io, []):
            lines.append(f"{io[:-1]:<12} {t['name']} {t['dtype']} {t['shape']}")
    lines.append("files:")
    for a in m.artifacts:
        extra = f" opset {a.opset}, IR {a.ir_version}" if a.opset else ""
        lines.append(f"  {a.path:<24} {a.format:<12} {a.size:>10,} B  sha256 {a.sha256[:12]}…{extra}")
    for fmt, v in m.validation.items():
        if "skipped" in v:
            lines.append(f"validation:  {fmt}: absent ({v['skipped']})")
            continue
        line = f"validation:  {fmt}: {v.get('examples')} test vectors"
        line += f", max abs diff vs torch {v['max_abs_diff']:.2g}" if "max_abs_diff" in v else ""
        line += f"; {v['measure']} {v['fp32']:.4f} (fp32) -> {v['int8']:.4f} (int8)" if "measure" in v else ""
        lines.append(line)
    reports = [a.path for a in m.artifacts if a.format == "report"]
    if reports:
        lines.append("report:      " + ", ".join(reports) + "  (training curves, per-label scores; open report.md)")
    best = m.metrics.get("best")
    if best:
        lines.append("metrics:     " + ", ".join(f"{k}={_fmt(v)}" for k, v in best.items()))
    return "\n".join(lines)


def metrics_table(task: str, metrics: dict) -> str:
    if task == "nextword":
        return "\n".join(f"{k:<12} {_fmt(metrics[k])}" for k in ("perplexity", "top1", "top5", "tokens", "oov", "oov_rate"))
    lines = [f"accuracy     {metrics['accuracy']:.4f}", f"macro_f1     {metrics['macro_f1']:.4f}",
             f"rows         {metrics['n']} ({metrics['covered']} with a label the model knows)"]
    if "short_spans" in metrics:
        lines.append(f"short spans  accuracy {metrics['short_spans']['accuracy']:.4f}, "
                     f"macro_f1 {metrics['short_spans']['macro_f1']:.4f} (1-3 words cut from each row)")
    if metrics["unknown_labels"]:
        lines.append("unknown gold labels: " + ", ".join(f"{k} ({v})" for k, v in metrics["unknown_labels"].items()))
    lines.append("\nlabel   precision  recall     f1  support")
    for label, row in sorted(metrics["per_label"].items(), key=lambda kv: kv[1]["f1"]):
        lines.append(f"{label:<7} {row['precision']:>9.3f} {row['recall']:>7.3f} {row['f1']:>6.3f} {row['support']:>8}")
    if metrics["confusions"]:
        lines.append("\nmost frequent confusions (gold -> predicted):")
        lines += [f"  {c['gold']} -> {c['predicted']}: {c['count']}" for c in metrics["confusions"]]
    return "\n".join(lines)


def _fmt(v) -> str:
    return f"{v:.4f}" if isinstance(v, float) else str(v)

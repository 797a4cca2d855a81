"""`bowgram info`'s text: a manifest summarized for people (each task prints its own metrics)."""

from __future__ import annotations

from typing import Any

from .manifest import Manifest


def manifest_summary(m: Manifest) -> str:
    lines = [
        f"task:        {m.task}  (format_version {m.format_version}, created {m.created})",
        "model:       " + ", ".join(f"{k}={v}" for k, v in m.model.items() if not isinstance(v, (dict, list))),
        "featurizer:  " + ", ".join(f"{k}={v}" for k, v in m.featurizer.items()),
        "producer:    " + ", ".join(f"{k} {v}" for k, v in m.producer.items()),
    ]
    cache = m.model.get("cache")
    if isinstance(cache, dict):  # validated by the task on load
        lines.append(
            f"writer:      a cache of the last {cache.get('window')} tokens written, weights {cache.get('unigram')} "
            f"(words) and {cache.get('bigram')} (word pairs): lm.writer(), bowgram nextword --adapt"
        )
    classes = m.model.get("classes")
    if isinstance(classes, list):  # validated by the task on load
        lines.append(
            f"classes:     {len(classes)} output classes of consecutive ids (a factored model: exact top-k "
            "from the weights, without scoring every word)"
        )
    for source in m.model.get("training_data", []):  # where the model learnt from, one line each
        if isinstance(source, dict):
            rows = f"{source['rows']:,}" if isinstance(source.get("rows"), int) else "?"
            lines.append(f"data:        {source.get('name')}: {rows} rows ({source.get('licence')})")
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
        lines.append("report:      " + ", ".join(reports) + "  (training curves and held-out metrics; open report.md)")
    best = m.metrics.get("best")
    if best:
        lines.append("metrics:     " + ", ".join(f"{k}={_fmt(v)}" for k, v in best.items() if not isinstance(v, list)))
        for i, member in enumerate(best.get("models", []), 1):  # an average of models: one line each
            lines.append(f"  model {i}:   " + ", ".join(f"{k}={_fmt(v)}" for k, v in member.items()))
    return "\n".join(lines)


def _fmt(v: Any) -> str:
    return f"{v:.4f}" if isinstance(v, float) else str(v)


def languages_summary(languages: dict[str, dict[str, str]], width: int = 100) -> str:
    """`languages.json` as `bowgram info` lists it: each label with its name, wrapped."""
    entries = [f"{label} {entry.get('name', '?')}" for label, entry in sorted(languages.items())]
    lines = [f"languages:   {len(entries)} (label and name; --codes iso639-1|iso639-3|flores for other codes)"]
    line = " "
    for entry in entries:
        if len(line) + len(entry) + 2 > width:
            lines.append(line.rstrip(", "))
            line = " "
        line += f" {entry},"
    lines.append(line.rstrip(", "))
    return "\n".join(lines)

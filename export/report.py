"""The training report written into every bundle: `report.md` and its PNG plots.

Plots: loss and the dev score per epoch (both tasks); for language ID also the confusion matrix
of the most-confused languages and the per-language F1, sorted. matplotlib runs headless (Agg).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np


def write_report(folder: Path, task: str, metrics: dict, dev: dict) -> list[str]:
    """Write report.md and the plots into `folder`; returns the file names written."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    files = [_curves(folder, task, metrics["history"], plt)]
    if task == "langid":
        files.append(_f1(folder, dev, plt))
        if dev["confusions"]:
            files.append(_confusions(folder, dev, plt))
    (folder / "report.md").write_text(_markdown(task, metrics, dev, files), encoding="utf-8")
    return ["report.md", *files]


def _curves(folder: Path, task: str, history: list[dict], plt) -> str:
    """Loss (left axis) and the dev score (right axis) per epoch; one pair of lines per model
    when the bundle averages several."""
    models = sorted({h.get("model", 1) for h in history})
    fig, left = plt.subplots(figsize=(7, 4), dpi=100)
    right = left.twinx()
    for n, model in enumerate(models):
        rows = [h for h in history if h.get("model", 1) == model]
        suffix, style = (f", model {model}" if len(models) > 1 else ""), ("-", "--", ":", "-.")[n % 4]
        epochs = [h["epoch"] for h in rows]
        left.plot(epochs, [h["train_loss"] for h in rows], "o" + style, color="tab:blue", label="training loss" + suffix)
        if task == "langid":
            right.plot(epochs, [h["dev_accuracy"] for h in rows], "s-", color="tab:orange", label="dev accuracy")
            right.plot(epochs, [h["dev_short_accuracy"] for h in rows], "^-", color="tab:green", label="dev short-span accuracy")
        else:
            key = "valid_perplexity" if "valid_perplexity" in rows[0] else "score"
            right.plot(epochs, [h[key] for h in rows], "s" + style, color="tab:orange", label="valid perplexity" + suffix)
    left.set_xlabel("epoch")
    left.xaxis.get_major_locator().set_params(integer=True)
    left.set_ylabel("training loss (NLL)", color="tab:blue")
    right.set_ylabel("accuracy" if task == "langid" else "perplexity (log scale)")
    if task != "langid":
        right.set_yscale("log")  # averaged weights start far off: a linear axis hides the end
    title = ("Language ID: training loss and dev accuracy" if task == "langid"
             else "Next word: training loss and validation perplexity")
    lines = left.get_legend_handles_labels()[0] + right.get_legend_handles_labels()[0]
    left.legend(lines, [l.get_label() for l in lines], loc="upper center", bbox_to_anchor=(0.5, -0.14),
                ncol=min(len(lines), 3), frameon=False, fontsize=8)  # below the axes: never over a curve
    left.set_title(title)
    fig.tight_layout()
    fig.savefig(folder / "training_curves.png")
    plt.close(fig)
    return "training_curves.png"


def _f1(folder: Path, dev: dict, plt) -> str:
    rows = sorted(dev["per_label"].items(), key=lambda kv: kv[1]["f1"])
    fig, ax = plt.subplots(figsize=(7, max(4, len(rows) * 0.16)), dpi=100)
    ax.barh([label for label, _ in rows], [r["f1"] for _, r in rows], color="tab:blue")
    ax.set_xlabel("F1 on the dev set")
    ax.set_xlim(min(0.5, min(r["f1"] for _, r in rows)), 1.0)
    ax.tick_params(axis="y", labelsize=7)
    ax.set_title("Per-language F1 (dev), worst at the bottom")
    ax.margins(y=0.005)
    fig.tight_layout()
    fig.savefig(folder / "per_language_f1.png")
    plt.close(fig)
    return "per_language_f1.png"


def _confusions(folder: Path, dev: dict, plt, size: int = 12) -> str:
    langs: list[str] = []
    for c in dev["confusions"]:
        for lang in (c["gold"], c["predicted"]):
            if lang not in langs and len(langs) < size:
                langs.append(lang)
    index = {lang: i for i, lang in enumerate(langs)}
    matrix = np.zeros((len(langs), len(langs)), dtype=int)
    for c in dev["confusions"]:
        if c["gold"] in index and c["predicted"] in index:
            matrix[index[c["gold"]], index[c["predicted"]]] += c["count"]
    fig, ax = plt.subplots(figsize=(6.5, 5.5), dpi=100)
    image = ax.imshow(matrix, cmap="Reds")
    ax.set_xticks(range(len(langs)), langs, rotation=45)
    ax.set_yticks(range(len(langs)), langs)
    ax.set_xlabel("predicted")
    ax.set_ylabel("gold")
    for (i, j), v in np.ndenumerate(matrix):
        if v:
            ax.text(j, i, str(v), ha="center", va="center", fontsize=8,
                    color="white" if v > matrix.max() / 2 else "black")
    fig.colorbar(image, ax=ax, label="dev sentences (errors only)")
    ax.set_title("Most-confused languages (dev errors)")
    fig.tight_layout()
    fig.savefig(folder / "confusions.png")
    plt.close(fig)
    return "confusions.png"


def _markdown(task: str, metrics: dict, dev: dict, plots: list[str]) -> str:
    best = metrics["best"]
    lines = [f"# Training report: {task}", "",
             f"Data: `{metrics.get('data')}`; device {metrics.get('device')}; training took {metrics.get('train_seconds')} s; "
             + (f"the bundle averages {len(best['models'])} models trained from different seeds, each kept at its "
                f"best epoch ({', '.join(str(b.get('epoch')) for b in best['models'])})." if "models" in best else
                f"the bundle holds the model of epoch {best.get('epoch')} (best dev score)."), ""]
    lines += ["| epoch | " + " | ".join(k for k in metrics["history"][0] if k != "epoch") + " |",
              "|---" * len(metrics["history"][0]) + "|"]
    for h in metrics["history"]:
        lines.append(f"| {h['epoch']} | " + " | ".join(f"{v:.4f}" if isinstance(v, float) else str(v)
                                                         for k, v in h.items() if k != "epoch") + " |")
    lines += [""] + [f"![{p}]({p})" for p in plots] + [""]
    if task == "langid":
        lines += [f"Dev accuracy {dev['accuracy']:.4f}, macro-F1 {dev['macro_f1']:.4f} over {dev['covered']} rows.", "",
                  "Weakest languages (F1): " + ", ".join(f"{l} {r['f1']:.3f}" for l, r in
                                                          sorted(dev["per_label"].items(), key=lambda kv: kv[1]["f1"])[:10]),
                  "", "Most frequent confusions: " + ", ".join(f"{c['gold']}→{c['predicted']} ({c['count']})"
                                                              for c in dev["confusions"][:10])]
    else:
        lines += [f"Validation: perplexity {dev['perplexity']:.2f}, top-1 {dev['top1']:.4f}, top-5 {dev['top5']:.4f}, "
                  f"{dev['tokens']} tokens, OOV rate {dev['oov_rate']:.4f}."]
    return "\n".join(lines) + "\n"

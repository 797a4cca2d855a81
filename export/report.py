"""The training report written into every bundle: `report.md` and its PNG plots.

Every task gets the training curves (loss and each dev metric per epoch) and its dev metrics as
`bowgram eval` prints them; a task adds its own plots (`TaskTraining.plots`). matplotlib runs
headless (Agg).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from .training import Trained

NOT_CURVES = ("epoch", "model", "train_loss", "score")  # history keys that are not dev metrics


def write_report(folder: Path, trained: Trained, table: str, plots: Callable[[Path, Any], list[str]]) -> list[str]:
    """Write report.md and the plots into `folder`; returns the file names written. `table` is the
    held-out metrics as `bowgram eval` prints them; `plots` draws the task's own plots."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    task, metrics = trained.task, trained.metrics
    files = [_curves(folder, task, metrics["history"], plt), *plots(folder, plt)]
    sources = trained.model_info.get("training_data", [])
    (folder / "report.md").write_text(_markdown(task, metrics, table, files, sources), encoding="utf-8")
    return ["report.md", *files]


def _curves(folder: Path, task: str, history: list[dict[str, Any]], plt: Any) -> str:
    """Loss (left axis) and the dev metrics (right axis; a log axis for perplexity) per epoch;
    one set of lines per model when the bundle averages several."""
    models = sorted({h.get("model", 1) for h in history})
    fig, left = plt.subplots(figsize=(7, 4), dpi=100)
    right = left.twinx()
    keys = [k for k in history[0] if k not in NOT_CURVES] or ["score"]  # no dev metric: the score it followed
    colors = ("tab:orange", "tab:green", "tab:red", "tab:purple")
    for n, model in enumerate(models):
        rows = [h for h in history if h.get("model", 1) == model]
        suffix, style = (f", model {model}" if len(models) > 1 else ""), ("-", "--", ":", "-.")[n % 4]
        epochs = [h["epoch"] for h in rows]
        left.plot(
            epochs, [h["train_loss"] for h in rows], "o" + style, color="tab:blue", label="training loss" + suffix
        )
        for i, key in enumerate(keys):
            right.plot(
                epochs,
                [h[key] for h in rows],
                "s^vD"[i % 4] + style,
                color=colors[i % 4],
                label=key.replace("_", " ") + suffix,
            )
    left.set_xlabel("epoch")
    left.xaxis.get_major_locator().set_params(integer=True)
    left.set_ylabel("training loss (NLL)", color="tab:blue")
    perplexity = any("perplexity" in k for k in keys)
    right.set_ylabel("perplexity (log scale)" if perplexity else ", ".join(k.replace("_", " ") for k in keys))
    if perplexity:
        right.set_yscale("log")  # averaged weights start far off: a linear axis hides the end
    title = f"{task}: training loss and " + ("dev metrics" if keys != ["score"] else "the training score")
    lines = left.get_legend_handles_labels()[0] + right.get_legend_handles_labels()[0]
    left.legend(
        lines,
        [line.get_label() for line in lines],
        loc="upper center",
        bbox_to_anchor=(0.5, -0.14),
        ncol=min(len(lines), 3),
        frameon=False,
        fontsize=8,
    )  # below the axes: never over a curve
    left.set_title(title)
    fig.tight_layout()
    fig.savefig(folder / "training_curves.png")
    plt.close(fig)
    return "training_curves.png"


def _markdown(task: str, metrics: dict[str, Any], table: str, plots: list[str], sources: list[dict[str, Any]]) -> str:
    best, history = metrics["best"], metrics["history"]
    lines = [
        f"# Training report: {task}",
        "",
        f"Data: `{metrics.get('data')}`; device {metrics.get('device')}; "
        + (
            f"the bundle averages {len(best['models'])} models trained from different seeds, each kept at its "
            f"best epoch ({', '.join(str(b.get('epoch')) for b in best['models'])})."
            if "models" in best
            else f"the bundle holds the model of epoch {best.get('epoch')} (best dev score)."
        ),
        "",
    ]
    lines += ["| epoch | " + " | ".join(k for k in history[0] if k != "epoch") + " |", "|---" * len(history[0]) + "|"]
    for h in history:
        lines.append(
            f"| {h['epoch']} | "
            + " | ".join(f"{v:.4f}" if isinstance(v, float) else str(v) for k, v in h.items() if k != "epoch")
            + " |"
        )
    lines += [
        "",
        "`score` is what early stopping follows and the best epoch is chosen by "
        + (
            "(lower is better: validation perplexity)."
            if "valid_perplexity" in history[0] or "models" in best
            else "(higher is better: the mean of accuracy on sentences and on short spans of the set it "
            "names: FLORES-200 dev for the default model, else dev)."
        ),
    ]
    lines += [""] + [f"![{p}]({p})" for p in plots] + [""]
    validation = metrics.get("validation")
    if validation:
        lines += [f"Validation: {validation}.", ""]
    held_out = not (validation or "").startswith("none")
    lines += [
        ("Held-out metrics of the exported model" if held_out else "Metrics on the training text (nothing held out)")
        + " (as `bowgram eval` prints them):",
        "",
        "```",
        table,
        "```",
    ]
    if sources:
        lines += ["", "## Training data", "", "| source | rows | licence | origin |", "|---|---|---|---|"]
        lines += [f"| {s['name']} | {s['rows']:,} | {s['licence']} | {s['origin']} |" for s in sources]
        credits = [s["credit"] for s in sources if s.get("credit")]
        lines += ["", "Credits:", ""] + [f"- {c}" for c in dict.fromkeys(credits)] if credits else []
    return "\n".join(lines) + "\n"

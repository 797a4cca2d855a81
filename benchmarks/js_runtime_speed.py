"""The JavaScript runtime's speed next to the Python runtime's, in the same run (by hand):

    python benchmarks/js_runtime_speed.py --out benchmarks/results/js_runtime_speed.md

Language ID on dev sentences and next word on validation-sonnet contexts, batch 1 and 1024, one
thread each, ONNX fp32 and int8 (langid). Each round times the Python runtime in this process,
then the JavaScript runtime in a Node process (its own timer, after load and warm-up); rounds
alternate ROUNDS times and the table reports medians and the median of the per-round ratios.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import platform
import statistics
import subprocess
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
ROOT = Path(__file__).resolve().parent.parent
ROUNDS = 5
TEXTS = {"langid": 4096, "nextword": 2048}
BATCH_1_TEXTS = {"langid": 1024, "nextword": 1024}


def texts_for(task: str) -> list[str]:
    if task == "langid":
        lines = gzip.open(ROOT / "export/data/langid/dev.tsv.gz", "rt", encoding="utf-8").read().splitlines()
        return [line.split("\t", 1)[1] for line in lines][:: max(1, len(lines) // TEXTS[task])][: TEXTS[task]]
    lines = [
        x.strip() for x in (ROOT / "export/data/lm/valid.txt").read_text(encoding="utf-8").splitlines() if x.strip()
    ]
    return (lines * (TEXTS[task] // len(lines) + 1))[: TEXTS[task]]


def python_pass(predictor, texts: list[str], batch: int, options: dict) -> float:
    predictor.predict(texts[:64], **options)  # warm up, as the Node pass does
    start = time.perf_counter()
    for i in range(0, len(texts), batch):
        chunk = texts[i : i + batch]
        predictor.predict(chunk[0] if batch == 1 else chunk, **options)
    return len(texts) / (time.perf_counter() - start)


def node_pass(job: dict) -> float:
    out = subprocess.run(
        ["node", str(ROOT / "benchmarks" / "js_speed.mjs")],
        input=json.dumps(job),
        capture_output=True,
        text=True,
        check=True,
    )
    result = json.loads(out.stdout)
    return result["texts"] / result["seconds"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/js_runtime_speed.md")
    args = parser.parse_args()
    from bowgram.runtime import load

    rows = []
    for task, precisions in (("langid", ("fp32", "int8")), ("nextword", ("fp32",))):
        all_texts = texts_for(task)
        options = {"k": 1} if task == "langid" else {"k": 5}
        for precision in precisions:
            bundle = ROOT / "artifacts" / task
            predictor = load(bundle, backend="onnx", precision=precision, threads=1)
            for batch in (1, 1024):
                texts = all_texts[: BATCH_1_TEXTS[task]] if batch == 1 else all_texts
                job = {"bundle": str(bundle), "precision": precision, "task": task, "batch": batch, "texts": texts}
                py, js = [], []
                for _ in range(ROUNDS):
                    py.append(python_pass(predictor, texts, batch, options))
                    js.append(node_pass(job))
                ratio = statistics.median(j / p for j, p in zip(js, py))
                rows.append((task, precision, batch, len(texts), statistics.median(py), statistics.median(js), ratio))
                print(rows[-1], flush=True)
    node = subprocess.run(["node", "--version"], capture_output=True, text=True).stdout.strip()
    lines = [
        "# JavaScript runtime vs Python runtime",
        "",
        f"Measured {time.strftime('%Y-%m-%d')} on {platform.machine()} ({os.cpu_count()} cores), "
        f"Python {platform.python_version()}, Node {node}; one thread each (onnxruntime and onnxruntime-node, CPU). "
        f"Median of {ROUNDS} alternating rounds (Python, Node, Python, …); the ratio is the median of "
        "the per-round ratios. Texts/s end to end: strings in, answers out, after load and warm-up. "
        "The Python predictor stays loaded across rounds; each JavaScript round is a fresh process. At "
        "batch 1 the Python runtime answers from the bundles' own weights where it can (fp32: language ID "
        "by word_scores.py, next word by the class search of class_search.py), the JavaScript runtime "
        "always through onnxruntime-node (next word: the graph's full distribution and TopK).",
        "",
        "| task | model | batch | texts | Python texts/s | JavaScript texts/s | JS / Python |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for task, precision, batch, n, py, js, ratio in rows:
        lines.append(f"| {task} | onnx {precision} | {batch} | {n} | {py:,.0f} | {js:,.0f} | {ratio:.2f}× |")
    lines += [
        "",
        "Language ID texts: dev sentences (`export/data/langid/dev.tsv.gz`, every n-th line); next word: lines of",
        "`export/data/lm/valid.txt` as contexts, top 5.",
    ]
    args.out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()

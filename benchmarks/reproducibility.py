"""How far does `bowgram build` on this machine land from the committed default bundles, and from
itself with another thread count? (run by hand; about 10 minutes a build on 2 cores)

    python benchmarks/reproducibility.py --threads 1 2 --work /tmp/repro

Each thread count gets a build of its own (`bowgram build --no-check`, OMP_NUM_THREADS and
MKL_NUM_THREADS set) in a fresh process. Each build is compared with the committed bundles in
`artifacts/` by the rule `bowgram build` checks (same top answers on held-out data, metrics within
the task's tolerance: `export/reproduce.py`), and the builds are compared with each other file by
file. Writes benchmarks/results/reproducibility.md and .json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

from bowgram.export.reproduce import compare, table
from bowgram.export.training import get
from bowgram.runtime import tasks

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"


def cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def build(folder: Path, threads: int) -> float:
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}
    started = time.perf_counter()
    subprocess.run(["bowgram", "build", "--out", str(folder), "--no-check", "--quiet"], check=True, env=env)
    return time.perf_counter() - started


def differing_files(a: Path, b: Path) -> list[str]:
    """Files whose bytes differ; for the manifest, anything but its creation time (a build into
    a new folder stamps the time it ran)."""

    def content(path: Path) -> bytes | dict:
        return {**json.loads(path.read_bytes()), "created": None} if path.name == "manifest.json" else path.read_bytes()

    return sorted(p.name for p in a.iterdir() if p.is_file() and content(p) != content(b / p.name))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--work", type=Path, required=True, help="scratch folder for the builds")
    parser.add_argument("--reuse", action="store_true", help="compare builds already in --work")
    parser.add_argument("--note", default="", help="said under the timings (e.g. what else ran)")
    args = parser.parse_args()
    builds = {t: args.work / f"threads{t}" for t in args.threads}
    previous = RESULTS / "reproducibility.json"
    if args.reuse:  # keep the times the run that built them measured
        seconds = {t: json.loads(previous.read_text())["seconds"].get(str(t)) for t in builds}
    else:
        seconds = {t: build(folder, t) for t, folder in builds.items()}
    results: dict = {
        "cpu": cpu_model(),
        "python": platform.python_version(),
        "seconds": seconds,
        "note": args.note,
        "tasks": {},
    }
    import torch

    results["torch"] = torch.__version__
    for task in tasks.names():
        rule = get(task).reproduction
        row: dict = {"vs_committed": {}, "between_thread_counts": {}}
        for t, folder in builds.items():
            row["vs_committed"][t] = compare(folder / task, ROOT / "artifacts" / task, task, rule)
            row.setdefault("files_vs_committed", {})[t] = differing_files(folder / task, ROOT / "artifacts" / task)
        first, *others = args.threads
        for t in others:
            row["between_thread_counts"][f"{first} vs {t}"] = {
                "differing_files": differing_files(builds[first] / task, builds[t] / task),
                "comparison": compare(builds[t] / task, builds[first] / task, task, rule),
            }
        results["tasks"][task] = row
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "reproducibility.json").write_text(json.dumps(results, indent=1, default=str) + "\n")
    (RESULTS / "reproducibility.md").write_text(report(results))
    print(report(results))


def report(results: dict) -> str:
    committed = json.loads((ROOT / "artifacts" / "langid" / "manifest.json").read_text())["producer"]
    lines = [
        "# Does a build reproduce the committed default bundles?",
        "",
        f"This machine: {results['cpu']}, {os.cpu_count()} cores, Python {results['python']}, torch "
        f"{results['torch']}. The committed bundles were built on another machine (an Intel Xeon, 2 cores; "
        f"producer {json.dumps(committed)}). Written by `benchmarks/reproducibility.py`.",
        "",
        "| threads | build seconds |",
        "|---|---|",
        *(f"| {t} | {s:.0f} |" if s else f"| {t} | (not measured) |" for t, s in results["seconds"].items()),
        "",
        *([results["note"], ""] if results["note"] else []),
    ]
    for task, row in results["tasks"].items():
        lines += [f"## {task}", ""]
        for t, comparison in row["vs_committed"].items():
            files = ", ".join(row["files_vs_committed"][t]) or "none"
            lines += [
                f"Built here with {t} thread(s), against the committed bundle (files that differ: {files}):",
                "",
                "```",
                table(comparison),
                "```",
                "",
            ]
        for pair, between in row["between_thread_counts"].items():
            files = ", ".join(between["differing_files"]) or "none"
            lines += [
                f"Built here with {pair} threads: files that differ: {files}.",
                "",
                "```",
                table(between["comparison"]),
                "```",
                "",
            ]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())

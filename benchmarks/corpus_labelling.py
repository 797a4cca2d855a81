"""Labelling a big corpus (run by hand): the streaming CLI with 1 and 2 workers, Spark and Ray Data.

    python benchmarks/corpus_labelling.py --out benchmarks/results/corpus_labelling.md [--lines 5000000]

1. Generates an input of `--lines` lines from the dev sentences, repeated and shuffled, gzipped,
   in a work folder (not committed).
2. `bowgram langid --input big.txt.gz` with --workers 1 and 2, alternating, REPEATS times each:
   wall time, lines/s, peak RSS of the process tree (the CLI and its workers, from wait4).
3. The first answer's latency on a pipe: a fresh `bowgram langid` process, one line written,
   the time until its answer is read (process start and bundle load included).
4. Spark (`local[2]`, the pandas UDF) and Ray Data (2 CPUs, `map_batches` with 2 actors) on the
   first SUBSET lines of the same input, each timed after its cluster is up, next to the CLI on
   that subset.
"""

from __future__ import annotations

import argparse
import gzip
import os
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CLI = [sys.executable, "-c", "from bowgram.runtime.cli import main; main()"]
REPEATS = 3
SUBSET = 500_000


def make_input(path: Path, lines: int) -> None:
    rows = gzip.open(ROOT / "export/data/langid/dev.tsv.gz", "rt", encoding="utf-8").read().splitlines()
    texts = [row.split("\t", 1)[1] for row in rows]
    rng = random.Random(0)
    with gzip.open(path, "wt", encoding="utf-8", compresslevel=1) as f:
        written = 0
        while written < lines:
            rng.shuffle(texts)
            batch = texts[: lines - written]
            f.write("\n".join(batch) + "\n")
            written += len(batch)


def timed(args: list[str], **kwargs) -> tuple[float, float]:
    """(seconds, peak RSS in MB) of one command: wait4's ru_maxrss, the largest of the process and
    its waited-for children (the workers)."""
    start = time.perf_counter()
    process = subprocess.Popen(args, stdout=subprocess.DEVNULL, **kwargs)
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"failed: {' '.join(args)}")
    return seconds, usage.ru_maxrss / 1024


def first_answer_latency() -> float:
    start = time.perf_counter()
    process = subprocess.Popen([*CLI, "langid"], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    assert process.stdin is not None and process.stdout is not None
    process.stdin.write("Das ist ein ganz gewöhnlicher Satz.\n".encode())
    process.stdin.flush()
    process.stdout.readline()
    seconds = time.perf_counter() - start
    process.stdin.close()
    process.wait()
    return seconds


def spark_rate(path: Path, lines: int) -> float:
    from pyspark.sql import SparkSession

    from bowgram.runtime.spark import predict_udf

    spark = SparkSession.builder.master("local[2]").config("spark.ui.enabled", "false").getOrCreate()
    try:
        df = spark.read.text(str(path)).limit(lines).repartition(8).cache()
        df.count()
        start = time.perf_counter()
        df.select(predict_udf("langid")("value").alias("lid")).write.format("noop").mode("overwrite").save()
        return lines / (time.perf_counter() - start)
    finally:
        spark.stop()


def ray_rate(path: Path, lines: int) -> float:
    import ray

    from bowgram.runtime.ray_data import Predict

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        ds = ray.data.read_text(str(path)).limit(lines).materialize()
        start = time.perf_counter()
        out = ds.map_batches(
            Predict,
            fn_constructor_kwargs={"task": "langid", "column": "text"},
            compute=ray.data.ActorPoolStrategy(size=2),
            batch_format="pyarrow",
            batch_size=4096,
        )
        out.materialize()
        return lines / (time.perf_counter() - start)
    finally:
        ray.shutdown()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/corpus_labelling.md")
    parser.add_argument("--lines", type=int, default=5_000_000)
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "bowgram-corpus")
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    big = args.work / f"big-{args.lines}.txt.gz"
    if not big.exists():
        make_input(big, args.lines)
    subset = args.work / f"subset-{SUBSET}.txt"
    if not subset.exists():
        with gzip.open(big, "rt", encoding="utf-8") as f, open(subset, "w", encoding="utf-8") as out:
            for _, line in zip(range(SUBSET), f):
                out.write(line)
    runs: dict[int, list[tuple[float, float]]] = {1: [], 2: []}
    for _ in range(REPEATS):
        for workers in (1, 2):
            runs[workers].append(timed([*CLI, "langid", "--input", str(big), "--workers", str(workers)]))
            print(workers, runs[workers][-1], flush=True)
    latency = statistics.median(first_answer_latency() for _ in range(5))
    cli_subset = SUBSET / timed([*CLI, "langid", "--input", str(subset)])[0]
    cli_subset2 = SUBSET / timed([*CLI, "langid", "--input", str(subset), "--workers", "2"])[0]
    rates = {"Spark local[2], pandas UDF": spark_rate(subset, SUBSET), "Ray Data, 2 actors": ray_rate(subset, SUBSET)}
    one = statistics.median(args.lines / s for s, _ in runs[1])
    two = statistics.median(args.lines / s for s, _ in runs[2])
    ratio = statistics.median(a[0] / b[0] for a, b in zip(runs[1], runs[2]))
    lines = [
        "# Labelling a big corpus",
        "",
        f"Measured {time.strftime('%Y-%m-%d')} with `benchmarks/corpus_labelling.py` on {platform.machine()} "
        f"({os.cpu_count()} cores), Python {platform.python_version()}; the default language-ID bundle (ONNX fp32).",
        f"Input: {args.lines:,} dev sentences repeated and shuffled, gzipped ({big.stat().st_size / 2**20:,.0f} MB).",
        "",
        "| run | lines/s | wall | peak RSS (largest process) |",
        "|---|---:|---:|---:|",
    ]
    for workers in (1, 2):
        seconds = statistics.median(s for s, _ in runs[workers])
        rss = max(r for _, r in runs[workers])
        lines.append(
            f"| `bowgram langid --input big.txt.gz --workers {workers}` | {args.lines / seconds:,.0f} | "
            f"{seconds:,.1f} s | {rss:,.0f} MB |"
        )
    lines += [
        "",
        f"--workers 2 vs 1: {ratio:.2f}× (median of {REPEATS} alternating pairs; {two:,.0f} vs {one:,.0f} lines/s).",
        f"First answer on a pipe, from process start: {latency:.2f} s (median of 5).",
        "",
        f"On the first {SUBSET:,} lines (plain text), after each cluster is up:",
        "",
        "| system | lines/s |",
        "|---|---:|",
        f"| bowgram CLI, 1 worker | {cli_subset:,.0f} |",
        f"| bowgram CLI, 2 workers | {cli_subset2:,.0f} |",
        *[f"| {name} | {rate:,.0f} |" for name, rate in rates.items()],
    ]
    args.out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()

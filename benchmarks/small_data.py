"""Training on a small file of one's own, as a new user would (run by hand, ~1 minute).

    python benchmarks/small_data.py --out benchmarks/results/small_data.md

50 dev sentences each of four languages, two of them close (da, nb, sv, de), trained with the
defaults (`bowgram train langid --data FILE`), scored on 100 other dev sentences of each.
"""

from __future__ import annotations

import argparse
import gzip
import platform
import random
import subprocess
import tempfile
import time
from pathlib import Path

from bowgram.runtime import load
from bowgram.runtime.tasks.langid import metrics_of

ROOT = Path(__file__).resolve().parent.parent
LANGUAGES = ("da", "nb", "sv", "de")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "small_data.md")
    args = parser.parse_args()
    rows = [line.rstrip("\n").split("\t", 1) for line in gzip.open(ROOT / "export/data/langid/dev.tsv.gz", "rt")]
    random.Random(0).shuffle(rows)
    by = {lang: [text for label, text in rows if label == lang] for lang in LANGUAGES}
    with tempfile.TemporaryDirectory() as work:
        train = Path(work) / "train.tsv"
        train.write_text("".join(f"{lang}\t{t}\n" for lang in LANGUAGES for t in by[lang][:50]), encoding="utf-8")
        started = time.perf_counter()
        run = subprocess.run(
            ["bowgram", "train", "langid", "--data", str(train), "--out", f"{work}/model", "--quiet"],
            capture_output=True,
            text=True,
            check=True,
        )
        seconds = time.perf_counter() - started
        gold = [lang for lang in LANGUAGES for _ in by[lang][50:150]]
        texts = [t for lang in LANGUAGES for t in by[lang][50:150]]
        m = metrics_of(load(f"{work}/model"), gold, texts)
        size = sum(p.stat().st_size for p in Path(f"{work}/model").iterdir())
    warnings = [line for line in run.stderr.splitlines() if line.startswith("warning")]
    report = "\n".join(
        [
            "# Training on 200 sentences of one's own",
            "",
            f"Machine: {platform.machine()}, Python {platform.python_version()}. Written by "
            f"`benchmarks/small_data.py`: 50 dev sentences each of {', '.join(LANGUAGES)} trained with the "
            "defaults, scored on 100 others each.",
            "",
            f"- accuracy {m['accuracy']:.4f}, macro-F1 {m['macro_f1']:.4f}, "
            f"calibration error {m['calibration_error']:.4f}",
            f"- training and export {seconds:.1f} s, bundle {size / 1e6:.1f} MB (every format)",
            *(f"- the trainer said: {w}" for w in warnings),
            "",
        ]
    )
    args.out.write_text(report)
    print(report)


if __name__ == "__main__":
    main()

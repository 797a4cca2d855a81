"""Memory and time of one big input (run by hand, never as a test): the bounds the hardening issue
"Nothing lost on the new surfaces" sets.

    python benchmarks/long_inputs.py --out benchmarks/results/long_inputs.md

1. `bowgram langid --shares` and `--segments` on one line of 15 MB (German sentences, one line):
   peak RSS of the command (GNU time);
2. the JavaScript runtime's `segments()` on a text of 4 million characters: peak RSS of the Node
   process (process.resourceUsage().maxRSS);
3. the web service answering the biggest single request it accepts (10 contexts x k 1,000 ...
   up to its items x k bound) and a 1 MB /langid body: peak RSS of the server process;
4. `segment(min_words=2)` on 12,000 words of alternating scores: seconds.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
BOWGRAM = str(Path(sys.executable).parent / "bowgram")
SENTENCE = "Das ist ein guter Tag, und wir gehen heute mit den Kindern in den großen Park. "


def cli_peak_mb(args: list[str], line: Path) -> float:
    with open(line, "rb") as stdin:
        proc = subprocess.run(
            ["/usr/bin/time", "-f", "%M", BOWGRAM, *args, "--input", "-"],
            stdin=stdin,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            check=True,
        )
    return int(proc.stderr.strip().splitlines()[-1]) / 1024


JS = """
import { load } from './src/node.js';
const lid = await load(process.argv[2]);
const sentence = %s;
const text = sentence.repeat(Math.ceil(4_000_000 / sentence.length)).slice(0, 4_000_000);
const started = performance.now();
const segments = await lid.segments(text);
console.log(JSON.stringify({segments: segments.length, seconds: (performance.now() - started) / 1000,
  peak_rss_mb: process.resourceUsage().maxRSS / 1024}));
"""


def js_segments() -> dict:
    script = ROOT / "js" / ".long_inputs_bench.mjs"
    script.write_text(JS % json.dumps(SENTENCE), encoding="utf-8")
    try:
        out = subprocess.run(
            ["node", script.name, str(ROOT / "artifacts" / "langid")],
            cwd=ROOT / "js",
            capture_output=True,
            text=True,
            check=True,
        )
    finally:
        script.unlink()
    return json.loads(out.stdout)


SERVER = """
import json, resource, sys, threading, urllib.request
sys.path.insert(0, sys.argv[1])
from web_service import make_server, MAX_ANSWERS
server = make_server("127.0.0.1", 0)
threading.Thread(target=server.serve_forever, daemon=True).start()
port = server.server_address[1]
def post(path, payload):
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=json.dumps(payload).encode(), method="POST")
    with urllib.request.urlopen(request, timeout=600) as response:
        return len(response.read())
sizes = {}
many = ["to be or not to"] * (MAX_ANSWERS // 1000)
sizes["next-word 100 contexts x k 1000"] = post("/next-word", {"contexts": many, "k": 1000})
sizes["next-word 10,000 contexts x k 10"] = post("/next-word", {"contexts": ["to be or not to"] * 10_000, "k": 10})
sizes["langid 1 MB body, 10,000 texts x k 10"] = post("/langid", {"texts": [sys.argv[2][:90]] * 10_000, "k": 10})
print(json.dumps({"reply_bytes": sizes, "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def web_service() -> dict:
    out = subprocess.run(
        [sys.executable, "-c", SERVER, str(ROOT / "examples"), SENTENCE], capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def segment_seconds(words: int = 12_000) -> float:
    from bowgram.runtime.segmenter import segment

    scores = np.zeros((words, 3))
    scores[np.arange(words), np.arange(words) % 3] = 5.0  # every word another label: all runs short
    started = time.perf_counter()
    segment(scores, np.zeros(3), switch_cost=0.0, min_words=2)
    return time.perf_counter() - started


def _cpu() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.machine()


def _node() -> str:
    return subprocess.run(["node", "--version"], capture_output=True, text=True, check=True).stdout.strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=HERE / "results" / "long_inputs.md")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        line = Path(tmp) / "line.txt"
        line.write_text((SENTENCE * (15_000_000 // len(SENTENCE) + 1))[:15_000_000] + "\n", encoding="utf-8")
        cli = {mode: cli_peak_mb(["langid", f"--{mode}"], line) for mode in ("shares", "segments")}
        cli["plain langid"] = cli_peak_mb(["langid"], line)
    results = {
        "machine": f"{_cpu()}, {os.cpu_count()} cores, Python {platform.python_version()}, Node {_node()}",
        "cli_15mb_line_peak_rss_mb": cli,
        "js_segments_4m_chars": js_segments(),
        "web_service": web_service(),
        "segment_min_words_2_12000_words_s": segment_seconds(),
    }
    args.out.with_suffix(".json").write_text(json.dumps(results, indent=1))
    lines = [
        "# One big input: memory and time",
        "",
        f"Machine: {results['machine']}. Written by `benchmarks/long_inputs.py`.",
        "",
        "| input | measure | value | bound (issue) |",
        "|---|---|---|---|",
    ]
    for mode, mb in cli.items():
        flag = "" if mode == "plain langid" else f" --{mode}"
        lines.append(f"| one 15 MB line, `bowgram langid{flag}` | peak RSS | {mb:.0f} MB | ≤ 400 MB |")
    js = results["js_segments_4m_chars"]
    lines.append(f"| JS `segments()`, 4,000,000 characters | peak RSS | {js['peak_rss_mb']:.0f} MB | ≤ 300 MB |")
    lines.append(f"| JS `segments()`, 4,000,000 characters | seconds | {js['seconds']:.1f} | |")
    web = results["web_service"]
    lines.append(
        f"| web service, the biggest requests it accepts ({', '.join(web['reply_bytes'])}) | peak RSS | "
        f"{web['peak_rss_mb']:.0f} MB | ≤ 500 MB |"
    )
    lines.append(
        f"| `segment(min_words=2)`, 12,000 words, every run short | seconds | "
        f"{results['segment_min_words_2_12000_words_s']:.2f} | (the issue measured 22.6 before) |"
    )
    args.out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(args.out.read_text())


if __name__ == "__main__":
    main()

"""Load test of examples/web_service.py on 127.0.0.1 (run by hand, never as a test).

    python benchmarks/web_service_load.py [--requests 5000] [--clients 16] [--slow 300]

Starts the service in a subprocess (default bundles, 8 workers), then `--clients` threads send
`--requests` POST /langid requests between them (3 texts each, one connection per request) while
`--slow` clients keep connecting and trickling a body one byte a second, which the service must
drop after its read timeout without delaying the others (its reader thread holds them, not its
workers). Bounded in count and time; loopback only.
Reports p50/p99/max latency, status counts, connection errors and the service's peak RSS in
benchmarks/results/web_service_load.md.
"""

from __future__ import annotations

import argparse
import json
import platform
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BODY = json.dumps({"texts": ["Yo creo que sí", "it is lost on me", "Das ist gut"], "k": 2}).encode()


def request(port: int) -> tuple[int, float]:
    started = time.perf_counter()
    with socket.create_connection(("127.0.0.1", port), timeout=30) as conn:
        conn.sendall(f"POST /langid HTTP/1.0\r\nContent-Length: {len(BODY)}\r\n\r\n".encode() + BODY)
        answer = b""
        while chunk := conn.recv(65536):
            answer += chunk
    return int(answer.split(maxsplit=2)[1]), time.perf_counter() - started


def slow_client(port: int, stop: threading.Event, dropped: list[int]) -> None:
    while not stop.is_set():
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=60) as conn:
                conn.sendall(b"POST /langid HTTP/1.0\r\nContent-Length: 1000\r\n\r\n")
                while not stop.is_set():
                    conn.sendall(b" ")
                    time.sleep(1.0)
        except OSError:
            dropped.append(1)  # the service closed it: read timeout (or 503 when all are busy)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=5000)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--slow", type=int, default=300)
    parser.add_argument("--out", default=str(ROOT / "benchmarks/results/web_service_load.md"))
    args = parser.parse_args()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    service = subprocess.Popen(
        [sys.executable, str(ROOT / "examples/web_service.py"), "--port", str(port)], stdout=subprocess.PIPE, text=True
    )
    service.stdout.readline()  # "serving on ..."
    stop, dropped = threading.Event(), []
    slow = [threading.Thread(target=slow_client, args=(port, stop, dropped), daemon=True) for _ in range(args.slow)]
    for thread in slow:
        thread.start()
    statuses, latencies, errors = Counter(), [], Counter()
    lock, counter = threading.Lock(), iter(range(args.requests))

    def client() -> None:
        while True:
            with lock:
                if next(counter, None) is None:
                    return
            try:
                status, seconds = request(port)
            except OSError as exc:
                with lock:
                    errors[type(exc).__name__] += 1
                continue
            with lock:
                statuses[status] += 1
                latencies.append(seconds)

    started = time.perf_counter()
    clients = [threading.Thread(target=client) for _ in range(args.clients)]
    for thread in clients:
        thread.start()
    for thread in clients:
        thread.join()
    wall = time.perf_counter() - started
    stop.set()
    hwm = next(line for line in open(f"/proc/{service.pid}/status") if line.startswith("VmHWM"))
    service.terminate()
    service.wait(timeout=30)
    latencies.sort()
    q = statistics.quantiles(latencies, n=100)
    lines = [
        "# Web service load test (examples/web_service.py)",
        "",
        f"Machine: {platform.machine()}, Python {platform.python_version()}; service and load on one machine, "
        f"127.0.0.1. {args.requests} POST /langid requests (3 texts each) from {args.clients} client threads, "
        f"one connection per request, while {args.slow} slow clients trickle bodies at 1 byte/s. "
        "Service: one reader thread for every connection's request, 8 workers answering whole requests, 64 "
        "waiting, 10 s to send a whole request, backlog 128: a slow client holds a buffer, never a worker.",
        "",
        "| measure | value |",
        "|---|---|",
        f"| wall time | {wall:.1f} s ({args.requests / wall:.0f} requests/s) |",
        f"| latency p50 / p99 / max | {q[49] * 1000:.1f} / {q[98] * 1000:.1f} / {latencies[-1] * 1000:.1f} ms |",
        f"| answers by status | {dict(sorted(statuses.items()))} |",
        f"| connection errors | {dict(errors) or 0} |",
        f"| slow connections closed by the service | {len(dropped)} |",
        f"| service peak RSS | {int(hwm.split()[1]) / 1024:.0f} MB |",
    ]
    Path(args.out).write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(Path(args.out).read_text())


if __name__ == "__main__":
    main()

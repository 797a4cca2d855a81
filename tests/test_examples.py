"""The examples run: the stdlib web service answers over loopback, batch labelling works."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def test_web_service_answers_on_loopback(tutorial_bundles):
    sys.path.insert(0, str(EXAMPLES))
    try:
        from web_service import make_server
    finally:
        sys.path.remove(str(EXAMPLES))
    server = make_server("127.0.0.1", 0, tutorial_bundles["langid"], tutorial_bundles["nextword"])
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        port = server.server_address[1]

        def post(path, payload):
            request = urllib.request.Request(
                f"http://127.0.0.1:{port}{path}", data=json.dumps(payload).encode(), method="POST"
            )
            with urllib.request.urlopen(request, timeout=10) as response:
                return json.loads(response.read())

        answer = post("/langid", {"texts": ["Yo creo que si", "it is lost on me"]})
        assert [r["predictions"][0]["label"] for r in answer["results"]] == ["SPANISH", "ENGLISH"]
        answer = post("/next-word", {"contexts": ["When forty"], "k": 3})
        assert len(answer["results"][0]["predictions"]) == 3
        answer = post("/langid", {"texts": ["it is lost on me"], "k": 2, "languages": ["SPANISH"]})
        assert [p["label"] for p in answer["results"][0]["predictions"]] == ["SPANISH"]  # the restriction is honoured
        for bad, message in (({"wrong": 1}, "unknown field(s) wrong"), ({"texts": ["x"], "only": ["SPANISH"]}, "only")):
            try:
                post("/langid", bad)
                raise AssertionError("a bad request must fail")
            except urllib.error.HTTPError as exc:
                assert exc.code == 400 and message in json.loads(exc.read())["error"]
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def test_batch_label_labels_every_line(tmp_path):
    data = tmp_path / "in.txt"
    data.write_text("Das ist gut\nYo creo que sí\n\n", encoding="utf-8")
    out = subprocess.run(
        [sys.executable, str(EXAMPLES / "batch_label.py"), str(data)], capture_output=True, text=True, check=True
    ).stdout.splitlines()
    assert [line.split("\t")[0] for line in out] == ["de", "es", "und"]


def _server(tutorial_bundles, **kwargs):
    sys.path.insert(0, str(EXAMPLES))
    try:
        from web_service import make_server
    finally:
        sys.path.remove(str(EXAMPLES))
    server = make_server("127.0.0.1", 0, tutorial_bundles["langid"], tutorial_bundles["nextword"], **kwargs)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def _raw(port: int, data: bytes, timeout: float = 10) -> tuple[int, dict]:
    """Send raw bytes, read the whole answer: (status, JSON body)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as conn:
        conn.sendall(data)
        answer = b""
        while chunk := conn.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    return int(head.split()[1]), json.loads(body)


def _post(path: str, body: bytes) -> bytes:
    return f"POST {path} HTTP/1.0\r\nContent-Length: {len(body)}\r\n\r\n".encode() + body


@pytest.mark.parametrize(
    "body, status, message",
    [
        (b'{"texts": "a string"}', 400, "list of strings"),
        (b'{"texts": ["\\ud800"]}', 400, "lone surrogate"),
        (b"[" * 100_000 + b"]" * 100_000, 400, "not JSON"),
        (b"not json", 400, "not JSON"),
        (b'{"texts": ["hola"], "k": "2"}', 400, "whole number"),
        (b'["texts"]', 400, "JSON object"),
    ],
    ids=["string-not-list", "lone-surrogate", "deep-nesting", "not-json", "k-not-int", "not-an-object"],
)
def test_web_service_answers_every_malformed_body_with_a_json_400(tutorial_bundles, body, status, message):
    server = _server(tutorial_bundles)
    try:
        got, payload = _raw(server.server_address[1], _post("/langid", body))
        assert got == status and message in payload["error"]
    finally:
        server.shutdown()
        server.server_close()


def test_web_service_limits_bodies_and_has_a_health_check(tutorial_bundles):
    server = _server(tutorial_bundles)
    port = server.server_address[1]
    try:
        status, payload = _raw(port, b'POST /langid HTTP/1.0\r\nContent-Length: 100000000\r\n\r\n{"texts":[]}', 5)
        assert status == 413 and "at most" in payload["error"]
        assert _raw(port, b"POST /langid HTTP/1.0\r\n\r\n")[0] == 411
        assert _raw(port, b"GET /health HTTP/1.0\r\n\r\n") == (200, {"status": "ok"})
    finally:
        server.shutdown()
        server.server_close()


def test_slow_clients_neither_hold_workers_nor_delay_a_normal_request(tutorial_bundles):
    server = _server(tutorial_bundles, timeout=2.0, workers=2, waiting=4)
    port = server.server_address[1]
    before = threading.active_count()
    slow = [socket.create_connection(("127.0.0.1", port)) for _ in range(300)]
    try:
        for conn in slow:
            conn.sendall(b"POST /langid HTTP/1.0\r\nContent-Length: 50\r\n\r\n{")  # and then nothing
        time.sleep(0.3)
        started = time.monotonic()
        answer = _raw(port, _post("/langid", b'{"texts": ["Give it to me"]}'))
        assert answer[0] == 200 and answer[1]["results"][0]["predictions"][0]["label"] == "ENGLISH"
        assert time.monotonic() - started < 1.5  # answered at once, not after the slow clients time out
        assert threading.active_count() <= before + 2  # the two workers, whatever the number of clients
        deadline = time.monotonic() + 10  # past their timeout the slow clients are dropped: no answer
        for conn in slow[:20]:
            conn.settimeout(max(0.1, deadline - time.monotonic()))
            try:
                got = conn.recv(4096)  # an end of file ...
            except ConnectionResetError:  # ... or a reset, when the server closed with bytes of it unread
                got = b""
            assert got == b""
    finally:
        for conn in slow:
            conn.close()
        server.shutdown()
        server.server_close()


def test_a_full_waiting_line_gets_503_at_once(tutorial_bundles):
    server = _server(tutorial_bundles, workers=1, waiting=0)
    port = server.server_address[1]
    release = threading.Event()
    original = server.RequestHandlerClass.do_POST

    def held(handler):  # the one worker stays busy until released
        release.wait(10)
        original(handler)

    server.RequestHandlerClass.do_POST = held
    try:
        first = socket.create_connection(("127.0.0.1", port))
        first.sendall(_post("/langid", b'{"texts": ["hola"]}'))
        time.sleep(0.3)
        assert _raw(port, _post("/langid", b'{"texts": ["hola"]}'))[0] == 503
        release.set()
        first.settimeout(10)
        assert first.recv(4096).startswith(b"HTTP/1.0 200")
        first.close()
    finally:
        release.set()
        server.shutdown()
        server.server_close()


@pytest.mark.slow
def test_the_readme_tours_train_lines_work_as_written(tmp_path, monkeypatch):
    """The tour's `bowgram train` lines, run as written on the small data shipped in examples/."""
    pytest.importorskip("torch")
    import shlex

    from click.testing import CliRunner

    from bowgram.runtime import load
    from bowgram.runtime.cli import main

    monkeypatch.chdir(EXAMPLES.parent)
    lines = [line.split("  #")[0] for line in (EXAMPLES.parent / "README.md").read_text().splitlines()]
    commands = [shlex.split(line)[1:] for line in lines if line.startswith("bowgram train ")]
    assert len(commands) == 3
    for args in commands:
        out = args.index("--out") + 1
        args[out] = str(tmp_path / args[out])
        result = CliRunner().invoke(main, [*args, "--quiet"])
        assert result.exit_code == 0, result.output
    assert load(tmp_path / "my-langid").predict("¿Dónde está mi teléfono?")[0][0] == "es"
    assert sorted(p.name for p in (tmp_path / "my-langid-onnx").glob("model*")) == ["model.onnx"]
    assert load(tmp_path / "my-lm").predict("to be or not to", k=3)


@pytest.fixture
def server(tutorial_bundles):
    """The web service on a free loopback port, shut down after the test."""
    running = _server(tutorial_bundles)
    yield running
    running.shutdown()
    running.server_close()


@pytest.mark.parametrize(
    "length, status",
    [("²", 411), ("9" * 5000, 413), ("１２", 411)],
    ids=["superscript-two", "5000-digits", "fullwidth-digits"],
)
def test_the_web_service_answers_any_content_length(server, length, status):
    head = f"POST /langid HTTP/1.0\r\nContent-Length: {length}\r\n\r\n".encode()
    assert _raw(server.server_address[1], head + b'{"texts": []}')[0] == status


def test_the_web_service_bounds_items_times_k(server):
    status, payload = _raw(
        server.server_address[1], _post("/next-word", json.dumps({"contexts": ["to be"] * 10_000, "k": 1000}).encode())
    )
    assert status == 413 and "at most" in payload["error"]


def test_a_client_that_sends_its_body_first_sees_the_413(server):
    status, payload = _raw(server.server_address[1], _post("/langid", b"x" * (2 << 20)))
    assert status == 413 and "at most" in payload["error"]

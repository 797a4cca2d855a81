"""The examples run: the stdlib web service answers over loopback, batch labelling works."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import urllib.request
from pathlib import Path

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
        try:
            post("/langid", {"wrong": 1})
            raise AssertionError("a bad request must fail")
        except urllib.error.HTTPError as exc:
            assert exc.code == 400
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

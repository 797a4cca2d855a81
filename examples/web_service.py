"""A language-ID and next-word web service with nothing but the standard library and bowgram.

    python examples/web_service.py --port 8080
    curl -s localhost:8080/langid -d '{"texts": ["Yo creo que sí"], "k": 2}'
    curl -s localhost:8080/next-word -d '{"contexts": ["to be or not to"], "k": 5}'

Models load once at start-up; predictors are thread-safe, so ThreadingHTTPServer is fine.
"""

from __future__ import annotations

import argparse
import json
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from bowgram.runtime import BowgramError, load


def make_server(host: str, port: int, langid_bundle=None, nextword_bundle=None) -> ThreadingHTTPServer:
    models = {"/langid": load(langid_bundle, task="langid"), "/next-word": load(nextword_bundle, task="nextword")}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            model = models.get(self.path)
            if model is None:
                return self._send(404, {"error": f"unknown path {self.path}; use /langid or /next-word"})
            try:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
                if self.path == "/langid":
                    answers = model.predict(body["texts"], k=body.get("k", 1), threshold=body.get("threshold", 0.0))
                    key, inputs = "label", body["texts"]
                else:
                    answers = model.predict(body["contexts"], k=body.get("k", 5), prefix=body.get("prefix"))
                    key, inputs = "word", body["contexts"]
            except (KeyError, TypeError, ValueError, BowgramError) as exc:
                return self._send(400, {"error": str(exc)})
            self._send(
                200,
                {
                    "results": [
                        {"text": t, "predictions": [{key: n, "prob": p} for n, p in a]} for t, a in zip(inputs, answers)
                    ]
                },
            )

        def _send(self, status: int, payload: dict):
            data = json.dumps(payload, ensure_ascii=False).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):  # quiet
            pass

    return ThreadingHTTPServer((host, port), Handler)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    args = parser.parse_args()
    server = make_server(args.host, args.port)
    print(f"serving on http://{args.host}:{server.server_address[1]}")
    server.serve_forever()

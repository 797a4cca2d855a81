"""A language-ID and next-word web service with nothing but the standard library and bowgram.

    python examples/web_service.py --port 8080
    curl -s localhost:8080/langid -d '{"texts": ["Yo creo que sí"], "k": 2}'
    curl -s localhost:8080/next-word -d '{"contexts": ["to be or not to"], "k": 5}'
    curl -s localhost:8080/health

Written to be copied into production: models load once at start-up (predictors are thread-safe);
a fixed pool of worker threads serves requests, and when all are busy and the waiting line is
full a request gets 503 at once; bodies are limited (413, read and dropped up to 16 MB so
that the client sees it), so are items x k per request (a reply's memory), reads time out (a
slow client holds one worker for at most `timeout` seconds), the listen backlog is 128, and
every malformed request gets a JSON 400 saying why. Server-side errors are one line on stderr and a JSON 500.
"""

from __future__ import annotations

import argparse
import json
import socket
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

from bowgram.runtime import BowgramError, load

MAX_BODY = 1 << 20  # bytes per request
FIELDS = {"/langid": {"texts", "k", "threshold", "languages", "codes"}, "/next-word": {"contexts", "k", "prefix"}}
MAX_ITEMS = 10_000  # texts or contexts per request
MAX_ANSWERS = 100_000  # items x k per request: what bounds a reply's size and memory (~500 MB at 10,000 x 1,000)
MAX_DRAIN = 16 << 20  # bytes of a refused body read and dropped, so that its client sees the refusal


class BadRequest(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


class PooledHTTPServer(HTTPServer):
    """HTTPServer whose requests run on a fixed pool of threads, with a bounded waiting line."""

    request_queue_size = 128  # the listen backlog: bursts wait in the kernel instead of being reset
    daemon_threads = True

    def __init__(self, address: tuple[str, int], handler: type, workers: int = 8, waiting: int = 64):
        super().__init__(address, handler)
        self.pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="bowgram-web")
        self.slots = threading.BoundedSemaphore(workers + waiting)

    def process_request(self, request: Any, client_address: Any) -> None:
        if not self.slots.acquire(blocking=False):
            try:  # every worker busy and the line full: say so now rather than queue without bound
                request.sendall(_response(503, {"error": "server busy, try again"}))
            except OSError:
                pass
            self.shutdown_request(request)
            return
        self.pool.submit(self._serve, request, client_address)

    def _serve(self, request: Any, client_address: Any) -> None:
        try:
            self.finish_request(request, client_address)
        except Exception:
            self.handle_error(request, client_address)
        finally:
            self.shutdown_request(request)
            self.slots.release()

    def handle_error(self, request: Any, client_address: Any) -> None:
        error = sys.exc_info()[1]
        if not isinstance(error, (BrokenPipeError, ConnectionResetError, TimeoutError)):  # a client gone: normal
            print(f"web_service: error serving {client_address}: {error!r}", file=sys.stderr)

    def server_close(self) -> None:
        super().server_close()
        self.pool.shutdown(wait=False, cancel_futures=True)


def make_server(
    host: str,
    port: int,
    langid_bundle: Any = None,
    nextword_bundle: Any = None,
    timeout: float = 10.0,
    workers: int = 8,
    waiting: int = 64,
) -> PooledHTTPServer:
    models = {"/langid": load(langid_bundle, task="langid"), "/next-word": load(nextword_bundle, task="nextword")}

    class Handler(BaseHTTPRequestHandler):
        def setup(self) -> None:
            self.timeout = timeout  # per read: a client that stops sending is dropped
            super().setup()
            # and for the whole request: one that trickles a byte now and then is dropped too
            self.deadline = threading.Timer(timeout, self._drop)
            self.deadline.start()

        def _drop(self) -> None:
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

        def finish(self) -> None:
            self.deadline.cancel()
            super().finish()

        def do_GET(self) -> None:
            if self.path == "/health":
                return self._send(200, {"status": "ok"})
            self._send(405 if self.path in models else 404, {"error": f"use POST {' or '.join(models)}"})

        def do_POST(self) -> None:
            model = models.get(self.path)
            if model is None:
                return self._send(404, {"error": f"unknown path {self.path}; use /langid or /next-word"})
            try:
                body = self._body()
                unknown = sorted(set(body) - FIELDS[self.path])
                if unknown:  # a field this endpoint would ignore is refused, never dropped silently
                    takes = ", ".join(sorted(FIELDS[self.path]))
                    raise BadRequest(400, f"unknown field(s) {', '.join(unknown)}; {self.path} takes {takes}")
                if self.path == "/langid":
                    inputs, key = _texts(body, "texts"), "label"
                    k = _answers(inputs, _int(body, "k", 1))
                    answers = model.predict(
                        inputs,
                        k=k,
                        threshold=_number(body, "threshold", 0.0),
                        languages=_labels(body, "languages"),
                        codes=body.get("codes", "label"),
                    )
                else:
                    inputs, key = _texts(body, "contexts"), "word"
                    prefix = body.get("prefix")
                    if prefix is not None and not isinstance(prefix, str):
                        raise BadRequest(400, "prefix must be a string")
                    answers = model.predict(inputs, k=_answers(inputs, _int(body, "k", 5)), prefix=prefix)
            except BadRequest as exc:
                return self._send(exc.status, {"error": str(exc)})
            except BowgramError as exc:
                return self._send(400, {"error": str(exc)})
            results = [{"text": t, "predictions": [{key: n, "prob": p} for n, p in a]} for t, a in zip(inputs, answers)]
            self._send(200, {"results": results})

        def _body(self) -> dict[str, Any]:
            length = (self.headers.get("Content-Length") or "").strip()
            if not (length.isascii() and length.isdigit()):  # "²".isdigit() is true, and int() refuses it
                raise BadRequest(411, "a Content-Length header (a number of bytes) is required")
            if len(length) > 12 or int(length) > MAX_BODY:  # compared as text first: 5,000 digits stay text
                self.refused_body = int(length) if len(length) <= 12 else MAX_DRAIN + 1
                raise BadRequest(413, f"the body is {length[:20]} bytes; at most {MAX_BODY} are accepted")
            raw = self.rfile.read(int(length))
            self.deadline.cancel()  # the request is in: answering may take its time
            try:
                body = json.loads(raw.decode("utf-8"))
            except (UnicodeDecodeError, ValueError, RecursionError) as exc:
                raise BadRequest(400, f"the body is not JSON: {str(exc)[:200]}") from None
            if not isinstance(body, dict):
                raise BadRequest(400, "the body must be a JSON object")
            return body

        def _send(self, status: int, payload: dict[str, Any]) -> None:
            data = _response(status, payload)
            self.wfile.write(data)
            unread = getattr(self, "refused_body", 0)
            if unread:  # a client that sends its body before reading must not get a reset instead of the 413
                self._drain(min(unread, MAX_DRAIN))

        def _drain(self, limit: int) -> None:
            try:
                self.connection.shutdown(socket.SHUT_WR)  # the reply is complete
                while limit > 0:
                    chunk = self.rfile.read1(min(limit, 1 << 16))
                    if not chunk:
                        break
                    limit -= len(chunk)
            except OSError:
                pass

        def log_message(self, format: str, *args: Any) -> None:  # quiet: one line per error is enough
            pass

    return PooledHTTPServer((host, port), Handler, workers=workers, waiting=waiting)


def _texts(body: dict[str, Any], key: str) -> list[str]:
    items = body.get(key)
    if not isinstance(items, list) or not all(isinstance(t, str) for t in items):
        raise BadRequest(400, f"{key} must be a list of strings")
    if len(items) > MAX_ITEMS:
        raise BadRequest(413, f"{len(items)} {key}; at most {MAX_ITEMS} per request")
    for i, text in enumerate(items):
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            raise BadRequest(400, f"{key}[{i}] holds a lone surrogate: not valid Unicode text") from None
    return items


def _answers(items: list[str], k: int) -> int:
    if len(items) * k > MAX_ANSWERS:
        raise BadRequest(413, f"{len(items)} items x k {k} answers; at most {MAX_ANSWERS} per request")
    return k


def _labels(body: dict[str, Any], name: str) -> list[str] | None:
    value = body.get(name)
    if value is not None and not (isinstance(value, list) and all(isinstance(v, str) for v in value)):
        raise BadRequest(400, f"{name} must be a list of labels")
    return value


def _int(body: dict[str, Any], key: str, default: int) -> int:
    value = body.get(key, default)
    if type(value) is not int or not 1 <= value <= 1000:
        raise BadRequest(400, f"{key} must be a whole number from 1 to 1000")
    return value


def _number(body: dict[str, Any], key: str, default: float) -> float:
    value = body.get(key, default)
    if type(value) not in (int, float) or not 0 <= value <= 1:
        raise BadRequest(400, f"{key} must be a number from 0 to 1")
    return float(value)


def _response(status: int, payload: dict[str, Any]) -> bytes:
    from http import HTTPStatus

    data = json.dumps(payload, ensure_ascii=False).encode("utf-8")
    head = (
        f"HTTP/1.0 {status} {HTTPStatus(status).phrase}\r\nContent-Type: application/json; charset=utf-8\r\n"
        f"Content-Length: {len(data)}\r\nConnection: close\r\n\r\n"
    )
    return head.encode("ascii") + data


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--workers", type=int, default=8)
    args = parser.parse_args()
    server = make_server(args.host, args.port, workers=args.workers)
    print(f"serving on http://{args.host}:{server.server_address[1]}")
    server.serve_forever()

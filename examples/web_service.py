"""A language-ID and next-word web service with nothing but the standard library and bowgram.

    python examples/web_service.py --port 8080
    curl -s localhost:8080/langid -d '{"texts": ["Yo creo que sí"], "k": 2}'
    curl -s localhost:8080/next-word -d '{"contexts": ["to be or not to"], "k": 5}'
    curl -s localhost:8080/health

Written to be copied into production: models load once at start-up (predictors are thread-safe);
one thread reads every request without waiting on any (slow clients hold a buffer, never a
worker), a fixed pool of worker threads answers them, and when all are busy and the waiting
line is full a request gets 503 at once; bodies are limited (413, read and dropped up to 16 MB
so that the client sees it), so are items x k per request (a reply's memory), a request not in
whole within `timeout` seconds is dropped, the listen backlog is 128, and
every malformed request gets a JSON 400 saying why. Server-side errors are one line on stderr and a JSON 500.
"""

from __future__ import annotations

import argparse
import io
import json
import re
import selectors
import socket
import sys
import threading
import time
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
    """HTTPServer that reads requests apart from answering them.

    One reader thread (`_read_loop`) gathers every connection's request (headers, then as many
    body bytes as Content-Length says) without blocking on any of them, so slow clients cost a
    buffer each, never a worker: with hundreds of them trickling bytes, a normal request is still
    read at once. A request read whole goes to a fixed pool of worker threads with a bounded
    waiting line; when all are busy and the line is full, it gets 503 at once. A connection that
    has not sent its whole request within `timeout` seconds is closed; at most `connections` are
    read at a time and `buffered` bytes held across them (beyond either: 503)."""

    request_queue_size = 128  # the listen backlog: bursts wait in the kernel instead of being reset

    def __init__(
        self,
        address: tuple[str, int],
        handler: type,
        workers: int = 8,
        waiting: int = 64,
        timeout: float = 10.0,
        connections: int = 1024,
        buffered: int = 64 << 20,
    ):
        super().__init__(address, handler)
        self.pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="bowgram-web")
        self.slots = threading.BoundedSemaphore(workers + waiting)
        self.read_timeout, self.max_connections, self.max_buffered = timeout, connections, buffered
        self.selector = selectors.DefaultSelector()
        self.incoming: list[tuple[socket.socket, Any]] = []  # accepted, for the reader to take up
        self.lock = threading.Lock()
        self.wake_r, self.wake_w = socket.socketpair()  # tells the reader a connection came in
        self.selector.register(self.wake_r, selectors.EVENT_READ)
        self.reading: dict[socket.socket, _Reading] = {}
        self.closed = False
        self.reader = threading.Thread(target=self._read_loop, name="bowgram-web-reader", daemon=True)
        self.reader.start()

    def process_request(self, request: Any, client_address: Any) -> None:
        with self.lock:
            self.incoming.append((request, client_address))
        try:
            self.wake_w.send(b"\0")
        except OSError:
            pass

    def shutdown_request(self, request: Any) -> None:  # the reader or a worker closes connections, not the acceptor
        pass

    def _read_loop(self) -> None:
        buffered = 0
        while not self.closed:
            for key, _ in self.selector.select(timeout=0.1):
                if key.fileobj is self.wake_r:
                    self.wake_r.recv(4096)
                    continue
                conn = key.fileobj
                reading = self.reading[conn]  # type: ignore[index]
                try:
                    chunk = conn.recv(1 << 16)  # type: ignore[union-attr]
                except OSError:
                    chunk = b""
                if not chunk:  # the client went away before its request was whole
                    buffered -= len(reading.data)
                    self._forget(conn, close=True)  # type: ignore[arg-type]
                    continue
                if buffered + len(chunk) > self.max_buffered:
                    buffered -= len(reading.data)
                    self._refuse(conn)  # type: ignore[arg-type]
                    continue
                buffered += len(chunk)
                reading.data += chunk
                if reading.complete():
                    buffered -= len(reading.data)
                    self._forget(conn, close=False)  # type: ignore[arg-type]
                    self._dispatch(conn, reading)  # type: ignore[arg-type]
            now = time.monotonic()
            for conn, reading in list(self.reading.items()):
                if now > reading.deadline:  # too slow: dropped, as a blocking read would time out
                    buffered -= len(reading.data)
                    self._forget(conn, close=True)
            with self.lock:
                incoming, self.incoming = self.incoming, []
            for conn, address in incoming:
                if len(self.reading) >= self.max_connections:
                    self._refuse(conn)
                    continue
                conn.setblocking(False)
                self.reading[conn] = _Reading(address, now + self.read_timeout)
                self.selector.register(conn, selectors.EVENT_READ)

    def _forget(self, conn: socket.socket, close: bool) -> None:
        self.selector.unregister(conn)
        del self.reading[conn]
        if close:
            conn.close()

    def _refuse(self, conn: socket.socket) -> None:
        if conn in self.reading:
            self._forget(conn, close=False)
        try:  # too many connections or bytes being read, or no worker free: say so now, without waiting
            conn.setblocking(False)
            conn.send(_response(503, {"error": "server busy, try again"}))  # small: fits the socket's buffer
        except OSError:
            pass
        conn.close()

    def _dispatch(self, conn: socket.socket, reading: _Reading) -> None:
        if not self.slots.acquire(blocking=False):  # every worker busy and the line full
            self._refuse(conn)
            return
        conn.setblocking(True)
        conn.settimeout(self.read_timeout)  # for writing the answer and draining a refused body
        self.pool.submit(self._serve, conn, reading)

    def _serve(self, conn: socket.socket, reading: _Reading) -> None:
        try:
            self.RequestHandlerClass(conn, reading.address, self, reading.data)  # type: ignore[call-arg]
        except Exception:
            self.handle_error(conn, reading.address)
        finally:
            try:
                conn.shutdown(socket.SHUT_WR)
            except OSError:
                pass
            conn.close()
            self.slots.release()

    def handle_error(self, request: Any, client_address: Any) -> None:
        error = sys.exc_info()[1]
        if not isinstance(error, (BrokenPipeError, ConnectionResetError, TimeoutError)):  # a client gone: normal
            print(f"web_service: error serving {client_address}: {error!r}", file=sys.stderr)

    def server_close(self) -> None:
        super().server_close()
        self.closed = True
        self.reader.join(timeout=2)
        for conn in list(self.reading):
            conn.close()
        self.wake_r.close()
        self.wake_w.close()
        self.pool.shutdown(wait=False, cancel_futures=True)


class _Writer(io.RawIOBase):
    """The answer's side of a connection: every write sent whole."""

    def __init__(self, conn: socket.socket):
        self.conn = conn

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        self.conn.sendall(data)
        return len(data)


class _Reading:
    """One connection's request as far as it has come in."""

    def __init__(self, address: Any, deadline: float):
        self.address, self.deadline, self.data = address, deadline, b""

    def complete(self) -> bool:
        """Headers in, and as many body bytes as a valid Content-Length says (none when it is
        missing, malformed or too big: the handler answers 411 or 413 from the headers alone)."""
        end = self.data.find(b"\r\n\r\n")
        if end < 0:
            if len(self.data) > MAX_HEADER:  # no end of headers in sight: let the handler refuse it
                return True
            return False
        match = _LENGTH.search(self.data[: end + 2])
        length = match.group(1) if match else b""
        wanted = int(length) if length.isdigit() and len(length) <= 12 and int(length) <= MAX_BODY else 0
        return len(self.data) >= end + 4 + wanted


_LENGTH = re.compile(rb"\r\ncontent-length:[ \t]*([^\r\n]*?)[ \t]*\r\n", re.IGNORECASE)
MAX_HEADER = 64 << 10  # bytes of request line and headers


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
        """Answers one request the reader thread has read whole (`raw`)."""

        def __init__(self, request: socket.socket, client_address: Any, server: Any, raw: bytes):
            self.raw = raw
            super().__init__(request, client_address, server)

        def setup(self) -> None:
            self.connection = self.request
            self.rfile = io.BytesIO(self.raw)
            self.wfile = _Writer(self.request)

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
                limit -= len(self.rfile.read())  # what the reader had already
                while limit > 0:
                    chunk = self.connection.recv(min(limit, 1 << 16))
                    if not chunk:
                        break
                    limit -= len(chunk)
            except OSError:
                pass

        def log_message(self, format: str, *args: Any) -> None:  # quiet: one line per error is enough
            pass

    return PooledHTTPServer((host, port), Handler, workers=workers, waiting=waiting, timeout=timeout)


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

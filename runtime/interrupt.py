"""SIGINT and SIGTERM as one exception, `Interrupted`, so that a long command stops cleanly.

`cancellable()` (the CLI wraps every command in it) turns both signals into `Interrupted` in the
main thread (inside `deferred()`, at the end of the step) and remembers that one came: `check()`
raises again, so a library that swallows the exception cannot make a bundle writer commit anyway
(the writer calls `check()` before each file and before the swap). Exit codes are the shell's:
130 for SIGINT, 143 for SIGTERM.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from types import FrameType

from .errors import BowgramError

_received: list[int] = []
_deferring: list[bool] = []  # inside `deferred()`: a first signal is remembered, not raised


class Interrupted(BowgramError):
    def __init__(self, signum: int, note: str = ""):
        which = " (SIGTERM)" if signum == signal.SIGTERM else ""
        super().__init__(f"interrupted{which}" + (f"; {note}" if note else ""))
        self.exit_code = 128 + signum


def _handler(signum: int, frame: FrameType | None) -> None:
    _received.append(signum)
    if _deferring and len(_received) == 1:
        return
    raise Interrupted(signum)


@contextlib.contextmanager
def deferred(check_at_end: bool = True) -> Iterator[None]:
    """A step that must not stop halfway (a chunk of output lines, a bundle swap): a signal during
    it is raised when it ends (or, `check_at_end=False`, left to the caller: `pending()`); a
    second one stops it at once."""
    _deferring.append(True)
    try:
        yield
    finally:
        _deferring.pop()
    if check_at_end:
        check()


def pending() -> list[int]:
    """The signals received since `cancellable()` began."""
    return list(_received)


def check() -> None:
    """Raise `Interrupted` if a signal came since `cancellable()` began."""
    if _received:
        raise Interrupted(_received[0])


@contextlib.contextmanager
def cancellable() -> Iterator[None]:
    if threading.current_thread() is not threading.main_thread():  # signals reach the main thread only
        yield
        return
    _received.clear()
    previous = {s: signal.signal(s, _handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
        _received.clear()

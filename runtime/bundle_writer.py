"""Writing a bundle so that nothing is lost and no reader sees half of it.

Files go to a staging folder next to `--out` (`.NAME.bowgram-tmp-PID-RANDOM`, with a marker file
inside naming the writing process); `commit()` writes `manifest.json` last and swaps the folder
into place. On Linux the swap is one atomic exchange of the two folders (renameat2
RENAME_EXCHANGE), so `--out` always holds a whole bundle, old or new; elsewhere two renames.

What the writer will replace: nothing, an empty folder, or a bowgram bundle (its manifest says
so). Files a user added to a bundle are carried over into the new one. Leftovers of a killed
writer are recognized by their name *and* marker and removed only once their process is gone;
nothing else is ever deleted. SIGINT/SIGTERM (see `interrupt.py`) cancel before the swap.
"""

from __future__ import annotations

import contextlib
import ctypes
import dataclasses
import datetime
import errno
import json
import os
import secrets
import shutil
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from . import interrupt

try:
    import fcntl
except ImportError:  # Windows: pids alone tell a live writer
    fcntl = None  # type: ignore[assignment]
from .bundle import MANIFEST, Bundle, sha256_of
from .errors import InputError
from .manifest import FORMAT_VERSION, Artifact, Manifest

MARKER = ".bowgram-writer"  # inside a staging folder: the pid of the process writing it
STAGING = "bowgram-tmp"


class BundleWriter:
    """Collects files in a staging folder next to `out`; `commit()` swaps it into place.

    A file is hashed once, when it is added; `draft()` is the bundle as it stands, readable
    before its manifest is written, and `write_manifest()` is meant to run once, last.
    """

    def __init__(self, out: str | os.PathLike[str]):
        self.out = Path(os.path.abspath(out))
        self._files: dict[str, Artifact] = {}

    def __enter__(self) -> BundleWriter:
        check_out_dir(self.out)
        with writing(self.out):
            self.out.parent.mkdir(parents=True, exist_ok=True)
            recover_interrupted(self.out)
            name = f".{self.out.name}.{STAGING}-{os.getpid()}-{secrets.token_hex(4)}"
            self.dir = self.out.parent / name
            self.dir.mkdir(mode=0o700)
            self._marker = _hold_marker(self.dir / MARKER)
        return self

    def __exit__(self, *exc_info: object) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)
        os.close(self._marker)  # the lock goes with it

    def write_json(self, name: str, fmt: str, data: Any) -> Path:
        path = self.dir / name
        with writing(self.out):
            path.write_text(json.dumps(data, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
        self.add(name, fmt)
        return path

    def add(self, name: str, fmt: str, **facts: Any) -> None:
        """Register a finished file of `self.dir` (facts: opset, ir_version, precision)."""
        interrupt.check()
        path = self.dir / name
        self._files[name] = Artifact(path=name, format=fmt, sha256=sha256_of(path), size=path.stat().st_size, **facts)

    def remove(self, name: str) -> None:
        """Drop a file that turned out not to belong in the bundle."""
        self._files.pop(name, None)
        (self.dir / name).unlink(missing_ok=True)

    def manifest(self, **fields: Any) -> Manifest:
        created = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0).isoformat()
        return Manifest(
            format_version=FORMAT_VERSION,
            created=fields.pop("created", created),
            artifacts=tuple(self._files.values()),
            **fields,
        )

    def draft(self, **fields: Any) -> Bundle:
        """The staged files as a `Bundle`, with an in-memory manifest: predictors can be built
        on it before anything is final."""
        return Bundle(self.dir, self.manifest(**fields))

    def write_manifest(self, **fields: Any) -> Manifest:
        """Write manifest.json into the staging folder: the last file of a bundle. When the bundle
        at `out` is the same in everything but its creation time, its `created` is kept: a rebuild
        that changes nothing leaves every byte as it was."""
        manifest = self.manifest(**fields)
        previous = _previous_created(self.out, manifest)
        if previous is not None:
            manifest = dataclasses.replace(manifest, created=previous)
        with writing(self.out):
            (self.dir / MANIFEST).write_text(json.dumps(manifest.to_dict(), indent=1) + "\n", encoding="utf-8")
        return manifest

    def commit(self) -> None:
        """Swap the finished bundle into place; the previous bundle at `out` goes, except the
        files a user added to it, which are carried over."""
        interrupt.check()
        check_out_dir(self.out)
        with writing(self.out):
            _carry_over_user_files(self.out, self.dir)
            self.dir.chmod(0o755)  # a bundle is for everyone to read
            previous = self.out.is_dir()
            if previous:  # mark the previous bundle too: after the swap it is this writer's leftover
                (self.out / MARKER).write_text(str(os.getpid()))
            with interrupt.deferred(check_at_end=False):  # Ctrl-C now: the swap completes or never starts
                try:
                    _exchange(self.dir, self.out)
                except BaseException:
                    (self.out / MARKER).unlink(missing_ok=True)
                    raise
                (self.out / MARKER).unlink(missing_ok=True)
                if previous:
                    shutil.rmtree(self.dir, ignore_errors=True)
        if interrupt.pending():
            raise interrupt.Interrupted(interrupt.pending()[0], f"the new bundle was already in place at {self.out}")


def _previous_created(out: Path, manifest: Manifest) -> str | None:
    """The `created` of the bundle at `out` if its manifest equals `manifest` except for it."""
    try:
        old = json.loads((out / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    new = json.loads(json.dumps(manifest.to_dict()))  # as it would be written: tuples become lists
    if not isinstance(old, dict) or {**old, "created": new["created"]} != new:
        return None
    created = old.get("created")
    return created if isinstance(created, str) else None


def is_bundle(path: Path) -> bool:
    """Whether `path` holds a manifest that bowgram wrote (its producer and format fields)."""
    try:
        data = json.loads((path / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return False
    producer = data.get("producer") if isinstance(data, dict) else None
    return isinstance(producer, dict) and "bowgram" in producer and isinstance(data.get("format_version"), int)


def check_out_dir(out: Path) -> None:
    """`out` must be absent, an empty folder or a bowgram bundle, in a folder that can hold it;
    checked before training starts too, so that a long run cannot end in a refusal."""
    out = Path(os.path.abspath(out))
    for parent in out.parents:
        if parent.exists():
            if not parent.is_dir():
                raise InputError(f"--out {out}: {parent} is a file, not a folder")
            break
    if Path.cwd() == out or out in Path.cwd().parents:
        raise InputError(f"--out {out} is the current folder or holds it; run from elsewhere or choose another --out")
    if out.is_symlink() or (out.exists() and not out.is_dir()):
        raise InputError(f"--out {out} exists and is not a folder; refusing to replace it")
    if out.is_dir() and any(out.iterdir()) and not is_bundle(out):
        raise InputError(
            f"--out {out} is a non-empty folder that is not a bowgram bundle; refusing to replace it "
            "(choose an empty or new folder)"
        )


def recover_interrupted(out: Path) -> None:
    """Remove the staging folders of writers of `out` that were killed: the name must be one this
    writer makes, the marker inside must name a process that is gone, and no process may hold the
    marker's lock (a writer holds it while it lives: a pid alone cannot tell a live writer in
    another PID namespace, e.g. another container on the same volume, from a dead one)."""
    for stale in out.parent.glob(f".{out.name}.{STAGING}-*"):
        try:
            pid = int((stale / MARKER).read_text().strip())
        except (OSError, ValueError):
            continue  # not ours, or not sure: never delete it
        if stale.name.startswith(f".{out.name}.{STAGING}-{pid}-") and _abandoned(stale / MARKER, pid):
            shutil.rmtree(stale, ignore_errors=True)


def _hold_marker(path: Path) -> int:
    """Write this process's pid to `path` and hold an exclusive lock on it until closed."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
    os.write(fd, str(os.getpid()).encode())
    if fcntl is not None:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    return fd


def _abandoned(marker: Path, pid: int) -> bool:
    """Whether the writer that made `marker` is gone: its pid is not running here and (where locks
    exist) nothing holds the marker's lock."""
    if _alive(pid):
        return False
    if fcntl is None:
        return True
    try:
        fd = os.open(marker, os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return False  # held: the writer lives
    finally:
        os.close(fd)  # and the lock, if it was taken
    return True


def _carry_over_user_files(out: Path, new: Path) -> None:
    """Files of the previous bundle that its manifest does not list were put there by someone:
    copy them into the new bundle (or say, before the swap, why one cannot be kept)."""
    if not out.is_dir():
        return
    try:
        listed = {a["path"] for a in json.loads((out / MANIFEST).read_text(encoding="utf-8")).get("artifacts", [])}
    except (OSError, ValueError, AttributeError, TypeError, KeyError):
        listed = set()
    for entry in out.iterdir():
        if entry.name in listed or entry.name in (MANIFEST, MARKER):
            continue
        if (new / entry.name).exists():
            warnings.warn(f"{entry} is not kept: the new bundle has a file of that name", stacklevel=3)
        elif entry.is_dir() and not entry.is_symlink():
            shutil.copytree(entry, new / entry.name, symlinks=True)
        else:
            shutil.copy2(entry, new / entry.name, follow_symlinks=False)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def _exchange(new: Path, out: Path) -> None:
    """Put `new` at `out`, and an existing `out` at `new`: one atomic step on Linux (readers see
    the old folder or the new one, never none); elsewhere, three renames."""
    if not out.exists():
        os.rename(new, out)
        return
    renameat2 = getattr(ctypes.CDLL(None, use_errno=True), "renameat2", None)
    if renameat2 is not None:
        if renameat2(_AT_FDCWD, os.fsencode(new), _AT_FDCWD, os.fsencode(out), _RENAME_EXCHANGE) == 0:
            return
        if ctypes.get_errno() not in (errno.ENOSYS, errno.EINVAL):
            raise OSError(ctypes.get_errno(), os.strerror(ctypes.get_errno()), str(out))
    aside = new.with_name(new.name + "-old")
    os.rename(out, aside)
    os.rename(new, out)
    os.rename(aside, new)


@contextlib.contextmanager
def writing(out: Path) -> Iterator[None]:
    """OSError from the file system as one clear InputError: no space, read-only, no permission."""
    try:
        yield
    except OSError as exc:
        reasons = {
            errno.ENOSPC: "no space left on the device",
            errno.EROFS: "the file system is read-only",
            errno.EACCES: "permission denied",
            errno.EDQUOT: "disk quota exceeded",
        }
        reason = reasons.get(exc.errno or 0, exc.strerror or str(exc))
        raise InputError(f"cannot write the bundle {out}: {reason}; the previous bundle is unchanged") from None

"""Reading a bundle directory safely: a bundle is data someone may hand you.

A bundle is opened through a handle on its directory, and every file (the manifest first) is read
relative to that handle: a writer swapping a new bundle in cannot make a reader mix the old
manifest with new files. A file must be a regular file named plainly in the bundle (no path, no
link, no FIFO), no larger than the manifest says, and match its sha256 before anything parses it;
model files reach the backends as those verified bytes, never re-read by path.
This module knows files and checksums, not models (backends) or tasks (predictors); writing is
`bundle_writer.py`.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import Any

from .errors import BundleError
from .manifest import Artifact, Manifest

MANIFEST = "manifest.json"
MAX_MANIFEST_BYTES = 16 << 20  # a manifest is a few KB; anything this big is not one
REOPENS = 5  # tries to open a bundle folder that a writer keeps swapping


def default_bundle_path(task: str) -> Path:
    """Where the default bundle for `task` was installed (the package `bowgram.artifacts`)."""
    return Path(str(resources.files("bowgram.artifacts").joinpath(task)))


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class Bundle:
    """An opened bundle: its manifest, and verified reads of its files."""

    def __init__(self, path: Path, manifest: Manifest, dir_fd: int | None = None):
        self.path = path
        self.manifest = manifest
        self._fd = dir_fd
        self._opened: dict[str, int] = {}  # file descriptors taken right after the manifest was read
        self._verified: dict[str, tuple[tuple[int, int, int, int], str]] = {}  # path -> (identity, sha256) hashed

    @classmethod
    def open(cls, path: str | os.PathLike[str], task: str | None = None) -> Bundle:
        root = Path(os.path.abspath(path))
        for attempt in range(REOPENS):
            fd = _open_dir(root)
            try:
                raw = _read_regular(fd, MANIFEST, root, MAX_MANIFEST_BYTES)
                break
            except FileNotFoundError:
                held, now = os.fstat(fd), _stat_or_none(root)
                os.close(fd)
                if attempt == REOPENS - 1 or now is None or (now.st_dev, now.st_ino) == (held.st_dev, held.st_ino):
                    raise BundleError(f"{root} is not a bundle: it has no {MANIFEST}") from None
                # the folder was swapped for a new bundle while being opened: open the new one
            except BaseException:
                os.close(fd)
                raise
        try:
            data = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
            os.close(fd)
            why = "nested too deep" if isinstance(exc, RecursionError) else str(exc)
            raise BundleError(f"{root / MANIFEST} is not valid JSON: {why}") from None
        bundle = cls(root, Manifest.from_dict(data), fd)
        bundle._open_files()
        if task is not None and bundle.manifest.task != task:
            raise BundleError(f"{root} is a {bundle.manifest.task!r} bundle, but this needs a {task!r} bundle")
        return bundle

    def __del__(self) -> None:
        self.close()

    def close(self, _close: Callable[[int], None] = os.close) -> None:
        """Close the files held open (`_close` is bound at import: a predictor in a reference cycle
        may be collected at interpreter exit, after the os module is torn down)."""
        for fd in self._opened.values():
            _close(fd)
        self._opened.clear()
        if self._fd is not None:
            _close(self._fd)
            self._fd = None

    def _open_files(self) -> None:
        """Open every listed file now, together with the manifest: a writer that swaps a new bundle
        in and deletes this one afterwards cannot take the files away (an open file stays readable)."""
        for artifact in self.manifest.artifacts:
            try:
                self._opened[artifact.path] = _open_regular(self._dir(), artifact.path, self.path)
            except (FileNotFoundError, BundleError):
                pass  # reported when (if) the file is read

    def _dir(self) -> int:
        if self._fd is None:  # a bundle made in memory (the exporter's draft): open its folder now
            self._fd = _open_dir(self.path)
        return self._fd

    def replaced(self) -> bool:
        """Whether the path now names another directory than the one this bundle was read from
        (a writer swapped a new bundle in meanwhile)."""
        try:
            now = os.stat(self.path)
        except OSError:
            return True
        held = os.fstat(self._dir())
        return (now.st_dev, now.st_ino) != (held.st_dev, held.st_ino)

    def present(self, artifact: Artifact) -> bool:
        """Whether this copy holds the file (an optional torch format may be left out)."""
        try:
            return stat.S_ISREG(os.stat(artifact.path, dir_fd=self._dir(), follow_symlinks=False).st_mode)
        except OSError:
            return False

    def read(self, artifact: Artifact) -> bytes:
        """The file's bytes, once its size and sha256 match the manifest. A file held open since the
        bundle was opened and read again unchanged (same inode, size and modification time) is not
        hashed twice: the language identifier reads its model once for the engine and once for
        its weights."""
        try:
            fd = self._opened.get(artifact.path)
            data = (
                _pread(fd, artifact.size + 1)
                if fd is not None
                else _read_regular(self._dir(), artifact.path, self.path, artifact.size + 1)
            )
        except FileNotFoundError:
            hint = " (an optional torch format this copy leaves out; rebuild the bundle to get it)"
            hint = hint if artifact.optional else ""
            raise BundleError(f"bundle {self.path} is missing {artifact.path}{hint}") from None
        identity = _identity(fd) if fd is not None else None
        if identity is not None and self._verified.get(artifact.path) == (identity, artifact.sha256):
            if len(data) == artifact.size:
                return data
        if len(data) != artifact.size or hashlib.sha256(data).hexdigest() != artifact.sha256:
            raise BundleError(
                f"{artifact.path} does not match its sha256 in the manifest: "
                "the file is corrupt or was changed; rebuild or re-download the bundle"
            )
        if identity is not None and fd is not None and identity == _identity(fd):  # unchanged while read and hashed
            self._verified[artifact.path] = (identity, artifact.sha256)
        return data

    def reader(self, artifact: Artifact) -> tuple[Callable[[int, int], bytes], int]:
        """(read(offset, length), size) over a file: through the handle held since the bundle was
        opened, without reading it whole, when it was verified and is unchanged since (the
        language identifier reads parts of its model for its weights); else over its verified
        bytes."""
        fd = self._opened.get(artifact.path)
        if fd is not None and self._verified.get(artifact.path) == (_identity(fd), artifact.sha256):
            held = fd
            return (lambda offset, length: os.pread(held, length, offset)), artifact.size
        data = self.read(artifact)
        return (lambda offset, length: data[offset : offset + length]), len(data)

    def artifact(self, fmt: str, precision: str = "fp32") -> Artifact:
        found = self.manifest.artifact(fmt, precision)
        if found is None:
            raise BundleError(
                f"bundle {self.path} has no {fmt} ({precision}) file; "
                f"it has: {', '.join(self.manifest.model_formats()) or 'no model'}"
            )
        return found

    def read_json(self, fmt: str) -> Any:
        artifact = self.artifact(fmt)
        try:
            return json.loads(self.read(artifact).decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
            why = "nested too deep" if isinstance(exc, RecursionError) else str(exc)
            raise BundleError(f"{artifact.path} is not valid JSON: {why}") from None

    def verify_checksums(self) -> list[str]:
        """Check every file this copy holds; returns the paths checked (raises on the first
        mismatch, or on a missing file that is not an optional torch format)."""
        checked = []
        for artifact in self.manifest.artifacts:
            if not artifact.optional or self.present(artifact):
                self.read(artifact)
                checked.append(artifact.path)
        return checked


def _stat_or_none(path: Path) -> os.stat_result | None:
    try:
        return os.stat(path)
    except OSError:
        return None


def _open_dir(root: Path) -> int:
    try:
        return os.open(root, os.O_RDONLY | os.O_DIRECTORY)
    except (FileNotFoundError, NotADirectoryError):
        raise BundleError(f"bundle not found: {root} is not a directory") from None
    except OSError as exc:
        raise BundleError(f"cannot open the bundle {root}: {exc.strerror}") from None


def _read_regular(dir_fd: int, name: str, root: Path, limit: int) -> bytes:
    """At most `limit` bytes of the regular file `name` in the directory `dir_fd`; a link, a
    FIFO, a device or a folder is refused (FileNotFoundError if there is nothing by that name)."""
    fd = _open_regular(dir_fd, name, root)
    try:
        return _pread(fd, limit)
    finally:
        os.close(fd)


def _identity(fd: int) -> tuple[int, int, int, int] | None:
    """What changes when a file is replaced or written: device, inode, size, modification time."""
    try:
        info = os.fstat(fd)
    except OSError:
        return None
    return info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns


def _pread(fd: int, limit: int) -> bytes:
    """Up to `limit` bytes from the start of the open file `fd` (one call for a whole file: a
    model of megabytes is not read and joined in pieces)."""
    data = os.pread(fd, limit, 0)
    if not data or len(data) == limit:
        return data
    parts, offset = [data], len(data)
    while offset < limit:
        chunk = os.pread(fd, min(limit - offset, 1 << 20), offset)
        if not chunk:
            break
        parts.append(chunk)
        offset += len(chunk)
    return b"".join(parts)


def _open_regular(dir_fd: int, name: str, root: Path) -> int:
    """A descriptor of the regular file `name` in the directory `dir_fd` (see `_read_regular`)."""
    try:
        fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=dir_fd)
    except OSError as exc:
        if isinstance(exc, FileNotFoundError):
            raise
        if os.path.islink(root / name):
            raise BundleError(
                f"{name} is a symbolic link: a bundle's files must be regular files inside it "
                "(a link may lead outside the bundle)"
            ) from None
        raise BundleError(f"cannot read {root / name}: {exc.strerror}") from None
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise BundleError(f"{root / name} is not a regular file")
    return fd

"""A bundle directory on disk: reading it safely, and writing it atomically.

Reading: every file is resolved inside the bundle (no absolute paths, no `..`, no symlink that
leads out), and checked against its size and sha256 before anything is parsed or loaded.
Writing: files go to a hidden temporary sibling folder; `commit()` writes `manifest.json` last
and renames the folder into place, so a crash leaves the previous bundle or nothing.
This module knows files and checksums, not models (backends) or tasks (predictors).
"""

from __future__ import annotations

import datetime
import hashlib
import json
import os
import shutil
import tempfile
from importlib import resources
from pathlib import Path
from typing import Any

from .errors import BundleError, InputError
from .manifest import FORMAT_VERSION, Artifact, Manifest

MANIFEST = "manifest.json"


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
    """An opened bundle: its manifest, and checked access to its files (each file's checksum is
    computed once per `Bundle`, however many predictors are built from it)."""

    def __init__(self, path: Path, manifest: Manifest):
        self.path = path
        self.manifest = manifest
        self._checked: dict[str, Path] = {}

    @classmethod
    def open(cls, path: str | os.PathLike[str], task: str | None = None) -> Bundle:
        root = Path(path)
        if not root.is_dir():
            raise BundleError(f"bundle not found: {root} is not a directory")
        try:
            data = json.loads((root / MANIFEST).read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise BundleError(f"{root} is not a bundle: it has no {MANIFEST}") from None
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise BundleError(f"{root / MANIFEST} is not valid JSON: {exc}") from None
        manifest = Manifest.from_dict(data)
        if task is not None and manifest.task != task:
            raise BundleError(f"{root} is a {manifest.task!r} bundle, but this needs a {task!r} bundle")
        return cls(root.resolve(), manifest)

    def _path(self, artifact: Artifact) -> Path:
        """The artifact's path, refusing anything that would lead outside the bundle."""
        rel = Path(artifact.path)
        if rel.is_absolute() or ".." in rel.parts:
            raise BundleError(f"manifest lists {artifact.path!r}, which is outside the bundle")
        full = self.path / rel
        if not full.resolve().is_relative_to(self.path):
            raise BundleError(f"{artifact.path} is a link that leads outside the bundle")
        return full

    def present(self, artifact: Artifact) -> bool:
        """Whether this copy holds the file (an optional torch format may be left out)."""
        return self._path(artifact).is_file()

    def checked(self, artifact: Artifact) -> Path:
        """The artifact's path once its size and sha256 match the manifest."""
        if artifact.path in self._checked:
            return self._checked[artifact.path]
        full = self._path(artifact)
        if not full.is_file():
            hint = (
                " (an optional torch format this copy leaves out; rebuild the bundle to get it)"
                if artifact.optional
                else ""
            )
            raise BundleError(f"bundle {self.path} is missing {artifact.path}{hint}")
        if full.stat().st_size != artifact.size or sha256_of(full) != artifact.sha256:
            raise BundleError(
                f"{artifact.path} does not match its sha256 in the manifest: "
                "the file is corrupt or was changed; rebuild or re-download the bundle"
            )
        self._checked[artifact.path] = full
        return full

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
            return json.loads(self.checked(artifact).read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise BundleError(f"{artifact.path} is not valid JSON: {exc}") from None

    def verify_checksums(self) -> list[str]:
        """Check every file this copy holds; returns the paths checked (raises on the first
        mismatch, or on a missing file that is not an optional torch format)."""
        return [self.checked(a).name for a in self.manifest.artifacts if not a.optional or self.present(a)]


class BundleWriter:
    """Collects files in a temporary folder next to `out`; `commit()` swaps it into place.

    A file is hashed once, when it is added; `draft()` is the bundle as it stands, readable
    before its manifest is written, and `write_manifest()` is meant to run once, last.
    """

    def __init__(self, out: str | os.PathLike[str]):
        self.out = Path(out)
        self._files: dict[str, Artifact] = {}

    def __enter__(self) -> BundleWriter:
        self.out.parent.mkdir(parents=True, exist_ok=True)
        recover_interrupted(self.out)
        self.dir = Path(tempfile.mkdtemp(prefix=f".{self.out.name}.tmp-{os.getpid()}-", dir=self.out.parent))
        return self

    def __exit__(self, *exc_info: object) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)

    def write_json(self, name: str, fmt: str, data: Any) -> Path:
        path = self.dir / name
        path.write_text(json.dumps(data, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
        self.add(name, fmt)
        return path

    def add(self, name: str, fmt: str, **facts: Any) -> None:
        """Register a finished file of `self.dir` (facts: opset, ir_version, precision)."""
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
        return Bundle(self.dir.resolve(), self.manifest(**fields))

    def write_manifest(self, **fields: Any) -> Manifest:
        """Write manifest.json into the staging folder: the last file of a bundle."""
        manifest = self.manifest(**fields)
        (self.dir / MANIFEST).write_text(json.dumps(manifest.to_dict(), indent=1) + "\n", encoding="utf-8")
        return manifest

    def commit(self) -> None:
        """Move the finished bundle into place, replacing a previous bundle at `out`."""
        self.dir.chmod(0o755)  # mkdtemp makes it private; a bundle is for everyone to read
        _swap_into_place(self.dir, self.out)


def check_out_dir(out: Path) -> None:
    """Refuse to overwrite something that is not a bundle; called before training starts too."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise InputError(f"--out {out} exists and is not a directory")
    if out.is_dir() and any(out.iterdir()) and not (out / MANIFEST).exists():
        raise InputError(f"--out {out} is a non-empty directory that is not a bundle; refusing to replace it")


def recover_interrupted(out: Path) -> None:
    """Clean up after writers that were killed: their staging folders go; a previous bundle
    moved aside during the final swap is put back if nothing took its place."""
    for stale in sorted(out.parent.glob(f".{out.name}.*-*")):
        kind, _, rest = stale.name[len(out.name) + 2 :].partition("-")
        pid = rest.split("-")[0]
        if kind not in ("tmp", "old") or not pid.isdigit() or _alive(int(pid)):
            continue
        if kind == "old" and not out.exists():
            os.rename(stale, out)
        else:
            shutil.rmtree(stale, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _swap_into_place(new: Path, out: Path) -> None:
    check_out_dir(out)
    old = None
    if out.exists():
        old = out.parent / f".{out.name}.old-{os.getpid()}"
        os.rename(out, old)
    os.rename(new, out)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)

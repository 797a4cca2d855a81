"""The registry of tasks by name: which module defines each (`tasks/`). A leaf module, imported
by the manifest check (a bundle's task must be one of these) without importing any task."""

from __future__ import annotations

MODULES = {"langid": "bowgram.runtime.tasks.langid", "nextword": "bowgram.runtime.tasks.nextword"}


def names() -> list[str]:
    return sorted(MODULES)

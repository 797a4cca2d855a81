"""Rebuild the small bundles the tests load: every task's tutorial model, trained on the
tutorial's data and exported like any bundle. They are committed so that the runtime's tests run
without torch; rebuild them when the bundle format or a tutorial model changes:

    python tests/bundles/rebuild.py        (needs the [export] extra)
"""

from pathlib import Path

from bowgram.export.build import config_for, train_and_export
from bowgram.runtime import tasks

HERE = Path(__file__).resolve().parent

if __name__ == "__main__":
    for task in tasks.names():
        train_and_export(task, "tutorial", HERE / task, config_for(task, "tutorial", {}, {"quiet": True}))
        print(f"wrote {HERE.name}/{task}")

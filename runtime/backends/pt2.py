"""The torch.export backend: loads a `model.pt2` program, TorchScript's successor.

Like TorchScript it needs torch, imported only when a bundle is loaded with it, and runs the
same way (numpy in, numpy out). A `.pt2` archive holds pickled parts: load only bundles you trust.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from .torchscript import TorchScriptBackend


class Pt2Backend(TorchScriptBackend):
    name = "pt2"
    format = "pt2"

    def _load(self, torch: Any, source: Path | io.BytesIO) -> Any:
        return torch.export.load(source if isinstance(source, io.BytesIO) else str(source)).module()

"""The ONNX Runtime backend: the one a torch-free deployment uses."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ..errors import BundleError
from . import Backend


class OnnxBackend(Backend):
    name = "onnx"
    format = "onnx"
    module = "onnxruntime"
    extra = "onnxruntime  (part of the base install: pip install bowgram)"

    def __init__(self, path: Path, signature: dict[str, Any], threads: int = 1):
        super().__init__(path, signature, threads)
        self.require()
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.log_severity_level = 3
        try:
            self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own untyped errors for a bad file
            raise BundleError(f"onnxruntime cannot load {path.name}: {exc}") from None

    def run(self, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        outputs = self.session.run(self.output_names, {n: inputs[n] for n in self.input_names})
        return dict(zip(self.output_names, outputs))

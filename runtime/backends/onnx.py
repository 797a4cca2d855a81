"""The ONNX Runtime backend: the one a torch-free deployment uses."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import BundleError
from . import Backend

_NOWHERE = os.path.join(tempfile.gettempdir(), f"bowgram-no-external-data-{os.getpid()}-never-created")


class OnnxBackend(Backend):
    name = "onnx"
    format = "onnx"
    module = "onnxruntime"
    extra = "onnxruntime  (part of the base install: pip install bowgram)"

    def __init__(self, path: Path, signature: dict[str, Any], threads: int = 1, data: bytes | None = None):
        super().__init__(path, signature, threads, data)
        self.require()
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        # an int8 bundle stores weights as int8 + scales (DequantizeLinear on initializers): folded
        # into float32 once, at load, instead of dequantizing every weight on every call (7x slower)
        options.add_session_config_entry("session.disable_quant_qdq", "1")
        options.log_severity_level = 3
        # external data (weights in side files the manifest does not list) is never read: a bundle's
        # model is one file, checked as a whole; onnxruntime looks for side files in this empty place
        options.add_session_config_entry("session.model_external_initializers_file_folder_path", _NOWHERE)
        try:
            self.session = ort.InferenceSession(
                data if data is not None else str(path), options, providers=["CPUExecutionProvider"]
            )
        except Exception as exc:  # onnxruntime raises its own untyped errors for a bad file
            raise BundleError(f"onnxruntime cannot load {path.name}: {exc}") from None
        declared = [o.name for o in self.session.get_outputs()], [i.name for i in self.session.get_inputs()]
        if declared != (self.output_names, self.input_names):
            raise BundleError(
                f"{path.name} has inputs {declared[1]} and outputs {declared[0]}, but the manifest's "
                f"signature says {self.input_names} and {self.output_names}"
            )

    def run(self, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        outputs = self.session.run(self.output_names, {n: inputs[n] for n in self.input_names})
        return dict(zip(self.output_names, outputs))

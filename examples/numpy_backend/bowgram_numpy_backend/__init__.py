"""A third-party bowgram backend: the bag-of-features classifier computed in numpy.

It reads the weights out of the bundle's ONNX file (so it shares the manifest's format name)
and computes embedding sum → [hidden ReLU] → linear → log-softmax itself. Registered through
the entry-point group `bowgram.backends` exactly like the built-ins; `pip install -e
examples/numpy_backend`, then `bowgram langid --backend numpy-langid "hola"`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from bowgram.runtime.backends import Backend
from bowgram.runtime.errors import BundleError


class NumpyLangidBackend(Backend):
    name = "numpy-langid"
    format = "onnx"
    module = "onnx"
    extra = "onnx"

    def __init__(self, path: Path, signature: dict, threads: int = 1, data: bytes | None = None):
        super().__init__(path, signature, threads, data)
        self.require()
        import onnx
        from onnx import numpy_helper

        # `data`: the file's bytes, already checked against the manifest (read them, not `path`)
        proto = onnx.load_from_string(data) if data is not None else onnx.load(str(path))
        weights = {t.name: numpy_helper.to_array(t) for t in proto.graph.initializer}
        try:
            self.embedding = next(w for n, w in weights.items() if "embedding" in n)
            self.layers = [
                (weights[f"{p}.weight"], weights[f"{p}.bias"])
                for p in ("hidden.0", "output")
                if f"{p}.weight" in weights
            ]
        except (StopIteration, KeyError):
            raise BundleError(f"{path.name} is not a bowgram bag-of-features classifier") from None

    def run(self, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        x = self.embedding[inputs[self.input_names[0]]].sum(axis=1, dtype=np.float32)  # [batch, dim]
        for i, (weight, bias) in enumerate(self.layers):
            x = x @ weight.T + bias
            if i < len(self.layers) - 1:
                x = np.maximum(x, 0)
        x = x - x.max(axis=1, keepdims=True)
        return {self.output_names[0]: (x - np.log(np.exp(x).sum(axis=1, keepdims=True))).astype(np.float32)}

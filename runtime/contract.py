"""The export contract of a task, declared once: tensor names, dtypes, named axes, opset, tolerance.

Every axis has a name. Dynamic axes (`batch`, `tokens`) stay names in the manifest's `signature`;
the others (`labels`, `vocab`, `context`, `top_k`) are sizes fixed when a model is exported.
The serializers read the contract to name the graph's inputs and outputs and to declare its
dynamic axes; the bundle writer turns it into the manifest's `signature`; the runtime checks a
manifest's `signature` against it and reads the sizes back. It is not a model and knows no torch.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from .errors import BundleError


@dataclass(frozen=True)
class TensorSpec:
    name: str
    dtype: str  # numpy dtype name: int64, float32
    axes: tuple[str, ...]


@dataclass(frozen=True)
class Contract:
    inputs: tuple[TensorSpec, ...]
    outputs: tuple[TensorSpec, ...]
    dynamic: tuple[str, ...] = ("batch",)  # axes that stay symbolic; every other axis is a size
    opset: int = 20
    atol: float = 1e-5  # on log-probabilities; our models are small and deterministic
    rtol: float = 1e-5  # plus this much of |reference|: float32 sums of many embeddings round differently

    @property
    def input_names(self) -> list[str]:
        return [t.name for t in self.inputs]

    @property
    def output_names(self) -> list[str]:
        return [t.name for t in self.outputs]

    def signature(self, sizes: Mapping[str, int]) -> dict[str, list[dict[str, object]]]:
        """The manifest's `signature`: dynamic axes as names, the others as their sizes."""
        missing = sorted({a for t in self.inputs + self.outputs for a in t.axes if a not in self.dynamic} - set(sizes))
        if missing:
            raise ValueError(f"the contract needs sizes for the axes {missing}")

        def tensor(t: TensorSpec) -> dict[str, object]:
            return {"name": t.name, "dtype": t.dtype, "shape": [a if a in self.dynamic else sizes[a] for a in t.axes]}

        return {"inputs": [tensor(t) for t in self.inputs], "outputs": [tensor(t) for t in self.outputs]}

    def sizes(self, signature: object) -> dict[str, int]:
        """Check a manifest's `signature` against the contract; returns the sizes it fixes."""
        if not isinstance(signature, dict):
            raise BundleError("manifest.json: 'signature' is not an object")
        sizes: dict[str, int] = {}
        for role, specs in (("inputs", self.inputs), ("outputs", self.outputs)):
            tensors = signature.get(role)
            if not isinstance(tensors, list) or not all(isinstance(t, dict) for t in tensors):
                raise BundleError(f"manifest.json: signature {role} is not a list of objects")
            names = [t.get("name") for t in tensors]
            if names != [t.name for t in specs]:
                raise BundleError(
                    f"manifest.json: signature {role} are {names}, this task needs {[t.name for t in specs]}"
                )
            for spec, tensor in zip(specs, tensors):
                self._check_tensor(spec, tensor, sizes)
        return sizes

    def _check_tensor(self, spec: TensorSpec, tensor: dict[str, object], sizes: dict[str, int]) -> None:
        shape = tensor.get("shape")
        if tensor.get("dtype") != spec.dtype or not isinstance(shape, list) or len(shape) != len(spec.axes):
            raise BundleError(
                f"manifest.json: signature of {spec.name!r} is {tensor.get('dtype')} {shape}, "
                f"this task needs {spec.dtype} with axes {list(spec.axes)}"
            )
        for axis, dim in zip(spec.axes, shape):
            if axis in self.dynamic:
                ok = dim == axis
            else:
                ok = (
                    isinstance(dim, int)
                    and not isinstance(dim, bool)
                    and dim > 0
                    and sizes.setdefault(axis, dim) == dim
                )
            if not ok:
                raise BundleError(
                    f"manifest.json: axis {axis!r} of {spec.name!r} is {dim!r}, expected "
                    + ("that name (a dynamic axis)" if axis in self.dynamic else "one positive size")
                )

"""Weight-only int8 for an exported float32 ONNX model.

Each large weight matrix is stored as int8 with one float32 scale per channel (symmetric, zero
point 0) and dequantized inside the graph: an embedding table right after its `Gather` (only the
gathered rows are dequantized), a `Gemm`/`MatMul` weight before the product. Activations stay
float32. Dynamic activation quantization (onnxruntime's `quantize_dynamic`) picks one activation
scale for the whole batch, so a text's answer could change with the texts batched beside it; here
it cannot.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

MIN_ELEMENTS = 4096  # smaller weights stay float32: they cost little and quantize worst
_PRODUCTS = ("Gemm", "MatMul")


def quantize_weights(source: Path, target: Path) -> list[str]:
    """Write `source` with its large float32 matrices as int8 to `target`; returns their names."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    model = onnx.load(source)
    graph = model.graph
    uses: dict[str, list[tuple[onnx.NodeProto, int]]] = defaultdict(list)
    for node in graph.node:
        for i, name in enumerate(node.input):
            uses[name].append((node, i))
    quantized: list[str] = []
    new_nodes: list[Any] = []
    for init in list(graph.initializer):
        users = uses.get(init.name, [])
        if init.data_type != TensorProto.FLOAT or len(init.dims) != 2 or np.prod(init.dims) < MIN_ELEMENTS:
            continue
        gathered = [(n, i) for n, i in users if n.op_type == "Gather" and i == 0]
        multiplied = [(n, i) for n, i in users if n.op_type in _PRODUCTS and i == 1]
        if not users or len(gathered) + len(multiplied) != len(users):
            continue  # used some other way: leave it alone
        weight = numpy_helper.to_array(init)
        # per column when rows are gathered (the scale must follow the row's last axis), else per
        # output channel: a Gemm with transB=1 holds one output per row, a MatMul one per column
        axis = 1 if gathered or any(_trans_b(n) == 0 for n, _ in multiplied) else 0
        scale = np.abs(weight).max(axis=1 - axis) / 127.0
        scale = np.where(scale > 0, scale, 1.0).astype(np.float32)
        shape = (1, -1) if axis == 1 else (-1, 1)
        q = np.clip(np.rint(weight / scale.reshape(shape)), -127, 127).astype(np.int8)
        base = init.name
        graph.initializer.remove(init)
        graph.initializer.extend(
            [
                numpy_helper.from_array(q, f"{base}.int8"),
                numpy_helper.from_array(scale, f"{base}.scale"),
                numpy_helper.from_array(np.zeros_like(scale, dtype=np.int8), f"{base}.zero_point"),
            ]
        )
        params = [f"{base}.scale", f"{base}.zero_point"]
        if multiplied:
            new_nodes.append(
                helper.make_node("DequantizeLinear", [f"{base}.int8", *params], [f"{base}.dequantized"], axis=axis)
            )
            for node, i in multiplied:
                node.input[i] = f"{base}.dequantized"
        for k, (node, _) in enumerate(gathered):
            rows = f"{node.output[0]}.int8_rows_{k}"
            node.input[0] = f"{base}.int8"
            new_nodes.append(helper.make_node("DequantizeLinear", [rows, *params], [node.output[0]], axis=-1))
            node.output[0] = rows
        quantized.append(base)
    _insert_sorted(graph, new_nodes)
    onnx.checker.check_model(model, full_check=True)
    onnx.save(model, target)
    return quantized


def _trans_b(node: Any) -> int:
    for attr in getattr(node, "attribute", []):
        if attr.name == "transB":
            return int(attr.i)
    return 0


def _insert_sorted(graph: Any, new_nodes: list[Any]) -> None:
    """Add nodes and keep the graph topologically sorted (ONNX requires it)."""
    nodes = list(graph.node) + new_nodes
    produced = {i.name for i in graph.input} | {i.name for i in graph.initializer}
    ordered = []
    while nodes:
        ready = [n for n in nodes if all(not x or x in produced for x in n.input)]
        if not ready:
            raise ValueError("quantized graph has a cycle")
        for n in ready:
            ordered.append(n)
            produced.update(n.output)
        nodes = [n for n in nodes if n not in ready]
    del graph.node[:]
    graph.node.extend(ordered)

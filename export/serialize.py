"""Model → files: TorchScript and a self-contained ONNX file, each carrying key facts inside.

The export contract (names, dtypes, symbolic axes) is data: `signature` from the task module,
the same dict that goes into the manifest. Noisy exporter output is silenced narrowly.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import warnings
from pathlib import Path

import torch

from bowgram.runtime.backends.torchscript import quiet_jit_deprecation

OPSET = 20


def to_torchscript(model: torch.nn.Module, example: torch.Tensor, path: Path, signature: dict, facts: dict) -> None:
    """Scripted (not traced) so no shape is baked in; `facts` ride along as extra files."""
    extra = {"bowgram.json": json.dumps(facts, ensure_ascii=False)}
    with quiet_jit_deprecation():
        torch.jit.save(torch.jit.script(model), str(path), _extra_files=extra)


def to_pt2(model: torch.nn.Module, example: torch.Tensor, path: Path, signature: dict, facts: dict) -> None:
    """A torch.export program (TorchScript's successor) with the same facts as an extra file."""
    program = torch.export.export(model, (example,), dynamic_shapes=(_dims(signature),))
    torch.export.save(program, str(path), extra_files={"bowgram.json": json.dumps(facts, ensure_ascii=False)})


def _dims(signature: dict) -> dict:
    """torch.export dimensions for the symbolic axes of the (single) input."""
    return {i: torch.export.Dim(axis) for i, axis in enumerate(signature["inputs"][0]["shape"]) if isinstance(axis, str)}


def to_onnx(model: torch.nn.Module, example: torch.Tensor, path: Path, signature: dict, facts: dict) -> dict:
    """Export with the dynamo exporter into one file (no external data); returns opset and IR."""
    import onnx

    (inp,), outputs = signature["inputs"], signature["outputs"]
    with _quiet_onnx_exporter():
        torch.onnx.export(model, (example,), str(path), input_names=[inp["name"]], output_names=[o["name"] for o in outputs],
                          dynamic_shapes=(_dims(signature),), dynamo=True, external_data=False, opset_version=OPSET)
    proto = onnx.load(str(path))
    onnx.helper.set_model_props(proto, {f"bowgram.{k}": json.dumps(v, ensure_ascii=False) for k, v in facts.items()})
    proto.producer_name, proto.doc_string = "bowgram", f"bowgram {facts.get('task')} model; see metadata_props"
    onnx.checker.check_model(proto)
    onnx.save(proto, str(path))
    return {"opset": proto.opset_import[0].version, "ir_version": proto.ir_version}


@contextlib.contextmanager
def _quiet_onnx_exporter():
    """The dynamo exporter logs registry notes (torchvision absent), a pytree FutureWarning and
    progress lines on stdout; hide exactly those, keep every other warning."""
    registry_log = logging.getLogger("torch.onnx._internal.exporter._registration")
    level = registry_log.level
    registry_log.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.filterwarnings("ignore", message=r".*isinstance\(treespec, LeafSpec\)", category=FutureWarning)
            yield
    finally:
        registry_log.setLevel(level)


# format -> (file name, writer); every writer takes (model, example, path, signature, facts)
# and may return facts for the manifest (opset, IR version).
SERIALIZERS = {
    "onnx": ("model.onnx", to_onnx),
    "pt2": ("model.pt2", to_pt2),
    "torchscript": ("model.torchscript.pt", to_torchscript),
}
OPTIONAL = {"torchscript"}  # deprecated upstream: if torch refuses it, the bundle goes without

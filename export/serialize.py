"""Model → files: ONNX (one self-contained file), pt2 and TorchScript, each carrying key facts inside.

What the files look like (input and output names, dynamic axes, opset) comes from the task's
`Contract` (`bowgram.runtime.contract`), the same declaration the manifest and the runtime read.
Noisy exporter output is silenced narrowly.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import logging
import os
import re
import warnings
import zipfile
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import torch

from bowgram.runtime.backends.torchscript import quiet_jit_deprecation
from bowgram.runtime.contract import Contract

EXAMPLE_DIMS = {"batch": 3, "tokens": 7}  # sizes of the dynamic axes in the example input traced by the exporters


def example_input(contract: Contract, sizes: Mapping[str, int]) -> torch.Tensor:
    """An input of the contract's shape (id 1 everywhere: a valid id of every model)."""
    (spec,) = contract.inputs
    return torch.ones(
        tuple(EXAMPLE_DIMS[a] if a in contract.dynamic else sizes[a] for a in spec.axes), dtype=torch.int64
    )


def to_torchscript(
    model: torch.nn.Module, example: torch.Tensor, path: Path, contract: Contract, facts: dict[str, Any]
) -> None:
    """Scripted (not traced) so no shape is baked in; `facts` ride along as extra files."""
    extra = {"bowgram.json": json.dumps(facts, ensure_ascii=False)}
    with quiet_jit_deprecation():
        torch.jit.save(torch.jit.script(model), str(path), _extra_files=extra)
    strip_debug_info(path)


def _write_deflated(path: Path, members: list[tuple[zipfile.ZipInfo, bytes]]) -> None:
    """Replace the archive at `path` with these entries, compressed: torch writes its archives
    uncompressed, and the float16 weights of a default bundle shrink by about 8% (both torch
    readers accept compressed entries; loading is not memory-mapped)."""
    tmp = path.with_name(path.name + ".tmp")
    with zipfile.ZipFile(tmp, "w") as dst:
        for info, data in members:
            dst.writestr(info, data, compress_type=zipfile.ZIP_DEFLATED, compresslevel=9)
    os.replace(tmp, path)


def deflate(path: Path) -> None:
    """A torch archive (pt2, TorchScript) with the same entries, compressed."""
    with zipfile.ZipFile(path) as src:
        members = [(info, src.read(info.filename)) for info in src.infolist()]
    _write_deflated(path, members)


def strip_debug_info(path: Path) -> None:
    """Make a TorchScript archive the same bytes on every build: drop its `*.debug_pkl` entries
    (source ranges with the build machine's file paths, which loading does not need), put its
    `Final` constant declarations in sorted order (torch writes them in set order, which changes
    with Python's hash seed), and replace the random `serialization_id` with a hash of the rest."""
    members: dict[str, bytes] = {}
    with zipfile.ZipFile(path) as src:
        infos = [i for i in src.infolist() if not i.filename.endswith(".debug_pkl")]
        for info in infos:
            data = src.read(info.filename)
            if info.filename.endswith(".py"):
                data = _sorted_constants(data.decode("utf-8")).encode("utf-8")
            members[info.filename] = data
    ids = [name for name in members if name.endswith("/serialization_id")]
    digest = hashlib.sha256(b"".join(members[n] for n in sorted(members) if n not in ids)).hexdigest()
    for name in ids:
        members[name] = str(int(digest, 16) % 10**40).zfill(40).encode()
    _write_deflated(path, [(info, members[info.filename]) for info in infos])


_CONSTANT = re.compile(r"^\s+\w+ : Final\[")


def _sorted_constants(code: str) -> str:
    """Each run of consecutive `name : Final[...] = value` declarations, sorted."""
    lines, out, run = code.split("\n"), [], []
    for line in [*code.split("\n"), None]:
        if line is not None and _CONSTANT.match(line):
            run.append(line)
            continue
        out += sorted(run)
        run = []
        if line is not None:
            out.append(line)
    return "\n".join(out) if len(out) == len(lines) else code


def to_pt2(
    model: torch.nn.Module, example: torch.Tensor, path: Path, contract: Contract, facts: dict[str, Any]
) -> None:
    """A torch.export program (TorchScript's successor) with the same facts as an extra file."""
    program = torch.export.export(model, (example,), dynamic_shapes=(_dims(contract),))
    for node in program.graph.nodes:  # source locations of the build machine: not for shipping
        node.meta.pop("stack_trace", None)
    torch.export.save(program, str(path), extra_files={"bowgram.json": json.dumps(facts, ensure_ascii=False)})
    deflate(path)


def _dims(contract: Contract) -> dict[int, Any]:
    """torch.export dimensions for the dynamic axes of the (single) input."""
    return {i: torch.export.Dim(axis) for i, axis in enumerate(contract.inputs[0].axes) if axis in contract.dynamic}


def to_onnx(
    model: torch.nn.Module, example: torch.Tensor, path: Path, contract: Contract, facts: dict[str, Any]
) -> dict[str, int]:
    """Export with the dynamo exporter into one file (no external data); returns opset and IR."""
    import onnx

    with _quiet_onnx_exporter():
        torch.onnx.export(
            model,
            (example,),
            str(path),
            input_names=contract.input_names,
            output_names=contract.output_names,
            dynamic_shapes=(_dims(contract),),
            dynamo=True,
            external_data=False,
            opset_version=contract.opset,
        )
    proto = onnx.load(str(path))
    for node in proto.graph.node:  # the exporter's debug notes: source paths of the build machine
        del node.metadata_props[:]
    onnx.helper.set_model_props(proto, {f"bowgram.{k}": json.dumps(v, ensure_ascii=False) for k, v in facts.items()})
    proto.producer_name, proto.doc_string = "bowgram", f"bowgram {facts.get('task')} model; see metadata_props"
    onnx.checker.check_model(proto)
    onnx.save(proto, str(path))
    return {"opset": proto.opset_import[0].version, "ir_version": proto.ir_version}


@contextlib.contextmanager
def _quiet_onnx_exporter() -> Iterator[None]:
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


# format -> (file name, writer); every writer takes (model, example, path, contract, facts)
# and may return facts for the manifest (opset, IR version).
SERIALIZERS: dict[str, tuple[str, Callable[..., dict[str, int] | None]]] = {
    "onnx": ("model.onnx", to_onnx),
    "pt2": ("model.pt2", to_pt2),
    "torchscript": ("model.torchscript.pt", to_torchscript),
}
OPTIONAL = {"torchscript"}  # deprecated upstream: if torch refuses it, the bundle goes without

"""The named float tensors (initializers) of an ONNX file, read with numpy alone.

Why: the language identifier answers one text from the bundle's own weights (`word_scores.py`)
instead of a model call, and the runtime has neither `onnx` nor `protobuf`. An ONNX file is a
protobuf `ModelProto`; its `graph` (field 7) lists `initializer`s (field 5), each a `TensorProto`
with `dims` (1), `data_type` (2), `name` (8) and, as exporters write them, `raw_data` (9, little
endian). Only that much of the wire format is read. Tensors stored otherwise (typed fields,
external data) or of other types are left out: the caller then goes without them.

The file is read through `read(offset, length)`: the structure field by field, a tensor's data
only when asked for and a block of rows at a time, so that converting a 6 MB float16 table to
float32 never holds the file and both tables at once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from .errors import BundleError

Read = Callable[[int, int], bytes]  # (offset, length) -> those bytes of the file (fewer at its end)

# ONNX data types read: FLOAT, FLOAT16, DOUBLE
_DTYPES: dict[int, np.dtype[Any]] = {1: np.dtype("<f4"), 10: np.dtype("<f2"), 11: np.dtype("<f8")}
_GRAPH, _INITIALIZER = 7, 5
_DIMS, _DATA_TYPE, _NAME, _RAW_DATA = 1, 2, 8, 9
MAX_DIMS = 8
BLOCK_BYTES = 1 << 20  # of a tensor's data read and converted at a time


@dataclass(frozen=True)
class Tensor:
    """A float initializer: where its raw data is in the file, and what it holds."""

    name: str
    dtype: np.dtype[Any]
    shape: tuple[int, ...]
    offset: int

    def array(self, read: Read, dtype: Any = None) -> np.ndarray:
        """The tensor's values, as `dtype` (its own by default), read a block of rows at a time."""
        out = np.empty(self.shape, dtype=dtype or self.dtype)
        flat = out.reshape(-1)
        step = max(1, BLOCK_BYTES // self.dtype.itemsize)
        for start in range(0, flat.size, step):
            count = min(step, flat.size - start)
            raw = read(self.offset + start * self.dtype.itemsize, count * self.dtype.itemsize)
            if len(raw) != count * self.dtype.itemsize:
                raise BundleError(f"ONNX file: the data of {self.name!r} ends early (truncated file?)")
            flat[start : start + count] = np.frombuffer(raw, dtype=self.dtype)
        return out


def float_tensors(read: Read, size: int) -> dict[str, Tensor]:
    """name -> Tensor of every float initializer stored as raw data in a file of `size` bytes."""
    out: dict[str, Tensor] = {}
    for field, graph in _fields(read, 0, size):
        if field != _GRAPH or not isinstance(graph, tuple):
            continue
        for field2, tensor in _fields(read, *graph):
            if field2 == _INITIALIZER and isinstance(tensor, tuple):
                found = _tensor(read, *tensor)
                if found is not None:
                    out[found.name] = found
    return out


def from_bytes(data: bytes) -> Read:
    """`read` over a file already in memory."""
    return lambda offset, length: data[offset : offset + length]


def _tensor(read: Read, start: int, end: int) -> Tensor | None:
    dims: list[int] = []
    dtype: np.dtype[Any] | None = None
    name: str | None = None
    raw: tuple[int, int] | None = None
    for field, value in _fields(read, start, end):
        if field == _DIMS:
            dims += [_signed(value)] if isinstance(value, int) else _packed_varints(read(value[0], value[1] - value[0]))
        elif field == _DATA_TYPE and isinstance(value, int):
            dtype = _DTYPES.get(value)
        elif field == _NAME and isinstance(value, tuple):
            name = read(value[0], value[1] - value[0]).decode("utf-8", "replace")
        elif field == _RAW_DATA and isinstance(value, tuple):
            raw = value
    if dtype is None or name is None or raw is None or len(dims) > MAX_DIMS or any(d < 0 for d in dims):
        return None
    count = int(np.prod(dims, dtype=np.int64)) if dims else 1
    if count * dtype.itemsize != raw[1] - raw[0]:
        return None
    return Tensor(name, dtype, tuple(dims), raw[0])


def _fields(read: Read, start: int, end: int) -> Iterator[tuple[int, int | tuple[int, int]]]:
    """(field number, value) of each field of the message in [start, end) of the file: an int for
    varints, the (start, end) of the bytes of a length-delimited field (not read); fixed-width
    fields are skipped."""
    pos = start
    while pos < end:
        key, pos = _varint(read, pos, end)
        field, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(read, pos, end)
            yield field, value
        elif wire == 2:
            length, pos = _varint(read, pos, end)
            if pos + length > end:
                raise BundleError("ONNX file: a field runs past the end of its message (truncated file?)")
            yield field, (pos, pos + length)
            pos += length
        elif wire in (1, 5):
            pos += 8 if wire == 1 else 4
        else:
            raise BundleError(f"ONNX file: unsupported protobuf wire type {wire}")


def _varint(read: Read, pos: int, end: int) -> tuple[int, int]:
    data = read(pos, min(10, end - pos))
    result = shift = 0
    for i, byte in enumerate(data):
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            return result, pos + i + 1
        shift += 7
    raise BundleError("ONNX file: malformed varint (truncated file?)")


def _packed_varints(data: bytes) -> list[int]:
    values, pos = [], 0
    while pos < len(data):
        value, pos = _varint(from_bytes(data), pos, len(data))
        values.append(_signed(value))
    return values


def _signed(value: int) -> int:
    return value - (1 << 64) if value >= 1 << 63 else value

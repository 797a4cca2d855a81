"""The named float tensors (initializers) of an ONNX file, read with numpy alone.

Why: the language identifier scores a new word from the bundle's own weights (`word_scores.py`)
instead of a model call, and the runtime has neither `onnx` nor `protobuf`. An ONNX file is a
protobuf `ModelProto`; its `graph` (field 7) lists `initializer`s (field 5), each a `TensorProto`
with `dims` (1), `data_type` (2), `name` (8) and, as exporters write them, `raw_data` (9, little
endian). Only that much of the wire format is read. Tensors stored otherwise (typed fields,
external data) or of other types are left out: the caller then goes without them.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from .errors import BundleError

# ONNX data types read: FLOAT, FLOAT16, DOUBLE
_DTYPES: dict[int, np.dtype[Any]] = {1: np.dtype("<f4"), 10: np.dtype("<f2"), 11: np.dtype("<f8")}
_GRAPH, _INITIALIZER = 7, 5
_DIMS, _DATA_TYPE, _NAME, _RAW_DATA = 1, 2, 8, 9
MAX_DIMS = 8


def float_initializers(data: bytes) -> dict[str, np.ndarray]:
    """name -> array (read-only views into `data`) of every float initializer stored as raw data."""
    view = memoryview(data)
    out: dict[str, np.ndarray] = {}
    for field, graph in _fields(view):
        if field != _GRAPH or not isinstance(graph, memoryview):
            continue
        for field2, tensor in _fields(graph):
            if field2 == _INITIALIZER and isinstance(tensor, memoryview):
                named = _tensor(tensor)
                if named is not None:
                    out[named[0]] = named[1]
    return out


def _tensor(buf: memoryview) -> tuple[str, np.ndarray] | None:
    dims: list[int] = []
    dtype: np.dtype[Any] | None = None
    name: str | None = None
    raw: memoryview | None = None
    for field, value in _fields(buf):
        if field == _DIMS:
            dims += [_signed(value)] if isinstance(value, int) else _packed_varints(value)
        elif field == _DATA_TYPE and isinstance(value, int):
            dtype = _DTYPES.get(value)
        elif field == _NAME and isinstance(value, memoryview):
            name = bytes(value).decode("utf-8", "replace")
        elif field == _RAW_DATA and isinstance(value, memoryview):
            raw = value
    if dtype is None or name is None or raw is None or len(dims) > MAX_DIMS or any(d < 0 for d in dims):
        return None
    count = int(np.prod(dims, dtype=np.int64)) if dims else 1
    if count * dtype.itemsize != len(raw):
        return None
    array = np.frombuffer(raw, dtype=dtype)
    if not array.flags.aligned:  # raw data at an odd offset: numpy's conversions are 5x slower on it
        array = np.frombuffer(bytes(raw), dtype=dtype)
    return name, array.reshape(dims)


def _fields(buf: memoryview) -> Iterator[tuple[int, int | memoryview]]:
    """(field number, value) of each field of one message: an int for varints, a memoryview for
    length-delimited fields; fixed-width fields are skipped."""
    pos, end = 0, len(buf)
    while pos < end:
        key, pos = _varint(buf, pos)
        field, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(buf, pos)
            yield field, value
        elif wire == 2:
            length, pos = _varint(buf, pos)
            if pos + length > end:
                raise BundleError("ONNX file: a field runs past the end of its message (truncated file?)")
            yield field, buf[pos : pos + length]
            pos += length
        elif wire in (1, 5):
            pos += 8 if wire == 1 else 4
        else:
            raise BundleError(f"ONNX file: unsupported protobuf wire type {wire}")


def _varint(buf: memoryview, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= len(buf) or shift > 63:
            raise BundleError("ONNX file: malformed varint (truncated file?)")
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            return result, pos
        shift += 7


def _packed_varints(buf: memoryview) -> list[int]:
    values, pos = [], 0
    while pos < len(buf):
        value, pos = _varint(buf, pos)
        values.append(_signed(value))
    return values


def _signed(value: int) -> int:
    return value - (1 << 64) if value >= 1 << 63 else value

"""The online record format: a view's feature values as fixed-layout binary.

A view whose features are all numbers or booleans stores each entity's values
as one little-endian record (``struct`` layout, no field names)::

    byte 0       format version, 1
    bytes 1-4    layout tag: the first 4 bytes of SHA-256 of "name:type,..."
    null bitmap  ceil(n / 8) bytes; bit i (LSB first) set = feature i is null
    values       one per feature in declared order: float64 'd', float32 'f',
                 int64 'q', int32 'i', bool '?' (a null's slot holds 0)

Decoding one record is one ``struct.unpack`` (~0.5 µs for 5 floats, ~10× less
than parsing the same values from JSON). A record whose tag does not match the
view's current layout (written before its features changed) reads as missing
until the view is materialized again. A view with a ``string`` feature keeps
the earlier format, a UTF-8 JSON object, which readers tell apart by its
first byte.
"""

from __future__ import annotations

import hashlib
import json
import struct
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

VERSION = 1
_FORMATS = {"float64": "d", "float32": "f", "int64": "q", "int32": "i", "bool": "?"}
_NUMPY = {"d": "<f8", "f": "<f4", "q": "<i8", "i": "<i4", "?": "?"}


class Codec:
    """Encodes and decodes one view's records (binary when every feature is fixed-width)."""

    def __init__(self, columns: Mapping[str, str]) -> None:
        self.names = list(columns)
        self.binary = all(t in _FORMATS for t in columns.values())
        layout = ",".join(f"{n}:{t}" for n, t in columns.items())
        self.tag = hashlib.sha256(layout.encode()).digest()[:4]
        self.null_bytes = (len(self.names) + 7) // 8
        formats = [_FORMATS.get(t, "") for t in columns.values()]
        self._struct = struct.Struct(f"<B4s{self.null_bytes}s" + "".join(formats))
        self._head = bytes([VERSION]) + self.tag
        self._no_nulls = bytes(self.null_bytes)
        self._dtype = np.dtype(
            [("head", "V5"), ("nulls", "u1", (self.null_bytes,))]
            + [(f"v{i}", _NUMPY[f]) for i, f in enumerate(formats) if f]
        )

    def encode(self, values: Sequence[pa.Array]) -> list[bytes]:
        """Records for the rows of ``values`` (one array per feature, in declared order)."""
        rows = len(values[0]) if values else 0
        if not self.binary:
            table = pa.StructArray.from_arrays(list(values), names=self.names)
            return [json.dumps(row).encode() for row in table.to_pylist()]
        out = np.zeros(rows, dtype=self._dtype)
        out["head"] = np.void(self._head)
        for i, array in enumerate(values):
            nulls = array.is_null().to_numpy(zero_copy_only=False)
            out["nulls"][:, i // 8] |= nulls.astype(np.uint8) << (i % 8)
            filled = pc.fill_null(array, False if pa.types.is_boolean(array.type) else 0)
            out[f"v{i}"] = filled.to_numpy(zero_copy_only=False)
        buffer, size = out.tobytes(), self._dtype.itemsize
        return [buffer[at : at + size] for at in range(0, len(buffer), size)]

    def decode(self, payload: bytes | str) -> dict[str, Any] | None:
        """The values of one record; ``None`` if it was written for another layout."""
        if isinstance(payload, str) or payload[:1] == b"{":
            decoded: dict[str, Any] = json.loads(payload)
            return decoded
        if payload[:5] != self._head or len(payload) != self._struct.size:
            return None
        _, _, nulls, *values = self._struct.unpack(payload)
        if nulls != self._no_nulls:
            values = [None if nulls[i // 8] >> (i % 8) & 1 else v for i, v in enumerate(values)]
        return dict(zip(self.names, values, strict=True))

"""Open Inference Protocol V2 (KServe / Triton / MLServer REST): request and response codec.

Decodes ``POST …/infer`` bodies into NumPy tensors and encodes outputs back,
both as plain JSON tensors and with the *binary tensor data extension* that
``tritonclient.http`` uses by default:

- the body is a JSON header followed by raw tensor bytes; the
  ``Inference-Header-Content-Length`` HTTP header gives the JSON length;
- an input whose ``parameters.binary_data_size`` is set takes that many bytes,
  in input order: little-endian fixed-size elements, or for ``BYTES`` each
  element as a 4-byte little-endian length and its bytes;
- outputs are returned binary when the request asks for it, per output
  (``outputs[i].parameters.binary_data``) or for all of them
  (``parameters.binary_data_output``).

Numeric decoding is vectorized (``numpy.frombuffer`` / one ``numpy.asarray``
per tensor); only ``BYTES`` walks its elements, which its format requires.
Every malformed request raises ``InvalidInput`` naming the tensor and field.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from shipyard.errors import InvalidInput
from shipyard.serving import jsontext
from shipyard.serving.validation import MatrixColumns

HEADER_LENGTH = "inference-header-content-length"
BINARY_CONTENT_TYPE = "application/octet-stream"
JSON_CONTENT_TYPE = "application/json"

# V2 datatype -> NumPy dtype (little-endian, as the binary extension defines).
DTYPES: dict[str, np.dtype[Any]] = {
    "BOOL": np.dtype("?"),
    "INT8": np.dtype("<i1"),
    "INT16": np.dtype("<i2"),
    "INT32": np.dtype("<i4"),
    "INT64": np.dtype("<i8"),
    "UINT8": np.dtype("<u1"),
    "UINT16": np.dtype("<u2"),
    "UINT32": np.dtype("<u4"),
    "UINT64": np.dtype("<u8"),
    "FP16": np.dtype("<f2"),
    "FP32": np.dtype("<f4"),
    "FP64": np.dtype("<f8"),
    "BYTES": np.dtype(object),
}
_KIND_OK: dict[str, str] = {"b": "b", "i": "biu", "u": "biu", "f": "biuf", "O": "OUSbiuf"}


def datatype_of(array: npt.NDArray[Any]) -> str:
    """The V2 datatype for a NumPy array (strings and objects are ``BYTES``)."""
    kind = array.dtype.kind
    if kind in "OUS":
        return "BYTES"
    if kind == "b":
        return "BOOL"
    prefix = {"i": "INT", "u": "UINT", "f": "FP"}.get(kind)
    if prefix is None:
        raise InvalidInput(f"Output dtype {array.dtype} has no V2 datatype.", field="outputs")
    return f"{prefix}{array.dtype.itemsize * 8}"


@dataclass
class Tensor:
    """One named tensor of a request or response."""

    name: str
    datatype: str
    shape: tuple[int, ...]
    data: npt.NDArray[Any]
    parameters: dict[str, Any] = field(default_factory=dict)


@dataclass
class InferRequest:
    """A decoded ``…/infer`` body: inputs, the outputs asked for, and how to send them."""

    id: str | None
    inputs: list[Tensor]
    # output name -> send as binary; empty means "every output"
    outputs: dict[str, bool]
    binary_output: bool
    parameters: dict[str, Any]

    def wants_binary(self, name: str) -> bool:
        return self.outputs.get(name, self.binary_output)


def decode_request(body: bytes, header_length: int | None = None) -> InferRequest:
    """Parse a V2 inference body (JSON, or JSON header + binary tensor data)."""
    if header_length is not None and not 0 < header_length <= len(body):
        raise InvalidInput(
            f"Inference-Header-Content-Length is {header_length} but the body has "
            f"{len(body)} bytes; send the length of the JSON header.",
            field="Inference-Header-Content-Length",
        )
    head = body if header_length is None else body[:header_length]
    document = _load_json(head)
    binary = memoryview(body)[header_length:] if header_length is not None else memoryview(b"")
    raw_inputs = document.get("inputs")
    if not isinstance(raw_inputs, list) or not raw_inputs:
        raise InvalidInput(
            "'inputs' must be a non-empty list of tensors "
            '({"name": ..., "datatype": ..., "shape": [...], "data": [...]}).',
            field="inputs",
        )
    inputs, offset = [], 0
    for position, raw in enumerate(raw_inputs):
        tensor, offset = _decode_tensor(raw, position, binary, offset)
        inputs.append(tensor)
    if offset != len(binary):
        raise InvalidInput(
            f"The body has {len(binary) - offset} bytes of binary data that no input "
            "claims; check each input's binary_data_size.",
            field="binary_data_size",
        )
    parameters = _mapping(document.get("parameters", {}), "parameters")
    request_id = document.get("id")
    return InferRequest(
        id=None if request_id is None else str(request_id),
        inputs=inputs,
        outputs=_requested_outputs(document.get("outputs")),
        binary_output=bool(parameters.get("binary_data_output", False)),
        parameters=parameters,
    )


def _load_json(head: bytes) -> dict[str, Any]:
    try:
        document = jsontext.loads(head)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidInput(
            f"The request body is not valid JSON: {exc}. Send a V2 inference request.",
            field="body",
        ) from exc
    if not isinstance(document, dict):
        raise InvalidInput("The request body must be a JSON object.", field="body")
    return document


def _mapping(value: Any, name: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise InvalidInput(f"'{name}' must be a JSON object, got {value!r}.", field=name)
    return value


def _requested_outputs(raw: Any) -> dict[str, bool]:
    if raw is None:
        return {}
    if not isinstance(raw, list):
        raise InvalidInput("'outputs' must be a list of {\"name\": ...}.", field="outputs")
    wanted: dict[str, bool] = {}
    for item in raw:
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            raise InvalidInput(f"Each output needs a 'name'; got {item!r}.", field="outputs")
        parameters = _mapping(item.get("parameters", {}), "outputs.parameters")
        wanted[item["name"]] = bool(parameters.get("binary_data", False))
    return wanted


def _decode_tensor(raw: Any, position: int, binary: memoryview, offset: int) -> tuple[Tensor, int]:
    if not isinstance(raw, dict) or not isinstance(raw.get("name"), str):
        raise InvalidInput(f"inputs[{position}] needs a string 'name'.", field="inputs")
    name = raw["name"]
    datatype = raw.get("datatype")
    if datatype not in DTYPES:
        raise InvalidInput(
            f"Input '{name}' has datatype {datatype!r}; use one of {', '.join(DTYPES)}.",
            field=name,
        )
    shape = _shape(raw.get("shape"), name)
    parameters = _mapping(raw.get("parameters", {}), f"{name}.parameters")
    size = parameters.get("binary_data_size")
    if size is not None:
        if not isinstance(size, int) or size < 0 or offset + size > len(binary):
            raise InvalidInput(
                f"Input '{name}' claims binary_data_size={size!r} but only "
                f"{len(binary) - offset} bytes follow the JSON header.",
                field=name,
            )
        data = _from_binary(binary[offset : offset + size], datatype, shape, name)
        offset += size
    else:
        if "data" not in raw:
            raise InvalidInput(f"Input '{name}' has no 'data' and no binary_data_size.", field=name)
        data = _from_json(raw["data"], datatype, shape, name)
    return Tensor(name, datatype, shape, data, parameters), offset


def _shape(raw: Any, name: str) -> tuple[int, ...]:
    if (
        not isinstance(raw, list)
        or not raw
        or not all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in raw)
    ):
        raise InvalidInput(
            f"Input '{name}' needs 'shape' as a list of non-negative integers, got {raw!r}.",
            field=name,
        )
    return tuple(raw)


def _from_json(data: Any, datatype: str, shape: tuple[int, ...], name: str) -> npt.NDArray[Any]:
    try:
        array = np.asarray(data)
    except ValueError as exc:  # ragged nesting
        raise InvalidInput(f"Input '{name}' data is ragged: {exc}", field=name) from exc
    if array.size != math.prod(shape):
        raise InvalidInput(
            f"Input '{name}' has {array.size} elements but shape {list(shape)} needs "
            f"{math.prod(shape)}.",
            field=name,
        )
    dtype = DTYPES[datatype]
    if array.size and array.dtype.kind not in _KIND_OK[dtype.kind]:
        raise InvalidInput(
            f"Input '{name}' is {datatype} but its data holds {_kind_name(array)} values.",
            field=name,
        )
    if datatype == "BYTES":
        return array.astype(object).reshape(shape)
    return array.astype(dtype, copy=False).reshape(shape)


def _kind_name(array: npt.NDArray[Any]) -> str:
    return {"U": "string", "S": "bytes", "O": "null or mixed", "b": "boolean"}.get(
        array.dtype.kind, str(array.dtype)
    )


def _from_binary(
    raw: memoryview, datatype: str, shape: tuple[int, ...], name: str
) -> npt.NDArray[Any]:
    count = math.prod(shape)
    if datatype == "BYTES":
        return _bytes_elements(raw, count, name).reshape(shape)
    dtype = DTYPES[datatype]
    if len(raw) != count * dtype.itemsize:
        raise InvalidInput(
            f"Input '{name}' has {len(raw)} binary bytes; shape {list(shape)} of "
            f"{datatype} needs {count * dtype.itemsize}.",
            field=name,
        )
    return np.frombuffer(raw, dtype=dtype).reshape(shape)


def _bytes_elements(raw: memoryview, count: int, name: str) -> npt.NDArray[Any]:
    out = np.empty(count, dtype=object)
    offset, end = 0, len(raw)
    for index in range(count):  # length-prefixed: each element says where the next starts
        if offset + 4 > end:
            raise InvalidInput(f"Input '{name}' BYTES data ends early.", field=name)
        length = int.from_bytes(raw[offset : offset + 4], "little")
        offset += 4
        if offset + length > end:
            raise InvalidInput(f"Input '{name}' BYTES element {index} ends early.", field=name)
        out[index] = bytes(raw[offset : offset + length])
        offset += length
    if offset != end:
        raise InvalidInput(f"Input '{name}' has bytes after its last element.", field=name)
    return out


def encode_bytes_tensor(values: npt.NDArray[Any]) -> bytes:
    """``BYTES`` elements as 4-byte little-endian lengths and their UTF-8 bytes."""
    parts: list[bytes] = []
    for value in values.ravel():
        item = value if isinstance(value, bytes) else str(value).encode()
        parts.append(len(item).to_bytes(4, "little"))
        parts.append(item)
    return b"".join(parts)


def encode_response(
    request: InferRequest,
    model_name: str,
    model_version: str,
    outputs: Mapping[str, npt.NDArray[Any]],
    parameters: Mapping[str, Any] | None = None,
) -> tuple[bytes, dict[str, str]]:
    """The response body and headers; binary where the request asked for it."""
    chosen = _chosen_outputs(request, outputs)
    heads: list[dict[str, Any]] = []
    blobs: list[bytes] = []
    for name in chosen:
        array = outputs[name]
        head: dict[str, Any] = {
            "name": name,
            "datatype": datatype_of(array),
            "shape": list(array.shape),
        }
        if request.wants_binary(name):
            blob = (
                encode_bytes_tensor(array)
                if head["datatype"] == "BYTES"
                else np.ascontiguousarray(array, dtype=array.dtype.newbyteorder("<")).tobytes()
            )
            head["parameters"] = {"binary_data_size": len(blob)}
            blobs.append(blob)
        else:
            head["data"] = _json_data(array)
        heads.append(head)
    document: dict[str, Any] = {
        "model_name": model_name,
        "model_version": model_version,
        "outputs": heads,
    }
    if request.id is not None:
        document["id"] = request.id
    if parameters:
        document["parameters"] = dict(parameters)
    text = jsontext.dumps(document)
    if not blobs:
        return text, {"content-type": JSON_CONTENT_TYPE}
    headers = {"content-type": BINARY_CONTENT_TYPE, HEADER_LENGTH: str(len(text))}
    return b"".join([text, *blobs]), headers


def _chosen_outputs(request: InferRequest, outputs: Mapping[str, Any]) -> Sequence[str]:
    if not request.outputs:
        return list(outputs)
    unknown = [name for name in request.outputs if name not in outputs]
    if unknown:
        raise InvalidInput(
            f"Requested output(s) {unknown} do not exist; this model returns {sorted(outputs)}.",
            field="outputs",
        )
    return list(request.outputs)


def _json_data(array: npt.NDArray[Any]) -> Any:
    """The flat data of a tensor: numeric arrays as they are (the JSON writer reads them)."""
    flat = array.ravel()
    if flat.dtype.kind == "O":
        return [v.decode() if isinstance(v, bytes) else v for v in flat.tolist()]
    if flat.dtype.kind in "biuf" and flat.dtype.isnative:
        return flat
    return flat.tolist()


def to_columns(
    request: InferRequest, column_names: Sequence[str]
) -> Mapping[str, npt.NDArray[Any]]:
    """Input tensors as named columns: one tensor per column, or one 2-D tensor.

    A single 2-D tensor ``[rows, len(column_names)]`` is split into the
    signature's columns in order; otherwise each tensor must be ``[rows]`` or
    ``[rows, 1]`` and is the column of its name (validation then reports
    missing and extra names).
    """
    if len(request.inputs) == 1 and len(request.inputs[0].shape) == 2:
        only = request.inputs[0]
        if only.shape[1] == len(column_names) and only.name not in column_names:
            return MatrixColumns(only.data, list(column_names))
    columns: dict[str, npt.NDArray[Any]] = {}
    rows: int | None = None
    for tensor in request.inputs:
        if len(tensor.shape) > 2 or (len(tensor.shape) == 2 and tensor.shape[1] != 1):
            raise InvalidInput(
                f"Input '{tensor.name}' has shape {list(tensor.shape)}; send one tensor per "
                f"column with shape [rows] or [rows, 1], or a single [rows, "
                f"{len(column_names)}] tensor with columns {list(column_names)}.",
                field=tensor.name,
            )
        if rows is not None and tensor.shape[0] != rows:
            raise InvalidInput(
                f"Input '{tensor.name}' has {tensor.shape[0]} rows but earlier inputs have "
                f"{rows}; every input needs the same number of rows.",
                field=tensor.name,
            )
        rows = tensor.shape[0]
        columns[tensor.name] = tensor.data.reshape(-1)
    return columns


def error_body(message: str) -> bytes:
    """The V2 error body: ``{"error": "..."}``."""
    return jsontext.dumps({"error": message})

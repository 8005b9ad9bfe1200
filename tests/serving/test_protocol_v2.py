"""The V2 codec against bodies built by tritonclient itself (JSON and binary)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import tritonclient.http as triton
from tritonclient.http import _utils as triton_utils
from tritonclient.http._infer_result import InferResult

from shipyard.errors import InvalidInput
from shipyard.serving import protocol_v2 as v2


def _triton_body(
    inputs: list[triton.InferInput], outputs: list[triton.InferRequestedOutput] | None = None
) -> tuple[bytes, int | None]:
    body, length = triton_utils._get_inference_request(
        inputs, "req-1", outputs, 0, False, False, 0, None, None
    )
    return body, length


def test_binary_request_from_tritonclient_decodes_every_datatype() -> None:
    arrays = {
        "f32": np.array([[1.5], [2.5]], dtype=np.float32),
        "f64": np.array([0.25, -1.0], dtype=np.float64),
        "i64": np.array([7, -3], dtype=np.int64),
        "u8": np.array([1, 255], dtype=np.uint8),
        "b": np.array([True, False]),
        "s": np.array([b"red", "bl\u00fce".encode()], dtype=object),
    }
    types = {"f32": "FP32", "f64": "FP64", "i64": "INT64", "u8": "UINT8", "b": "BOOL", "s": "BYTES"}
    inputs = []
    for name, array in arrays.items():
        tensor = triton.InferInput(name, list(array.shape), types[name])
        tensor.set_data_from_numpy(array)  # binary_data=True is the client's default
        inputs.append(tensor)
    body, length = _triton_body(inputs)
    assert length is not None
    request = v2.decode_request(body, length)
    assert request.id == "req-1"
    assert request.binary_output  # no outputs named: the client asks for binary outputs
    for tensor in request.inputs:
        np.testing.assert_array_equal(tensor.data, arrays[tensor.name])
    columns = v2.to_columns(request, list(arrays))
    assert columns["f32"].shape == (2,)


def test_json_request_decodes_nested_and_flat_data() -> None:
    body = json.dumps(
        {
            "inputs": [
                {"name": "x", "datatype": "FP64", "shape": [2, 3], "data": [[1, 2, 3], [4, 5, 6]]},
                {"name": "y", "datatype": "INT32", "shape": [2], "data": [1, 2]},
            ],
            "outputs": [{"name": "predict"}],
        }
    ).encode()
    request = v2.decode_request(body)
    assert request.inputs[0].data.dtype == np.float64
    assert request.inputs[0].data.shape == (2, 3)
    assert request.outputs == {"predict": False}


def test_one_2d_tensor_is_split_into_signature_columns() -> None:
    tensor = triton.InferInput("input-0", [2, 3], "FP64")
    tensor.set_data_from_numpy(np.arange(6, dtype=np.float64).reshape(2, 3), binary_data=False)
    body, length = _triton_body([tensor])
    request = v2.decode_request(body, length)
    columns = v2.to_columns(request, ["a", "b", "c"])
    np.testing.assert_array_equal(columns["c"], [2.0, 5.0])


@pytest.mark.parametrize("binary", [True, False])
def test_response_is_read_back_by_tritonclient(binary: bool) -> None:
    tensor = triton.InferInput("x", [2], "FP64")
    tensor.set_data_from_numpy(np.array([1.0, 2.0]))
    requested = [
        triton.InferRequestedOutput("label", binary_data=binary),
        triton.InferRequestedOutput("proba", binary_data=binary),
    ]
    body, length = _triton_body([tensor], requested)
    request = v2.decode_request(body, length)
    outputs = {
        "label": np.array(["yes", "no"], dtype=object),
        "proba": np.array([[0.1, 0.9], [0.8, 0.2]]),
        "ignored": np.array([1, 2]),
    }
    data, headers = v2.encode_response(request, "m", "3", outputs)
    header_length = headers.get(v2.HEADER_LENGTH)
    assert (header_length is not None) == binary
    result = InferResult.from_response_body(data, header_length=header_length)
    np.testing.assert_allclose(result.as_numpy("proba"), outputs["proba"])
    labels = [v.decode() if isinstance(v, bytes) else v for v in result.as_numpy("label")]
    assert labels == ["yes", "no"]
    assert result.as_numpy("ignored") is None
    assert result.get_response()["model_version"] == "3"


@pytest.mark.parametrize(
    ("body", "length", "field"),
    [
        (b"{not json", None, "body"),
        (b"[1, 2]", None, "body"),
        (b'{"inputs": []}', None, "inputs"),
        (b'{"inputs": [{"name": "x", "datatype": "FP99", "shape": [1], "data": [1]}]}', None, "x"),
        (b'{"inputs": [{"name": "x", "datatype": "FP32", "shape": [3], "data": [1]}]}', None, "x"),
        (
            b'{"inputs": [{"name": "x", "datatype": "FP32", "shape": [1], "data": ["a"]}]}',
            None,
            "x",
        ),
        (b'{"inputs": [{"name": "x", "datatype": "FP32", "shape": "1", "data": [1]}]}', None, "x"),
        (b'{"inputs": [{"name": "x", "datatype": "FP32", "shape": [1]}]}', None, "x"),
        (
            b'{"inputs": [{"name": "x", "datatype": "FP32", "shape": [2], '
            b'"parameters": {"binary_data_size": 8}}]}\x00\x00',
            100,
            "x",
        ),
        (b"{}", 99, "Inference-Header-Content-Length"),
    ],
)
def test_malformed_requests_name_the_field(body: bytes, length: int | None, field: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        v2.decode_request(body, length)
    assert caught.value.field == field


def test_binary_bytes_that_no_input_claims_are_rejected() -> None:
    head = (
        b'{"inputs": [{"name": "x", "datatype": "INT8", "shape": [1], '
        b'"parameters": {"binary_data_size": 1}}]}'
    )
    with pytest.raises(InvalidInput, match="no input claims"):
        v2.decode_request(head + b"\x01\x02", len(head))


def test_unknown_requested_output_is_named() -> None:
    request = v2.decode_request(
        b'{"inputs": [{"name": "x", "datatype": "FP32", "shape": [1], "data": [1]}],'
        b' "outputs": [{"name": "nope"}]}'
    )
    with pytest.raises(InvalidInput, match="nope"):
        v2.encode_response(request, "m", "1", {"predict": np.array([1])})


def test_mismatched_row_counts_are_rejected() -> None:
    request = v2.decode_request(
        b'{"inputs": [{"name": "a", "datatype": "FP32", "shape": [1], "data": [1]},'
        b' {"name": "b", "datatype": "FP32", "shape": [2], "data": [1, 2]}]}'
    )
    with pytest.raises(InvalidInput, match="same number of rows"):
        v2.to_columns(request, ["a", "b"])

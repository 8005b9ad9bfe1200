"""The OpenAPI 3.1 document of the prediction server (served at ``/openapi.json``).

Written by hand rather than generated: the hot path uses plain Starlette
endpoints (no request-model parsing) and this document states the contract,
including the V2 binary extension that a schema generator cannot express.
"""

from __future__ import annotations

from typing import Any

_ERROR = {
    "description": "Error",
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "properties": {"error": {"type": "string"}, "problems": {"type": "array"}},
                "required": ["error"],
            }
        }
    },
}
_ERRORS = {
    "400": {**_ERROR, "description": "Malformed body (not JSON, wrong shape)"},
    "404": {**_ERROR, "description": "Unknown model or version"},
    "413": {**_ERROR, "description": "Body above max_body_bytes"},
    "422": {**_ERROR, "description": "Input fails the model signature; names each column"},
    "503": {**_ERROR, "description": "Not ready, or overloaded (see Retry-After)"},
}
_TENSOR = {
    "type": "object",
    "required": ["name", "datatype", "shape"],
    "properties": {
        "name": {"type": "string"},
        "datatype": {
            "enum": [
                "BOOL",
                "INT8",
                "INT16",
                "INT32",
                "INT64",
                "UINT8",
                "UINT16",
                "UINT32",
                "UINT64",
                "FP16",
                "FP32",
                "FP64",
                "BYTES",
            ]
        },
        "shape": {"type": "array", "items": {"type": "integer"}},
        "data": {"type": "array"},
        "parameters": {
            "type": "object",
            "properties": {"binary_data_size": {"type": "integer"}},
        },
    },
}
_PREDICT_REQUEST = {
    "oneOf": [
        {
            "type": "object",
            "required": ["records"],
            "properties": {
                "records": {"type": "array", "items": {"type": "object"}},
                "routing_key": {"type": "string"},
            },
        },
        {
            "type": "object",
            "required": ["columns", "data"],
            "properties": {
                "columns": {"type": "array", "items": {"type": "string"}},
                "data": {"type": "array", "items": {"type": "array"}},
                "routing_key": {"type": "string"},
            },
        },
    ]
}
_PREDICT_RESPONSE = {
    "type": "object",
    "properties": {
        "predictions": {"type": "array"},
        "probabilities": {"type": "array", "items": {"type": "array"}},
        "prediction_ids": {"type": "array", "items": {"type": "string"}},
        "model": {"type": "string"},
        "model_version": {"type": "string"},
        "route": {"enum": ["production", "canary", "pinned"]},
        "deployment": {"type": "string"},
    },
}


def _op(summary: str, response: Any = None, body: Any = None, **extra: Any) -> dict[str, Any]:
    op: dict[str, Any] = {
        "summary": summary,
        "responses": {
            "200": {
                "description": "OK",
                "content": {"application/json": {"schema": response or {"type": "object"}}},
            },
            **_ERRORS,
        },
        **extra,
    }
    if body is not None:
        op["requestBody"] = {"required": True, "content": body}
    return op


def _infer_body() -> dict[str, Any]:
    schema = {
        "type": "object",
        "required": ["inputs"],
        "properties": {
            "id": {"type": "string"},
            "inputs": {"type": "array", "items": _TENSOR},
            "outputs": {"type": "array"},
            "parameters": {"type": "object"},
        },
    }
    return {
        "application/json": {"schema": schema},
        "application/octet-stream": {
            "schema": {"type": "string", "format": "binary"},
            "description": "Binary tensor data extension: JSON header of "
            "Inference-Header-Content-Length bytes, then raw tensors.",
        },
    }


def openapi_document(deployment: str) -> dict[str, Any]:
    name = {"name": "name", "in": "path", "required": True, "schema": {"type": "string"}}
    version = {"name": "version", "in": "path", "required": True, "schema": {"type": "string"}}
    paths: dict[str, Any] = {
        "/predict": {
            "post": _op(
                "Predict on records or columns+data",
                _PREDICT_RESPONSE,
                {"application/json": {"schema": _PREDICT_REQUEST}},
            )
        },
        "/healthz": {"get": _op("Liveness")},
        "/readyz": {"get": _op("Readiness: model loaded, verified and warmed")},
        "/metrics": {"get": _op("Prometheus metrics (text exposition)")},
        "/v2": {"get": _op("V2 server metadata")},
        "/v2/health/live": {"get": _op("V2 liveness")},
        "/v2/health/ready": {"get": _op("V2 readiness")},
    }
    for prefix, params in (
        ("/v2/models/{name}", [name]),
        ("/v2/models/{name}/versions/{version}", [name, version]),
    ):
        paths[prefix] = {"get": _op("V2 model metadata", parameters=params)}
        paths[f"{prefix}/ready"] = {"get": _op("V2 model readiness", parameters=params)}
        paths[f"{prefix}/infer"] = {
            "post": _op("V2 inference (JSON or binary)", body=_infer_body(), parameters=params)
        }
    return {
        "openapi": "3.1.0",
        "info": {"title": f"shipyard prediction server: {deployment}", "version": "0.1.0"},
        "paths": paths,
    }

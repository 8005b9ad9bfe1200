"""HTTP errors of the management server: one table from error class to status.

Every error leaves the server as JSON ``{"error": <class name>, "message":
<what happened and what to do>, ...context}`` where the context is the
exception's attributes (``.kind``, ``.name``, ``.field``, ``.required_role``…).
An exception that is not a ``ShipyardError`` is a bug: the client gets a
generic 500 body and the traceback goes to the server log only.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse

from shipyard import errors

logger = logging.getLogger("shipyard.server")

# Most specific first: the first class an error is an instance of decides.
STATUS: tuple[tuple[type[errors.ShipyardError], int], ...] = (
    (errors.ConfigError, 500),
    (errors.ValidationFailed, 422),
    (errors.InvalidInput, 422),
    (errors.NotFound, 404),
    (errors.AlreadyExists, 409),
    (errors.Conflict, 409),
    (errors.GateFailed, 409),
    (errors.PermissionDenied, 403),
    (errors.Unauthenticated, 401),
    (errors.BackendUnavailable, 503),
    (errors.IntegrityError, 500),
    (errors.ShipyardError, 500),
)

# Names for errors raised by the HTTP layer itself (unknown path, wrong method…).
_HTTP_NAMES = {
    400: "InvalidInput",
    401: "Unauthenticated",
    403: "PermissionDenied",
    404: "NotFound",
    405: "MethodNotAllowed",
    413: "RequestTooLarge",
    422: "InvalidInput",
}


class ErrorBody(BaseModel):
    """The JSON body of every error response."""

    model_config = ConfigDict(extra="allow")

    error: str
    message: str


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody, "description": description}
    for status, description in (
        (401, "No token, or an unknown or revoked one, while authorization is on."),
        (403, "The token's role is too low; the body names the role needed."),
        (422, "A parameter or body field is invalid; the body names it."),
        (503, "The metadata store or the artifact store does not answer."),
    )
}
"""Responses every ``/api`` route may give, for the OpenAPI document."""


def status_for(error: errors.ShipyardError) -> int:
    """The HTTP status of a shipyard error, by class."""
    for cls, status in STATUS:
        if isinstance(error, cls):
            return status
    return 500


def error_body(error: errors.ShipyardError) -> dict[str, Any]:
    """The error's class name, message and context attributes, ready for JSON."""
    body = error.to_dict()
    report = getattr(error, "report", None)
    if report is not None:
        body["report"] = _jsonable(report)
    return body


def _jsonable(value: Any) -> Any:
    to_dict = getattr(value, "to_dict", None)
    if callable(to_dict):
        value = to_dict()
    try:
        return jsonable_encoder(value)
    except (TypeError, ValueError):
        return str(value)


def error_response(error: errors.ShipyardError) -> JSONResponse:
    status = status_for(error)
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse(error_body(error), status_code=status, headers=headers)


async def _shipyard_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, errors.ShipyardError)
    if status_for(exc) >= 500:
        logger.error("%s: %s", type(exc).__name__, exc.message)
    return error_response(exc)


async def _validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    problems = [
        {"loc": list(e.get("loc", ())), "msg": str(e.get("msg", "")), "type": e.get("type", "")}
        for e in exc.errors()
    ]
    if any(p["type"] == "json_invalid" for p in problems):
        invalid_json = {
            "error": "InvalidInput",
            "message": "The request body is not valid JSON. Send a JSON object with "
            "Content-Type: application/json.",
            "field": "body",
        }
        return JSONResponse(invalid_json, status_code=400)
    first = problems[0] if problems else {"loc": [], "msg": "invalid request"}
    field = ".".join(str(part) for part in first["loc"] if part not in ("body", "query", "path"))
    where = ".".join(str(part) for part in first["loc"])
    body: dict[str, Any] = {
        "error": "InvalidInput",
        "message": f"{where}: {first['msg']}. See /docs for the expected shape.",
        "field": field,
        "problems": problems,
    }
    return JSONResponse(jsonable_encoder(body), status_code=422)


async def _http_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    message = exc.detail if isinstance(exc.detail, str) else json.dumps(exc.detail)
    if exc.status_code == 404 and message == "Not Found":
        message = "No such endpoint. See /docs for the API."
    body = {"error": _HTTP_NAMES.get(exc.status_code, "HTTPError"), "message": message}
    return JSONResponse(body, status_code=exc.status_code, headers=exc.headers)


async def _unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    # The traceback stays in the server log; the client learns only that it happened.
    logger.error("Unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    body = {
        "error": "InternalError",
        "message": "The server hit an unexpected error; the details are in its log. "
        "Please report it with the time of the request.",
    }
    return JSONResponse(body, status_code=500)


def install(app: FastAPI) -> None:
    """Register the handlers that turn every error into a JSON body."""
    app.add_exception_handler(errors.ShipyardError, _shipyard_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected_error)

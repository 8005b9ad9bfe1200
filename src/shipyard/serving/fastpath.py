"""The prediction routes as plain ASGI, ahead of Starlette's router.

A prediction server's load is its prediction routes, and on each of them
Starlette's error middleware, router (a regular expression per route tried),
``Request`` and ``Response`` objects cost about 10 µs in a warm loop and
about twice that in a loaded server: a fifth of the work that is not the
model's (measured in bench/serving). ``PredictionRoutes`` is an ASGI
middleware that recognises

- ``/predict``
- ``/v2/models/{name}/infer`` and ``/v2/models/{name}/versions/{version}/infer``

from the scope's path, reads the body from ``receive`` (bounded by
``max_body_bytes``) and sends the handler's answer itself; a method other
than POST there gets 405 with an ``Allow`` header. Every other request goes
on to the Starlette app untouched.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import Any

from shipyard.serving import jsontext

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
# (status, body, headers) of an answer; headers as ASGI wants them.
Answer = tuple[int, bytes, list[tuple[bytes, bytes]]]


class ClientGone(Exception):
    """The client disconnected before its request body arrived: nobody to answer."""


@dataclass
class Incoming:
    """What a prediction handler reads of its request: path parameters, headers, body."""

    path_params: dict[str, str]
    scope: Scope
    receive: Receive

    def header(self, name: bytes) -> str | None:
        """The first value of the (lower-case) header ``name``, or ``None``."""
        for key, value in self.scope["headers"]:
            if key == name:
                return str(value.decode("latin-1"))
        return None

    async def body(self, limit: int, too_large: Callable[[int], Exception]) -> bytes:
        """The whole body; ``too_large(size)`` is raised as soon as it passes ``limit``."""
        declared = self.header(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            raise too_large(int(declared))
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await self.receive()
            if message["type"] == "http.disconnect":
                raise ClientGone
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                raise too_large(size)
            chunks.append(chunk)
            if not message.get("more_body", False):
                return chunks[0] if len(chunks) == 1 else b"".join(chunks)


Handler = Callable[[Incoming], Awaitable[Answer]]


def match(path: str) -> tuple[str, dict[str, str]] | None:
    """``("predict" | "infer", path parameters)`` for a prediction route, else ``None``."""
    if path == "/predict":
        return "predict", {}
    if not (path.startswith("/v2/models/") and path.endswith("/infer")):
        return None
    parts = path[len("/v2/models/") : -len("/infer")].split("/")
    if len(parts) == 1 and parts[0]:
        return "infer", {"name": parts[0]}
    if len(parts) == 3 and parts[0] and parts[1] == "versions" and parts[2]:
        return "infer", {"name": parts[0], "version": parts[2]}
    return None


class PredictionRoutes:
    """ASGI middleware: answers the prediction routes, passes everything else on."""

    def __init__(self, app: ASGIApp, handlers: dict[str, Handler]) -> None:
        self.app = app
        self.handlers = handlers

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        found = match(_route_path(scope)) if scope["type"] == "http" else None
        if found is None:
            await self.app(scope, receive, send)
            return
        name, params = found
        if scope["method"] != "POST":
            await _send(send, _not_allowed(scope["method"], scope["path"]))
            return
        try:
            answer = await self.handlers[name](Incoming(params, scope, receive))
        except ClientGone:
            return
        await _send(send, answer)


def _route_path(scope: Scope) -> str:
    """The path below the app's mount point (``root_path``), as Starlette's router sees it."""
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    return path[len(root) :] if root and path.startswith(root) else path


def _not_allowed(method: str, path: str) -> Answer:
    body = jsontext.dumps({"error": f"{path} takes POST, not {method}."})
    return 405, body, [(b"content-type", b"application/json"), (b"allow", b"POST")]


async def _send(send: Send, answer: Answer) -> None:
    status, body, headers = answer
    headers = [*headers, (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})

"""A request-body size limit, enforced before any route reads the body.

A declared ``Content-Length`` over the limit is refused at once; a body sent
without one (chunked) is counted as it arrives and refused when it crosses
the limit. Either way the client gets 413 with a JSON body naming the limit
and the setting that raises it.
"""

from __future__ import annotations

import json

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send


def too_large_message(size: int, limit: int) -> str:
    return (
        f"The request body has {size} bytes or more; this server accepts at most {limit}. "
        "Send less data per request, or raise the max_body_bytes setting "
        "(SHIPYARD_MAX_BODY_BYTES) of the server."
    )


class _TooLarge(HTTPException):
    """Raised inside ``receive`` when a streamed body crosses the limit.

    An ``HTTPException`` so that the route layer passes it on untouched and
    the app's error handler turns it into the JSON 413 body.
    """

    def __init__(self, size: int, limit: int) -> None:
        super().__init__(413, too_large_message(size, limit), {"Connection": "close"})


class BodySizeLimit:
    """ASGI middleware answering 413 to bodies larger than ``max_bytes``."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.max_bytes:
            await self._refuse(send, declared)
            return
        received = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise _TooLarge(received, self.max_bytes)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except _TooLarge:
            if not started:
                await self._refuse(send, received)

    async def _refuse(self, send: Send, size: int) -> None:
        body = json.dumps(
            {
                "error": "RequestTooLarge",
                "message": too_large_message(size, self.max_bytes),
                "field": "body",
                "limit": self.max_bytes,
            }
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None

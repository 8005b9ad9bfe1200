"""Traffic routing: which model answers a request, and shadow calls beside it.

A request carrying a routing key (``X-Routing-Key`` header, or
``routing_key`` in the body) goes to the canary when
``blake2b(key) mod 10000 < canary_percent * 100``: the same user always lands
on the same side (sticky), and the share converges to ``canary_percent``.
Without a key the choice is random with the same probability.

Shadow calls run as background tasks after the response is computed: their
latency and errors never reach the caller; failures are counted.
"""

from __future__ import annotations

import asyncio
import hashlib
import random
from collections.abc import Awaitable, Callable
from typing import Any

PRODUCTION, CANARY, SHADOW = "production", "canary", "shadow"


class Router:
    """Chooses ``production`` or ``canary`` for each request."""

    def __init__(self, canary_percent: float, rng: random.Random | None = None) -> None:
        self.canary_percent = canary_percent
        self._threshold = round(canary_percent * 100)  # out of 10 000 buckets
        self._rng = rng or random.Random()

    def route(self, routing_key: str | None, has_canary: bool) -> str:
        if not has_canary or self._threshold <= 0:
            return PRODUCTION
        if routing_key is not None:
            digest = hashlib.blake2b(routing_key.encode(), digest_size=8).digest()
            bucket = int.from_bytes(digest, "little") % 10_000
        else:
            bucket = self._rng.randrange(10_000)
        return CANARY if bucket < self._threshold else PRODUCTION


class ShadowRunner:
    """Runs shadow calls off the response path and keeps them from being garbage-collected."""

    def __init__(self, on_error: Callable[[BaseException], None]) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()
        self._on_error = on_error

    def spawn(self, call: Callable[[], Awaitable[Any]]) -> None:
        task = asyncio.get_running_loop().create_task(self._guarded(call))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _guarded(self, call: Callable[[], Awaitable[Any]]) -> None:
        try:
            await call()
        except Exception as exc:  # a shadow failure is counted, never raised to anyone
            self._on_error(exc)

    @property
    def pending(self) -> int:
        return len(self._tasks)

    async def drain(self, timeout: float = 10.0) -> None:
        """Wait for shadow calls in flight (clean shutdown)."""
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=timeout)

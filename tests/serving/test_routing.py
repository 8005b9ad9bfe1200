"""Canary routing: sticky by key, the share converges, random without a key."""

from __future__ import annotations

import asyncio
import random

from shipyard.serving.routing import CANARY, PRODUCTION, Router, ShadowRunner


def test_keyed_routing_is_sticky_and_matches_the_share() -> None:
    router = Router(10)
    routes = [router.route(f"user-{i}", has_canary=True) for i in range(20_000)]
    assert 0.09 < routes.count(CANARY) / len(routes) < 0.11
    assert [router.route(f"user-{i}", True) for i in range(100)] == routes[:100]
    assert Router(10).route("user-7", True) == router.route("user-7", True)  # across processes


def test_random_routing_without_a_key() -> None:
    router = Router(25, random.Random(0))
    routes = [router.route(None, True) for _ in range(20_000)]
    assert 0.23 < routes.count(CANARY) / len(routes) < 0.27


def test_no_canary_or_zero_share_sends_everything_to_production() -> None:
    assert {Router(50).route(str(i), has_canary=False) for i in range(100)} == {PRODUCTION}
    assert {Router(0).route(str(i), has_canary=True) for i in range(100)} == {PRODUCTION}
    assert {Router(100).route(str(i), has_canary=True) for i in range(100)} == {CANARY}


def test_shadow_failures_are_counted_never_raised() -> None:
    failures: list[BaseException] = []
    runner = ShadowRunner(failures.append)

    async def boom() -> None:
        raise RuntimeError("shadow broke")

    async def scenario() -> None:
        runner.spawn(boom)
        await runner.drain()

    asyncio.run(scenario())
    assert [str(f) for f in failures] == ["shadow broke"]
    assert runner.pending == 0

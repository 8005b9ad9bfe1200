"""Micro-batching: coalescing, splitting back, bounded queue, no silent drops."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import numpy as np
import pytest

from shipyard.errors import InvalidInput
from shipyard.serving.batching import BatchingConfig, MicroBatcher, Overloaded


class Doubler:
    """A model that doubles its input and remembers the size of each call."""

    def __init__(self, gate: threading.Event | None = None) -> None:
        self.calls: list[int] = []
        self.gate = gate

    def __call__(self, columns: Any) -> dict[str, Any]:
        if self.gate is not None:
            self.gate.wait(5)
        self.calls.append(len(columns["x"]))
        return {"y": columns["x"] * 2}


def _columns(*values: float) -> dict[str, Any]:
    return {"x": np.array(values, dtype=float)}


def test_concurrent_requests_are_coalesced_and_split_back() -> None:
    gate = threading.Event()
    model = Doubler(gate)
    sizes: list[int] = []
    batcher = MicroBatcher(model, BatchingConfig(max_batch_size=8), on_batch=sizes.append)

    async def scenario() -> list[Any]:
        tasks = [asyncio.create_task(batcher.submit(_columns(i, i + 0.5), 2)) for i in range(10)]
        await asyncio.sleep(0.05)  # the first call is blocked: the rest queue up
        gate.set()
        results = await asyncio.gather(*tasks)
        await batcher.close()
        return results

    results = asyncio.run(scenario())
    for i, result in enumerate(results):
        np.testing.assert_array_equal(result["y"], [2 * i, 2 * i + 1])
    assert len(model.calls) < 10
    assert max(model.calls) <= 8
    assert sum(model.calls) == 20
    assert sizes == model.calls


def test_a_lone_request_does_not_wait_for_company() -> None:
    model = Doubler()
    batcher = MicroBatcher(model, BatchingConfig(max_wait_ms=2000))

    async def scenario() -> float:
        loop = asyncio.get_running_loop()
        started = loop.time()
        for value in range(3):
            await batcher.submit(_columns(value), 1)
        elapsed = loop.time() - started
        await batcher.close()
        return elapsed

    assert asyncio.run(scenario()) < 1.0
    assert model.calls == [1, 1, 1]


def test_full_queue_answers_overloaded_and_serves_the_rest() -> None:
    gate = threading.Event()
    model = Doubler(gate)
    batcher = MicroBatcher(model, BatchingConfig(max_batch_size=1, max_queue=3))

    async def scenario() -> list[Any]:
        tasks = [asyncio.create_task(batcher.submit(_columns(i), 1)) for i in range(10)]
        await asyncio.sleep(0.05)
        gate.set()
        results = await asyncio.gather(*tasks, return_exceptions=True)
        await batcher.close()
        return results

    results = asyncio.run(scenario())
    served = [r for r in results if isinstance(r, dict)]
    refused = [r for r in results if isinstance(r, Overloaded)]
    assert len(served) + len(refused) == 10  # nothing dropped silently
    assert len(refused) >= 1 and len(served) >= 3
    assert all(r.retry_after >= 1 for r in refused)
    assert "max_queue=3" in refused[0].message


def test_model_errors_reach_every_caller_of_the_batch() -> None:
    def broken(columns: Any) -> dict[str, Any]:
        raise RuntimeError("model exploded")

    batcher = MicroBatcher(broken, BatchingConfig())

    async def scenario() -> list[Any]:
        results = await asyncio.gather(
            *(batcher.submit(_columns(1), 1) for _ in range(3)), return_exceptions=True
        )
        await batcher.close()
        return results

    assert all(isinstance(r, RuntimeError) for r in asyncio.run(scenario()))


def test_disabled_batching_calls_the_model_per_request() -> None:
    model = Doubler()
    batcher = MicroBatcher(model, BatchingConfig(enabled=False))

    async def scenario() -> None:
        await asyncio.gather(*(batcher.submit(_columns(i), 1) for i in range(5)))
        await batcher.close()

    asyncio.run(scenario())
    assert model.calls == [1] * 5


@pytest.mark.parametrize(
    "kwargs", [{"max_batch_size": 0}, {"max_queue": -1}, {"max_wait_ms": -5.0}]
)
def test_bad_config_names_the_field(kwargs: dict[str, Any]) -> None:
    with pytest.raises(InvalidInput) as caught:
        BatchingConfig(**kwargs)
    assert caught.value.field == next(iter(kwargs))


def test_matrix_batches_stay_one_block() -> None:
    from shipyard.serving.validation import MatrixColumns

    seen: list[Any] = []

    def model(columns: Any) -> dict[str, Any]:
        seen.append(columns)
        return {"y": columns.matrix.sum(axis=1)}

    gate_batcher = MicroBatcher(model, BatchingConfig())

    async def scenario() -> list[Any]:
        parts = [MatrixColumns(np.full((2, 3), float(i)), ["a", "b", "c"]) for i in range(4)]
        results = await asyncio.gather(*(gate_batcher.submit(p, 2) for p in parts))
        await gate_batcher.close()
        return results

    results = asyncio.run(scenario())
    assert [r["y"].tolist() for r in results] == [[3 * i, 3 * i] for i in range(4)]
    assert all(isinstance(columns, MatrixColumns) for columns in seen)


def test_on_call_sees_each_model_call_with_its_requests_notes() -> None:
    gate = threading.Event()
    model = Doubler(gate)
    calls: list[tuple[list[float], list[float], list[Any]]] = []

    def observe(inputs: Any, outputs: Any, notes: list[Any]) -> None:
        calls.append((inputs["x"].tolist(), outputs["y"].tolist(), notes))

    batcher = MicroBatcher(model, BatchingConfig(max_batch_size=8), on_call=observe)

    async def scenario() -> None:
        first = asyncio.create_task(batcher.submit(_columns(0), 1, note="a"))
        await asyncio.sleep(0.05)  # the first call holds the model: the rest queue up
        rest = [
            asyncio.create_task(batcher.submit(_columns(i, i), 2, note=None if i == 2 else i))
            for i in range(1, 4)
        ]
        await asyncio.sleep(0.05)
        gate.set()
        await asyncio.gather(first, *rest)
        await batcher.close()

    asyncio.run(scenario())
    assert calls[0] == ([0.0], [0.0], ["a"])
    # A batch with an unnoted request reports each noted one on its own, in order.
    assert calls[1:] == [([1.0, 1.0], [2.0, 2.0], [1]), ([3.0, 3.0], [6.0, 6.0], [3])]
    assert model.calls == [1, 6]


def test_a_whole_noted_batch_is_one_observed_call_and_observer_failures_are_counted() -> None:
    gate = threading.Event()
    model = Doubler(gate)
    seen: list[list[Any]] = []

    def observe(inputs: Any, outputs: Any, notes: list[Any]) -> None:
        seen.append(notes)
        assert len(inputs["x"]) == len(outputs["y"]) == 2 * len(notes)
        raise OSError("the log is broken")

    batcher = MicroBatcher(model, BatchingConfig(max_batch_size=8), on_call=observe)

    async def scenario() -> list[Any]:
        first = asyncio.create_task(batcher.submit(_columns(0, 0), 2, note=0))
        await asyncio.sleep(0.05)
        rest = [asyncio.create_task(batcher.submit(_columns(i, i), 2, note=i)) for i in (1, 2, 3)]
        await asyncio.sleep(0.05)
        gate.set()
        results = await asyncio.gather(first, *rest)
        await batcher.close()
        return results

    results = asyncio.run(scenario())
    assert [r["y"].tolist() for r in results] == [[2.0 * i, 2.0 * i] for i in range(4)]
    assert seen == [[0], [1, 2, 3]]
    assert batcher.observer_errors == 2

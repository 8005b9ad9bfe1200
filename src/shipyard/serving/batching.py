"""Adaptive micro-batching: many concurrent requests, one model call.

``MicroBatcher.submit(columns, rows)`` queues a request and awaits its slice
of the outputs. One worker task takes queued requests together, up to
``max_batch_size`` rows, concatenates their columns, calls the model once in a
worker thread (so the event loop keeps accepting requests meanwhile) and
splits the outputs back by row offsets.

*Adaptive*: a lone request never waits. Batches form by themselves while the
model is busy; only when the previous batch held more than one request (the
sign of concurrent load) does the worker try to fill the next one, and then
only while requests keep arriving: it lets the event loop run and stops at
the first turns that bring nothing new, or at ``max_wait_ms``. Clients that
are all already waiting are never kept waiting for a batch that cannot grow.

*Cheap models run inline*: a model call that takes less than
``INLINE_BELOW_SECONDS`` (measured, a moving average) runs on the event loop
itself. Handing it to a thread and back costs more than the call (two
wake-ups and a GIL hand-off per batch); a slower model keeps its thread, so
the loop goes on accepting requests while it runs.

``on_call`` is told of every successful model call with its inputs, outputs
and the notes its requests passed to ``submit`` (the runtime logs each call
as one entry of the prediction log this way).

The queue is bounded (``max_queue`` requests). Beyond it ``submit`` raises
``Overloaded`` at once (HTTP 503 with ``Retry-After``), counted by the caller:
a request is either served or told to retry, never dropped silently, and a
request that fits in the queue is never shed.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections import deque
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from shipyard.errors import BackendUnavailable, InvalidInput
from shipyard.serving.validation import MatrixColumns

Columns = Mapping[str, npt.NDArray[Any]]
Outputs = dict[str, npt.NDArray[Any]]
ModelCall = Callable[[Columns], Outputs]
# Told of every successful model call: its inputs, its outputs and the notes of the
# requests it served (in row order), e.g. to log the call as one entry.
CallObserver = Callable[[Columns, Outputs, list[Any]], None]

# Below this (a moving average of measured calls) the model runs on the event loop.
INLINE_BELOW_SECONDS = 0.001
# Loop turns in a row without a new request after which a batch stops filling.
_QUIET_TURNS = 2


class Overloaded(BackendUnavailable):
    """The batch queue is full; the caller should retry after ``.retry_after`` seconds."""

    def __init__(self, message: str, *, retry_after: int = 1) -> None:
        super().__init__(message)
        self.retry_after = retry_after


@dataclass(frozen=True)
class BatchingConfig:
    """How a deployment coalesces requests."""

    enabled: bool = True
    max_batch_size: int = 64
    max_wait_ms: float = 2.0
    max_queue: int = 2048

    def __post_init__(self) -> None:
        for name in ("max_batch_size", "max_queue"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise InvalidInput(f"{name} must be an integer >= 1, got {value!r}.", field=name)
        if not 0 <= self.max_wait_ms <= 10_000:
            raise InvalidInput(
                f"max_wait_ms must be between 0 and 10000, got {self.max_wait_ms!r}.",
                field="max_wait_ms",
            )

    def to_dict(self) -> dict[str, Any]:
        return {
            "enabled": self.enabled,
            "max_batch_size": self.max_batch_size,
            "max_wait_ms": self.max_wait_ms,
            "max_queue": self.max_queue,
        }


@dataclass
class _Pending:
    columns: Columns
    rows: int
    future: asyncio.Future[Outputs]
    note: Any = None


class MicroBatcher:
    """Coalesces concurrent ``submit`` calls into model calls of at most ``max_batch_size`` rows."""

    def __init__(
        self,
        call: ModelCall,
        config: BatchingConfig,
        *,
        name: str = "model",
        on_batch: Callable[[int], None] | None = None,
        on_call: CallObserver | None = None,
    ) -> None:
        self.call = call
        self.config = config
        self.name = name
        self._on_batch = on_batch
        self._on_call = on_call
        self.observer_errors = 0
        self._queue: deque[_Pending] = deque()
        self._wakeup: asyncio.Event | None = None
        self._worker: asyncio.Task[None] | None = None
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"model-{name}")
        self._last_batch_requests = 0
        self._seconds_per_row = 0.001
        self._call_seconds = INLINE_BELOW_SECONDS  # unmeasured: the thread until known
        self._queued_rows = 0
        self._filling = False
        self._leading = False

    @property
    def queued(self) -> int:
        return len(self._queue)

    @property
    def inline(self) -> bool:
        """Whether the next call runs on the event loop (the model is cheap)."""
        return self._call_seconds < INLINE_BELOW_SECONDS

    async def submit(self, columns: Columns, rows: int, note: Any = None) -> Outputs:
        """The model's outputs for these rows (called once, possibly with others).

        A ``note`` (anything but ``None``) reaches ``on_call`` with the call that
        served these rows; without one, the rows are not reported.
        """
        loop = asyncio.get_running_loop()
        if not self.config.enabled:
            if self.inline:
                return self._call_one(columns, rows, note)
            return await loop.run_in_executor(self._executor, self._call_one, columns, rows, note)
        if len(self._queue) >= self.config.max_queue:
            raise self._overloaded()
        if self._may_lead():
            outputs = await self._lead(columns, rows, note)
            if outputs is not None:
                return outputs
        if self._worker is None:
            self._wakeup = asyncio.Event()
            self._worker = loop.create_task(self._run(), name=f"batcher-{self.name}")
        future: asyncio.Future[Outputs] = loop.create_future()
        self._queue.append(_Pending(columns, rows, future, note))
        self._queued_rows += rows
        # While the worker fills a batch, only a full batch wakes it: one wake-up per
        # batch instead of one per arriving request.
        if not self._filling or self._queued_rows >= self.config.max_batch_size:
            assert self._wakeup is not None
            self._wakeup.set()
        return await future

    def _may_lead(self) -> bool:
        """No load to batch with: a cheap model, nothing queued, last batch a lone request."""
        return (
            self.inline and not self._queue and not self._leading and self._last_batch_requests <= 1
        )

    async def _lead(self, columns: Columns, rows: int, note: Any) -> Outputs | None:
        """Run a lone request's call right here, after one loop turn; ``None`` if others came.

        The turn lets requests parsed in the same pass of the event loop reach
        ``submit``; they queue (a leader is waiting) and, if any did, this one
        queues behind them and the worker batches them all. Alone, it skips
        the worker task and its two wake-ups.
        """
        self._leading = True
        try:
            await asyncio.sleep(0)
        finally:
            self._leading = False
        if self._queue:
            return None
        self._last_batch_requests = 1
        return self._call_one(columns, rows, note)

    def _overloaded(self) -> Overloaded:
        backlog = self._queued_rows * self._seconds_per_row
        retry_after = max(1, math.ceil(backlog))
        return Overloaded(
            f"Deployment model '{self.name}' is overloaded: {len(self._queue)} requests are "
            f"queued (max_queue={self.config.max_queue}). Retry after {retry_after} s, or raise "
            "max_queue / add workers.",
            retry_after=retry_after,
        )

    async def _run(self) -> None:
        assert self._wakeup is not None
        loop = asyncio.get_running_loop()
        while True:
            if not self._queue:
                self._wakeup.clear()
                await self._wakeup.wait()
            await self._fill()
            batch = self._take()
            try:
                if self.inline:
                    outputs = self._call_batch(batch)
                else:
                    outputs = await loop.run_in_executor(self._executor, self._call_batch, batch)
            except Exception as exc:  # the model failed: every caller of the batch learns it
                for pending in batch:
                    if not pending.future.done():
                        pending.future.set_exception(exc)
                continue
            for pending, result in zip(batch, outputs, strict=True):
                if not pending.future.done():
                    pending.future.set_result(result)

    async def _fill(self) -> None:
        """Under concurrent load, let arriving requests join, while they keep arriving."""
        if self._last_batch_requests <= 1 or self.config.max_wait_ms <= 0:
            return
        deadline = time.perf_counter() + self.config.max_wait_ms / 1000
        self._filling = True
        try:
            quiet, seen = 0, len(self._queue)
            while (
                quiet < _QUIET_TURNS
                and self._queued_rows < self.config.max_batch_size
                and time.perf_counter() < deadline
            ):
                await asyncio.sleep(0)  # one turn of the loop: parse what has arrived
                quiet = quiet + 1 if len(self._queue) == seen else 0
                seen = len(self._queue)
        finally:
            self._filling = False

    def _take(self) -> list[_Pending]:
        batch = [self._queue.popleft()]
        rows = batch[0].rows
        while self._queue and rows + self._queue[0].rows <= self.config.max_batch_size:
            pending = self._queue.popleft()
            batch.append(pending)
            rows += pending.rows
        self._queued_rows -= rows
        self._last_batch_requests = len(batch)
        return batch

    def _timed_call(self, columns: Columns, rows: int) -> Outputs:
        started = time.perf_counter()
        outputs = self.call(columns)
        seconds = time.perf_counter() - started
        self._seconds_per_row = seconds / max(rows, 1)
        self._call_seconds = 0.8 * self._call_seconds + 0.2 * seconds
        if self._on_batch is not None:
            self._on_batch(rows)
        return outputs

    def _call_one(self, columns: Columns, rows: int, note: Any) -> Outputs:
        outputs = self._timed_call(columns, rows)
        if note is not None and self._on_call is not None:
            self._observe(columns, outputs, [note])
        return outputs

    def _observe(self, columns: Columns, outputs: Outputs, notes: list[Any]) -> None:
        """Tell ``on_call`` of a call; its failure is counted, never the requests'."""
        assert self._on_call is not None
        try:
            self._on_call(columns, outputs, notes)
        except Exception:
            self.observer_errors += 1

    def _call_batch(self, batch: list[_Pending]) -> list[Outputs]:
        if len(batch) == 1:
            return [self._call_one(batch[0].columns, batch[0].rows, batch[0].note)]
        names = list(batch[0].columns)
        merged: Columns
        if all(isinstance(p.columns, MatrixColumns) for p in batch):
            merged = MatrixColumns(np.vstack([p.columns.matrix for p in batch]), names)  # type: ignore[attr-defined]
        else:
            merged = {name: np.concatenate([p.columns[name] for p in batch]) for name in names}
        rows = sum(p.rows for p in batch)
        outputs = self._timed_call(merged, rows)
        results: list[Outputs] = []
        start = 0
        for pending in batch:
            end = start + pending.rows
            results.append({key: value[start:end] for key, value in outputs.items()})
            start = end
        if self._on_call is not None:
            notes = [p.note for p in batch]
            if None not in notes:
                self._observe(merged, outputs, notes)
            else:  # some rows are not to be reported: each noted request on its own
                for pending, result in zip(batch, results, strict=True):
                    if pending.note is not None:
                        self._observe(pending.columns, result, [pending.note])
        return results

    async def close(self) -> None:
        """Serve what is queued, then stop the worker and its thread."""
        while self._queue:
            await asyncio.sleep(0.005)
        if self._worker is not None:
            self._worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._worker
            self._worker = None
        self._executor.shutdown(wait=True)

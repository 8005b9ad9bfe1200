"""Running one step: its attempts, the backoff between them, and its time limit.

``execute(task)`` is what every executor runs, wherever it runs (this
thread, a pool process, a Dask worker), so retries and timeouts behave the
same everywhere. An attempt of a step without a timeout runs in the calling
thread. An attempt of a step with a timeout runs in a child process (from a
``forkserver``, so that it starts fast and safely from a threaded parent);
when the time is up the child is killed, which is the only way to stop
arbitrary Python code — a thread can only be abandoned.
"""

from __future__ import annotations

import multiprocessing
import time
import traceback
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import TYPE_CHECKING, Any

from shipyard.pipelines import serialize
from shipyard.pipelines.step import Skipped

if TYPE_CHECKING:
    from shipyard.config import Settings

SUCCEEDED, FAILED, TIMED_OUT, SKIPPED = "succeeded", "failed", "timed_out", "skipped"


@dataclass(frozen=True)
class StepContext:
    """The pipeline run a step belongs to and the settings of its store.

    It travels with the task to wherever the step runs, so that a step that
    records runs of its own (a notebook step) nests them under the pipeline's
    run in the same store, even in a pool process or on a Dask worker.
    """

    run_id: str
    settings: Settings


_CONTEXT: ContextVar[StepContext | None] = ContextVar("shipyard_step_context", default=None)


def step_context() -> StepContext | None:
    """The context of the step running now in this thread; None outside a pipeline."""
    return _CONTEXT.get()


@dataclass
class StepTask:
    """Everything needed to run one step somewhere: the function, its inputs, its options."""

    name: str
    fn: Callable[..., Any]
    arguments: dict[str, Any]
    retries: int = 0
    backoff: float = 0.0
    timeout: float | None = None
    keep_value: bool = False
    context: StepContext | None = None


@dataclass
class Attempt:
    number: int
    started: float
    ended: float
    status: str
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "number": self.number,
            "started": self.started,
            "ended": self.ended,
            "seconds": round(self.ended - self.started, 6),
            "status": self.status,
            "error": self.error,
        }


@dataclass(frozen=True)
class Serialized:
    """A step's output serialized in a child process (a step may itself return a tuple)."""

    data: bytes
    fmt: str


@dataclass
class Outcome:
    """How a step ended: status, attempts, the serialized output or the error."""

    status: str
    attempts: list[Attempt] = field(default_factory=list)
    output: bytes | None = None
    output_format: str | None = None
    reason: str | None = None
    traceback: str | None = None
    value: Any = None
    has_value: bool = False


def execute(task: StepTask) -> Outcome:
    """Run ``task`` with up to ``retries`` extra attempts; never raises for step errors."""
    attempts: list[Attempt] = []
    for number in range(1, task.retries + 2):
        started = time.time()
        result = _attempt_here(task) if task.timeout is None else _attempt_in_child(task)
        status, payload = result
        attempts.append(Attempt(number, started, time.time(), status, _error_text(status, payload)))
        if status in (SUCCEEDED, SKIPPED):
            return _finished(task, status, payload, attempts)
        if number <= task.retries and task.backoff > 0:
            time.sleep(task.backoff * 2 ** (number - 1))
    last = attempts[-1]
    return Outcome(last.status, attempts, traceback=last.error)


def _error_text(status: str, payload: Any) -> str | None:
    return str(payload) if status in (FAILED, TIMED_OUT) else None


def _finished(task: StepTask, status: str, payload: Any, attempts: list[Attempt]) -> Outcome:
    if status == SKIPPED:
        return Outcome(SKIPPED, attempts, reason=str(payload))
    if isinstance(payload, Serialized):  # already serialized by a child process
        return Outcome(SUCCEEDED, attempts, output=payload.data, output_format=payload.fmt)
    data, fmt = serialize.dumps(payload, task.name)
    outcome = Outcome(SUCCEEDED, attempts, output=data, output_format=fmt)
    if task.keep_value:
        outcome.value, outcome.has_value = payload, True
    return outcome


def _attempt_here(task: StepTask) -> tuple[str, Any]:
    token = _CONTEXT.set(task.context)
    try:
        value = task.fn(**task.arguments)
    except Exception:
        return FAILED, traceback.format_exc()
    finally:
        _CONTEXT.reset(token)
    if isinstance(value, Skipped):
        return SKIPPED, value.reason
    return SUCCEEDED, value


def _attempt_in_child(task: StepTask) -> tuple[str, Any]:
    import cloudpickle

    context = _context()
    receiver, sender = context.Pipe(duplex=False)
    child = context.Process(target=_child_main, args=(cloudpickle.dumps(task), sender))
    child.start()
    sender.close()
    try:
        if not receiver.poll(task.timeout):
            child.kill()
            return TIMED_OUT, f"Step '{task.name}' exceeded its timeout of {task.timeout} s."
        try:
            message: tuple[str, Any] = receiver.recv()
        except EOFError:
            child.join()
            return FAILED, f"Step '{task.name}' died (its process exited with {child.exitcode})."
        return message
    finally:
        receiver.close()
        child.join(timeout=10)


def _context() -> Any:
    methods = multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")


def _child_main(payload: bytes, sender: Connection) -> None:
    import pickle

    task: StepTask = pickle.loads(payload)
    status, value = _attempt_here(task)
    if status == SUCCEEDED:
        try:
            value = Serialized(*serialize.dumps(value, task.name))
        except Exception:
            status, value = FAILED, traceback.format_exc()
    sender.send((status, value))
    sender.close()


def execute_payload(payload: bytes) -> bytes:
    """``execute`` for executors in other processes: pickled task in, pickled outcome out."""
    import pickle

    import cloudpickle

    task: StepTask = pickle.loads(payload)
    task.keep_value = False
    data: bytes = cloudpickle.dumps(execute(task))
    return data


__all__ = [
    "FAILED",
    "SKIPPED",
    "SUCCEEDED",
    "TIMED_OUT",
    "Attempt",
    "Outcome",
    "StepContext",
    "StepTask",
    "execute",
    "execute_payload",
    "step_context",
]

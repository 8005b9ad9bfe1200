"""Steps: plain functions with retries, backoff, a timeout and a cache switch.

``@sy.step`` (or ``@sy.step(retries=2, backoff=1.0, timeout=60, cache=True)``)
wraps a function. Called inside a ``@sy.pipeline`` function it does not run:
it returns a ``Handle`` (a lazy result) and the runner executes it once its
inputs are ready. Called anywhere else it is the plain function.

A step may end as a gate outcome instead of a value: ``return sy.Skipped("new
model below production on golden set")`` skips it and every step that
depends on it, without failing the run.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, ParamSpec, TypeVar, overload

from shipyard.errors import InvalidInput
from shipyard.pipelines.graph import active_builder

if TYPE_CHECKING:
    from shipyard.pipelines.cache import CodeHasher

P = ParamSpec("P")
R = TypeVar("R")


@dataclass(frozen=True)
class Skipped:
    """What a step returns to skip itself and its dependents (a gate outcome)."""

    reason: str


@dataclass(frozen=True)
class StepOptions:
    """How to run a step: attempts, backoff between them, a time limit, caching."""

    retries: int = 0
    backoff: float = 0.0
    timeout: float | None = None
    cache: bool = True

    def __post_init__(self) -> None:
        if isinstance(self.retries, bool) or not isinstance(self.retries, int) or self.retries < 0:
            raise InvalidInput(
                f"retries must be a non-negative integer, got {self.retries!r}.", field="retries"
            )
        if not isinstance(self.backoff, int | float) or self.backoff < 0:
            raise InvalidInput(
                f"backoff must be a non-negative number of seconds, got {self.backoff!r}.",
                field="backoff",
            )
        if self.timeout is not None and (
            not isinstance(self.timeout, int | float) or self.timeout <= 0
        ):
            raise InvalidInput(
                f"timeout must be a positive number of seconds or None, got {self.timeout!r}.",
                field="timeout",
            )


class Step(Generic[P, R]):
    """A function the pipeline runner executes, caches and records."""

    def __init__(self, fn: Callable[P, R], options: StepOptions) -> None:
        self.fn = fn
        self.options = options
        self.name = fn.__name__
        self.signature = inspect.signature(fn)
        functools.update_wrapper(self, fn)

    @property
    def qualname(self) -> str:
        return f"{self.fn.__module__}.{self.fn.__qualname__}"

    def code_fingerprint(self, hasher: CodeHasher) -> str:
        """The code part of the cache key: what, when changed, makes the step run again."""
        return hasher.fingerprint(self.fn)

    def bind(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
        """The call's arguments by parameter name (defaults filled in)."""
        try:
            bound = self.signature.bind(*args, **kwargs)
        except TypeError as exc:
            raise InvalidInput(
                f"Step '{self.name}' was called with arguments that do not match "
                f"{self.name}{self.signature}: {exc}. Fix the call in the pipeline.",
                field=self.name,
            ) from exc
        bound.apply_defaults()
        return dict(bound.arguments)

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R:
        builder = active_builder()
        if builder is None:
            return self.fn(*args, **kwargs)
        handle: Any = builder.add(self, self.bind(args, kwargs))
        return handle  # type: ignore[no-any-return]

    def __repr__(self) -> str:
        return f"Step({self.qualname})"


@overload
def step(fn: Callable[P, R], /) -> Step[P, R]: ...


@overload
def step(
    *,
    retries: int = 0,
    backoff: float = 0.0,
    timeout: float | None = None,
    cache: bool = True,
) -> Callable[[Callable[P, R]], Step[P, R]]: ...


def step(
    fn: Callable[P, R] | None = None,
    /,
    *,
    retries: int = 0,
    backoff: float = 0.0,
    timeout: float | None = None,
    cache: bool = True,
) -> Step[P, R] | Callable[[Callable[P, R]], Step[P, R]]:
    """Make ``fn`` a pipeline step; ``backoff`` doubles after each failed attempt."""
    options = StepOptions(retries=retries, backoff=backoff, timeout=timeout, cache=cache)

    def wrap(function: Callable[P, R]) -> Step[P, R]:
        if not callable(function):
            raise InvalidInput(f"@step needs a function, got {function!r}.", field="step")
        return Step(function, options)

    return wrap(fn) if fn is not None else wrap


__all__ = ["Skipped", "Step", "StepOptions", "step"]

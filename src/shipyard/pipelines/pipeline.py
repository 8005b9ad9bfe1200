"""Pipelines: a plain function whose step calls make the graph.

    @sy.pipeline
    def train(lr: float = 0.1):
        data = load()
        model = fit(data, lr)
        return evaluate(model, data)

    result = train(lr=0.2)            # runs it: a tracking run, cached steps
    train.run({"lr": "0.2"}, executor="process", no_cache=True)

Parameters are checked against the function's signature and coerced to its
annotations (or to the type of the default), so ``-p lr=0.2`` from the CLI
becomes a float and ``-p lr=abc`` is an error naming the parameter.
"""

from __future__ import annotations

import functools
import inspect
import typing
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from shipyard.errors import InvalidInput

if TYPE_CHECKING:
    from shipyard.notify import Sink
    from shipyard.pipelines.executors.base import Executor
    from shipyard.pipelines.runner import PipelineResult
    from shipyard.workspace import Workspace

_SIMPLE = (bool, int, float, str, Path)
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


class Pipeline:
    """A pipeline function; call it (or ``.run``) to execute and record it."""

    def __init__(self, fn: Callable[..., Any], name: str | None, experiment: str | None) -> None:
        self.fn = fn
        self.name = name or fn.__name__
        self.experiment = experiment or self.name
        self.signature = inspect.signature(fn)
        functools.update_wrapper(self, fn)

    @property
    def ref(self) -> str:
        """How to find this pipeline again (for resume and schedules): ``FILE:NAME``."""
        try:
            source = inspect.getsourcefile(self.fn)
        except TypeError:
            source = None
        target = source or self.fn.__module__
        return f"{target}:{self.fn.__qualname__}"

    def bind_params(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """Check ``params`` against the signature; coerce strings to the declared types."""
        parameters = self.signature.parameters
        takes_any = any(p.kind is p.VAR_KEYWORD for p in parameters.values())
        unknown = sorted(set(params) - set(parameters))
        if unknown and not takes_any:
            raise InvalidInput(
                f"Pipeline '{self.name}' has no parameter {', '.join(map(repr, unknown))}. "
                f"Its signature is {self.name}{self.signature}.",
                field=unknown[0],
            )
        try:
            bound = self.signature.bind(**params)
        except TypeError as exc:
            raise InvalidInput(
                f"Parameters do not match {self.name}{self.signature}: {exc}.", field="params"
            ) from exc
        bound.apply_defaults()
        hints = _hints(self.fn)
        return {
            name: _coerce(self.name, name, value, hints.get(name), parameters.get(name))
            for name, value in bound.arguments.items()
        }

    def run(
        self,
        params: Mapping[str, Any] | None = None,
        *,
        no_cache: bool = False,
        executor: str | Executor = "inprocess",
        scheduler: str = "",
        notify: Sequence[Sink] | None = None,
        workspace: Workspace | None = None,
    ) -> PipelineResult:
        """Execute the pipeline as one tracking run; see ``runner.run_pipeline``."""
        from shipyard.pipelines.runner import RunOptions, run_pipeline

        options = RunOptions(
            no_cache=no_cache, executor=executor, scheduler=scheduler, notify=notify
        )
        return run_pipeline(self, self.bind_params(params or {}), options, workspace=workspace)

    def __call__(self, *args: Any, **kwargs: Any) -> PipelineResult:
        try:
            bound = self.signature.bind(*args, **kwargs)
        except TypeError as exc:
            raise InvalidInput(
                f"Arguments do not match {self.name}{self.signature}: {exc}.", field="params"
            ) from exc
        return self.run(dict(bound.arguments))

    def __repr__(self) -> str:
        return f"Pipeline({self.name!r})"


def pipeline(
    fn: Callable[..., Any] | None = None,
    /,
    *,
    name: str | None = None,
    experiment: str | None = None,
) -> Any:
    """Make ``fn`` a pipeline (its runs go to ``experiment``, default: the pipeline name)."""

    def wrap(function: Callable[..., Any]) -> Pipeline:
        return Pipeline(function, name, experiment)

    return wrap(fn) if fn is not None else wrap


def _hints(fn: Callable[..., Any]) -> dict[str, Any]:
    try:
        return typing.get_type_hints(fn)
    except Exception:  # unresolvable string annotations: fall back to defaults' types
        return {}


def _coerce(
    pipeline_name: str, name: str, value: Any, hint: Any, parameter: inspect.Parameter | None
) -> Any:
    target = hint if hint in _SIMPLE else None
    if target is None and parameter is not None:
        default = parameter.default
        if default is not inspect.Parameter.empty and type(default) in _SIMPLE:
            target = type(default)
    if target is None:
        return value
    try:
        return _to_type(value, target)
    except (TypeError, ValueError):
        raise InvalidInput(
            f"Parameter '{name}' of pipeline '{pipeline_name}' must be {article(target.__name__)}, "
            f"got {value!r}.",
            field=name,
        ) from None


def article(word: str) -> str:
    """``"an int"``, ``"a float"``: a type name with its article, for messages."""
    return f"{'an' if word[:1] in 'aeiou' else 'a'} {word}"


def _to_type(value: Any, target: type) -> Any:
    if isinstance(value, str) and target is not str:
        text = value.strip()
        if target is bool:
            if text.lower() in _TRUE | _FALSE:
                return text.lower() in _TRUE
            raise ValueError(value)
        return target(text)
    if target is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if target is Path and isinstance(value, str):
        return Path(value)
    if target is int and isinstance(value, bool):
        raise TypeError(value)
    if not isinstance(value, target):
        raise TypeError(value)
    return value


__all__ = ["Pipeline", "pipeline"]

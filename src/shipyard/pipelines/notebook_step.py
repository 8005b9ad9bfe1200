"""A notebook as a pipeline step: ``sy.notebook_step("train.ipynb", register="churn")``.

The step's parameters are the notebook's: the names and defaults of its cell
tagged ``parameters``, keyword-only. Inside a ``@sy.pipeline`` it is called
like any step, with literals or the results of other steps::

    train_nb = sy.notebook_step("train.ipynb", register="churn", retries=1)

    @sy.pipeline
    def nightly(C: float = 0.5):
        result = train_nb(C=C, rows=count_rows(load()))
        return check_gates(result)          # result is a NotebookResult

Running it executes the notebook headless (``run_notebook``) as a run nested
under the pipeline's run, in the pipeline's store, wherever the executor
puts the step (this process, a pool process, a Dask worker). A failed cell,
a dead kernel or the notebook's timeout fails the step (``NotebookFailed``),
so ``retries`` apply; the executed notebook is stored either way.

Its cache key holds the notebook's bytes instead of a function's source: an
edited notebook runs again, a reverted one is reused, and so is the
``NotebookResult`` (the run id of the earlier execution) it returned.
Parameter values reach the notebook as Python literals, so pass plain data
(numbers, text, lists, dicts); a dataset travels by name or snapshot id.
"""

from __future__ import annotations

import hashlib
import inspect
import re
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from shipyard.errors import InvalidInput, NotebookFailed
from shipyard.pipelines.notebook import (
    DEFAULT_TIMEOUT_SECONDS,
    NotebookResult,
    check_parameters,
    check_registration,
    read_parameters,
)
from shipyard.pipelines.step import Step, StepOptions

if TYPE_CHECKING:
    from shipyard.pipelines.attempt import StepContext
    from shipyard.pipelines.cache import CodeHasher
    from shipyard.workspace import Workspace


class NotebookStep(Step[..., NotebookResult]):
    """A pipeline step that executes one notebook; see the module docstring."""

    def __init__(
        self,
        path: Path,
        *,
        name: str,
        register: str | None,
        model_variable: str,
        timeout: float,
        options: StepOptions,
    ) -> None:
        self.path = path
        self.register = register
        self.model_variable = model_variable
        defaults = read_parameters(path) or {}
        super().__init__(_runner(path, name, defaults, register, model_variable, timeout), options)

    @property
    def qualname(self) -> str:
        return f"notebook:{self.path}"

    def code_fingerprint(self, hasher: CodeHasher) -> str:
        digest = hashlib.sha256(hasher.fingerprint(self.fn).encode())
        digest.update(self.path.read_bytes())
        digest.update(f"\0{self.register}\0{self.model_variable}".encode())
        return digest.hexdigest()

    def bind(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
        """Bind by name; literal values are typed now (so the cache key sees ``0.5``, not
        ``"0.5"``), values from other steps when the step runs."""
        from shipyard.pipelines.graph import Handle

        if args:
            raise InvalidInput(
                f"Notebook step '{self.name}' takes its parameters by name "
                f"({', '.join(self.signature.parameters) or 'it has none'}), e.g. "
                f"{self.name}(C=0.5).",
                field=self.name,
            )
        arguments = super().bind(args, kwargs)
        literals = {k: v for k, v in kwargs.items() if not isinstance(v, Handle)}
        if literals:
            typed = check_parameters(self.path, literals)
            arguments.update({name: typed[name] for name in literals})
        return arguments

    def __repr__(self) -> str:
        return f"NotebookStep({self.path.name})"


def notebook_step(
    path: str | Path,
    *,
    name: str | None = None,
    register: str | None = None,
    model_variable: str = "model",
    timeout: float = DEFAULT_TIMEOUT_SECONDS,
    retries: int = 0,
    backoff: float = 0.0,
    cache: bool = True,
) -> NotebookStep:
    """A step that runs the notebook at ``path``; ``timeout`` limits the whole notebook."""
    source = Path(path).expanduser().resolve()
    check_registration(register, model_variable)
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout <= 0:
        raise InvalidInput(
            f"timeout must be a positive number of seconds, got {timeout!r}.", field="timeout"
        )
    # The notebook's own timeout stops its kernel; a step timeout would kill the process
    # that owns the kernel and leave the kernel running, so the step itself has none.
    options = StepOptions(retries=retries, backoff=backoff, timeout=None, cache=cache)
    return NotebookStep(
        source,
        name=name or _step_name(source),
        register=register,
        model_variable=model_variable,
        timeout=float(timeout),
        options=options,
    )


def _step_name(path: Path) -> str:
    name = re.sub(r"\W+", "_", path.stem).strip("_")
    return name or "notebook"


def _runner(
    path: Path,
    name: str,
    defaults: dict[str, Any],
    register: str | None,
    model_variable: str,
    timeout: float,
) -> Callable[..., NotebookResult]:
    def run_notebook_step(**params: Any) -> NotebookResult:
        from shipyard.pipelines.attempt import step_context
        from shipyard.pipelines.notebook import run_notebook

        context = step_context()
        workspace, owned = _workspace(context)
        try:
            result = run_notebook(
                path,
                params,
                register=register,
                model_variable=model_variable,
                timeout=timeout,
                parent_run_id=context.run_id if context else None,
                workspace=workspace,
            )
        finally:
            if owned:
                workspace.close()
        if not result.ok:
            raise NotebookFailed(
                f"Notebook {path.name} failed in run {result.run_id}: "
                f"{(result.error or 'unknown error').rstrip('.')}. "
                f"The executed notebook is stored with that run (notebook/{path.name}).",
                run_id=result.run_id,
                failed_cell=result.failed_cell,
            )
        return result

    run_notebook_step.__name__ = run_notebook_step.__qualname__ = name
    run_notebook_step.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        [
            inspect.Parameter(key, inspect.Parameter.KEYWORD_ONLY, default=value)
            for key, value in defaults.items()
        ],
        return_annotation=NotebookResult,
    )
    return run_notebook_step


def _workspace(context: StepContext | None) -> tuple[Workspace, bool]:
    """The pipeline's store: (workspace, whether this step opened it and must close it)."""
    from shipyard.workspace import Workspace, current

    if context is None:  # called outside a pipeline: the plain function
        return current(), False
    return Workspace(context.settings), True


__all__ = ["NotebookStep", "notebook_step"]

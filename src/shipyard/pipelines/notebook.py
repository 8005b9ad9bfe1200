"""Running a notebook headless as one tracking run, parameterized and typed.

``run_notebook("train.ipynb", {"C": 0.5}, register="churn")``:

1. reads the notebook and its cell tagged ``parameters`` — the defaults
   there declare each parameter's name and type; an unknown name, or a
   value that does not fit the default's type, is an error (so is passing
   parameters to a notebook with no such cell);
2. starts a tracking run and injects a cell right after the parameters cell
   with the values and ``shipyard_run``, the same run reopened inside the
   kernel — everything the notebook logs through it (metrics, datasets,
   models) belongs to the run;
3. executes it with nbclient (kernel ``python3``) under one whole-notebook
   timeout; a dying kernel is reported, never waited on;
4. stores the executed notebook as an artifact of the run (``notebook/NAME``)
   even when it fails, with the failing cell's index and error in the
   message; with ``register``, a last cell logs the variable ``model`` as the
   next version of that model (which then goes through the registry's gates).

The store settings reach the kernel in a temporary file readable by the
user only, so no credential is written into the stored notebook.
"""

from __future__ import annotations

import ast
import asyncio
import json
import os
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from shipyard.errors import InvalidInput, NotFound
from shipyard.pipelines.pipeline import article
from shipyard.workspace import Workspace, current

if TYPE_CHECKING:
    from shipyard.tracking.runs import Run

PARAMETERS_TAG = "parameters"
INJECTED_TAG = "injected-parameters"
DEFAULT_TIMEOUT_SECONDS = 600.0


@dataclass(frozen=True)
class NotebookResult:
    """How a notebook run ended, its run id and the stored notebook's SHA-256."""

    run_id: str
    status: str
    error: str | None
    notebook_sha256: str
    params: dict[str, Any]
    failed_cell: int | None = None

    @property
    def ok(self) -> bool:
        return self.status == "FINISHED"

    def to_dict(self) -> dict[str, Any]:
        return dict(vars(self))


def read_parameters(path: str | Path) -> dict[str, Any] | None:
    """The defaults of the cell tagged ``parameters`` (None when there is no such cell)."""
    notebook = _read(Path(path))
    index = _parameters_index(notebook)
    return None if index is None else _defaults(notebook.cells[index].source, Path(path))


def run_notebook(
    path: str | Path,
    params: Mapping[str, Any] | None = None,
    *,
    register: str | None = None,
    model_variable: str = "model",
    timeout: float = DEFAULT_TIMEOUT_SECONDS,
    experiment: str | None = None,
    parent_run_id: str | None = None,
    workspace: Workspace | None = None,
) -> NotebookResult:
    """Execute the notebook as one run (nested under ``parent_run_id`` when given)."""
    from shipyard.tracking.runs import FAILED, FINISHED, start_run

    workspace = workspace or current()
    source = Path(path)
    notebook = _read(source)
    values = _check_params(notebook, source, dict(params or {}))
    check_registration(register, model_variable)
    run = start_run(
        experiment or source.stem,
        tags={"shipyard.notebook": source.name},
        parent_run_id=parent_run_id,
        workspace=workspace,
    )
    run.log_params(values)
    with tempfile.TemporaryDirectory(prefix="shipyard-nb-") as folder:
        context = _write_context(Path(folder), workspace, run)
        _inject(notebook, values, context, register, model_variable)
        error, failed_cell = _execute(notebook, source.parent, timeout)
    import nbformat

    text = nbformat.writes(notebook)  # type: ignore[no-untyped-call]
    sha = run.log_text(text, f"notebook/{source.name}")
    run.end(FAILED if error else FINISHED, error)
    return NotebookResult(run.id, run.status, error, sha, values, failed_cell)


def attach(context_file: str) -> Run:
    """Inside the kernel: the notebook's run, reopened from the context file."""
    from shipyard.config import load_settings
    from shipyard.tracking.runs import Run

    context = json.loads(Path(context_file).read_text())
    workspace = Workspace(load_settings(context["settings"]))
    return Run(workspace, context["run_id"], context["experiment"], context["name"])


# -- reading and checking ---------------------------------------------------
def _read(path: Path) -> Any:
    import nbformat

    if not path.is_file():
        raise NotFound(f"No notebook at {path}.", kind="notebook", name=str(path))
    try:
        return nbformat.read(str(path), as_version=4)  # type: ignore[no-untyped-call]
    except Exception as exc:
        raise InvalidInput(f"{path} is not a readable notebook: {exc}", field="notebook") from exc


def _parameters_index(notebook: Any) -> int | None:
    for index, cell in enumerate(notebook.cells):
        if cell.cell_type == "code" and PARAMETERS_TAG in cell.get("metadata", {}).get("tags", []):
            return index
    return None


def _defaults(source: str, path: Path) -> dict[str, Any]:
    try:
        tree = ast.parse(source)
    except SyntaxError as exc:
        raise InvalidInput(
            f"The parameters cell of {path} is not valid Python: {exc}", field="parameters"
        ) from exc
    defaults: dict[str, Any] = {}
    for statement in tree.body:
        target = (
            getattr(statement, "targets", [None])[0]
            if isinstance(statement, ast.Assign)
            else getattr(statement, "target", None)
        )
        value = getattr(statement, "value", None)
        if isinstance(target, ast.Name) and value is not None:
            try:
                defaults[target.id] = ast.literal_eval(value)
            except ValueError:
                defaults[target.id] = None  # not a literal: accept any literal value
    return defaults


def check_registration(register: str | None, model_variable: str) -> None:
    """``register`` names a model and ``model_variable`` is a Python name, or ``InvalidInput``."""
    if register is not None and (not isinstance(register, str) or not register.strip()):
        raise InvalidInput("register (--register) needs a model name.", field="register")
    if not isinstance(model_variable, str) or not model_variable.isidentifier():
        raise InvalidInput(
            f"model_variable must be a Python variable name (the notebook's fitted model), "
            f"got {model_variable!r}.",
            field="model_variable",
        )


def check_parameters(path: str | Path, params: Mapping[str, Any]) -> dict[str, Any]:
    """``params`` typed by the notebook's parameters cell; ``InvalidInput`` if one does not fit."""
    return _check_params(_read(Path(path)), Path(path), dict(params))


def _check_params(notebook: Any, path: Path, params: dict[str, Any]) -> dict[str, Any]:
    index = _parameters_index(notebook)
    if index is None:
        if params:
            raise InvalidInput(
                f"{path.name} has no cell tagged 'parameters', so it cannot take parameters "
                f"({', '.join(sorted(params))}). Tag the cell holding the defaults with "
                "'parameters' (View → Cell Toolbar → Tags in Jupyter).",
                field="parameters",
            )
        return {}
    defaults = _defaults(notebook.cells[index].source, path)
    unknown = sorted(set(params) - set(defaults))
    if unknown:
        raise InvalidInput(
            f"{path.name} has no parameter {', '.join(map(repr, unknown))}; its parameters "
            f"cell declares: {', '.join(sorted(defaults)) or 'nothing'}.",
            field=unknown[0],
        )
    return {**defaults, **{k: _typed(path, k, v, defaults[k]) for k, v in params.items()}}


def _typed(path: Path, name: str, value: Any, default: Any) -> Any:
    expected = type(default)
    candidate = value
    if isinstance(value, str) and expected is not str:
        try:
            candidate = ast.literal_eval(value.strip())
        except (ValueError, SyntaxError):
            candidate = value
        if expected is bool and value.strip().lower() in ("true", "false"):
            candidate = value.strip().lower() == "true"
    if default is None:
        return candidate
    if expected is float and isinstance(candidate, int) and not isinstance(candidate, bool):
        return float(candidate)
    if type(candidate) is not expected:
        raise InvalidInput(
            f"Parameter '{name}' of {path.name} must be {article(expected.__name__)} "
            f"(its default is {default!r}), got {value!r}.",
            field=name,
        )
    return candidate


# -- injecting and executing --------------------------------------------------
def _write_context(folder: Path, workspace: Workspace, run: Run) -> Path:
    settings = workspace.settings
    context = {
        "run_id": run.id,
        "experiment": run.experiment,
        "name": run.name,
        "settings": {
            "home": str(settings.home),
            "db_url": settings.db_url,
            "artifacts_url": settings.artifacts_url,
        },
    }
    path = folder / "context.json"
    path.touch(mode=0o600)
    path.write_text(json.dumps(context))
    os.chmod(path, 0o600)
    return path


def _inject(
    notebook: Any, values: dict[str, Any], context: Path, register: str | None, model_variable: str
) -> None:
    import nbformat

    for old in notebook.cells:  # counts tell where execution stopped, so start from none
        if old.cell_type == "code":
            old.outputs, old.execution_count = [], None
    lines = ["# Injected by shipyard: parameters and the run this notebook logs to"]
    lines += [f"{name} = {value!r}" for name, value in values.items()]
    lines += [
        "import shipyard.pipelines.notebook as _shipyard_notebook",
        f"shipyard_run = _shipyard_notebook.attach({str(context)!r})",
    ]
    cell = nbformat.v4.new_code_cell(  # type: ignore[no-untyped-call]
        "\n".join(lines), metadata={"tags": [INJECTED_TAG]}
    )
    index = _parameters_index(notebook)
    notebook.cells.insert(0 if index is None else index + 1, cell)
    final = ["shipyard_run.flush()"]
    if register:
        final.insert(0, f"shipyard_run.log_model({model_variable}, {register!r})")
    notebook.cells.append(
        nbformat.v4.new_code_cell(  # type: ignore[no-untyped-call]
            "\n".join(final), metadata={"tags": [INJECTED_TAG]}
        )
    )


def _execute(notebook: Any, folder: Path, timeout: float) -> tuple[str | None, int | None]:
    """(error message or None, index of the failing cell or None)."""
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

    client = NotebookClient(
        notebook,
        timeout=timeout,
        kernel_name="python3",
        resources={"metadata": {"path": str(folder)}},
    )
    started = time.monotonic()
    try:
        asyncio.run(asyncio.wait_for(client.async_execute(), timeout))
    except (TimeoutError, CellTimeoutError, DeadKernelError) as exc:
        cell = _running_cell(notebook)
        # Stopping a kernel at the deadline can surface as a dead kernel: the clock decides.
        if time.monotonic() - started >= timeout * 0.99 or not isinstance(exc, DeadKernelError):
            return f"The notebook exceeded its timeout of {timeout:g} s (in cell {cell}).", cell
        return f"The kernel died while running cell {cell}: {exc}", cell
    except CellExecutionError as exc:
        cell = _error_cell(notebook)
        return f"Cell {cell} failed: {exc.ename}: {exc.evalue}", cell
    return None, None


def _error_cell(notebook: Any) -> int | None:
    for index, cell in enumerate(notebook.cells):
        if any(o.get("output_type") == "error" for o in cell.get("outputs", [])):
            return index
    return None


def _running_cell(notebook: Any) -> int | None:
    """The last code cell the kernel started (it has an execution count): where it stopped."""
    started = [
        index
        for index, cell in enumerate(notebook.cells)
        if cell.cell_type == "code" and cell.get("execution_count") is not None
    ]
    return started[-1] if started else None


__all__ = [
    "NotebookResult",
    "attach",
    "check_parameters",
    "check_registration",
    "read_parameters",
    "run_notebook",
]

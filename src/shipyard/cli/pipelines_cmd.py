"""``shipyard pipeline …``, ``notebook run``, ``schedules …`` and ``scheduler``."""

from __future__ import annotations

from typing import Any

import typer

from shipyard.cli.output import (
    JSON_OPTION,
    console,
    format_value,
    print_json,
    table,
    workspace_from,
)
from shipyard.errors import InvalidInput

pipeline_app = typer.Typer(help="Pipelines: cached steps with lineage.", no_args_is_help=True)
notebook_app = typer.Typer(help="Notebooks: run one headless, as a run.", no_args_is_help=True)
schedules_app = typer.Typer(help="Schedules: pipelines on a cron.", no_args_is_help=True)

PARAM_OPTION = typer.Option(None, "--param", "-p", help="A parameter as NAME=VALUE (repeat).")
EXECUTOR_OPTION = typer.Option(
    "inprocess", "--executor", help="Where steps run: inprocess, process or dask."
)
SCHEDULER_OPTION = typer.Option(
    "", "--scheduler", help="Dask scheduler address (tcp://HOST:8786) or 'local'."
)
NOTIFY_OPTION = typer.Option(
    None, "--notify", help="Notification sink: log, webhook:URL or command:CMD (repeat)."
)


def parse_params(pairs: list[str] | None) -> dict[str, str]:
    """``["lr=0.1", "name=x"]`` → ``{"lr": "0.1", "name": "x"}``."""
    params: dict[str, str] = {}
    for pair in pairs or []:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            raise InvalidInput(
                f"Parameter {pair!r} must look like NAME=VALUE, e.g. -p lr=0.1.", field="param"
            )
        params[name.strip()] = value
    return params


def _sinks(texts: list[str] | None) -> Any:
    from shipyard.notify import parse_sink

    return [parse_sink(t) for t in texts] if texts else None


def _print_run(ctx: typer.Context, run_id: str, as_json: bool) -> None:
    from shipyard.pipelines import get_pipeline_run

    info = get_pipeline_run(run_id, workspace=workspace_from(ctx))
    if as_json:
        print_json(info.to_dict())
        return
    console.print(
        f"Pipeline [bold]{info.pipeline}[/] run {info.run_id}: [bold]{info.status}[/]"
        + (f" — {info.error}" if info.error else "")
    )
    table(
        None,
        ["step", "status", "attempts", "seconds", "output", "reason / error"],
        [
            (
                s.name,
                s.status,
                s.attempts,
                s.duration_seconds,
                (s.output_sha256 or "")[:12] or None,
                s.reason or _last_line(s.traceback),
            )
            for s in info.steps
        ],
    )


def _last_line(text: str | None) -> str | None:
    lines = (text or "").strip().splitlines()
    return lines[-1] if lines else None


def _exit_for(status: str) -> None:
    if status != "FINISHED":
        raise typer.Exit(1)


@pipeline_app.command("run")
def pipeline_run(
    ctx: typer.Context,
    ref: str = typer.Argument(..., help="FILE.py:FUNCTION or package.module:FUNCTION."),
    param: list[str] = PARAM_OPTION,
    no_cache: bool = typer.Option(False, "--no-cache", help="Run every step, reuse nothing."),
    executor: str = EXECUTOR_OPTION,
    scheduler: str = SCHEDULER_OPTION,
    notify: list[str] = NOTIFY_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Run a pipeline as one tracking run; exit 1 if a step failed.

    Example: shipyard pipeline run train.py:train -p lr=0.1 --executor process
    """
    from shipyard.pipelines import load_pipeline

    workspace = workspace_from(ctx)
    pipeline = load_pipeline(ref)
    result = pipeline.run(
        parse_params(param),
        no_cache=no_cache,
        executor=executor,
        scheduler=scheduler,
        notify=_sinks(notify),
        workspace=workspace,
    )
    _print_run(ctx, result.run_id, as_json)
    _exit_for(result.status)


@pipeline_app.command("resume")
def pipeline_resume(
    ctx: typer.Context,
    run_id: str = typer.Argument(..., help="The failed or crashed run (id or prefix)."),
    executor: str = typer.Option(None, "--executor", help="Default: the run's executor."),
    scheduler: str = SCHEDULER_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Rerun a failed or crashed pipeline run from its failed step, reusing the rest.

    Example: shipyard pipeline resume 3fa2c1d9
    """
    from shipyard.pipelines import resume

    result = resume(run_id, executor=executor, scheduler=scheduler, workspace=workspace_from(ctx))
    _print_run(ctx, result.run_id, as_json)
    _exit_for(result.status)


@pipeline_app.command("show")
def pipeline_show(
    ctx: typer.Context,
    run_id: str = typer.Argument(..., help="A pipeline run id or unique prefix."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Show a pipeline run's steps: status, attempts, timings, outputs, reasons.

    Example: shipyard pipeline show 3fa2c1d9 --json
    """
    from shipyard.pipelines import mark_crashed

    mark_crashed(workspace=workspace_from(ctx))
    _print_run(ctx, run_id, as_json)


@notebook_app.command("run")
def notebook_run(
    ctx: typer.Context,
    path: str = typer.Argument(..., help="The .ipynb file."),
    param: list[str] = PARAM_OPTION,
    register_as: str = typer.Option(
        None, "--register", help="Log the notebook's `model` as a version of this model."
    ),
    timeout: float = typer.Option(600.0, "--timeout", help="Whole-notebook limit in seconds."),
    experiment: str = typer.Option(None, "--experiment", "-e", help="Default: the file name."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Execute a notebook headless as one run; exit 1 if a cell failed.

    Example: shipyard notebook run train.ipynb -p C=0.5 --register churn
    """
    from shipyard.pipelines.notebook import run_notebook

    result = run_notebook(
        path,
        parse_params(param),
        register=register_as,
        timeout=timeout,
        experiment=experiment,
        workspace=workspace_from(ctx),
    )
    if as_json:
        print_json(result.to_dict())
    else:
        console.print(
            f"Notebook run {result.run_id}: [bold]{result.status}[/]"
            + (f" — {result.error}" if result.error else "")
        )
    _exit_for(result.status)


@schedules_app.command("add")
def schedules_add(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="A name for the schedule."),
    cron: str = typer.Option(..., "--cron", help="Five-field cron, e.g. '0 3 * * 1'."),
    timezone: str = typer.Option("UTC", "--timezone", help="IANA zone, e.g. Europe/Madrid."),
    pipeline: str = typer.Option(..., "--pipeline", help="FILE.py:FUNCTION to run."),
    param: list[str] = PARAM_OPTION,
    executor: str = EXECUTOR_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Schedule a pipeline on a cron expression in a timezone.

    Example: shipyard schedules add nightly --cron "0 3 * * 1" --timezone Europe/Madrid
    --pipeline train.py:train -p lr=0.1
    """
    from shipyard.pipelines.schedules import add_schedule

    info = add_schedule(
        name,
        cron,
        timezone,
        pipeline,
        parse_params(param),
        executor=executor,
        workspace=workspace_from(ctx),
    )
    if as_json:
        print_json(info.to_dict())
    else:
        console.print(f"Schedule {info.name}: next run {format_value(info.next_run_at)} UTC")


@schedules_app.command("list")
def schedules_list(ctx: typer.Context, as_json: bool = JSON_OPTION) -> None:
    """List schedules with their next and last runs.

    Example: shipyard schedules list --json
    """
    from shipyard.pipelines.schedules import list_schedules

    found = list_schedules(workspace=workspace_from(ctx))
    if as_json:
        print_json([s.to_dict() for s in found])
        return
    table(
        "Schedules",
        ["name", "cron", "timezone", "pipeline", "paused", "next (UTC)", "last run"],
        [
            (s.name, s.cron, s.timezone, s.ref, s.paused, s.next_run_at, s.last_run_id)
            for s in found
        ],
    )


@schedules_app.command("pause")
def schedules_pause(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="The schedule."),
    resume: bool = typer.Option(False, "--resume", help="Un-pause instead."),
) -> None:
    """Pause a schedule (or resume it with --resume).

    Example: shipyard schedules pause nightly
    """
    from shipyard.pipelines.schedules import pause_schedule

    info = pause_schedule(name, not resume, workspace=workspace_from(ctx))
    console.print(f"Schedule {info.name}: {'paused' if info.paused else 'active'}")


@schedules_app.command("remove")
def schedules_remove(
    ctx: typer.Context, name: str = typer.Argument(..., help="The schedule.")
) -> None:
    """Delete a schedule (its past runs stay).

    Example: shipyard schedules remove nightly
    """
    from shipyard.pipelines.schedules import remove_schedule

    remove_schedule(name, workspace=workspace_from(ctx))
    console.print(f"Schedule {name} removed.")


def scheduler(
    ctx: typer.Context,
    once: bool = typer.Option(False, "--once", help="Run what is due now, then exit."),
    tick: float = typer.Option(30.0, "--tick", help="Seconds between checks."),
) -> None:
    """Run due schedules; only one scheduler runs per store (a lock in the store).

    Example: shipyard scheduler --once
    """
    from shipyard.pipelines.schedules import run_scheduler

    started = run_scheduler(tick=tick, once=once, workspace=workspace_from(ctx))
    console.print(f"Started {len(started)} run(s): {', '.join(started) or '-'}")


def register(app: typer.Typer) -> None:
    app.add_typer(pipeline_app, name="pipeline")
    app.add_typer(notebook_app, name="notebook")
    app.add_typer(schedules_app, name="schedules")
    app.command("scheduler")(scheduler)

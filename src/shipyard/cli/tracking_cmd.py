"""``shipyard experiments …`` and ``shipyard runs …``."""

from __future__ import annotations

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
from shipyard.remote import get_run, list_artifacts, list_experiments, search_runs
from shipyard.tracking.records import RunRecord

experiments_app = typer.Typer(help="Experiments: named groups of runs.", no_args_is_help=True)
runs_app = typer.Typer(
    help="Runs: params, metrics, artifacts and provenance.", no_args_is_help=True
)


@experiments_app.command("list")
def experiments_list(ctx: typer.Context, as_json: bool = JSON_OPTION) -> None:
    """List experiments with their number of runs.

    Example: shipyard experiments list --json
    """
    found = list_experiments(workspace=workspace_from(ctx))
    if as_json:
        print_json([vars(e) for e in found])
        return
    table(
        "Experiments",
        ["id", "name", "runs", "created"],
        [(e.id, e.name, e.run_count, e.created_at) for e in found],
    )


@runs_app.command("list")
def runs_list(
    ctx: typer.Context,
    experiment: list[str] = typer.Option(
        None, "--experiment", "-e", help="Only these experiments."
    ),
    filter_text: str = typer.Option("", "--filter", "-f", help='e.g. "metrics.auc > 0.9".'),
    order_by: list[str] = typer.Option(None, "--order-by", "-o", help="e.g. 'metrics.auc desc'."),
    limit: int = typer.Option(50, "--limit", "-n", help="Show at most this many runs."),
    as_json: bool = JSON_OPTION,
) -> None:
    """List runs, newest first, optionally filtered and ordered.

    Example: shipyard runs list -e churn -f "metrics.auc > 0.9 and params.model = 'lr'"
    """
    runs = search_runs(
        experiment or None,
        filter=filter_text,
        order_by=order_by or None,
        max_results=limit,
        workspace=workspace_from(ctx),
    )
    if as_json:
        print_json([r.to_dict() for r in runs])
        return
    metric_names = sorted({k for r in runs for k in r.metrics})[:6]
    table(
        f"Runs ({len(runs)})",
        ["id", "experiment", "name", "status", "started", "duration s", *metric_names],
        [
            (
                r.id[:12],
                r.experiment,
                r.name,
                r.status,
                r.start_time,
                r.duration_seconds,
                *(r.metrics.get(m) for m in metric_names),
            )
            for r in runs
        ],
    )


@runs_app.command("show")
def runs_show(
    ctx: typer.Context,
    run_id: str = typer.Argument(..., help="Run id or a unique prefix (4+ characters)."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Show one run: attributes, params, latest metrics, tags and artifacts.

    Example: shipyard runs show 3fa2
    """
    workspace = workspace_from(ctx)
    run = get_run(run_id, workspace=workspace)
    artifacts = list_artifacts(run.id, workspace=workspace)
    if as_json:
        data = run.to_dict()
        data["artifacts"] = {p: {"sha256": s, "size": n} for p, (s, n) in artifacts.items()}
        print_json(data)
        return
    _print_run(run)
    if artifacts:
        table(
            "Artifacts",
            ["path", "sha256", "bytes"],
            [(p, s[:16], n) for p, (s, n) in artifacts.items()],
        )


def _print_run(run: RunRecord) -> None:
    rows = [
        ("id", run.id),
        ("experiment", run.experiment),
        ("name", run.name),
        ("status", run.status),
        ("started", run.start_time),
        ("ended", run.end_time),
        ("duration s", run.duration_seconds),
        ("user", run.user),
        ("git commit", run.git_commit),
        ("git dirty", run.git_dirty),
        ("entry point", run.entry_point),
        ("environment", run.environment_id),
    ]
    table(f"Run {run.id}", ["attribute", "value"], rows)
    for title, values in (
        ("Params", run.params),
        ("Metrics (latest)", run.metrics),
        ("Tags", run.tags),
    ):
        if values:
            table(title, ["key", "value"], sorted(values.items()))
    if run.error:
        console.print("[bold red]Error[/]")
        console.print(run.error, markup=False)


@runs_app.command("compare")
def runs_compare(
    ctx: typer.Context,
    run_ids: list[str] = typer.Argument(..., help="Two or more run ids (or unique prefixes)."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Compare runs side by side: params and latest metrics, differences marked with *.

    Example: shipyard runs compare 3fa2 9c1e
    """
    if len(run_ids) < 2:
        raise InvalidInput("Give at least two run ids to compare.", field="run_ids")
    workspace = workspace_from(ctx)
    runs = [get_run(r, workspace=workspace) for r in run_ids]
    if as_json:
        print_json([r.to_dict() for r in runs])
        return
    rows = []
    for section, attribute in (("param", "params"), ("metric", "metrics")):
        keys = sorted({k for r in runs for k in getattr(r, attribute)})
        for key in keys:
            values = [getattr(r, attribute).get(key) for r in runs]
            differs = len({format_value(v) for v in values}) > 1
            rows.append((("* " if differs else "  ") + f"{section}s.{key}", *values))
    table("Compare", ["", *(r.id[:12] for r in runs)], rows)


def register(app: typer.Typer) -> None:
    app.add_typer(experiments_app, name="experiments")
    app.add_typer(runs_app, name="runs")

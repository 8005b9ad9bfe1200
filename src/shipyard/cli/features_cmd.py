"""``shipyard features …``: apply definitions, list/show them, materialize, check skew."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from shipyard.cli.output import JSON_OPTION, console, print_json, table, workspace_from

# The feature store (and pandas under it) loads when a features command runs, so that
# every other command, `shipyard serve` included, starts without it.
if TYPE_CHECKING:
    from shipyard.features.materialize import MaterializeResult
    from shipyard.features.registry import Plan

features_app = typer.Typer(
    help="Feature store: definitions, point-in-time training data, online serving.",
    no_args_is_help=True,
)


def _print_plan(plan: Plan) -> None:
    if plan.empty:
        console.print("No changes: the registry already matches the definitions.")
        return
    rows: list[tuple[str, str, str]] = [("+ add", k, n) for k, n in plan.added]
    rows += [(f"~ change ({', '.join(f)})", k, n) for (k, n), f in plan.changed.items()]
    rows += [("- remove", k, n) for k, n in plan.removed]
    table("Plan", ["action", "kind", "name"], rows)


@features_app.command("apply")
def apply_cmd(
    ctx: typer.Context,
    path: Path = typer.Argument(
        None, help="A .py file or folder (default: features.py or features/)."
    ),
    yes: bool = typer.Option(False, "--yes", "-y", help="Apply without asking."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Only show the plan."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Register the definitions in PATH: show the plan (added/changed/removed), then apply.

    Example: shipyard features apply features.py --yes
    """
    from shipyard.features import apply as apply_definitions

    workspace = workspace_from(ctx)
    plan = apply_definitions(path, dry_run=True, workspace=workspace)
    if not as_json:
        _print_plan(plan)
    if not (plan.empty or dry_run) and (yes or typer.confirm("Apply this plan?", default=False)):
        plan = apply_definitions(path, workspace=workspace)
        if not as_json:
            versions = ", ".join(f"{k} v{v}" for k, v in plan.versions.items())
            console.print(f"Applied: {versions}")
    if as_json:
        print_json(plan.to_dict())


@features_app.command("list")
def list_cmd(ctx: typer.Context, as_json: bool = JSON_OPTION) -> None:
    """List applied entities, feature views (with versions) and feature services.

    Example: shipyard features list --json
    """
    from shipyard.features import registry

    defs = registry(workspace_from(ctx)).current()
    rows: list[dict[str, Any]] = []
    for name, spec in sorted((n, s) for (k, n), s in defs.specs.items() if k == "feature_view"):
        rows.append(
            {
                "name": name,
                "kind": spec["kind"],
                "version": defs.versions[name],
                "entity": spec.get("entity", {}).get("name", ""),
                "features": list(spec["features"]),
                "lookback_seconds": spec.get("lookback_seconds"),
                "online_ttl_seconds": spec.get("online_ttl_seconds"),
            }
        )
    if as_json:
        print_json(
            {
                "feature_views": rows,
                "entities": {n: list(e.join_keys) for n, e in defs.entities.items()},
                "services": {n: s.refs for n, s in defs.services.items()},
            }
        )
        return
    table(
        "Feature views",
        ["name", "kind", "version", "entity", "features", "lookback s", "online ttl s"],
        [(*list(r.values())[:4], ", ".join(r["features"]), *list(r.values())[5:]) for r in rows],
    )
    table(
        "Entities",
        ["name", "join keys"],
        [(n, ", ".join(e.join_keys)) for n, e in defs.entities.items()],
    )
    table(
        "Feature services",
        ["name", "features"],
        [(n, ", ".join(s.refs)) for n, s in defs.services.items()],
    )


@features_app.command("show")
def show_cmd(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="A feature view, entity or feature service name."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Show one definition: its current spec, every version, and its online watermark.

    Example: shipyard features show customer_spend
    """
    from shipyard.features import registry
    from shipyard.features.materialize import watermark
    from shipyard.features.registry import list_versions

    workspace = workspace_from(ctx)
    defs = registry(workspace).current()
    kinds = [k for k in ("feature_view", "entity", "feature_service") if (k, name) in defs.specs]
    if not kinds:
        defs.view(name)  # raises NotFound with the applied names
    kind = kinds[0]
    versions = list_versions(kind, name, workspace)
    mark = watermark(name, defs.versions[name], workspace) if name in defs.versions else None
    data: dict[str, Any] = {
        "kind": kind,
        "name": name,
        "spec": defs.specs[(kind, name)],
        "watermark": mark,
    }
    data["versions"] = [{k: v for k, v in r.items() if k != "spec"} for r in versions]
    if as_json:
        print_json(data)
        return
    spec = data["spec"]
    table(
        f"{kind} {name}", ["field", "value"], [(k, v) for k, v in spec.items() if k != "transform"]
    )
    if spec.get("transform"):
        console.print("[bold]transform[/]")
        console.print(spec["transform"]["code"], markup=False)
    table(
        "Versions",
        ["version", "hash", "created"],
        [(r["version"], r["hash"][:16], r["created_at"]) for r in versions],
    )
    console.print(f"online watermark: {mark or '-'}")


def _materialized(result: MaterializeResult, as_json: bool) -> None:
    if as_json:
        print_json(result.to_dict())
        return
    console.print(
        f"Materialized {result.view} v{result.version}: {result.rows} entities "
        f"({result.stored} stored as newer) from {result.start or 'the beginning'} to {result.end}."
    )


def _progress() -> Progress:
    return Progress(
        SpinnerColumn(),
        TextColumn("{task.description} {task.completed} rows"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    )


@features_app.command("materialize")
def materialize_cmd(
    ctx: typer.Context,
    view: str = typer.Argument(..., help="Feature view name."),
    start: str = typer.Option(None, "--start", help="ISO 8601 start (default: all history)."),
    end: str = typer.Option(None, "--end", help="ISO 8601 end (default: now). Naive is UTC."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Write the latest value per entity in [start, end] into the online store.

    Example: shipyard features materialize customer_spend --start 2024-05-01 --end 2024-06-01
    """
    from shipyard.features import materialize

    workspace = workspace_from(ctx)
    with _progress() as bar:
        task = bar.add_task(f"materializing {view}", total=None)
        result = materialize(
            view, start, end, progress=lambda n: bar.advance(task, n), workspace=workspace
        )
    _materialized(result, as_json)


@features_app.command("materialize-incremental")
def materialize_incremental_cmd(
    ctx: typer.Context,
    view: str = typer.Argument(..., help="Feature view name."),
    end: str = typer.Option(None, "--end", help="ISO 8601 end (default: now)."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Materialize from the last watermark of the view's version up to now.

    Example: shipyard features materialize-incremental customer_spend
    """
    from shipyard.features import materialize_incremental

    workspace = workspace_from(ctx)
    with _progress() as bar:
        task = bar.add_task(f"materializing {view}", total=None)
        result = materialize_incremental(
            view, end, progress=lambda n: bar.advance(task, n), workspace=workspace
        )
    _materialized(result, as_json)


@features_app.command("skew")
def skew_cmd(
    ctx: typer.Context,
    view: str = typer.Argument(..., help="Feature view name."),
    sample: int = typer.Option(1000, "--sample", help="How many entities to check."),
    threshold: float = typer.Option(0.01, "--threshold", help="Highest mismatch rate that passes."),
    seed: int = typer.Option(0, "--seed", help="Seed of the entity sample."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Compare online values with their offline recomputation; exit 1 above the threshold.

    Example: shipyard features skew customer_spend --sample 1000 --threshold 0.01
    """
    from shipyard.features.skew import check_skew

    report = check_skew(view, sample, threshold=threshold, seed=seed, workspace=workspace_from(ctx))
    if as_json:
        print_json(report.to_dict())
    else:
        table(
            f"Skew of {view} v{report.version} ({report.sampled} entities, as of {report.as_of})",
            ["feature", "mismatches", "rate", "example"],
            [
                (name, f["mismatches"], f["rate"], f["examples"][0] if f["examples"] else "")
                for name, f in report.features.items()
            ],
        )
        verdict = "[green]passed[/]" if report.passed else "[bold red]FAILED[/]"
        console.print(f"{verdict}: worst rate {report.worst_rate:.4f}, threshold {threshold}")
    if not report.passed:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.add_typer(features_app, name="features")

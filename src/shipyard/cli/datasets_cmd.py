"""``shipyard datasets …``: add, list, show, diff and validate dataset snapshots.

The data layer (Arrow, NumPy) is imported inside the commands, so that other
``shipyard`` commands start without loading it.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from shipyard.cli.output import JSON_OPTION, console, print_json, table, workspace_from
from shipyard.errors import NotFound, ValidationFailed
from shipyard.workspace import Workspace

if TYPE_CHECKING:
    from shipyard.data.diff import SnapshotDiff

datasets_app = typer.Typer(
    help="Datasets: immutable, content-hashed snapshots with schemas and profiles.",
    no_args_is_help=True,
)


@datasets_app.command("add")
def datasets_add(
    ctx: typer.Context,
    file: Path = typer.Argument(..., help="A Parquet or CSV file."),
    name: str = typer.Option(..., "--name", "-n", help="Dataset name, e.g. customers."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Snapshot a file as the next version of a dataset (same content: same version).

    Example: shipyard datasets add data/customers.parquet --name customers
    """
    from shipyard import data as datasets

    workspace = workspace_from(ctx)
    before = _known_refs(workspace, name)
    with console.status(f"Snapshotting {file}…"):
        snapshot = datasets.add(file, name, workspace=workspace)
    if as_json:
        print_json({**snapshot.to_dict(), "new": snapshot.ref not in before})
        return
    state = "unchanged: same content as" if snapshot.ref in before else "added"
    console.print(
        f"{state} [bold]{snapshot.ref}[/] ({snapshot.row_count} rows, "
        f"hash {snapshot.content_hash[:16]})"
    )


def _known_refs(workspace: Workspace, name: str) -> set[str]:
    from shipyard import data as datasets

    try:
        return {s.ref for s in datasets.list(name, workspace=workspace)}
    except NotFound:
        return set()


@datasets_app.command("list")
def datasets_list(
    ctx: typer.Context,
    name: str = typer.Argument(None, help="Show every version of this dataset."),
    as_json: bool = JSON_OPTION,
) -> None:
    """List datasets (latest version of each), or every version of one dataset.

    Example: shipyard datasets list customers --json
    """
    from shipyard import data as datasets

    found = datasets.list(name, workspace=workspace_from(ctx))
    if as_json:
        print_json([s.to_dict() for s in found])
        return
    title = f"Versions of {name}" if name else "Datasets (latest version)"
    table(
        title,
        ["ref", "rows", "columns", "bytes", "hash", "run", "created"],
        [
            (
                s.ref,
                s.row_count,
                len(s.columns),
                s.byte_size,
                s.content_hash[:16],
                (s.run_id or "")[:12],
                s.created_at,
            )
            for s in found
        ],
    )


@datasets_app.command("show")
def datasets_show(
    ctx: typer.Context,
    ref: str = typer.Argument(..., help="NAME (latest), NAME/v3 or NAME/3."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Show one snapshot: attributes, schema and reference profile.

    Example: shipyard datasets show customers/v2
    """
    from shipyard import data as datasets
    from shipyard.data.profiles import CategoricalProfile, NumericProfile

    snapshot = datasets.get(ref, workspace=workspace_from(ctx))
    if as_json:
        print_json({**snapshot.to_dict(), "profile": snapshot.profile.to_dict()})
        return
    table(
        f"Snapshot {snapshot.ref}",
        ["attribute", "value"],
        [
            ("content hash", snapshot.content_hash),
            ("rows", snapshot.row_count),
            ("bytes", snapshot.byte_size),
            ("source", snapshot.source),
            ("run", snapshot.run_id),
            ("user", snapshot.user),
            ("created", snapshot.created_at),
        ],
    )
    numeric, categorical = [], []
    for column in snapshot.profile.columns.values():
        if isinstance(column, NumericProfile):
            numeric.append(
                (
                    column.name,
                    column.type,
                    column.count,
                    column.nulls,
                    column.mean,
                    column.std,
                    column.min,
                    column.quantiles.get(0.5),
                    column.max,
                )
            )
        elif isinstance(column, CategoricalProfile):
            top = ", ".join(f"{v}={c}" for v, c in column.top[:5])
            categorical.append(
                (
                    column.name,
                    column.type,
                    column.count,
                    column.nulls,
                    column.distinct,
                    top,
                    column.other,
                )
            )
    if numeric:
        table(
            "Numeric columns",
            ["column", "type", "count", "nulls", "mean", "std", "min", "median", "max"],
            numeric,
        )
    if categorical:
        table(
            "Categorical columns",
            ["column", "type", "count", "nulls", "distinct", "top values", "other"],
            categorical,
        )


@datasets_app.command("diff")
def datasets_diff(
    ctx: typer.Context,
    a: str = typer.Argument(..., help="NAME (previous vs latest) or NAME/vA (vA vs latest)."),
    b: str = typer.Argument(None, help="vB, B or OTHER/vB to compare with instead of latest."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Compare two snapshots: schema changes, row counts and column statistics.

    Example: shipyard datasets diff customers/v1 v3
    """
    from shipyard import data as datasets

    result = datasets.diff(a, b, workspace=workspace_from(ctx))
    if as_json:
        print_json(result.to_dict())
        return
    _print_diff(result)


def _print_diff(result: SnapshotDiff) -> None:
    same = " (same content)" if result.same_content else ""
    console.print(
        f"[bold]{result.a}[/] → [bold]{result.b}[/]{same}: rows {result.rows_a} → {result.rows_b}"
    )
    if result.schema_changes:
        table(
            "Schema changes",
            ["column", "change", result.a, result.b],
            [(c.column, c.change, c.a, c.b) for c in result.schema_changes],
        )
    if result.stat_changes:
        table(
            "Statistic changes",
            ["column", "statistic", result.a, result.b, "delta"],
            [(c.column, c.stat, c.a, c.b, c.delta) for c in result.stat_changes],
        )


@datasets_app.command("validate")
def datasets_validate(
    ctx: typer.Context,
    file: Path = typer.Argument(..., help="A Parquet or CSV file to check."),
    schema: str = typer.Option(
        ...,
        "--schema",
        "-s",
        help="A schema file (.toml/.json), or the NAME of [datasets.schemas.NAME] in "
        "shipyard.toml.",
    ),
    as_json: bool = JSON_OPTION,
) -> None:
    """Check a file against a declared schema; exit code 1 when a check fails.

    Example: shipyard datasets validate new.csv --schema schema.toml
    """
    from shipyard import data as datasets
    from shipyard.data.schemas import Schema

    workspace = workspace_from(ctx)
    declared = (
        Schema.load(schema)
        if schema.endswith((".toml", ".json")) or Path(schema).exists()
        else Schema.from_config(schema, workspace)
    )
    report = datasets.validate(file, declared, workspace=workspace)
    if as_json:
        print_json(report.to_dict())
    else:
        console.print(report.to_table())
    if not report.ok:
        raise ValidationFailed(report.summary(), report=report)


def register(app: typer.Typer) -> None:
    app.add_typer(datasets_app, name="datasets")

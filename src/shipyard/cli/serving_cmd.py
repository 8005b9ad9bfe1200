"""``shipyard deployments …``, ``shipyard serve`` and ``shipyard predictions …``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import typer

from shipyard.cli.output import JSON_OPTION, console, print_json, table, workspace_from
from shipyard.errors import InvalidInput
from shipyard.serving.batching import BatchingConfig
from shipyard.serving.cache import DEFAULT_CACHE_ENTRIES, DEFAULT_CACHE_TTL_SECONDS, CacheConfig
from shipyard.serving.deployments import (
    create_deployment,
    delete_deployment,
    get_deployment,
    list_deployments,
    update_deployment,
)
from shipyard.serving.predlog import query
from shipyard.serving.spec import DEFAULT_WARM_SECONDS, DeploymentSpec

deployments_app = typer.Typer(
    help="Deployments: named endpoints bound to a model (production, canary, shadow).",
    no_args_is_help=True,
)
predictions_app = typer.Typer(
    help="The prediction log of a deployment (Parquet, queried with DuckDB).",
    no_args_is_help=True,
)

CANARY = typer.Option(None, "--canary-percent", help="Share of traffic (0-100) for the canary.")
SHADOW = typer.Option(None, "--shadow", help="Mirror traffic to this model ref (churn@staging).")
BATCH = typer.Option(None, "--max-batch-size", help="Rows per model call (default 64).")
WAIT = typer.Option(None, "--max-wait-ms", help="Longest wait to fill a batch (default 2).")
QUEUE = typer.Option(None, "--max-queue", help="Queued requests before 503 (default 2048).")
BATCHING = typer.Option(None, "--batching/--no-batching", help="Micro-batching on or off.")
LOG = typer.Option(None, "--log/--no-log", help="Log every prediction (default on).")
WARM = typer.Option(None, "--warm-seconds", help="Keep replaced versions loaded this long.")
SERVICE_HELP = "Feature service to look up (requests then send entity keys only)."
CACHE_HELP = "Inference cache: off, memory (LRU per process) or redis (shared)."
CACHE_SIZE_HELP = "Rows the memory cache keeps."
CACHE_TTL_HELP = "Seconds a cached answer lives (0 = no expiry)."
CACHE_URL_HELP = "Redis URL of a redis cache (default: the online store's Redis)."


@deployments_app.command("create")
def deployments_create(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="Deployment name, e.g. churn-api."),
    model: str = typer.Option(..., "--model", "-m", help="Registered model name."),
    canary_percent: float = typer.Option(0.0, "--canary-percent", help="Canary share, 0-100."),
    shadow: str = SHADOW,
    max_batch_size: int = typer.Option(64, "--max-batch-size", help="Rows per model call."),
    max_wait_ms: float = typer.Option(2.0, "--max-wait-ms", help="Longest wait to fill a batch."),
    max_queue: int = typer.Option(2048, "--max-queue", help="Queued requests before 503."),
    batching: bool = typer.Option(True, "--batching/--no-batching", help="Micro-batching."),
    log: bool = typer.Option(True, "--log/--no-log", help="Log every prediction."),
    warm_seconds: float = typer.Option(
        DEFAULT_WARM_SECONDS, "--warm-seconds", help="Keep replaced versions loaded this long."
    ),
    feature_service: str = typer.Option(None, "--feature-service", help=SERVICE_HELP),
    cache: str = typer.Option("off", "--cache", help=CACHE_HELP),
    cache_size: int = typer.Option(DEFAULT_CACHE_ENTRIES, "--cache-size", help=CACHE_SIZE_HELP),
    cache_ttl: float = typer.Option(
        DEFAULT_CACHE_TTL_SECONDS, "--cache-ttl-seconds", help=CACHE_TTL_HELP
    ),
    cache_url: str = typer.Option(None, "--cache-url", help=CACHE_URL_HELP),
    as_json: bool = JSON_OPTION,
) -> None:
    """Create a deployment that serves MODEL's production version.

    Example: shipyard deployments create churn-api --model churn --canary-percent 5
    --feature-service churn_model --cache memory
    """
    with workspace_from(ctx) as workspace:
        spec = create_deployment(
            name,
            model,
            canary_percent=canary_percent,
            shadow=shadow,
            batching=BatchingConfig(batching, max_batch_size, max_wait_ms, max_queue),
            log_predictions=log,
            warm_seconds=warm_seconds,
            feature_service=feature_service,
            cache=CacheConfig(cache, cache_size, cache_ttl, cache_url),
            workspace=workspace,
        )
    _show(spec, as_json)


@deployments_app.command("list")
def deployments_list(ctx: typer.Context, as_json: bool = JSON_OPTION) -> None:
    """List deployments.

    Example: shipyard deployments list --json
    """
    with workspace_from(ctx) as workspace:
        found = list_deployments(workspace=workspace)
    if as_json:
        print_json([d.to_dict() for d in found])
        return
    table(
        f"Deployments ({len(found)})",
        ["name", "model", "canary %", "shadow", "features", "batching", "cache", "log", "updated"],
        [
            (
                d.name,
                d.model,
                d.canary_percent,
                d.shadow,
                d.feature_service,
                _batching(d),
                d.cache.mode,
                "on" if d.log_predictions else "off",
                d.updated_at,
            )
            for d in found
        ],
    )


@deployments_app.command("show")
def deployments_show(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="Deployment name."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Show one deployment.

    Example: shipyard deployments show churn-api
    """
    with workspace_from(ctx) as workspace:
        spec = get_deployment(name, workspace=workspace)
    _show(spec, as_json)


@deployments_app.command("update")
def deployments_update(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="Deployment name."),
    canary_percent: float = CANARY,
    shadow: str = typer.Option(None, "--shadow", help="Shadow model ref; '' removes it."),
    max_batch_size: int = BATCH,
    max_wait_ms: float = WAIT,
    max_queue: int = QUEUE,
    batching: bool = BATCHING,
    log: bool = LOG,
    warm_seconds: float = WARM,
    feature_service: str = typer.Option(
        None, "--feature-service", help=f"{SERVICE_HELP} '' removes it."
    ),
    cache: str = typer.Option(None, "--cache", help=CACHE_HELP),
    cache_size: int = typer.Option(None, "--cache-size", help=CACHE_SIZE_HELP),
    cache_ttl: float = typer.Option(None, "--cache-ttl-seconds", help=CACHE_TTL_HELP),
    cache_url: str = typer.Option(None, "--cache-url", help=f"{CACHE_URL_HELP} '' removes it."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Change a deployment's canary share, shadow, batching, logging, features or cache.

    Example: shipyard deployments update churn-api --canary-percent 20 --shadow '' --cache redis
    """
    with workspace_from(ctx) as workspace:
        spec = update_deployment(
            name,
            canary_percent=canary_percent,
            shadow=shadow,
            max_batch_size=max_batch_size,
            max_wait_ms=max_wait_ms,
            max_queue=max_queue,
            enabled=batching,
            log_predictions=log,
            warm_seconds=warm_seconds,
            feature_service=feature_service,
            cache=cache,
            cache_size=cache_size,
            cache_ttl_seconds=cache_ttl,
            cache_url=cache_url,
            workspace=workspace,
        )
    _show(spec, as_json)


@deployments_app.command("delete")
def deployments_delete(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="Deployment name."),
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation."),
) -> None:
    """Delete a deployment (its logged predictions stay on disk).

    Example: shipyard deployments delete churn-api --yes
    """
    with workspace_from(ctx) as workspace:
        get_deployment(name, workspace=workspace)
        if not yes and not typer.confirm(f"Delete deployment '{name}'?"):
            raise typer.Exit(1)
        delete_deployment(name, workspace=workspace)
    console.print(f"Deleted deployment '{name}'.")


def _batching(spec: DeploymentSpec) -> str:
    b = spec.batching
    return f"{b.max_batch_size} rows / {b.max_wait_ms:g} ms" if b.enabled else "off"


def _show(spec: DeploymentSpec, as_json: bool) -> None:
    if as_json:
        print_json(spec.to_dict())
        return
    data = spec.to_dict()
    batching, cache = data.pop("batching"), data.pop("cache")
    rows = [(k, v) for k, v in data.items()] + [(f"batching.{k}", v) for k, v in batching.items()]
    rows += [(f"cache.{k}", v) for k, v in cache.items()]
    table(f"Deployment {spec.name}", ["field", "value"], rows)


def serve_command(
    ctx: typer.Context,
    target: str = typer.Argument(..., help="Deployment name, or a model ref (churn@production)."),
    host: str = typer.Option("127.0.0.1", "--host", help="Interface to listen on."),
    port: int = typer.Option(8080, "--port", "-p", help="Port to listen on."),
    workers: int = typer.Option(1, "--workers", "-w", help="Worker processes."),
    log: bool = LOG,
) -> None:
    """Run the prediction server (REST + Open Inference Protocol V2) for a deployment.

    Example: shipyard serve churn-api --port 8080 --workers 2
    """
    from shipyard.serving.server import serve

    root = ctx.find_root()
    overrides = {k: v for k, v in (root.obj or {}).items() if v is not None}
    console.print(f"Serving {target} on http://{host}:{port} (Ctrl+C stops and flushes the log)")
    serve(target, host=host, port=port, workers=workers, overrides=overrides, log_predictions=log)


def _since(text: str) -> datetime:
    units = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}
    if text and text[-1] in units and text[:-1].isdigit():
        return datetime.now(UTC) - timedelta(**{units[text[-1]]: int(text[:-1])})
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as exc:
        raise InvalidInput(
            f"--since {text!r} is neither a duration (30m, 2h, 7d) nor an ISO time "
            "(2026-11-22T10:00).",
            field="since",
        ) from exc
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _print_frame(frame: Any, as_json: bool, title: str) -> None:
    records = frame.to_dict("records")
    if as_json:
        print_json(records)
        return
    columns = list(frame.columns)
    table(title, columns, [[r[c] for c in columns] for r in records])


@predictions_app.command("tail")
def predictions_tail(
    ctx: typer.Context,
    deployment: str = typer.Argument(..., help="Deployment name."),
    limit: int = typer.Option(20, "--limit", "-n", help="How many of the newest predictions."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Show the newest logged predictions of a deployment.

    Example: shipyard predictions tail churn-api -n 5
    """
    with workspace_from(ctx) as workspace:
        frame = query(deployment, limit=limit, workspace=workspace)
    shown = ["timestamp", "prediction_id", "model_version", "route", "latency_ms", "outputs"]
    _print_frame(frame[shown] if not as_json else frame, as_json, f"Predictions of {deployment}")


@predictions_app.command("query")
def predictions_query(
    ctx: typer.Context,
    deployment: str = typer.Argument(..., help="Deployment name."),
    sql: str = typer.Option(None, "--sql", help="SQL over the view 'predictions'."),
    since: str = typer.Option(None, "--since", help="Window start: 30m, 2h, 7d or ISO time."),
    until: str = typer.Option(None, "--until", help="Window end (ISO time)."),
    limit: int = typer.Option(100, "--limit", "-n", help="Rows when no --sql is given."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Query a deployment's prediction log with DuckDB SQL.

    Example: shipyard predictions query api --since 1h --sql "SELECT count(*) FROM predictions"
    """
    with workspace_from(ctx) as workspace:
        frame = query(
            deployment,
            start=_since(since) if since else None,
            end=_since(until) if until else None,
            sql=sql,
            limit=None if sql else limit,
            workspace=workspace,
        )
    _print_frame(frame, as_json, f"Predictions of {deployment}")


def register(app: typer.Typer) -> None:
    app.add_typer(deployments_app, name="deployments")
    app.add_typer(predictions_app, name="predictions")
    app.command("serve")(serve_command)

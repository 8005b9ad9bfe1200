"""``shipyard monitor …``, ``shipyard labels …`` and ``shipyard alerts …``."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import typer

from shipyard.cli.output import JSON_OPTION, console, print_json, table, workspace_from
from shipyard.errors import InvalidInput

monitor_app = typer.Typer(
    help="Monitor deployments: drift, prediction drift, quality and performance.",
    no_args_is_help=True,
)
labels_app = typer.Typer(
    help="Ground truth: labels joined to logged predictions.", no_args_is_help=True
)
alerts_app = typer.Typer(help="Alerts fired by monitor runs.", no_args_is_help=True)

WINDOW = typer.Option(None, "--window", "-w", help="How far back from --to: 30m, 6h, 1d, 2w.")
FROM = typer.Option(None, "--from", help="Window start (ISO 8601, UTC unless a zone is given).")
TO = typer.Option(None, "--to", help="Window end (ISO 8601; default now).")


def _when(text: str | None, field: str) -> datetime | None:
    if text is None:
        return None
    try:
        return datetime.fromisoformat(text)
    except ValueError as exc:
        raise InvalidInput(
            f"--{field} must be an ISO 8601 date or time (2025-03-01 or 2025-03-01T12:00), "
            f"got {text!r}.",
            field=field,
        ) from exc


@monitor_app.command("run")
def monitor_run(
    ctx: typer.Context,
    deployment: str = typer.Argument(..., help="The deployment to monitor."),
    window: str = WINDOW,
    start: str = FROM,
    end: str = TO,
    no_report: bool = typer.Option(False, "--no-report", help="Do not write the HTML report."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Compute drift, prediction drift, quality and performance for a window, store them,
    and fire alerts. Exits 1 when an alert rule fired (for cron or the scheduler).

    Example: shipyard monitor run churn-api --window 1d
    """
    from shipyard.monitoring.runs import run_monitor

    result = run_monitor(
        deployment,
        window,
        start=_when(start, "from"),
        end=_when(end, "to"),
        report=not no_report,
        workspace=workspace_from(ctx),
    )
    if as_json:
        print_json(result.to_dict())
    else:
        _print_run(result)
    if result.fired:
        raise typer.Exit(1)


def _print_run(result: object) -> None:
    from shipyard.monitoring.runs import MonitorRun

    assert isinstance(result, MonitorRun)
    colour = {"ok": "green", "alert": "red", "no_data": "yellow"}[result.status]
    console.print(f"[bold {colour}]{result.status}[/]: {result.message}")
    drift = result.summary.get("drift") or {}
    if drift:
        table(
            "Feature drift",
            ["feature", "status", "drift", "psi", "ks", "p-value"],
            [
                (c["column"], c["status"], c["drift"], c["psi"], c["ks_statistic"], c["ks_p_value"])
                for c in drift["columns"]
            ],
        )
    performance = (result.summary.get("performance") or {}).get("rows") or []
    if performance:
        names = [k for k in performance[0] if k not in ("model_version", "route", "bucket")]
        table(
            "Performance",
            ["version", "route", *names],
            [(r["model_version"], r["route"], *(r[n] for n in names)) for r in performance],
        )
    for note in result.summary.get("notes", []):
        console.print(f"note: {note}")
    for alert in result.alerts:
        console.print(f"[bold red]ALERT[/] {alert.summary}  (shipyard alerts show {alert.id[:12]})")
    if result.report_path:
        console.print(f"report: {result.report_path}")


@monitor_app.command("report")
def monitor_report(
    ctx: typer.Context,
    deployment: str = typer.Argument(..., help="The deployment to report on."),
    window: str = WINDOW,
    start: str = FROM,
    end: str = TO,
    output: Path = typer.Option(..., "--output", "-o", help="File to write (report.html)."),
    format: str = typer.Option(None, "--format", help="html or json (default: from -o's suffix)."),
) -> None:
    """Write a self-contained report of a window (nothing is stored, no alert fires).

    Example: shipyard monitor report churn-api --window 7d -o report.html
    """
    from shipyard.monitoring.run_report import write_window_report
    from shipyard.monitoring.runs import report_bucket, window_bounds
    from shipyard.monitoring.window import evaluate_window

    begin, finish = window_bounds(window, _when(start, "from"), _when(end, "to"))
    summary = evaluate_window(
        workspace_from(ctx), deployment, begin, finish, bucket=report_bucket(begin, finish)
    )
    path = write_window_report(summary, output, format=format)
    console.print(f"{summary.message}; report written to {path}")


@monitor_app.command("history")
def monitor_history(
    ctx: typer.Context,
    deployment: str = typer.Argument(..., help="The deployment."),
    limit: int = typer.Option(20, "--limit", "-n", help="Show at most this many runs."),
    as_json: bool = JSON_OPTION,
) -> None:
    """List a deployment's stored monitor runs, newest window first.

    Example: shipyard monitor history churn-api --json
    """
    from shipyard.monitoring.runs import list_results

    found = list_results(deployment, limit=limit, workspace=workspace_from(ctx))
    if as_json:
        print_json([{k: v for k, v in r.to_dict().items() if k != "summary"} for r in found])
        return
    table(
        f"Monitor runs of {deployment}",
        ["id", "window start", "window end", "status", "predictions", "labelled", "version"],
        [
            (r.id[:12], r.start, r.end, r.status, r.n_predictions, r.n_labelled, r.model_version)
            for r in found
        ],
    )


@labels_app.command("ingest")
def labels_ingest(
    ctx: typer.Context,
    file: Path = typer.Argument(..., help="CSV or Parquet: prediction_id (or --key), label, time."),
    deployment: str = typer.Option(..., "--deployment", "-d", help="Whose predictions."),
    key: str = typer.Option(None, "--key", help="Join on this input column instead of ids."),
    label_column: str = typer.Option("label", "--label-column", help="The label column."),
    time_column: str = typer.Option("time", "--time-column", help="When the outcome happened."),
    skip_bad: bool = typer.Option(False, "--skip-bad", help="Keep the good rows of a bad file."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Ingest ground truth (idempotent: the same rows twice are stored once).

    Example: shipyard labels ingest outcomes.csv --deployment churn-api --key customer_id
    """
    from shipyard.monitoring.ground_truth import log_ground_truth

    batch = log_ground_truth(
        deployment,
        file,
        key=key,
        label_column=label_column,
        time_column=time_column,
        skip_bad=skip_bad,
        source=str(file),
        workspace=workspace_from(ctx),
    )
    if as_json:
        print_json(batch.to_dict())
        return
    verb = "already ingested as" if batch.duplicate else "stored as"
    console.print(
        f"{batch.accepted} of {batch.rows} labels {verb} batch {batch.id[:12]} "
        f"(joined by {batch.key})"
    )
    for bad in batch.bad_rows:
        console.print(f"skipped row {bad.row} ({bad.value!r}): {bad.reason}")


@labels_app.command("list")
def labels_list(
    ctx: typer.Context,
    deployment: str = typer.Option(None, "--deployment", "-d", help="Only this deployment."),
    as_json: bool = JSON_OPTION,
) -> None:
    """List ingested label batches, newest first.

    Example: shipyard labels list --deployment churn-api
    """
    from shipyard.monitoring.ground_truth import list_batches

    found = list_batches(deployment, workspace=workspace_from(ctx))
    if as_json:
        print_json([b.to_dict() for b in found])
        return
    table(
        "Label batches",
        ["id", "deployment", "key", "rows", "accepted", "rejected", "created"],
        [
            (b.id[:12], b.deployment, b.key, b.rows, b.accepted, b.rejected, b.created_at)
            for b in found
        ],
    )


@alerts_app.command("list")
def alerts_list(
    ctx: typer.Context,
    deployment: str = typer.Option(None, "--deployment", "-d", help="Only this deployment."),
    status: str = typer.Option(None, "--status", help="open, acked or resolved."),
    limit: int = typer.Option(50, "--limit", "-n", help="Show at most this many."),
    as_json: bool = JSON_OPTION,
) -> None:
    """List alerts, most recent first.

    Example: shipyard alerts list --status open
    """
    from shipyard.monitoring.alerts import list_alerts

    found = list_alerts(deployment, status=status, limit=limit, workspace=workspace_from(ctx))
    if as_json:
        print_json([a.to_dict() for a in found])
        return
    table(
        "Alerts",
        ["id", "deployment", "severity", "status", "rule", "feature", "value", "seen", "last"],
        [
            (a.id[:12], a.deployment, a.severity, a.status, a.rule, a.feature, a.value,
             a.occurrences, a.last_at)
            for a in found
        ],
    )  # fmt: skip


@alerts_app.command("show")
def alerts_show(
    ctx: typer.Context,
    alert_id: str = typer.Argument(..., help="Alert id or a unique prefix (6+ characters)."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Show an alert with its evidence (statistics, window, report).

    Example: shipyard alerts show 3fa2c1d9
    """
    from shipyard.monitoring.alerts import get_alert

    alert = get_alert(alert_id, workspace=workspace_from(ctx))
    if as_json:
        print_json(alert.to_dict())
        return
    console.print(alert.summary)
    console.print(f"id {alert.id}, status {alert.status}, seen {alert.occurrences}×")
    window = alert.evidence.get("window", {})
    console.print(f"window: {window.get('start')} → {window.get('end')}")
    console.print(f"report: {alert.evidence.get('report') or '-'}")
    table(
        "Evidence",
        ["metric", "feature", "version", "route", "value"],
        [
            (p["metric"], p["feature"], p["model_version"], p["route"], p["value"])
            for p in alert.evidence.get("points", [])
        ],
    )
    if alert.acked_by:
        console.print(f"acknowledged by {alert.acked_by} at {alert.acked_at}: {alert.note}")


@alerts_app.command("ack")
def alerts_ack(
    ctx: typer.Context,
    alert_id: str = typer.Argument(..., help="Alert id or a unique prefix."),
    note: str = typer.Option("", "--note", help="Why, or what was done."),
    by: str = typer.Option("", "--by", help="Who acknowledges (default: local user)."),
) -> None:
    """Acknowledge an alert (a later breach opens a new one).

    Example: shipyard alerts ack 3fa2c1d9 --note "retraining requested"
    """
    from shipyard.monitoring.alerts import ack_alert

    alert = ack_alert(alert_id, by=by, note=note, workspace=workspace_from(ctx))
    console.print(f"alert {alert.id[:12]} acknowledged by {alert.acked_by}")


def register(app: typer.Typer) -> None:
    app.add_typer(monitor_app, name="monitor")
    app.add_typer(labels_app, name="labels")
    app.add_typer(alerts_app, name="alerts")

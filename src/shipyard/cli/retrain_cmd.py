"""``shipyard retrain list|show|approve|reject|start|scan``: retrain requests and decisions."""

from __future__ import annotations

from typing import Any

import typer

from shipyard.cli.output import JSON_OPTION, console, print_json, table, workspace_from
from shipyard.cli.pipelines_cmd import PARAM_OPTION, parse_params

retrain_app = typer.Typer(
    help="Retraining: requests from drift, schedules or people; approvals.", no_args_is_help=True
)
REASON_OPTION = typer.Option(..., "--reason", help="Why (kept with the decision).")


def _show(info: Any, as_json: bool) -> None:
    if as_json:
        print_json(info.to_dict())
        return
    console.print(
        f"Retrain request [bold]{info.id}[/] ({info.policy} → model {info.model}): "
        f"[bold]{info.status}[/]"
    )
    console.print(f"trigger: {info.trigger} {info.trigger_ref}")
    window = info.evidence.get("window")
    if window:
        console.print(f"window: {window.get('start')} → {window.get('end')}")
    alert = info.evidence.get("alert")
    if alert:
        console.print(
            f"alert: {alert['metric']} {alert.get('feature') or ''} = {alert['value']} "
            f"({alert['direction']} {alert['threshold']}, {alert['severity']})"
        )
    if info.evidence.get("report_path"):
        console.print(f"report: {info.evidence['report_path']}")
    for d in info.decisions:
        console.print(f"{d.decision} by {d.who} ({d.role}) at {d.at:%Y-%m-%d %H:%M}: {d.reason}")
    if info.run_id:
        console.print(f"run: {info.run_id} (shipyard pipeline show {info.run_id[:8]})")
    if info.model_version:
        console.print(f"candidate: {info.model_version} in {info.stage}")
    if info.comparison:
        rows = [
            (label, s["rows"], s["candidate"], s["production"], s["delta"])
            for label, s in info.comparison.get("sets", {}).items()
        ]
        table(
            f"{info.comparison['metric']}: {info.comparison['candidate']} vs "
            f"{info.comparison.get('production') or 'no production'}",
            ["set", "rows", "candidate", "production", "delta"],
            rows,
        )
    if info.error:
        console.print(f"[red]error:[/] {info.error}")
    if info.status == "pending":
        console.print(f"next: {info.approve_command}")


@retrain_app.command("list")
def retrain_list(
    ctx: typer.Context,
    status: str = typer.Option(None, "--status", help="Only this status (e.g. pending)."),
    model: str = typer.Option(None, "--model", help="Only requests for this model."),
    as_json: bool = JSON_OPTION,
) -> None:
    """List retrain requests, newest first.

    Example: shipyard retrain list --status pending
    """
    from shipyard.pipelines.retrain import list_requests

    found = list_requests(status=status, model=model, workspace=workspace_from(ctx))
    if as_json:
        print_json([r.to_dict() for r in found])
        return
    table(
        None,
        ["id", "policy", "model", "trigger", "status", "candidate", "created"],
        [
            (r.id[:12], r.policy, r.model, r.trigger, r.status, r.model_version, r.created_at)
            for r in found
        ],
    )


@retrain_app.command("show")
def retrain_show(
    ctx: typer.Context,
    request_id: str = typer.Argument(..., help="Request id or prefix."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Show a request: evidence, decisions, run, candidate and its comparison.

    Example: shipyard retrain show 3fa2c1d9
    """
    from shipyard.pipelines.retrain import get_request

    _show(get_request(request_id, workspace=workspace_from(ctx)), as_json)


@retrain_app.command("approve")
def retrain_approve(
    ctx: typer.Context,
    request_id: str = typer.Argument(..., help="Request id or prefix."),
    reason: str = REASON_OPTION,
    no_run: bool = typer.Option(
        False, "--no-run", help="Only approve; the scheduler runs it (`shipyard scheduler`)."
    ),
    as_json: bool = JSON_OPTION,
) -> None:
    """Approve a pending request (approver role), then train its candidate.

    Example: shipyard retrain approve 3fa2c1d9 --reason "drift confirmed on tenure"
    """
    from shipyard.pipelines.retrain import approve

    info = approve(request_id, reason=reason, run=not no_run, workspace=workspace_from(ctx))
    _show(info, as_json)
    if info.status == "failed":
        raise typer.Exit(1)


@retrain_app.command("reject")
def retrain_reject(
    ctx: typer.Context,
    request_id: str = typer.Argument(..., help="Request id or prefix."),
    reason: str = REASON_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Reject a pending request (approver role); it never runs.

    Example: shipyard retrain reject 3fa2c1d9 --reason "seasonal, expected"
    """
    from shipyard.pipelines.retrain import reject

    _show(reject(request_id, reason=reason, workspace=workspace_from(ctx)), as_json)


@retrain_app.command("start")
def retrain_start(
    ctx: typer.Context,
    policy: str = typer.Argument(..., help="The [retrain.NAME] policy."),
    param: list[str] = PARAM_OPTION,
    reason: str = typer.Option("", "--reason", help="Why (an approver's start approves it)."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Ask for a retrain now; an approver's start is approved and runs at once.

    Example: shipyard retrain start churn -p C=0.5 --reason "new labels arrived"
    """
    from shipyard.pipelines.retrain import start

    info = start(policy, params=parse_params(param), reason=reason, workspace=workspace_from(ctx))
    _show(info, as_json)
    if info.status == "failed":
        raise typer.Exit(1)


@retrain_app.command("scan")
def retrain_scan(ctx: typer.Context, as_json: bool = JSON_OPTION) -> None:
    """Turn open drift alerts and due schedule slots into retrain requests.

    Example: shipyard retrain scan
    """
    from shipyard.pipelines.retrain import scan

    made = scan(workspace=workspace_from(ctx))
    if as_json:
        print_json([r.to_dict() for r in made])
        return
    console.print(f"{len(made)} new retrain request(s)")
    for info in made:
        console.print(f"  {info.id} {info.policy} ({info.trigger}): {info.approve_command}")


def register(app: typer.Typer) -> None:
    app.add_typer(retrain_app, name="retrain")

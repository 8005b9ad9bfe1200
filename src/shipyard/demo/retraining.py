"""Demo stage: training as a cached pipeline, then drift alert → retrain request →
approval → a new candidate through the gates into canary.

Production stays where it is: the registry accepts the candidate there only
because a person approved the request, and only when a person promotes it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich.console import Console

from shipyard.errors import GateFailed, PermissionDenied
from shipyard.pipelines import retrain
from shipyard.pipelines.loader import load_pipeline
from shipyard.pipelines.retrain_policies import RetrainPolicy
from shipyard.registry import promote
from shipyard.workspace import Workspace

if TYPE_CHECKING:
    from shipyard.demo.main import DemoResult

MODEL = "breast-cancer"
FLOW = "shipyard.demo.retrain_flow:train"
POLICY = RetrainPolicy(name="breast-cancer-drift", model=MODEL, pipeline=FLOW, mode="drift")


def retraining_stage(workspace: Workspace, result: DemoResult, console: Console) -> None:
    tokens = result.extras.get("tokens", {})
    approver, developer = tokens.get("approver"), tokens.get("developer")
    _pipeline_twice(workspace, console)
    request = _ask(workspace, result, console)
    done = retrain.approve(
        request.id,
        reason="drift confirmed on the large-tumour segment",
        token=approver,
        notify=[],
        workspace=workspace,
    )
    who = done.decisions[0]
    console.print(f"approved by {who.who} ({who.role}): {who.reason}")
    console.print(
        f"request {done.id[:12]}: {done.status}; candidate {done.model_version} is in "
        f"[bold]{done.stage}[/] (pipeline run {(done.run_id or '')[:8]})"
    )
    _comparison(done.comparison or {}, console)
    _production_stays_human(workspace, done, developer, console)
    result.extras["retrain_request"] = done.id
    result.extras["retrain_candidate"] = done.model_version


def _pipeline_twice(workspace: Workspace, console: Console) -> None:
    flow = load_pipeline(FLOW)
    for label in ("first run", "rerun"):
        run = flow.run({}, workspace=workspace, notify=[])
        steps = ", ".join(f"{name} {record.status}" for name, record in run.steps.items())
        console.print(f"pipeline {flow.name} {label}: {run.status} ({steps})")


def _ask(workspace: Workspace, result: DemoResult, console: Console) -> Any:
    made = retrain.requests_from_alerts(POLICY, notify=[], workspace=workspace)
    if not made:  # no monitoring stage ran: hand the drift evidence over directly
        made = [
            retrain.request_retrain(
                POLICY,
                trigger="drift",
                trigger_ref="demo-drift",
                evidence={"statistics": [{"metric": "psi", "feature": "mean radius"}]},
                created_by="demo",
                notify=[],
                workspace=workspace,
            )
        ]
    request = made[0]
    alert = request.evidence.get("alert") or {}
    console.print(
        f"drift → retrain request {request.id[:12]} ({request.status}): "
        f"{alert.get('metric', 'drift')} {alert.get('feature', '')} "
        f"{alert.get('value', '')} on window {request.evidence.get('window') or '-'}"
    )
    console.print(f"next: {request.approve_command}")
    return request


def _comparison(comparison: dict[str, Any], console: Console) -> None:
    for label, scores in comparison.get("sets", {}).items():
        production = scores.get("production")
        console.print(
            f"{comparison.get('metric')} on {label} ({scores['rows']} rows): candidate "
            f"{scores['candidate']:.4f} vs production "
            f"{'-' if production is None else f'{production:.4f}'}"
        )


def _production_stays_human(
    workspace: Workspace, done: Any, developer: str | None, console: Console
) -> None:
    if done.model_version is None or done.stage != "canary":
        return
    try:
        promote(
            done.model_version, "production", reason="auto", token=developer, workspace=workspace
        )
    except (PermissionDenied, GateFailed) as refused:
        console.print(f"[yellow]production refused[/] for a developer: {refused.message}")

"""Runs the demo stages in order and prints a summary."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from rich.console import Console

from shipyard.demo import features, registry, serving, training
from shipyard.demo.monitoring import monitoring_stage
from shipyard.demo.retraining import retraining_stage
from shipyard.workspace import Workspace


@dataclass
class DemoResult:
    """What the demo made, for the summary and for tests."""

    run_id: str = ""
    metrics: dict[str, float] = field(default_factory=dict)
    extras: dict[str, Any] = field(default_factory=dict)


def run_demo(workspace: Workspace, console: Console | None = None) -> DemoResult:
    console = console or Console(highlight=False)
    result = DemoResult()
    console.rule("[bold]shipyard demo")
    console.print(f"home: {workspace.settings.home}")
    console.rule("1. Training, tracked")
    training.train(workspace, result, console)
    console.rule("2. Registry: versions, gates, promotion, lineage")
    registry.register_and_promote(workspace, result, console)
    console.rule("3. Feature store: point-in-time training data, online serving")
    features.feature_stage(workspace, result, console)
    console.rule("4. Serving: HTTP and V2 protocol, canary, promotion and rollback under load")
    serving.serving_stage(workspace, result, console)
    console.rule("5. Monitoring: drift, an alert, a report, real accuracy from delayed labels")
    monitoring_stage(workspace, result, console)
    console.rule("6. Retraining: cached pipeline, drift → request → a person approves → canary")
    retraining_stage(workspace, result, console)
    _summary(workspace, result, console)
    return result


def _summary(workspace: Workspace, result: DemoResult, console: Console) -> None:
    console.rule("Summary")
    console.print(f"run id:          {result.run_id}")
    for name, value in sorted(result.metrics.items()):
        console.print(f"{name + ':':<17}{value:.4f}")
    extras = result.extras
    if "served_predictions" in extras:
        console.print(f"served:          {extras['served_predictions']} predictions logged")
    if extras.get("monitor_report"):
        console.print(f"drift report:    {extras['monitor_report']}")
    if extras.get("retrain_candidate"):
        console.print(
            f"retrained:       {extras['retrain_candidate']} waits in canary for a person"
        )
    console.print(f"metadata store:  {workspace.store}")
    console.print(f"artifacts:       {workspace.settings.artifacts_url}")
    console.print(
        f"look around:     shipyard --home {workspace.settings.home} runs show {result.run_id[:8]}"
    )
    console.print(
        f"serve it:        shipyard --home {workspace.settings.home} serve {serving.DEPLOYMENT} "
        "--port 8080"
    )

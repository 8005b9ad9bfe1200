"""The demo's retraining stage: pipeline, drift request, approval, candidate in canary."""

from __future__ import annotations

from rich.console import Console

from shipyard.demo import registry, training
from shipyard.demo.main import DemoResult
from shipyard.demo.retraining import retraining_stage
from shipyard.pipelines import retrain
from shipyard.registry.catalog import get_version
from shipyard.workspace import Workspace


def test_retraining_stage_puts_an_approved_candidate_in_canary(
    sqlite_workspace: Workspace,
) -> None:
    console = Console(record=True, width=120)
    result = DemoResult()
    training.train(sqlite_workspace, result, console)
    registry.register_and_promote(sqlite_workspace, result, console)
    retraining_stage(sqlite_workspace, result, console)
    request = retrain.get_request(result.extras["retrain_request"], workspace=sqlite_workspace)
    assert request.status == "candidate_registered"
    assert request.decisions[0].role == "approver"
    candidate = get_version(str(request.model_version), workspace=sqlite_workspace)
    assert candidate.stage == "canary"
    text = console.export_text()
    assert "rerun: FINISHED (split cached" in text
    assert "production refused" in text

"""The feature-store demo stage runs end to end on the embedded stores."""

from __future__ import annotations

from rich.console import Console

from shipyard.demo.features import feature_stage
from shipyard.demo.main import DemoResult
from shipyard.store.lineage import upstream
from shipyard.workspace import Workspace


def test_feature_stage(sqlite_workspace: Workspace) -> None:
    result = DemoResult()
    feature_stage(sqlite_workspace, result, Console(quiet=True))
    summary = result.extras["features"]
    assert summary["roc_auc"] > 0.6
    assert summary["materialized"] == 400
    statuses = [s["spend_7d"] for s in summary["online"]["status"]]
    assert statuses == ["present", "present", "present", "missing"]
    assert summary["online"]["rows"][0]["cart_vs_usual"] is not None
    edges = upstream(sqlite_workspace.store, ("run", summary["run_id"]))
    assert ("feature_view", "customer_activity/v1") in {e.src for e in edges}

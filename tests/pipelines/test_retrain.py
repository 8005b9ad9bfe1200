"""Retraining: triggers ask, an approver decides, the registry enforces it."""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from shipyard.access import create_token
from shipyard.config import load_settings
from shipyard.errors import (
    ConfigError,
    Conflict,
    GateFailed,
    InvalidInput,
    NotFound,
    PermissionDenied,
)
from shipyard.monitoring.alerts import AlertRule, Breach, MetricPoint, record_alerts
from shipyard.notify import Notification
from shipyard.pipelines import get_pipeline_run, retrain
from shipyard.registry import promote, register_model
from shipyard.registry.audit import history
from shipyard.serving.deployments import create_deployment
from shipyard.store.lineage import Edge, add_edges, upstream
from shipyard.tracking import start_run
from shipyard.workspace import Workspace

FLOW = """
import numpy as np
import shipyard as sy
from sklearn.linear_model import LogisticRegression

@sy.step
def data(seed: int):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(240, 3))
    return x, (x[:, 0] + 0.2 * x[:, 1] > 0).astype(int)

@sy.step
def fit(d, C: float, fail: bool):
    if fail:
        raise RuntimeError("training data is empty")
    x, y = d
    return LogisticRegression(C=C).fit(x, y)

@sy.step
def package(model, d, window_start: str):
    x, y = d
    return {"model": model, "input_example": x[:5], "golden": (x[:60], y[:60]),
            "evaluation": (x[60:120], y[60:120]), "window_start": window_start}

@sy.pipeline
def train(C: float = 1.0, seed: int = 1, fail: bool = False, window_start: str = ""):
    d = data(seed)
    return package(fit(d, C, fail), d, window_start)
"""


class Collect:
    def __init__(self) -> None:
        self.sent: list[Notification] = []

    def send(self, notification: Notification) -> None:
        self.sent.append(notification)

    def kinds(self) -> list[str]:
        return [n.kind for n in self.sent]


def _project(tmp_path: Path, db_url: str, policy: str) -> Workspace:
    tmp_path.mkdir(parents=True, exist_ok=True)
    (tmp_path / "flow.py").write_text(textwrap.dedent(FLOW))
    (tmp_path / "shipyard.toml").write_text(textwrap.dedent(policy))
    overrides = {"home": str(tmp_path / "home"), "db_url": db_url}
    return Workspace(load_settings(overrides, cwd=tmp_path, environ={}))


DRIFT = """
[retrain.churn]
pipeline = "flow.py:train"
mode = "drift"
params = { C = 0.5 }
"""


def _production(workspace: Workspace) -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 3))
    y = (x[:, 0] > 0).astype(int)
    model = LogisticRegression().fit(x, y)
    register_model(
        model, "churn", input_example=x[:5], golden=(x[:60], y[:60]), workspace=workspace
    )
    for stage in ("staging", "canary", "production"):
        promote("churn/1", stage, reason="baseline", workspace=workspace)
    create_deployment("churn-api", "churn", workspace=workspace)


def _alert(workspace: Workspace, value: float = 0.9) -> str:
    rule = AlertRule("drift", 0.5, name="feature-drift", feature="any", severity="critical")
    point = MetricPoint("drift", value, feature="tenure", model_version="churn/1")
    evidence = {
        "window": {"start": "2026-11-01T00:00:00+00:00", "end": "2026-11-02T00:00:00+00:00"},
        "report": "reports/churn-api/2026-11-02.html",
        "model_version": "churn/1",
    }
    with workspace.store.write() as session:
        found = record_alerts(
            session,
            "churn-api",
            "r" * 32,
            [Breach(rule, value, "tenure", (point,))],
            [],
            evidence,
            datetime.now(UTC),
        )
    return found[0].id


@pytest.fixture
def drift_ws(tmp_path: Path, db_url: str) -> Iterator[Workspace]:
    with _project(tmp_path, db_url, DRIFT) as ws:
        _production(ws)
        yield ws


@pytest.fixture
def sqlite_drift(tmp_path: Path) -> Iterator[Workspace]:
    with _project(tmp_path, f"sqlite:///{tmp_path / 'home' / 'shipyard.db'}", DRIFT) as ws:
        _production(ws)
        yield ws


def test_drift_alert_to_approved_candidate_in_canary(drift_ws: Workspace) -> None:
    sink = Collect()
    alert_id = _alert(drift_ws)
    made = retrain.scan(notify=[sink], workspace=drift_ws)
    assert [r.trigger_ref for r in made] == [alert_id]
    request = made[0]
    assert request.status == "pending"
    assert request.evidence["alert"]["value"] == pytest.approx(0.9)
    assert request.evidence["window"]["start"].startswith("2026-11-01")
    assert request.evidence["report_path"] == "reports/churn-api/2026-11-02.html"
    assert request.evidence["statistics"][0]["feature"] == "tenure"
    assert sink.kinds() == ["retrain_requested"]
    assert f"shipyard retrain approve {request.id}" in sink.sent[0].command
    assert retrain.scan(notify=[sink], workspace=drift_ws) == []  # one request per alert

    done = retrain.approve(request.id, reason="drift confirmed", notify=[sink], workspace=drift_ws)
    assert done.status == "candidate_registered"
    assert (done.model_version, done.stage) == ("churn/2", "canary")
    assert done.decisions[0].decision == "approved" and done.decisions[0].role == "approver"
    assert done.comparison is not None and done.comparison["production"] == "churn/1"
    assert set(done.comparison["sets"]) == {"golden", "drifted_window"}
    assert done.comparison["sets"]["drifted_window"]["rows"] == 60
    assert done.comparison["gates"]["passed"] is True
    # the alert's window reached the pipeline; lineage reads alert → request → run → version
    assert done.run_id is not None
    assert (
        get_pipeline_run(done.run_id, workspace=drift_ws)
        .params["window_start"]
        .startswith("2026-11-01")
    )
    into_version = upstream(drift_ws.store, ("model_version", "churn/2"))
    assert Edge(("run", done.run_id), ("model_version", "churn/2"), "produced") in into_version
    into_run = {e.src for e in upstream(drift_ws.store, ("run", done.run_id))}
    assert ("retrain_request", request.id) in into_run
    into_request = {e.src for e in upstream(drift_ws.store, ("retrain_request", request.id))}
    assert ("alert", alert_id) in into_request
    # production stays a person's move, and is allowed for the approved request
    promote("churn/2", "production", reason="canary looks good", workspace=drift_ws)


def test_registry_refuses_production_below_an_unapproved_request(drift_ws: Workspace) -> None:
    request = retrain.request_retrain(
        "churn", trigger="drift", trigger_ref="a1", workspace=drift_ws
    )
    x = np.random.default_rng(3).normal(size=(50, 3))
    with start_run("side-door", workspace=drift_ws) as run:
        pass
    add_edges(drift_ws.store, [Edge(("retrain_request", request.id), ("run", run.id), "started")])
    model = LogisticRegression().fit(x, (x[:, 0] > 0).astype(int))
    version = register_model(model, "churn", input_example=x[:5], run_id=run.id, workspace=drift_ws)
    promote(version.ref, "staging", gates_config={"golden": {"tolerance": 1.0}}, workspace=drift_ws)
    promote(version.ref, "canary", workspace=drift_ws)
    with pytest.raises(GateFailed) as refused:
        promote(version.ref, "production", reason="ship it", workspace=drift_ws)
    assert request.id in refused.value.message
    assert f"shipyard retrain approve {request.id}" in refused.value.message
    with pytest.raises(GateFailed):
        promote(version.ref, "production", reason="x", skip_canary=True, workspace=drift_ws)
    assert history("churn", workspace=drift_ws)[-1].outcome == "blocked"
    retrain.approve(request.id, reason="looked at it", run=False, workspace=drift_ws)
    assert (
        promote(version.ref, "production", reason="approved", workspace=drift_ws).to_stage
        == "production"
    )


def test_only_an_approver_decides_and_only_once(sqlite_drift: Workspace) -> None:
    ws = sqlite_drift
    approver = create_token("ana", "approver", workspace=ws)
    developer = create_token("dev", "developer", workspace=ws)
    request = retrain.start("churn", token=developer, notify=[], workspace=ws)
    assert request.status == "pending" and request.created_by == "dev"
    with pytest.raises(PermissionDenied):
        retrain.approve(request.id, reason="please", token=developer, workspace=ws)
    with pytest.raises(InvalidInput) as no_reason:
        retrain.approve(request.id, reason=" ", token=approver, workspace=ws)
    assert no_reason.value.field == "reason"
    assert retrain.get_request(request.id, workspace=ws).decisions == []
    rejected = retrain.reject(request.id[:8], reason="seasonal", token=approver, workspace=ws)
    assert rejected.status == "rejected" and rejected.decisions[0].who == "ana"
    with pytest.raises(Conflict, match="not pending"):
        retrain.approve(request.id, reason="changed my mind", token=approver, workspace=ws)


def test_manual_start_by_an_approver_runs_at_once(sqlite_drift: Workspace) -> None:
    done = retrain.start("churn", params={"C": "2.0"}, notify=[], workspace=sqlite_drift)
    assert done.trigger == "manual" and done.status == "candidate_registered"
    assert done.params["C"] == "2.0" and done.decisions[0].reason.startswith("manual start")
    assert [r.id for r in retrain.list_requests(model="churn", workspace=sqlite_drift)] == [done.id]


def test_failed_pipeline_fails_the_request_and_notifies(sqlite_drift: Workspace) -> None:
    sink = Collect()
    done = retrain.start("churn", params={"fail": True}, notify=[sink], workspace=sqlite_drift)
    assert done.status == "failed" and "training data is empty" in (done.error or "")
    assert done.model_version is None
    assert {"retrain_requested", "pipeline_failed", "retrain_failed"} <= set(sink.kinds())


def test_bad_input_stores_nothing(sqlite_drift: Workspace, tmp_path: Path) -> None:
    ws = sqlite_drift
    with pytest.raises(NotFound, match="No retrain policy 'nope'"):
        retrain.start("nope", workspace=ws)
    with pytest.raises(InvalidInput) as unknown:
        retrain.start("churn", params={"lr": "0.1"}, workspace=ws)
    assert unknown.value.field == "lr"
    with pytest.raises(NotFound):
        retrain.get_request("ffffffff", workspace=ws)
    assert retrain.list_requests(workspace=ws) == []
    bad = "[retrain.churn]\npipeline = 'flow.py:train'\nmode = 'sometimes'\n"
    broken = _project(tmp_path / "bad", f"sqlite:///{tmp_path / 'bad.db'}", bad)
    with broken, pytest.raises(ConfigError) as config:
        retrain.scan(workspace=broken)
    assert config.value.field == "mode"


def test_schedule_policy_asks_once_per_slot(tmp_path: Path) -> None:
    policy = """
    [retrain.nightly]
    pipeline = "flow.py:train"
    model = "churn"
    mode = "schedule"
    cron = "0 3 * * *"
    """
    with _project(tmp_path, f"sqlite:///{tmp_path / 's.db'}", policy) as ws:
        day = datetime(2026, 11, 10, 12, 0, tzinfo=UTC)
        first = retrain.scan(now=day, notify=[], workspace=ws)
        assert [r.trigger_ref for r in first] == ["2026-11-10T03:00:00+00:00"]
        assert retrain.scan(now=day, notify=[], workspace=ws) == []
        later = retrain.scan(now=datetime(2026, 11, 13, 4, 0, tzinfo=UTC), notify=[], workspace=ws)
        assert [r.trigger_ref for r in later] == [
            "2026-11-13T03:00:00+00:00"
        ]  # missed ones coalesce


def test_cli_list_show_approve(sqlite_drift: Workspace, tmp_path: Path, monkeypatch: Any) -> None:
    import json

    from typer.testing import CliRunner

    from shipyard.cli import app

    monkeypatch.chdir(tmp_path)
    _alert(sqlite_drift)
    runner = CliRunner()
    home = ["--home", str(tmp_path / "home")]
    scanned = runner.invoke(app, [*home, "retrain", "scan", "--json"])
    assert scanned.exit_code == 0, scanned.output
    request_id = json.loads(scanned.output)[0]["id"]
    listed = runner.invoke(app, [*home, "retrain", "list", "--status", "pending", "--json"])
    assert [r["id"] for r in json.loads(listed.output)] == [request_id]
    no_reason = runner.invoke(app, [*home, "retrain", "approve", request_id[:8]])
    assert no_reason.exit_code == 2
    approved = runner.invoke(
        app, [*home, "retrain", "approve", request_id[:8], "--reason", "confirmed", "--json"]
    )
    assert approved.exit_code == 0, approved.output
    assert json.loads(approved.output)["status"] == "candidate_registered"
    shown = runner.invoke(app, [*home, "retrain", "show", request_id[:8]])
    assert "churn/2 in canary" in shown.output and "drifted_window" in shown.output
    bad = runner.invoke(app, [*home, "retrain", "list", "--status", "maybe"])
    assert bad.exit_code == 2 and "status" in bad.output

"""``shipyard monitor|labels|alerts`` on the command line, and ``POST /api/ground-truth``."""

from __future__ import annotations

import json
from pathlib import Path

import anyio.from_thread
import pandas as pd
from tests.monitoring.ops_support import (
    DEPLOYMENT,
    T0,
    deploy,
    drifted,
    frame,
    hours,
    log_predictions,
    target,
)
from tests.server.conftest import Api
from typer.testing import CliRunner

from shipyard.access import create_token
from shipyard.cli import app
from shipyard.config import load_settings
from shipyard.server import create_app
from shipyard.workspace import Workspace


def _run(home: Path, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, ["--home", str(home), *args])
    # Rich wraps messages at the console width, wherever a long temp path puts the break.
    return result.exit_code, result.stdout, " ".join(result.stderr.split())


def _workspace(home: Path) -> Workspace:
    return Workspace(load_settings({"home": str(home)}, environ={}))


def test_labels_monitor_and_alerts_commands(tmp_path: Path) -> None:
    home = tmp_path / "home"
    with _workspace(home) as workspace:
        setup = deploy(workspace)
        calm = frame(200, seed=60)
        ids = log_predictions(setup, calm, T0 + hours(1))
        log_predictions(setup, drifted(300, seed=61), T0 + hours(30))
    labels = tmp_path / "labels.csv"
    pd.DataFrame({"prediction_id": ids, "label": target(calm)}).to_csv(labels, index=False)

    code, out, err = _run(home, "labels", "ingest", str(labels), "-d", DEPLOYMENT, "--json")
    assert code == 0, err
    assert json.loads(out)["accepted"] == 200
    code, out, _ = _run(home, "labels", "ingest", str(labels), "-d", DEPLOYMENT)
    assert code == 0 and "already ingested" in out
    code, out, _ = _run(home, "labels", "list", "--json")
    assert [b["rows"] for b in json.loads(out)] == [200]

    window = ["--from", T0.isoformat(), "--to", (T0 + hours(24)).isoformat()]
    code, out, err = _run(home, "monitor", "run", DEPLOYMENT, *window)
    assert code == 0, err
    assert out.startswith("ok: 200 predictions between") and "Performance" in out
    code, out, err = _run(home, "monitor", "run", DEPLOYMENT, "--to", "2025-03-03", "--json")
    assert code == 1, err
    result = json.loads(out)
    assert result["status"] == "alert" and len(result["alerts"]) == 2
    code, out, _ = _run(home, "monitor", "run", DEPLOYMENT, "--to", "2025-06-01", "-w", "1d")
    assert code == 0 and "no predictions between" in out

    code, out, _ = _run(home, "monitor", "history", DEPLOYMENT, "--json")
    assert [r["status"] for r in json.loads(out)] == ["no_data", "alert", "ok"]

    code, out, _ = _run(home, "alerts", "list", "--status", "open", "--json")
    alerts = json.loads(out)
    assert {a["rule"] for a in alerts} == {"feature-drift", "prediction-drift"}
    first = alerts[0]["id"]
    code, out, _ = _run(home, "alerts", "show", first[:10])
    assert code == 0 and "Evidence" in out and "report:" in out
    code, out, _ = _run(home, "alerts", "ack", first[:10], "--note", "looking")
    assert code == 0 and "acknowledged" in out
    code, out, _ = _run(home, "alerts", "show", first, "--json")
    assert json.loads(out)["status"] == "acked"

    report = tmp_path / "out" / "report.html"
    code, out, err = _run(
        home, "monitor", "report", DEPLOYMENT, "--to", "2025-03-03", "-w", "3d", "-o", str(report)
    )
    assert code == 0, err
    assert "Performance" in report.read_text() and "Reference vs current" in report.read_text()
    as_json = tmp_path / "report.json"
    code, _, _ = _run(
        home,
        "monitor",
        "report",
        DEPLOYMENT,
        "--to",
        "2025-03-03",
        "-w",
        "3d",
        "-o",
        str(as_json),
        "--format",
        "json",
    )
    document = json.loads(as_json.read_text())
    assert document["n_predictions"] == 500 and document["performance_over_time"]["rows"]


def test_bad_input_exits_2_and_names_the_problem(tmp_path: Path) -> None:
    home = tmp_path / "home"
    with _workspace(home) as workspace:
        deploy(workspace)
    code, _, err = _run(home, "labels", "ingest", str(tmp_path / "missing.csv"), "-d", DEPLOYMENT)
    assert code == 2 and "does not exist" in err
    code, _, err = _run(home, "monitor", "run", DEPLOYMENT, "--window", "yesterday")
    assert code == 2 and "positive duration" in err
    code, _, err = _run(home, "monitor", "run", DEPLOYMENT, "--from", "March")
    assert code == 2 and "ISO 8601" in err
    code, _, err = _run(home, "monitor", "run", "nope")
    assert code == 2 and "No deployment named 'nope'" in err
    code, _, err = _run(home, "alerts", "show", "ffffffffff")
    assert code == 2 and "No alert" in err


def test_post_ground_truth_over_http(tmp_path: Path) -> None:
    with _workspace(tmp_path / "home") as workspace:
        setup = deploy(workspace)
        ids = log_predictions(setup, frame(3, seed=70), T0)
        token = create_token("labeller", "developer", workspace=workspace)
        viewer = create_token("reader", "viewer", workspace=workspace)
        with anyio.from_thread.start_blocking_portal() as portal:
            client = Api(create_app(workspace=workspace), portal)
            try:
                _post_labels(client, ids, token, viewer)
            finally:
                client.close()


def _post_labels(client: Api, ids: list[str], token: str, viewer: str) -> None:
    if True:
        body = {"deployment": DEPLOYMENT, "labels": [{"prediction_id": i, "label": 1} for i in ids]}
        assert client.post("/api/ground-truth", json=body).status_code == 401
        denied = client.post(
            "/api/ground-truth", json=body, headers={"Authorization": f"Bearer {viewer}"}
        )
        assert denied.status_code == 403
        auth = {"Authorization": f"Bearer {token}"}
        stored = client.post("/api/ground-truth", json=body, headers=auth)
        assert stored.status_code == 200, stored.text
        assert stored.json()["accepted"] == 3 and not stored.json()["duplicate"]
        assert client.post("/api/ground-truth", json=body, headers=auth).json()["duplicate"]
        bad = {"deployment": DEPLOYMENT, "labels": [{"prediction_id": "nope", "label": 1}]}
        refused = client.post("/api/ground-truth", json=bad, headers=auth)
        assert refused.status_code == 422
        assert "row 0 ('nope')" in refused.json()["message"]
        missing = client.post(
            "/api/ground-truth", json={"deployment": "nope", "labels": [{}]}, headers=auth
        )
        assert missing.status_code == 404

"""Alert rules, de-duplication, cooldown, acknowledgement, and the log/webhook/command sinks."""

from __future__ import annotations

import json
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from tests.monitoring.ops_support import (
    DEPLOYMENT,
    T0,
    configured_workspace,
    deploy,
    drifted,
    frame,
    hours,
    log_predictions,
)

from shipyard.errors import ConfigError, InvalidInput, NotFound
from shipyard.monitoring.alerts import ack_alert, get_alert, list_alerts, parse_rule
from shipyard.monitoring.runs import run_monitor
from shipyard.workspace import Workspace


class Hook:
    """A tiny HTTP server on 127.0.0.1 that keeps every JSON body POSTed to it."""

    def __init__(self) -> None:
        received: list[Any] = []

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers["Content-Length"])
                received.append(json.loads(self.rfile.read(length)))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.received = received
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def hook() -> Iterator[Hook]:
    server = Hook()
    yield server
    server.close()


def _rules(hook: Hook, out: Path, cooldown: str = "1h") -> str:
    command = (
        f"{sys.executable} -c \"import sys; open(r'{out}', 'a').write(sys.stdin.read() + chr(10))\""
    )
    sink = json.dumps("command:" + command)
    return (
        "[[monitoring.alerts]]\n"
        'name = "x1-psi"\nmetric = "psi"\nfeature = "x1"\nthreshold = 0.25\n'
        f'severity = "critical"\ncooldown = "{cooldown}"\n'
        f'sinks = ["webhook:{hook.url}", "slack:{hook.url}", "log", {sink}]\n'
        "[[monitoring.alerts]]\n"
        'metric = "accuracy"\nthreshold = 0.5\ndirection = "below"\nroute = "production"\n'
    )


def test_alert_payloads_dedup_cooldown_ack_and_resolve(
    tmp_path: Path, hook: Hook, db_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    out = tmp_path / "command.jsonl"
    with configured_workspace(tmp_path / "p", _rules(hook, out), db_url) as workspace:
        setup = deploy(workspace)
        log_predictions(setup, drifted(300, seed=40), T0 + hours(1))
        first = run_monitor(DEPLOYMENT, "1d", now=T0 + hours(24), workspace=workspace)
        (alert,) = first.alerts
        assert (alert.rule, alert.feature, alert.severity, alert.occurrences) == (
            "x1-psi", "x1", "critical", 1
        )  # fmt: skip
        webhook, slack = hook.received
        assert webhook["type"] == "shipyard.alert" and webhook["id"] == alert.id
        assert webhook["value"] == pytest.approx(alert.value) and webhook["value"] > 0.25
        assert webhook["evidence"]["window"]["start"] == T0.isoformat()
        assert webhook["evidence"]["report"] == first.report_path
        assert webhook["command"] == f"shipyard alerts show {alert.id}"
        assert set(slack) == {"text"} and "x1-psi" in slack["text"]
        assert json.loads(out.read_text().splitlines()[0])["id"] == alert.id
        assert any("x1-psi" in r.getMessage() for r in caplog.records)

        log_predictions(setup, drifted(300, seed=41), T0 + hours(25))
        second = run_monitor(DEPLOYMENT, "1d", now=T0 + hours(48), workspace=workspace)
        assert second.fired and second.alerts[0].id == alert.id
        assert get_alert(alert.id[:8], workspace=workspace).occurrences == 2
        assert len(hook.received) == 2  # cooled down: no second notification

        acked = ack_alert(alert.id, by="ana", note="retraining", workspace=workspace)
        assert (acked.status, acked.acked_by, acked.note) == ("acked", "ana", "retraining")
        log_predictions(setup, drifted(300, seed=42), T0 + hours(49))
        third = run_monitor(DEPLOYMENT, "1d", now=T0 + hours(72), workspace=workspace)
        assert third.alerts[0].id != alert.id  # a new alert, still inside the cooldown
        assert len(hook.received) == 2

        log_predictions(setup, frame(300, seed=43), T0 + hours(73))
        calm = run_monitor(DEPLOYMENT, "1d", now=T0 + hours(96), workspace=workspace)
        assert not calm.fired
        assert get_alert(third.alerts[0].id, workspace=workspace).status == "resolved"
        assert [a.status for a in list_alerts(DEPLOYMENT, workspace=workspace)] == [
            "resolved",
            "acked",
        ]
        assert list_alerts(status="open", workspace=workspace) == []


def test_a_new_breach_after_the_cooldown_notifies_again(tmp_path: Path, hook: Hook) -> None:
    out = tmp_path / "command.jsonl"
    with configured_workspace(tmp_path / "p", _rules(hook, out, cooldown="1s")) as workspace:
        setup = deploy(workspace)
        log_predictions(setup, drifted(300, seed=44), T0 + hours(1))
        run_monitor(DEPLOYMENT, "1d", now=T0 + hours(24), report=False, workspace=workspace)
        time.sleep(1.1)
        run_monitor(DEPLOYMENT, "1d", now=T0 + hours(24), report=False, workspace=workspace)
        assert len(hook.received) == 4
        assert len(list_alerts(workspace=workspace)) == 1


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ({"threshold": 1}, "metric is required"),
        ({"metric": "psi"}, "threshold must be a number"),
        ({"metric": "psi", "threshold": 1, "severity": "loud"}, "severity must be one of"),
        ({"metric": "psi", "threshold": 1, "direction": "up"}, "direction must be one of"),
        ({"metric": "psi", "threshold": 1, "cooldown": "soon"}, "positive duration"),
        ({"metric": "psi", "threshold": 1, "colour": "red"}, "unknown key 'colour'"),
        ({"metric": "psi", "threshold": 1, "sinks": ["pager:x"]}, "Unknown notification sink"),
        ({"metric": "psi", "threshold": 1, "sinks": ["webhook:ftp://x"]}, "http://"),
    ],
)
def test_bad_rules_name_the_key(rule: dict[str, Any], message: str) -> None:
    with pytest.raises((ConfigError, InvalidInput), match=message):
        parse_rule(rule)


def test_reading_unknown_or_ambiguous_alerts(sqlite_workspace: Workspace) -> None:
    with pytest.raises(NotFound, match="shipyard alerts list"):
        get_alert("abcdef123", workspace=sqlite_workspace)
    with pytest.raises(InvalidInput, match="at least 6 characters"):
        ack_alert("abc", workspace=sqlite_workspace)
    with pytest.raises(InvalidInput, match="status must be one of"):
        list_alerts(status="closed", workspace=sqlite_workspace)

"""Gates: golden-set regression, latency, fairness, integration, schema; reports are stored."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

from shipyard import errors
from shipyard.config import load_settings
from shipyard.registry import promote, register_model
from shipyard.registry.gates.fairness import differences
from shipyard.registry.models import check, history
from shipyard.workspace import Workspace

NO_GATES: dict[str, Any] = {"stages": []}


def _production(ws: Workspace, model: Any, data: Any) -> None:
    x, y = data
    register_model(model, "churn", input_example=x[:5], golden=(x, y), workspace=ws)
    for stage in ("staging", "canary", "production"):
        promote("churn/1", stage, gates_config=NO_GATES, workspace=ws)


def test_worse_model_is_blocked_by_the_golden_set(
    sqlite_workspace: Workspace, data: Any, pipeline: Any, dummy: Any
) -> None:
    ws = sqlite_workspace
    _production(ws, pipeline, data)
    register_model(dummy, "churn", input_example=data[0][:5], workspace=ws)
    with pytest.raises(errors.GateFailed) as caught:
        promote("churn/2", "staging", reason="try", workspace=ws)
    assert "golden/accuracy" in caught.value.message and "churn/1" in caught.value.message
    failing = [c for c in caught.value.report["checks"] if not c["passed"]]
    assert [c["check"] for c in failing] == ["accuracy"]
    assert failing[0]["value"]["candidate"] < failing[0]["threshold"]
    blocked = history("churn", workspace=ws)[-1]
    assert (blocked.outcome, blocked.version) == ("blocked", 2)
    assert blocked.gate_report is not None and not blocked.gate_report["passed"]


def test_equal_model_passes_and_the_report_is_stored(
    sqlite_workspace: Workspace, data: Any, pipeline: Any
) -> None:
    ws = sqlite_workspace
    _production(ws, pipeline, data)
    register_model(pipeline, "churn", input_example=data[0][:5], workspace=ws)
    done = promote("churn/2", "staging", workspace=ws)
    assert done.gate_report is not None and done.gate_report["passed"]
    gates = {c["gate"] for c in done.gate_report["checks"]}
    assert gates == {"schema", "golden", "integration"}
    agreement = next(c for c in done.gate_report["checks"] if c["check"] == "agreement")
    assert agreement["value"] == 1.0


def test_latency_thresholds_report_percentiles(
    sqlite_workspace: Workspace, data: Any, pipeline: Any
) -> None:
    x, y = data
    register_model(
        pipeline, "churn", input_example=x[:5], golden=(x, y), workspace=sqlite_workspace
    )
    config = {
        "latency": {
            "single_p99_ms": 0.000001,
            "batch_p50_ms": 10_000,
            "repeats": 20,
            "batch_repeats": 5,
        }
    }
    report = check("churn/1", gates=config, workspace=sqlite_workspace)
    failing = [c.check for c in report.failures]
    assert failing == ["single p99"]
    assert "batch p50" in [c.check for c in report.checks if c.passed]


def test_fairness_differences_match_the_definitions() -> None:
    groups = pd.Series(["a", "a", "a", "a", "b", "b", "b", "b"])
    y_true = np.array([1, 1, 0, 0, 1, 1, 0, 0])
    y_pred = np.array([1, 1, 1, 0, 1, 0, 0, 0])
    dpd, eod, rates = differences(groups, y_true, y_pred, 1)
    assert rates == {"a": 0.75, "b": 0.25}
    assert dpd == pytest.approx(0.5) and eod == pytest.approx(0.5)


def test_fairness_gate_over_a_protected_column(sqlite_workspace: Workspace, data: Any) -> None:
    x, y = data
    biased = LogisticRegression().fit(x.assign(group=x["group"] * 100), y)  # leans on group
    register_model(biased, "churn", input_example=x[:5], golden=(x, y), workspace=sqlite_workspace)
    config = {"fairness": {"protected": ["group"], "max_demographic_parity_difference": 0.0}}
    report = check("churn/1", gates=config, workspace=sqlite_workspace)
    assert "group demographic parity" in [c.check for c in report.failures]
    with pytest.raises(errors.ConfigError, match="protected"):
        check("churn/1", gates={"fairness": {}}, workspace=sqlite_workspace)


class FirstRowNotNull:
    """Accepts nulls in 'score' except in the first row: only edge cases reveal the crash."""

    def predict(self, x: Any) -> np.ndarray:
        values = np.asarray(x["score"], dtype=float)
        if np.isnan(values[0]):
            raise ValueError("NaN in score")
        return (np.nan_to_num(values) > 0).astype("int64")


def test_integration_gate_catches_a_crash_on_allowed_nulls(
    sqlite_workspace: Workspace, data: Any
) -> None:
    x, _ = data
    example = x[:5].assign(score=[0.1, None, 0.3, -0.2, 0.5])
    info = register_model(
        FirstRowNotNull(), "churn", input_example=example, workspace=sqlite_workspace
    )
    assert info.signature.column("score").nullable
    report = check("churn/1", workspace=sqlite_workspace)
    assert [c.check for c in report.failures] == ["null in 'score'"]
    assert "ValueError: NaN in score" in report.failures[0].message
    passed = [c.check for c in report.checks if c.passed]
    assert {"empty batch", "null in 'age'", "missing 'age'", "valid rows"} <= set(passed)


def test_schema_gate_blocks_a_breaking_change_unless_marked(
    sqlite_workspace: Workspace, data: Any, pipeline: Any
) -> None:
    ws = sqlite_workspace
    x, y = data
    _production(ws, pipeline, data)
    wider = x.assign(extra=1.0)
    model = LogisticRegression().fit(wider, y)
    register_model(model, "churn", input_example=wider[:5], workspace=ws)
    with pytest.raises(errors.GateFailed, match="new required column 'extra'"):
        promote("churn/2", "staging", workspace=ws)
    report = check("churn/2", breaking=True, gates={"golden": {"enabled": False}}, workspace=ws)
    assert report.passed


def test_gates_come_from_shipyard_toml(tmp_path: Path, data: Any, pipeline: Any) -> None:
    (tmp_path / "shipyard.toml").write_text(
        "[models.churn.gates.latency]\nsingle_p50_ms = 0.0000001\nrepeats = 5\n"
        "batch_repeats = 2\n[models.churn.gates.nonsense]\nx = 1\n"
    )
    settings = load_settings({"home": str(tmp_path / "home")}, cwd=tmp_path, environ={})
    with Workspace(settings) as ws:
        register_model(pipeline, "churn", input_example=data[0][:5], workspace=ws)
        with pytest.raises(errors.ConfigError, match="unknown entry 'nonsense'"):
            check("churn/1", workspace=ws)

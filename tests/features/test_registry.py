"""Apply: plans, versions by hash, removal, lineage; on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pandas as pd
from tests.features.conftest import T0, events, spend_view, write

import shipyard as sy
from shipyard import features
from shipyard.features.registry import Registry
from shipyard.store.lineage import upstream
from shipyard.tracking import start_run
from shipyard.workspace import Workspace

DEFINITIONS = """
from datetime import timedelta
import pandas as pd
import shipyard as sy

customer = sy.Entity("customer", join_keys=["customer_id"])


def scaled(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.assign(amount_x=frame["amount"] * FACTOR)


spend = sy.FeatureView(
    "spend", entity=customer, source=SOURCE, created_timestamp="created",
    features={"amount_x": "float64"}, transform=scaled, lookback=timedelta(days=2),
)
service = sy.FeatureService("churn_model", features=["spend:amount_x"])
"""


def _write_definitions(folder: Path, source: str, factor: int) -> Path:
    path = folder / "features.py"
    path.write_text(
        DEFINITIONS.replace("SOURCE", repr(source)).replace("FACTOR", str(factor)),
        encoding="utf-8",
    )
    return path


def test_apply_plans_versions_and_removes(workspace: Workspace, tmp_path: Path) -> None:
    source = write(events(), tmp_path / "data" / "e.parquet")
    path = _write_definitions(tmp_path, source, 2)
    plan = features.apply(path, dry_run=True, workspace=workspace)
    assert not plan.applied and ("feature_view", "spend") in plan.added
    assert features.registry(workspace).current().views == {}

    plan = features.apply(path, workspace=workspace)
    assert plan.applied and plan.versions["feature_view:spend"] == 1
    assert features.apply(path, workspace=workspace).empty  # same code: no new version

    _write_definitions(tmp_path, source, 3)  # transformation code changed
    plan = features.apply(path, workspace=workspace)
    assert plan.changed[("feature_view", "spend")] == ["transform"]
    assert plan.versions["feature_view:spend"] == 2

    plan = features.apply([spend_view(source)], prune=True, workspace=workspace)
    assert ("feature_service", "churn_model") in plan.removed
    assert set(features.registry(workspace).current().services) == set()


def test_a_running_reader_sees_an_apply_at_once(workspace: Workspace, tmp_path: Path) -> None:
    source = write(events(), tmp_path / "e.parquet")
    reader = Registry(workspace)  # as a long-running server holds it
    try:
        assert reader.current().views == {}
        features.apply([spend_view(source)], workspace=workspace)
        assert set(reader.current().views) == {"spend"}
        features.apply([spend_view(source, lookback=timedelta(hours=1))], workspace=workspace)
        assert reader.current().views["spend"].lookback_seconds == 3600
    finally:
        reader.close()


def test_training_run_records_feature_view_versions(workspace: Workspace, tmp_path: Path) -> None:
    features.apply([spend_view(write(events(), tmp_path / "e.parquet"))], workspace=workspace)
    entity = pd.DataFrame({"customer_id": [1, 2], "event_timestamp": [T0, T0]})
    with start_run("features-test", workspace=workspace) as run:
        features.get_historical(entity, ["spend:amount"], run=run, workspace=workspace)
    edges = upstream(workspace.store, ("run", run.id))
    assert any(e.src == ("feature_view", "spend/v1") and e.relation == "input" for e in edges)


def test_public_names() -> None:
    assert sy.Entity is features.Entity and sy.FeatureView is features.FeatureView
    assert sy.OnDemandFeatureView is features.OnDemandFeatureView
    assert sy.FeatureService is features.FeatureService
    assert sy.features.get_historical is features.get_historical


def test_apply_an_imported_module(workspace: Workspace, tmp_path: Path) -> None:
    import importlib.util

    source = write(events(), tmp_path / "data" / "e.parquet")
    path = _write_definitions(tmp_path, source, 2)
    spec = importlib.util.spec_from_file_location("_test_feature_module", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert features.apply(module, dry_run=True, workspace=workspace).added
    plan = features.apply(module, workspace=workspace)
    assert plan.versions["feature_view:spend"] == 1
    assert set(features.registry(workspace).current().services) == {"churn_model"}

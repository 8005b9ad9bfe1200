"""Registering versions: numbers, immutability, integrity, lineage, bad input."""

from __future__ import annotations

import importlib.metadata
import multiprocessing
import os
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import sklearn
from tests.registry.conftest import make_data

from shipyard import errors
from shipyard.config import load_settings
from shipyard.registry import load_model, register_model
from shipyard.registry.models import get, lineage
from shipyard.store.lineage import upstream
from shipyard.tracking import start_run
from shipyard.workspace import Workspace


def test_logged_pipeline_loads_and_predicts_the_same(
    workspace: Workspace, data: Any, pipeline: Any
) -> None:
    x, y = data
    with start_run("churn", workspace=workspace) as run:
        info = run.log_model(pipeline, "churn", input_example=x[:5], golden=(x, y))
    assert (info.name, info.version, info.flavor, info.stage) == ("churn", 1, "sklearn", "none")
    assert info.requirements["scikit-learn"] == sklearn.__version__
    assert info.requirements["cloudpickle"] == importlib.metadata.version("cloudpickle")
    assert info.environment_id and info.run_id == run.id
    loaded = load_model("churn/1", workspace=workspace)
    assert (loaded.predict(x) == pipeline.predict(x)).all()
    assert (loaded.predict_proba(x) == pipeline.predict_proba(x)).all()
    edges = upstream(workspace.store, ("model_version", "churn/1"))
    assert ("run", run.id) in [e.src for e in edges]
    assert load_model("churn@latest", workspace=workspace).ref == "churn/1"


def test_versions_count_up_and_never_change(
    workspace: Workspace, data: Any, pipeline: Any, dummy: Any
) -> None:
    x, _ = data
    first = register_model(pipeline, "churn", input_example=x[:5], workspace=workspace)
    second = register_model(dummy, "churn", input_example=x[:5], workspace=workspace)
    assert (first.version, second.version) == (1, 2)
    assert get("churn/1", workspace=workspace).sha256 == first.sha256


def test_tampered_artifact_refuses_to_load(
    sqlite_workspace: Workspace, data: Any, pipeline: Any
) -> None:
    x, _ = data
    info = register_model(pipeline, "churn", input_example=x[:5], workspace=sqlite_workspace)
    path = Path(sqlite_workspace.artifacts.blob_path(info.sha256))
    os.chmod(path, 0o644)
    path.write_bytes(path.read_bytes() + b"tampered")
    with pytest.raises(errors.IntegrityError) as caught:
        load_model("churn/1", workspace=sqlite_workspace)
    assert caught.value.expected == info.sha256
    assert caught.value.found != info.sha256 and caught.value.found in caught.value.message


def test_unknown_model_or_version_suggests_what_exists(
    sqlite_workspace: Workspace, data: Any, pipeline: Any
) -> None:
    x, _ = data
    register_model(pipeline, "churn", input_example=x[:5], workspace=sqlite_workspace)
    with pytest.raises(errors.NotFound, match="Did you mean 'churn'"):
        load_model("chrun/1", workspace=sqlite_workspace)
    with pytest.raises(errors.NotFound, match="no version 7 \\(latest is 1\\)"):
        load_model("churn/7", workspace=sqlite_workspace)
    with pytest.raises(errors.NotFound, match="no version in 'production'"):
        load_model("churn@production", workspace=sqlite_workspace)
    with pytest.raises(errors.InvalidInput, match="churn/VERSION"):
        load_model("churn", workspace=sqlite_workspace)


def test_unsupported_model_type_names_the_type_and_flavors(
    sqlite_workspace: Workspace, data: Any
) -> None:
    x, _ = data
    with pytest.raises(errors.InvalidInput, match=r"type builtins.dict.*python_function"):
        register_model({"not": "a model"}, "churn", input_example=x[:5], workspace=sqlite_workspace)
    assert sqlite_workspace.artifacts.fs.ls(sqlite_workspace.artifacts.root + "/tmp") == []


def test_input_example_without_columns_is_refused(
    sqlite_workspace: Workspace, pipeline: Any
) -> None:
    with pytest.raises(errors.InvalidInput, match="no columns") as caught:
        register_model(
            pipeline, "churn", input_example=pd.DataFrame(index=[0, 1]), workspace=sqlite_workspace
        )
    assert caught.value.field == "input_example"
    with pytest.raises(errors.NotFound):
        get("churn@latest", workspace=sqlite_workspace)


def _register_one(db_url: str, home: str, model: Any, barrier: Any, out: Any) -> None:
    x, _ = make_data(10)
    with Workspace(load_settings({"home": home, "db_url": db_url}, environ={})) as ws:
        barrier.wait()
        out.put(register_model(model, "race", input_example=x[:3], workspace=ws).version)


def test_eight_processes_get_eight_consecutive_numbers(
    db_url: str, tmp_path: Path, pipeline: Any
) -> None:
    context = multiprocessing.get_context("fork")  # children inherit the fitted model
    barrier, out = context.Barrier(8), context.Queue()
    args = (db_url, str(tmp_path / "home"), pipeline, barrier, out)
    procs = [context.Process(target=_register_one, args=args) for _ in range(8)]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(120)
    assert all(p.exitcode == 0 for p in procs)
    assert sorted(out.get(timeout=5) for _ in range(8)) == list(range(1, 9))


def test_lineage_walks_up_to_the_run_environment_and_commit(
    sqlite_workspace: Workspace, data: Any, pipeline: Any
) -> None:
    x, _ = data
    with start_run("churn", workspace=sqlite_workspace) as run:
        run.add_input("snapshot", "customers/v1")
        run.log_model(pipeline, "churn", input_example=x[:5])
    graph = lineage("churn/1", workspace=sqlite_workspace).to_dict()
    kinds = {n["kind"] for n in graph["nodes"]}
    assert {"run", "environment", "snapshot", "model_version"} <= kinds
    run_node = next(n for n in graph["upstream"] if n["kind"] == "run")
    assert {c["kind"] for c in run_node["children"]} >= {"environment", "snapshot"}

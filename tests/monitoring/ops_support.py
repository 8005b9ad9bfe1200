"""Shared setup for the monitoring-operations tests: a registered model, a deployment,
and predictions written through the serving layer's real ``PredictionLog``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from shipyard.registry import register_model
from shipyard.serving.deployments import create_deployment
from shipyard.serving.predlog import LoggedRequest, PredictionLog, new_ids
from shipyard.tracking import start_run
from shipyard.workspace import Workspace

T0 = datetime(2025, 3, 1, tzinfo=UTC)
DEPLOYMENT = "churn-api"


def frame(rows: int, seed: int, shift: float = 0.0, new_plan: float = 0.0) -> pd.DataFrame:
    """Synthetic customers: two numbers and a plan; ``shift`` moves x1's mean (in σ)."""
    rng = np.random.default_rng(seed)
    plans = rng.choice(["basic", "pro", "team"], size=rows, p=[0.5, 0.3, 0.2]).astype(object)
    if new_plan:
        plans[rng.random(rows) < new_plan] = "enterprise"
    return pd.DataFrame(
        {
            "customer_id": [f"c{seed}-{i}" for i in range(rows)],
            "x1": rng.normal(shift, 1.0, rows),
            "x2": rng.normal(5.0, 2.0, rows),
            "plan": plans,
        }
    )


def target(data: pd.DataFrame) -> np.ndarray:
    return (data["x1"] + 0.3 * (data["x2"] - 5) > 0).astype(int).to_numpy()


FEATURES = ["x1", "x2", "plan"]


def _pipeline(estimator: Any) -> Pipeline:
    encode = ColumnTransformer(
        [
            ("num", StandardScaler(), ["x1", "x2"]),
            ("cat", OneHotEncoder(handle_unknown="ignore"), ["plan"]),
        ]
    )
    return Pipeline([("prep", encode), ("model", estimator)])


@dataclass
class Setup:
    workspace: Workspace
    model: Any
    version: str
    train: pd.DataFrame


def deploy(workspace: Workspace, task: str = "classification", name: str = "churn") -> Setup:
    """Train in a tracked run (training snapshot logged), register, create a deployment."""
    train = frame(400, seed=1)
    x = train[FEATURES]
    if task == "classification":
        model = _pipeline(LogisticRegression(max_iter=500)).fit(x, target(train))
        y: Any = target(train)
    else:
        y = (2.0 * train["x1"] + train["x2"]).to_numpy()
        model = _pipeline(LinearRegression()).fit(x, y)
    with start_run("monitoring-tests", workspace=workspace) as run:
        run.log_dataset(x, "customers-train")
        info = register_model(
            model,
            name,
            input_example=x.iloc[:5],
            golden=(x.iloc[:200], y[:200]),
            run_id=run.id,
            workspace=workspace,
        )
    create_deployment(DEPLOYMENT, name, workspace=workspace)
    return Setup(workspace, model, str(info.version), train)


def log_predictions(
    setup: Setup,
    data: pd.DataFrame,
    when: datetime,
    *,
    version: str | None = None,
    route: str = "production",
    model: Any = None,
    ids: list[str] | None = None,
) -> list[str]:
    """Predict ``data`` with the model and write the rows to the prediction log at ``when``."""
    model = model if model is not None else setup.model
    x = data[FEATURES]
    outputs: dict[str, np.ndarray] = {"predict": np.asarray(model.predict(x))}
    if hasattr(model, "predict_proba"):
        outputs["predict_proba"] = np.asarray(model.predict_proba(x))
    ids = ids or new_ids(len(data))
    log = PredictionLog(setup.workspace.settings.data_dir, flush_seconds=60)
    log.record(
        LoggedRequest(
            deployment=DEPLOYMENT,
            model="churn",
            model_version=version or setup.version,
            route=route,
            ids=ids,
            inputs={c: data[c].to_numpy() for c in ["customer_id", *FEATURES]},
            outputs=outputs,
            latency_ms=2.0,
            timestamp=when.timestamp(),
        )
    )
    log.close()
    return ids


def hours(n: float) -> timedelta:
    return timedelta(hours=n)


def configured_workspace(folder: Any, toml: str, db_url: str | None = None) -> Workspace:
    """A workspace whose shipyard.toml (in ``folder``) holds ``toml``."""
    from pathlib import Path

    from shipyard.config import load_settings

    root = Path(folder)
    root.mkdir(parents=True, exist_ok=True)
    (root / "shipyard.toml").write_text(toml, encoding="utf-8")
    overrides = {"home": str(root / "home")}
    if db_url:
        overrides["db_url"] = db_url
    return Workspace(load_settings(overrides, cwd=root, environ={}))


def drifted(rows: int = 400, seed: int = 50) -> pd.DataFrame:
    """Traffic with x1 shifted by 1σ and a new plan at 10%."""
    return frame(rows, seed=seed, shift=1.0, new_plan=0.1)

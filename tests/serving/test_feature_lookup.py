"""Feature lookup: requests carry entity keys; the server fetches what training used."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from tests.features.conftest import CUSTOMER, T0, events, spend_view, write
from typer.testing import CliRunner

from shipyard import features
from shipyard.cli import app as cli
from shipyard.errors import NotFound
from shipyard.features import FeatureService, FeatureView, OnDemandFeatureView
from shipyard.registry import promote, register_model
from shipyard.serving.deployments import create_deployment, get_deployment, update_deployment
from shipyard.serving.lookup import open_lookup
from shipyard.serving.predlog import query
from shipyard.serving.server import build_app
from shipyard.serving.spec import DeploymentSpec
from shipyard.store.lineage import upstream
from shipyard.workspace import Workspace

from .conftest import ServerThread, StartServer, Trained, routes_of, settings_for

FEATURES = ["amount", "count", "cart_ratio"]


def cart_ratio(frame: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame({"cart_ratio": frame["cart_value"] / (frame["amount"].abs() + 1.0)})


@dataclass
class Store:
    workspace: Workspace
    train: pd.DataFrame  # get_historical output: customer_id, cart_value, features, label
    model: Any


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    """Applied views + service, materialized to SQLite, a model trained on get_historical."""
    with Workspace(settings_for(tmp_path)) as workspace:
        view = spend_view(write(events(), tmp_path / "data" / "spend.parquet"), lookback=None)
        cart = OnDemandFeatureView(
            "cart",
            inputs=[view],
            request={"cart_value": "float64"},
            features={"cart_ratio": "float64"},
            fn=cart_ratio,
        )
        service = FeatureService("scoring", ["spend:amount", "spend:count", "cart:cart_ratio"])
        features.apply([view, cart, service], workspace=workspace)
        features.materialize(
            "spend", T0 - timedelta(days=1), T0 + timedelta(days=30), workspace=workspace
        )
        rng = np.random.default_rng(1)
        rows = pd.DataFrame(
            {
                "customer_id": np.arange(20),
                "event_timestamp": T0 + timedelta(days=60),
                "cart_value": rng.uniform(10, 100, 20).round(2),
                "label": np.arange(20) % 2,
            }
        )
        train = features.get_historical(rows, service="scoring", status=False, workspace=workspace)
        model = make_pipeline(SimpleImputer(), LogisticRegression()).fit(
            train[FEATURES], train["label"]
        )
        yield Store(workspace, train, model)


def _deploy(store: Store, **options: Any) -> ServerThread:
    register_model(
        store.model, "scorer", input_example=store.train[FEATURES], workspace=store.workspace
    )
    for stage in ("staging", "canary", "production"):
        promote("scorer/1", stage, reason="test", workspace=store.workspace)
    create_deployment(
        "scorer-api", "scorer", feature_service="scoring", workspace=store.workspace, **options
    )
    return ServerThread(build_app("scorer-api", workspace=store.workspace)).start()


def test_entity_keys_only_get_training_features_and_the_same_predictions(store: Store) -> None:
    server = _deploy(store)
    picked = store.train.iloc[[3, 0, 5, 17, 8]]  # customer 5's amount is null
    assert picked["amount"].isna().any()
    n = len(picked)
    records = picked[["customer_id", "cart_value"]].to_dict("records")
    try:
        reply = httpx.post(f"{server.url}/predict", json={"records": records})
        assert reply.status_code == 200, reply.text
        body = reply.json()
        v2 = httpx.post(
            f"{server.url}/v2/models/scorer/infer",
            json={
                "inputs": [
                    {
                        "name": "customer_id",
                        "shape": [n],
                        "datatype": "INT64",
                        "data": picked["customer_id"].tolist(),
                    },
                    {
                        "name": "cart_value",
                        "shape": [n],
                        "datatype": "FP64",
                        "data": picked["cart_value"].tolist(),
                    },
                ]
            },
        )
        assert v2.status_code == 200, v2.text
    finally:
        server.stop()  # flushes the prediction log
    expected = store.model.predict_proba(picked[FEATURES])
    np.testing.assert_allclose(body["probabilities"], expected, rtol=1e-12)
    proba = next(o for o in v2.json()["outputs"] if o["name"] == "predict_proba")
    np.testing.assert_allclose(np.reshape(proba["data"], (n, 2)), expected, rtol=1e-12)

    logged = query("scorer-api", workspace=store.workspace).set_index("prediction_id")
    first = logged.loc[body["prediction_ids"]]
    for column in ("inputs", "features"):
        values = pd.DataFrame([json.loads(text) for text in first[column]])
        want = picked[FEATURES].reset_index(drop=True).astype(float)
        pd.testing.assert_frame_equal(values[FEATURES].astype(float), want)
    inputs = pd.DataFrame([json.loads(text) for text in first["inputs"]])
    assert inputs["customer_id"].tolist() == picked["customer_id"].tolist()


def test_missing_keys_sent_features_and_unknown_entities_are_422(store: Store) -> None:
    server = _deploy(store)
    try:
        missing_key = httpx.post(f"{server.url}/predict", json={"records": [{"cart_value": 1.0}]})
        sent_feature = httpx.post(
            f"{server.url}/predict",
            json={"records": [{"customer_id": 1, "cart_value": 1.0, "amount": 3.0}]},
        )
        # Never materialized: every feature is null (the feature store's rule); 'amount'
        # was nullable in training, 'count' was not, so the signature refuses it.
        unknown = httpx.post(
            f"{server.url}/predict", json={"records": [{"customer_id": 999, "cart_value": 1.0}]}
        )
    finally:
        server.stop()
    assert missing_key.status_code == 422
    assert missing_key.json()["problems"][0]["column"] == "customer_id"
    assert "entity key of feature service 'scoring'" in missing_key.text
    assert sent_feature.status_code == 422
    assert sent_feature.json()["problems"] == [
        {"column": "amount", "reason": "looked up from feature service 'scoring'; do not send it"}
    ]
    assert unknown.status_code == 422
    assert [p["column"] for p in unknown.json()["problems"]] == ["count"]
    assert "not nullable" in unknown.text


@pytest.fixture(params=["sqlite", "redis"])
def online_workspace(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Workspace]:
    """A workspace whose online store is SQLite, then Redis (keys removed afterwards)."""
    overrides = {}
    prefix = f"test-lookup-{uuid.uuid4().hex}:"
    if request.param == "redis":
        overrides["online_store"] = f"{request.getfixturevalue('redis_server')}?prefix={prefix}"
    with Workspace(settings_for(tmp_path, **overrides)) as workspace:
        yield workspace
    if request.param == "redis":
        import redis

        client = redis.Redis.from_url(request.getfixturevalue("redis_server"))
        keys = list(client.scan_iter(match=f"{prefix}*"))
        if keys:
            client.delete(*keys)
        client.close()


def test_lookup_matches_get_online_for_present_missing_and_text_views(
    tmp_path: Path, online_workspace: Workspace
) -> None:
    frame = events()
    frame["segment"] = np.where(frame["count"] % 2 == 0, "even", "odd")
    source = write(frame, tmp_path / "data" / "e.parquet")
    text = FeatureView(
        "segments",
        entity=CUSTOMER,
        source=source,
        features={"segment": "string", "count": "int64"},
        created_timestamp="created",
    )
    service = FeatureService("both", ["spend:amount", "spend:count", "segments:segment"])
    features.apply([spend_view(source), text, service], workspace=online_workspace)
    for view in ("spend", "segments"):
        features.materialize(view, T0, T0 + timedelta(days=30), workspace=online_workspace)
    ids = np.array([5, 999, 0, 12, 5])
    lookup = open_lookup(online_workspace.settings, "both")
    try:
        got = lookup.fetch({"customer_id": ids}).features
    finally:
        lookup.close()
    online = features.get_online(
        [{"customer_id": int(i)} for i in ids], service="both", workspace=online_workspace
    )
    want = online.to_frame()
    assert got["count"].dtype == np.float64  # an integer feature with a null: floats + NaN
    for column in ("amount", "count"):
        np.testing.assert_array_equal(got[column], want[column].astype(float).to_numpy())
    assert got["segment"].tolist() == [row["segment"] for row in online.rows]
    assert got["segment"][1] is None


def test_deployment_stores_and_checks_its_feature_service(store: Store) -> None:
    workspace = store.workspace
    register_model(store.model, "scorer", input_example=store.train[FEATURES], workspace=workspace)
    with pytest.raises(NotFound, match="Did you mean 'scoring'"):
        create_deployment("api", "scorer", feature_service="scorin", workspace=workspace)
    spec = create_deployment("api", "scorer", feature_service="scoring", workspace=workspace)
    assert spec.feature_service == "scoring"
    assert spec.to_dict()["feature_service"] == "scoring"
    edges = upstream(workspace.store, ("deployment", "api"))
    assert (("feature_service", "scoring"), "features") in [(e.src, e.relation) for e in edges]
    assert update_deployment("api", feature_service="", workspace=workspace).feature_service is None

    home = str(workspace.settings.home)
    runner = CliRunner()
    made = runner.invoke(
        cli,
        [
            "--home",
            home,
            "deployments",
            "create",
            "cli-api",
            "--model",
            "scorer",
            "--feature-service",
            "scoring",
            "--json",
        ],
    )
    assert made.exit_code == 0, made.output
    assert json.loads(made.output)["feature_service"] == "scoring"
    bad = runner.invoke(
        cli, ["--home", home, "deployments", "update", "cli-api", "--feature-service", "nope"]
    )
    assert bad.exit_code == 2 and "Unknown feature service 'nope'" in bad.output
    assert get_deployment("cli-api", workspace=workspace).feature_service == "scoring"


def test_unknown_feature_service_keeps_the_server_not_ready(
    start_server: StartServer, trained: Trained
) -> None:
    spec = DeploymentSpec("api", "cancer", feature_service="nowhere")
    server = start_server(spec, routes_of(trained.served()), wait_ready=False)
    reply = httpx.get(f"{server.url}/readyz")
    for _ in range(200):
        if "feature service" in reply.text:
            break
        reply = httpx.get(f"{server.url}/readyz")
    assert reply.status_code == 503
    assert "Unknown feature service 'nowhere'" in reply.json()["reason"]

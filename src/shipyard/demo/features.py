"""Demo stage: features defined once, trained on point in time, served online.

Builds a seeded synthetic customer table (daily activity aggregates) under the
workspace's data folder, applies an entity, a feature view, an on-demand view
and a feature service, retrieves point-in-time training rows for labelled
churn events, trains a classifier in a tracked run (the view versions become
lineage inputs of the run), materializes the latest values into the online
store and reads them back for a few customers, with an on-demand feature.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from rich.console import Console
from rich.table import Table

from shipyard import features
from shipyard.features import Entity, FeatureService, FeatureView, OnDemandFeatureView
from shipyard.tracking import start_run
from shipyard.workspace import Workspace

if TYPE_CHECKING:
    from shipyard.demo.main import DemoResult

SEED = 11
CUSTOMERS = 400
DAYS = 60
EXPERIMENT = "customer-churn-features"
CHURN_MODEL = "customer-churn"
CHURN_FEATURES = ["spend_7d", "orders_7d"]


def activity_table(today: datetime) -> pd.DataFrame:
    """One row per customer per day: 7-day spend and orders (seeded, shaped like a CRM)."""
    rng = np.random.default_rng(SEED)
    ids = np.repeat(np.arange(CUSTOMERS), DAYS)
    day = np.tile(np.arange(DAYS), CUSTOMERS)
    engagement = rng.gamma(2.0, 1.0, CUSTOMERS)[ids] * np.exp(
        -day * rng.uniform(0, 0.03, CUSTOMERS)[ids]
    )
    orders = rng.poisson(engagement * 3)
    spend = (orders * rng.gamma(5.0, 8.0, len(ids))).round(2)
    stamps = pd.Timestamp(today) - pd.to_timedelta(DAYS - day, unit="D")
    return pd.DataFrame(
        {
            "customer_id": ids,
            "event_timestamp": stamps,
            "created": stamps + pd.Timedelta(minutes=5),
            "spend_7d": spend,
            "orders_7d": orders.astype("int64"),
        }
    )


def label_rows(activity: pd.DataFrame, today: datetime) -> pd.DataFrame:
    """Churn labels at random times: low recent orders make churn likely."""
    rng = np.random.default_rng(SEED + 1)
    n = CUSTOMERS * 4
    when = pd.Timestamp(today) - pd.to_timedelta(rng.uniform(1, DAYS - 8, n), unit="D")
    rows = pd.DataFrame({"customer_id": rng.integers(0, CUSTOMERS, n), "event_timestamp": when})
    recent = activity.groupby("customer_id")["orders_7d"].mean()
    risk = 1 / (1 + np.exp(recent.loc[rows.customer_id].to_numpy() - 3))
    rows["churned"] = (rng.random(n) < risk).astype(int)
    return rows


def basket(frame: pd.DataFrame) -> pd.DataFrame:
    """On-demand: the cart in the request compared with the customer's usual basket."""
    usual = frame["spend_7d"] / frame["orders_7d"].clip(lower=1)
    return pd.DataFrame({"cart_vs_usual": frame["cart_value"] / usual.where(usual > 0)})


def definitions(source: str) -> list[Any]:
    customer = Entity("customer", join_keys=["customer_id"], description="A shop customer.")
    activity = FeatureView(
        "customer_activity",
        entity=customer,
        source=source,
        features={"spend_7d": "float64", "orders_7d": "int64"},
        created_timestamp="created",
        lookback=timedelta(days=3),
        online_ttl=timedelta(days=2),
        description="Rolling 7-day spend and orders per customer, daily.",
    )
    cart = OnDemandFeatureView(
        "cart",
        inputs=[activity],
        request={"cart_value": "float64"},
        features={"cart_vs_usual": "float64"},
        fn=basket,
    )
    service = FeatureService("churn_model", features=[activity])
    return [customer, activity, cart, service]


def feature_stage(workspace: Workspace, result: DemoResult, console: Console) -> None:
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import train_test_split

    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    folder = workspace.settings.data_dir / "demo" / "customer_activity"
    folder.mkdir(parents=True, exist_ok=True)
    activity = activity_table(today)
    activity.to_parquet(folder / "activity.parquet", index=False)
    plan = features.apply(definitions(str(folder)), workspace=workspace)
    console.print(f"applied: {plan.versions or 'no changes'}")

    labels = label_rows(activity, today)
    with start_run(EXPERIMENT, tags={"stage": "demo-features"}, workspace=workspace) as run:
        train = features.get_historical(labels, service="churn_model", run=run, workspace=workspace)
        # named float columns: the model's signature is what the server validates against
        x = train[CHURN_FEATURES].astype("float64").fillna(0.0)
        x_tr, x_te, y_tr, y_te = train_test_split(
            x, train["churned"], test_size=0.25, random_state=SEED, stratify=train["churned"]
        )
        model = LogisticRegression(max_iter=500).fit(x_tr, y_tr)
        auc = float(roc_auc_score(y_te, model.predict_proba(x_te)[:, 1]))
        run.log_params({"model": "logistic", "features": "churn_model", "rows": len(train)})
        run.log_metric("roc_auc", auc)
        churn = _register_churn(workspace, result, run, model, x_tr)
    present = float((train["customer_activity__status"] == "present").mean())
    console.print(
        f"point-in-time training rows: {len(train)} ({present:.0%} with features); "
        f"run {run.id[:8]} ROC AUC {auc:.3f}"
    )

    done = features.materialize_incremental("customer_activity", workspace=workspace)
    console.print(f"materialized {done.rows} customers into {workspace.settings.online_store}")
    rows = [{"customer_id": i, "cart_value": 40.0 * (i + 1)} for i in (3, 7, 42, 100_000)]
    online = features.get_online(
        rows,
        ["customer_activity:spend_7d", "customer_activity:orders_7d", "cart:cart_vs_usual"],
        workspace=workspace,
    )
    table = Table("customer", "spend_7d", "orders_7d", "cart_vs_usual", "status", title="online")
    for row, values, status in zip(rows, online.rows, online.status, strict=True):
        table.add_row(
            str(row["customer_id"]),
            *(_fmt(values[c]) for c in ("spend_7d", "orders_7d", "cart_vs_usual")),
            status["spend_7d"],
        )
    console.print(table)
    result.extras["features"] = {
        "run_id": run.id,
        "roc_auc": auc,
        "training_rows": len(train),
        "materialized": done.rows,
        "online": online.to_dict(),
        "model_ref": churn,
    }


def _register_churn(
    workspace: Workspace, result: DemoResult, run: Any, model: Any, x_train: pd.DataFrame
) -> str:
    """The churn model into production, so that it can be served by customer id."""
    from shipyard.registry import promote

    tokens = result.extras.get("tokens", {})
    info = run.log_model(
        model, CHURN_MODEL, input_example=x_train[:5], token=tokens.get("developer")
    )
    for stage, role in (
        ("staging", "developer"),
        ("canary", "developer"),
        ("production", "approver"),
    ):
        promote(info.ref, stage, reason="demo", token=tokens.get(role), workspace=workspace)
    return str(info.ref)


def _fmt(value: Any) -> str:
    return "-" if value is None else f"{value:.3g}" if isinstance(value, float) else str(value)

"""Demo stage: train a classifier on breast-cancer data inside a tracked run."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from rich.console import Console
from rich.progress import track

from shipyard.tracking import start_run
from shipyard.workspace import Workspace

if TYPE_CHECKING:
    from shipyard.demo.main import DemoResult

EXPERIMENT = "breast-cancer"
EPOCHS = 30
SEED = 7


def train(workspace: Workspace, result: DemoResult, console: Console) -> None:
    from sklearn.datasets import load_breast_cancer
    from sklearn.linear_model import SGDClassifier
    from sklearn.metrics import accuracy_score, f1_score, log_loss, roc_auc_score
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler

    data = load_breast_cancer(as_frame=True)
    x_train, x_test, y_train, y_test = train_test_split(
        data.data, data.target, test_size=0.25, random_state=SEED, stratify=data.target
    )
    scaler = StandardScaler().fit(x_train)
    train_x, test_x = scaler.transform(x_train), scaler.transform(x_test)
    params = {"model": "sgd-logistic", "alpha": 1e-4, "epochs": EPOCHS, "seed": SEED}
    model = SGDClassifier(loss="log_loss", alpha=params["alpha"], random_state=SEED)
    classes = np.unique(y_train)
    with start_run(EXPERIMENT, tags={"stage": "demo"}, workspace=workspace) as run:
        run.log_params(params)
        for _epoch in track(range(EPOCHS), description="training", console=console):
            model.partial_fit(train_x, y_train, classes=classes)
            run.log_metric("train_loss", log_loss(y_train, model.predict_proba(train_x)))
            run.log_metric("val_loss", log_loss(y_test, model.predict_proba(test_x)))
        proba = model.predict_proba(test_x)[:, 1]
        final = {
            "accuracy": accuracy_score(y_test, proba > 0.5),
            "f1": f1_score(y_test, proba > 0.5),
            "roc_auc": roc_auc_score(y_test, proba),
        }
        run.log_metrics(final)
        run.log_text(str(list(data.feature_names)), "features.txt")
    result.run_id = run.id
    result.metrics = {k: float(v) for k, v in final.items()}
    result.extras.update(
        model=model, scaler=scaler, x_train=x_train, x_test=x_test, y_train=y_train, y_test=y_test
    )
    console.print(
        f"run {run.id} finished: accuracy {final['accuracy']:.3f}, ROC AUC {final['roc_auc']:.3f}"
    )

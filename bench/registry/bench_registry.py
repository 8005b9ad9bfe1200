"""Log + register + load of one scikit-learn pipeline: shipyard vs MLflow, both on SQLite.

Run: .venv/bin/python bench/registry/bench_registry.py [--repeats 5]

Each side runs in its own process (MLflow in a throwaway virtualenv from
``bench.common.peer_python``), fits the same pipeline (StandardScaler +
LogisticRegression on the breast-cancer data) outside the timed region, then
times ``repeats`` rounds of: start a run, log the model with an input example
and register it under a name, load it back by version, predict. Reported: the
median round, the first round (cold caches, imports excluded), and the ratio.
Both sides record exact requirements (MLflow infers them; shipyard reads
installed metadata).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from common import machine, median, peer_python, ratio, run_json, stamp

MLFLOW = ["mlflow==3.17.2", "scikit-learn==1.9.1"]


def _pipeline() -> tuple[Any, Any]:
    from sklearn.datasets import load_breast_cancer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    x, y = load_breast_cancer(return_X_y=True, as_frame=True)
    return make_pipeline(StandardScaler(), LogisticRegression(max_iter=500)).fit(x, y), x


def shipyard_rounds(repeats: int) -> list[float]:
    import shipyard as sy

    model, x = _pipeline()
    ws = sy.connect(home=tempfile.mkdtemp(prefix="bench-shipyard-"))
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        with sy.start_run("bench", workspace=ws) as run:
            info = run.log_model(model, "churn", input_example=x[:5])
        sy.load_model(info.ref, workspace=ws).predict(x[:5])
        times.append(time.perf_counter() - start)
    assert info.requirements["scikit-learn"]
    return times


def mlflow_rounds(repeats: int) -> list[float]:
    import logging
    import warnings

    import mlflow
    import mlflow.sklearn

    warnings.filterwarnings("ignore")
    logging.getLogger("mlflow").setLevel(logging.ERROR)
    model, x = _pipeline()
    folder = tempfile.mkdtemp(prefix="bench-mlflow-")
    mlflow.set_tracking_uri(f"sqlite:///{folder}/mlflow.db")
    mlflow.set_experiment("bench")
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        with mlflow.start_run():
            info = mlflow.sklearn.log_model(
                model, name="model", input_example=x[:5], registered_model_name="churn"
            )
        uri = f"models:/churn/{info.registered_model_version}"
        mlflow.sklearn.load_model(uri).predict(x[:5])
        times.append(time.perf_counter() - start)
    return times


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--worker", choices=["shipyard", "mlflow"])
    args = parser.parse_args()
    if args.worker:
        rounds = shipyard_rounds if args.worker == "shipyard" else mlflow_rounds
        print(json.dumps(rounds(args.repeats)))
        return
    here = Path(__file__).resolve()
    mine = run_json(sys.executable, here, "--worker", "shipyard", "--repeats", str(args.repeats))
    peer = run_json(
        peer_python("mlflow", MLFLOW), here, "--worker", "mlflow", "--repeats", str(args.repeats)
    )
    rows = [
        ("log + register + load, median", median(mine), median(peer)),
        ("first round", mine[0], peer[0]),
    ]
    report(rows, args.repeats)


def report(rows: list[tuple[str, float, float]], repeats: int) -> None:
    lines = [
        "# Registry benchmark: log + register + load vs MLflow",
        "",
        f"- machine: {machine()}",
        f"- date: {stamp()}",
        f"- command: `.venv/bin/python bench/registry/bench_registry.py --repeats {repeats}`",
        f"- peer: {', '.join(MLFLOW)} in a throwaway virtualenv; both on SQLite + local files",
        "- model: StandardScaler + LogisticRegression on breast-cancer (30 columns), fitted "
        "outside the timed region; each round starts a run, logs with an input example, "
        "registers, loads by version and predicts 5 rows",
        "",
        "| measure | shipyard (s) | MLflow (s) | MLflow / shipyard |",
        "|---|---|---|---|",
        *(f"| {name} | {a:.4f} | {b:.3f} | {ratio(b, a):.0f}× |" for name, a, b in rows),
        "",
    ]
    out = Path(__file__).with_name("RESULTS.md")
    out.write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()

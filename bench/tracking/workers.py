"""The tracking workloads, one per scenario, for shipyard and for MLflow side by side.

Run in a fresh subprocess by ``bench_tracking.py``; this file uses the standard
library and the tool under test only, because MLflow's interpreter lives in a
throwaway virtualenv without shipyard (and shipyard's without MLflow)::

    python workers.py TOOL SCENARIO WORKDIR [COUNT] [SEARCHES]

TOOL is ``shipyard``, ``mlflow`` or ``mlflow-async``; SCENARIO is ``metrics``
(a), ``runs`` (b), ``populate`` / ``search`` (c) or ``first-use`` (d). The
last line printed is one JSON document with the timings. Both tools get the
same treatment: the store is created and warmed by an untimed run first
(except in ``first-use``, which times exactly that), the same values are
logged through each tool's ordinary public API, and what was written is read
back and counted after the clock stops.
"""

from __future__ import annotations

import json
import os
import random
import sys
import time
from pathlib import Path
from typing import Any

FILTER = "metrics.auc > 0.5 and params.model = 'lr'"


def _params(index: int) -> dict[str, Any]:
    return {f"p{j}": index * 10 + j for j in range(10)}


def _metrics(index: int) -> dict[str, float]:
    return {f"m{j}": (index * 10 + j) / 1000 for j in range(10)}


def _search_run(index: int, rng: random.Random) -> tuple[dict[str, Any], dict[str, float]]:
    """Params and metrics of run ``index`` of the search corpus (same seed for both tools)."""
    params = {"model": "lr" if index % 2 == 0 else "rf", "C": rng.choice([0.1, 1.0, 10.0])}
    params["seed"] = index
    return params, {"auc": rng.random(), "loss": rng.random()}


# -- shipyard ---------------------------------------------------------------------


class Shipyard:
    """The workloads through ``import shipyard as sy`` on the store in SHIPYARD_HOME."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir

    def warm(self) -> Any:
        import shipyard as sy

        with sy.start_run(experiment="warmup") as run:
            run.log_metric("warm", 1.0)
        return sy

    def metrics(self, count: int) -> dict[str, Any]:
        sy = self.warm()
        started = time.perf_counter()
        run = sy.start_run(experiment="bench-metrics")
        start_s = time.perf_counter() - started
        started = time.perf_counter()
        for step in range(count):
            run.log_metric("loss", 1.0 / (step + 1), step=step)
        run.end()  # flushes the buffer: every point is written when this returns
        seconds = time.perf_counter() - started
        stored = len(sy.metric_history(run.id, "loss"))
        return {"seconds": seconds, "start_run_s": start_s, "stored": stored}

    def runs(self, count: int) -> dict[str, Any]:
        sy = self.warm()
        started = time.perf_counter()
        for index in range(count):
            with sy.start_run(experiment="bench-runs") as run:
                run.log_params(_params(index))
                run.log_metrics(_metrics(index))
        seconds = time.perf_counter() - started
        stored = len(sy.search_runs("bench-runs", max_results=count + 10))
        return {"seconds": seconds, "stored": stored}

    def populate(self, count: int) -> dict[str, Any]:
        sy = self.warm()
        rng = random.Random(42)
        started = time.perf_counter()
        for index in range(count):
            params, metrics = _search_run(index, rng)
            with sy.start_run(experiment="bench-search") as run:
                run.log_params(params)
                run.log_metrics(metrics)
        seconds = time.perf_counter() - started
        return {"seconds": seconds, "stored": count}

    def search(self, count: int, searches: int) -> dict[str, Any]:
        import shipyard as sy

        sy.list_experiments()  # opens the store, as MLflow's experiment lookup does

        def once() -> int:
            return len(sy.search_runs("bench-search", filter=FILTER, max_results=count))

        return _time_searches(once, searches)

    def first_use(self) -> dict[str, Any]:
        started = time.perf_counter()
        import shipyard as sy

        imported = time.perf_counter()
        with sy.start_run(experiment="first") as run:
            run.log_metric("auc", 0.9)
        done = time.perf_counter()
        return {"import_s": imported - started, "first_use_s": done - imported}


# -- MLflow -----------------------------------------------------------------------


class Mlflow:
    """The same workloads through ``import mlflow`` on ``sqlite:///`` + a local artifact folder."""

    def __init__(self, workdir: Path, synchronous: bool = True) -> None:
        self.workdir = workdir
        self.uri = f"sqlite:///{workdir / 'mlflow.db'}"
        self.artifacts = (workdir / "mlartifacts").as_uri()
        self.synchronous = synchronous

    def use(self, experiment: str) -> Any:
        import mlflow

        mlflow.set_tracking_uri(self.uri)
        client = mlflow.MlflowClient()
        found = client.get_experiment_by_name(experiment)
        if found is None:
            client.create_experiment(experiment, artifact_location=f"{self.artifacts}/{experiment}")
        mlflow.set_experiment(experiment)
        return mlflow

    @staticmethod
    def experiment_id(client: Any, name: str) -> str:
        found = client.get_experiment_by_name(name)
        if found is None:
            raise SystemExit(f"MLflow has no experiment {name!r}")
        return str(found.experiment_id)

    def warm(self) -> Any:
        mlflow = self.use("warmup")
        with mlflow.start_run():
            mlflow.log_metric("warm", 1.0)
        return mlflow

    def metrics(self, count: int) -> dict[str, Any]:
        self.warm()
        mlflow = self.use("bench-metrics")
        started = time.perf_counter()
        run = mlflow.start_run()
        start_s = time.perf_counter() - started
        started = time.perf_counter()
        for step in range(count):
            mlflow.log_metric("loss", 1.0 / (step + 1), step=step, synchronous=self.synchronous)
        mlflow.end_run()  # waits for queued async writes too
        seconds = time.perf_counter() - started
        history = mlflow.MlflowClient().get_metric_history(run.info.run_id, "loss")
        return {"seconds": seconds, "start_run_s": start_s, "stored": len(history)}

    def runs(self, count: int) -> dict[str, Any]:
        self.warm()
        mlflow = self.use("bench-runs")
        started = time.perf_counter()
        for index in range(count):
            with mlflow.start_run():
                mlflow.log_params(_params(index))
                mlflow.log_metrics(_metrics(index))
        seconds = time.perf_counter() - started
        client = mlflow.MlflowClient()
        found = client.search_runs([self.experiment_id(client, "bench-runs")], max_results=count)
        return {"seconds": seconds, "stored": len(found)}

    def populate(self, count: int) -> dict[str, Any]:
        self.warm()
        mlflow = self.use("bench-search")
        rng = random.Random(42)
        started = time.perf_counter()
        for index in range(count):
            params, metrics = _search_run(index, rng)
            with mlflow.start_run():
                mlflow.log_params(params)
                mlflow.log_metrics(metrics)
        seconds = time.perf_counter() - started
        return {"seconds": seconds, "stored": count}

    def search(self, count: int, searches: int) -> dict[str, Any]:
        import mlflow

        mlflow.set_tracking_uri(self.uri)
        client = mlflow.MlflowClient()
        experiment_id = self.experiment_id(client, "bench-search")

        def once() -> int:
            return len(client.search_runs([experiment_id], filter_string=FILTER, max_results=count))

        return _time_searches(once, searches)

    def first_use(self) -> dict[str, Any]:
        started = time.perf_counter()
        import mlflow

        imported = time.perf_counter()
        mlflow.set_tracking_uri(self.uri)
        experiment_id = mlflow.create_experiment("first", artifact_location=self.artifacts)
        with mlflow.start_run(experiment_id=experiment_id):
            mlflow.log_metric("auc", 0.9)
        done = time.perf_counter()
        return {"import_s": imported - started, "first_use_s": done - imported}


def _time_searches(once: Any, searches: int) -> dict[str, Any]:
    """The first search of the process (cold) and then ``searches`` more (warm), timed apart."""
    started = time.perf_counter()
    matched = once()
    cold = time.perf_counter() - started
    warm = []
    for _ in range(searches):
        started = time.perf_counter()
        if once() != matched:
            raise SystemExit("search results changed between two identical searches")
        warm.append(time.perf_counter() - started)
    return {"cold_s": cold, "warm_s": warm, "matched": matched}


def main(argv: list[str]) -> None:
    tool, scenario, workdir = argv[0], argv[1], Path(argv[2])
    numbers = [int(a) for a in argv[3:]]
    os.chdir(workdir)  # outside any git repository, so neither tool samples git state
    bench: Shipyard | Mlflow = (
        Shipyard(workdir) if tool == "shipyard" else Mlflow(workdir, tool != "mlflow-async")
    )
    if scenario == "metrics":
        result = bench.metrics(numbers[0])
    elif scenario == "runs":
        result = bench.runs(numbers[0])
    elif scenario == "populate":
        result = bench.populate(numbers[0])
    elif scenario == "search":
        result = bench.search(numbers[0], numbers[1])
    elif scenario == "first-use":
        result = bench.first_use()
    else:
        raise SystemExit(f"unknown scenario {scenario!r}")
    print(json.dumps(result))


if __name__ == "__main__":
    main(sys.argv[1:])

"""Demo stage: serve the production model over HTTP, with a canary, under load.

Registers a challenger, puts it in ``canary`` and creates a deployment that
sends it 20% of the traffic; starts ``shipyard serve`` as a real server process;
drives it from a few client threads; promotes the challenger to production and
rolls it back while the load runs (the server follows the registry, so no
request fails); shows an Open Inference Protocol V2 call, a rejected request,
the latency percentiles and the Prometheus counters; and stops the server
cleanly, which flushes the prediction log.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import numpy as np
from rich.console import Console
from rich.table import Table

from shipyard.config import SETTINGS, Settings
from shipyard.errors import BackendUnavailable, GateFailed
from shipyard.registry import load_model, promote, register_model, rollback
from shipyard.serving.deployments import create_deployment, list_deployments
from shipyard.serving.predlog import query
from shipyard.workspace import Workspace

if TYPE_CHECKING:
    from shipyard.demo.main import DemoResult

MODEL = "breast-cancer"
DEPLOYMENT = "breast-cancer-api"
CHURN_DEPLOYMENT = "customer-churn-api"
CHURN_SERVICE = "churn_model"
CANARY_PERCENT = 20.0
CLIENTS = 4
STEADY_SECONDS = 2.0
READY_TIMEOUT_SECONDS = 120.0
SWAP_TIMEOUT_SECONDS = 20.0


@dataclass
class Traffic:
    """What the client threads saw: one entry per request."""

    latencies_ms: list[float] = field(default_factory=list)
    answers: list[tuple[float, str, str]] = field(default_factory=list)  # (time, version, route)
    failures: list[str] = field(default_factory=list)

    def since(self, moment: float) -> list[tuple[float, str, str]]:
        return [answer for answer in self.answers if answer[0] >= moment]


def serving_stage(workspace: Workspace, result: DemoResult, console: Console) -> None:
    extras = result.extras
    tokens = extras.get("tokens", {})
    production = str(extras.get("model_ref", f"{MODEL}/1"))
    challenger = _challenger(workspace, result, tokens.get("developer"), console)
    if DEPLOYMENT not in {d.name for d in list_deployments(workspace=workspace)}:
        create_deployment(DEPLOYMENT, MODEL, canary_percent=CANARY_PERCENT, workspace=workspace)
    console.print(
        f"deployment {DEPLOYMENT}: production {production}, canary {challenger or '-'} "
        f"({CANARY_PERCENT:g}% of traffic)"
    )
    body = {"records": extras["x_test"].iloc[:1].to_dict("records")}
    with _server(workspace.settings, console) as url:
        traffic = Traffic()
        with _load(url, body, traffic):
            time.sleep(STEADY_SECONDS)
        _print_steady(traffic, console)
        if challenger is not None:
            _swap_under_load(workspace, url, body, challenger, tokens.get("approver"), console)
        _show_v2_and_rejection(url, extras, console)
        _print_metrics(httpx.get(f"{url}/metrics").text, console)
        extras["served_url"] = url
    logged = len(query(DEPLOYMENT, workspace=workspace))
    console.print(f"server stopped cleanly; {logged} predictions in the prediction log")
    extras["served_predictions"] = logged
    if extras.get("features", {}).get("model_ref"):
        _serve_by_entity_key(workspace, extras, console)


def _challenger(
    workspace: Workspace, result: DemoResult, developer: str | None, console: Console
) -> str | None:
    """A second good model (plain logistic regression), registered and put in canary."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    extras = result.extras
    model = make_pipeline(StandardScaler(), LogisticRegression(C=0.5, max_iter=1000))
    model.fit(extras["x_train"], extras["y_train"])
    info = register_model(
        model,
        MODEL,
        input_example=extras["x_train"][:5],
        golden=(extras["x_test"], extras["y_test"]),
        token=developer,
        workspace=workspace,
    )
    try:
        for stage in ("staging", "canary"):
            promote(info.ref, stage, reason="demo challenger", token=developer, workspace=workspace)
    except GateFailed as error:
        console.print(f"[yellow]challenger {info.ref} stopped by a gate:[/] {error.message}")
        return None
    console.print(f"challenger {info.ref} (logistic regression) → canary")
    return info.ref


def _serve_by_entity_key(workspace: Workspace, extras: dict[str, Any], console: Console) -> None:
    """The feature-store model answers requests that carry only a customer id."""
    from shipyard import features

    model_name = str(extras["features"]["model_ref"]).split("/")[0]
    if CHURN_DEPLOYMENT not in {d.name for d in list_deployments(workspace=workspace)}:
        create_deployment(
            CHURN_DEPLOYMENT, model_name, feature_service=CHURN_SERVICE, workspace=workspace
        )
    customers = [3, 7, 42]
    with _server(workspace.settings, console, CHURN_DEPLOYMENT) as url:
        reply = httpx.post(
            f"{url}/predict", json={"records": [{"customer_id": c} for c in customers]}
        )
    reply.raise_for_status()
    served = [round(p[1], 4) for p in reply.json()["probabilities"]]
    online = features.get_online(
        [{"customer_id": c} for c in customers], service=CHURN_SERVICE, workspace=workspace
    ).to_frame()

    local = load_model(f"{model_name}@production", workspace=workspace)
    expected = [
        round(float(p[1]), 4)
        for p in local.predict_proba(online[["spend_7d", "orders_7d"]].astype("float64"))
    ]
    console.print(
        f"{CHURN_DEPLOYMENT} (feature service {CHURN_SERVICE}) answered customer ids "
        f"{customers} with churn probabilities {served}: features looked up online by the "
        f"server; same as the model on get_online's values: {served == expected}"
    )
    extras["served_by_entity"] = served == expected


@contextmanager
def _server(settings: Settings, console: Console, target: str = DEPLOYMENT) -> Iterator[str]:
    """``shipyard serve TARGET`` in its own process; stopped with Ctrl-C's signal."""
    port = _free_port()
    log_path = Path(settings.home) / f"demo-server-{target}.log"
    command = [sys.executable, "-c", "from shipyard.cli import main; main()"]
    args = ["serve", target, "--host", "127.0.0.1", "--port", str(port)]
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [*command, *args], env=_environment(settings), stdout=log, stderr=log
        )
    url = f"http://127.0.0.1:{port}"
    try:
        started = time.monotonic()
        _wait_ready(url, process, log_path)
        console.print(
            f"shipyard serve {target} --port {port}: ready in "
            f"{time.monotonic() - started:.1f} s (model loaded and warmed)"
        )
        yield url
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _environment(settings: Settings) -> dict[str, str]:
    """This process's environment with the workspace's effective settings spelled out."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHIPYARD_")}
    for setting in SETTINGS:
        value = getattr(settings, setting.name)
        if settings.sources.get(setting.name) != "default" or setting.name == "home":
            env[setting.env_var] = str(value)
    return env


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait_ready(url: str, process: subprocess.Popen[bytes], log_path: Path) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise BackendUnavailable(
                f"The demo server exited with code {process.returncode}:\n"
                f"{log_path.read_text(errors='replace')[-2000:]}"
            )
        try:
            if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise BackendUnavailable(
        f"The demo server was not ready within {READY_TIMEOUT_SECONDS:g} s; see {log_path}."
    )


@contextmanager
def _load(url: str, body: dict[str, Any], traffic: Traffic) -> Iterator[None]:
    """``CLIENTS`` threads posting one-row predictions back to back until the block ends."""
    stop = threading.Event()

    def client() -> None:
        with httpx.Client(base_url=url, timeout=10) as http:
            while not stop.is_set():
                sent = time.perf_counter()
                try:
                    reply = http.post("/predict", json=body)
                    reply.raise_for_status()
                    answer = reply.json()
                except httpx.HTTPError as error:
                    traffic.failures.append(f"{type(error).__name__}: {error}")
                    continue
                traffic.latencies_ms.append((time.perf_counter() - sent) * 1000)
                traffic.answers.append(
                    (time.monotonic(), str(answer["model_version"]), answer["route"])
                )

    threads = [threading.Thread(target=client, daemon=True) for _ in range(CLIENTS)]
    for thread in threads:
        thread.start()
    try:
        yield
    finally:
        stop.set()
        for thread in threads:
            thread.join()


def _print_steady(traffic: Traffic, console: Console) -> None:
    count = len(traffic.answers)
    shares = Counter(route for _, _, route in traffic.answers)
    p50, p95, p99 = np.percentile(traffic.latencies_ms, [50, 95, 99]) if count else (0, 0, 0)
    console.print(
        f"{count} requests from {CLIENTS} clients in {STEADY_SECONDS:g} s, "
        f"{len(traffic.failures)} failed; latency p50 {p50:.1f} ms, p95 {p95:.1f} ms, "
        f"p99 {p99:.1f} ms; routes "
        + ", ".join(f"{route} {n / max(count, 1):.0%}" for route, n in sorted(shares.items()))
    )


def _swap_under_load(
    workspace: Workspace,
    url: str,
    body: dict[str, Any],
    challenger: str,
    approver: str | None,
    console: Console,
) -> None:
    """Promote the canary, then roll back, while clients keep sending."""
    name, version = challenger.split("/")
    traffic = Traffic()
    with _load(url, body, traffic):
        time.sleep(0.5)
        promote(challenger, "production", reason="demo", token=approver, workspace=workspace)
        promoted_at = time.monotonic()
        took = _until_serving(traffic, promoted_at, version)
        console.print(f"{challenger}: canary → production under load; serving it after {took}")
        rollback(name, reason="demo: one-step rollback", token=approver, workspace=workspace)
        rolled_at = time.monotonic()
        back = _until_serving(traffic, rolled_at, None, leaving=version)
        console.print(f"rollback {name}: the previous production version is back after {back}")
        time.sleep(0.3)
    console.print(
        f"{len(traffic.answers)} requests during the swap and the rollback, "
        f"[bold]{len(traffic.failures)} failed[/]"
    )


def _until_serving(
    traffic: Traffic, since: float, version: str | None, leaving: str | None = None
) -> str:
    """Wait until production answers come from ``version`` (or from anything but ``leaving``)."""
    deadline = since + SWAP_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        for at, served, route in traffic.since(since):
            if route == "production" and (served == version or (leaving and served != leaving)):
                return f"{at - since:.2f} s"
        time.sleep(0.05)
    return f"more than {SWAP_TIMEOUT_SECONDS:g} s (is the server following the registry?)"


def _show_v2_and_rejection(url: str, extras: dict[str, Any], console: Console) -> None:
    row = extras["x_test"].iloc[:2]
    inputs = [
        {"name": column, "datatype": "FP64", "shape": [len(row)], "data": row[column].tolist()}
        for column in row.columns
    ]
    reply = httpx.post(f"{url}/v2/models/{MODEL}/infer", json={"inputs": inputs}).json()
    outputs = {output["name"]: output["data"] for output in reply["outputs"]}
    console.print(
        f"Open Inference Protocol V2 /v2/models/{MODEL}/infer: version "
        f"{reply.get('model_version')}, predict {outputs.get('predict')}"
    )
    broken = extras["x_test"].iloc[:1].to_dict("records")[0]
    broken.pop("mean radius")
    broken["worst area"] = "large"
    rejected = httpx.post(f"{url}/predict", json={"records": [broken]})
    console.print(f"a malformed request is rejected with {rejected.status_code}:")
    console.print(f"  {rejected.json()['error']}", markup=False)


def _print_metrics(text: str, console: Console) -> None:
    table = Table(title="Prometheus /metrics: shipyard_requests_total", header_style="bold")
    for column in ("version", "route", "endpoint", "status", "requests"):
        table.add_column(column)
    for line in text.splitlines():
        if not line.startswith("shipyard_requests_total{"):
            continue
        labels, value = line[len("shipyard_requests_total{") :].rsplit("} ", 1)
        fields = dict(part.split("=", 1) for part in labels.split(","))
        table.add_row(
            *(fields.get(key, "").strip('"') for key in ("version", "route", "endpoint", "status")),
            str(int(float(value))),
        )
    console.print(table)

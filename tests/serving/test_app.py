"""The prediction server end to end: real uvicorn on loopback, real model, real clients."""

from __future__ import annotations

import json
import math
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
import tritonclient.http as triton
from tritonclient.utils import InferenceServerException

from shipyard.errors import IntegrityError
from shipyard.serving.batching import BatchingConfig
from shipyard.serving.predlog import query
from shipyard.serving.spec import DeploymentSpec
from shipyard.workspace import Workspace

from .conftest import ServerThread, StartServer, Trained, routes_of, settings_for


@pytest.fixture
def server(start_server: StartServer, trained: Trained) -> ServerThread:
    return start_server(DeploymentSpec("cancer-api", "cancer"), routes_of(trained.served("3")))


def _records(trained: Trained, rows: slice) -> list[dict[str, Any]]:
    return trained.frame.iloc[rows].to_dict("records")  # type: ignore[no-any-return]


def test_predict_records_and_columns(server: ServerThread, trained: Trained) -> None:
    expected = trained.model.predict_proba(trained.frame.iloc[:5])
    reply = httpx.post(f"{server.url}/predict", json={"records": _records(trained, slice(0, 5))})
    assert reply.status_code == 200, reply.text
    body = reply.json()
    np.testing.assert_allclose(body["probabilities"], expected)
    assert body["predictions"] == trained.model.predict(trained.frame.iloc[:5]).tolist()
    assert len(set(body["prediction_ids"])) == 5
    assert (body["model_version"], body["route"]) == ("3", "production")
    frame = trained.frame.iloc[5:7]
    reply = httpx.post(
        f"{server.url}/predict",
        json={"columns": list(frame.columns), "data": frame.to_numpy().tolist()},
    )
    np.testing.assert_allclose(reply.json()["probabilities"], trained.model.predict_proba(frame))


def test_tritonclient_with_its_defaults(server: ServerThread, trained: Trained) -> None:
    client = triton.InferenceServerClient(server.url.removeprefix("http://"))
    assert client.is_server_live() and client.is_server_ready()
    assert client.is_model_ready("cancer") and client.is_model_ready("cancer", "3")
    metadata = client.get_model_metadata("cancer")
    assert [i["name"] for i in metadata["inputs"]] == list(trained.frame.columns)
    assert {o["name"] for o in metadata["outputs"]} == {"predict", "predict_proba"}
    frame = trained.frame.iloc[:4]
    inputs = []
    for column in frame.columns:  # one tensor per column, binary data (the client's default)
        tensor = triton.InferInput(column, [4], "FP64")
        tensor.set_data_from_numpy(frame[column].to_numpy())
        inputs.append(tensor)
    result = client.infer("cancer", inputs)
    np.testing.assert_allclose(result.as_numpy("predict_proba"), trained.model.predict_proba(frame))
    assert result.get_response()["parameters"]["route"] == "production"
    matrix = triton.InferInput("input-0", [4, frame.shape[1]], "FP32")
    matrix.set_data_from_numpy(frame.to_numpy(dtype=np.float32))
    result = client.infer("cancer", [matrix], model_version="3")
    np.testing.assert_array_equal(result.as_numpy("predict"), trained.model.predict(frame))
    with pytest.raises(InferenceServerException, match="unknown-model"):
        client.infer("unknown-model", inputs)
    bad = triton.InferInput("mean radius", [4], "BYTES")
    bad.set_data_from_numpy(np.array([b"a"] * 4, dtype=object))
    with pytest.raises(InferenceServerException, match="mean radius"):
        client.infer("cancer", [bad])


def _post(server: ServerThread, content: bytes | str, path: str = "/predict") -> httpx.Response:
    return httpx.post(f"{server.url}{path}", content=content, timeout=30)


def test_bad_inputs_get_the_right_4xx(server: ServerThread, trained: Trained) -> None:
    record = _records(trained, slice(0, 1))[0]
    cases: list[tuple[Any, int, list[str]]] = [
        (b"{not json", 400, ["not valid JSON"]),
        ({"rows": []}, 400, ["records"]),
        ({"records": []}, 422, ["empty"]),
        ({"records": [{**record, "mean radius": "big"}]}, 422, ["mean radius", "expected"]),
        ({"records": [{**record, "mean area": math.nan}]}, 422, ["mean area", "NaN"]),
        ({"records": [{**record, "mean area": math.inf}]}, 422, ["mean area", "infinite"]),
        (
            {"records": [{**{k: v for k, v in record.items() if k != "mean radius"}, "x": 1}]},
            422,
            ["mean radius", "missing", "'x'", "unexpected"],
        ),
    ]
    for body, status, words in cases:
        content = body if isinstance(body, bytes) else json.dumps(body)  # NaN/Infinity tokens
        reply = _post(server, content)
        assert reply.status_code == status, (body, reply.text)
        text = reply.json()["error"]
        assert all(word in text for word in words), text
        assert "Traceback" not in reply.text
    problems = _post(server, json.dumps(cases[-1][0])).json()["problems"]
    assert {p["column"] for p in problems} == {"mean radius", "x"}
    huge = _post(server, b"[" + b"1," * (6 * 1024 * 1024) + b"1]")
    assert huge.status_code == 413 and "max_body_bytes" in huge.json()["error"]
    for path, word in (("/v2/models/nope", "'nope'"), ("/v2/models/cancer/versions/9", "'9'")):
        missing = httpx.get(f"{server.url}{path}")
        assert missing.status_code == 404 and word in missing.json()["error"], missing.text
        assert "Traceback" not in missing.text
    assert httpx.get(f"{server.url}/nowhere").json()["error"]
    v2_bad = _post(server, b'{"inputs": 3}', "/v2/models/cancer/infer")
    assert v2_bad.status_code == 400 and set(v2_bad.json()) == {"error"}


def test_metrics_count_requests_errors_and_batches(server: ServerThread, trained: Trained) -> None:
    httpx.post(f"{server.url}/predict", json={"records": _records(trained, slice(0, 3))})
    _post(server, b"oops")
    text = httpx.get(f"{server.url}/metrics").text
    assert 'shipyard_requests_total{deployment="cancer-api",endpoint="predict"' in text
    assert 'error_class="InvalidInput"' in text
    assert 'shipyard_batch_size_bucket{deployment="cancer-api",le="4.0",version="3"}' in text
    assert "shipyard_request_latency_seconds_bucket" in text


def test_openapi_lists_every_endpoint(server: ServerThread) -> None:
    paths = httpx.get(f"{server.url}/openapi.json").json()["paths"]
    assert {"/predict", "/readyz", "/metrics", "/v2/models/{name}/infer"} <= set(paths)


def test_hash_mismatch_is_never_served(start_server: StartServer) -> None:
    def broken() -> Any:
        raise IntegrityError(
            "Artifact of cancer/3 has SHA-256 abc…, expected def…; refusing to load.",
            expected="def",
            found="abc",
        )

    server = start_server(DeploymentSpec("bad", "cancer"), broken, wait_ready=False)
    for _ in range(50):
        ready = httpx.get(f"{server.url}/readyz")
        if "SHA-256" in ready.text:
            break
    assert ready.status_code == 503
    assert "IntegrityError" in ready.json()["reason"]
    assert httpx.get(f"{server.url}/healthz").status_code == 200
    assert httpx.post(f"{server.url}/predict", json={"records": [{}]}).status_code == 503


def test_predictions_are_logged_and_flushed_on_shutdown(
    start_server: StartServer, trained: Trained, tmp_path: Path
) -> None:
    server = start_server(DeploymentSpec("logged", "cancer"), routes_of(trained.served("3")))
    ids: list[str] = []
    for start in range(0, 6, 2):
        reply = httpx.post(
            f"{server.url}/predict", json={"records": _records(trained, slice(start, start + 2))}
        )
        ids += reply.json()["prediction_ids"]
    server.stop()
    with Workspace(settings_for(tmp_path)) as workspace:
        frame = query("logged", workspace=workspace)
    assert sorted(frame["prediction_id"]) == sorted(ids)
    assert set(frame["route"]) == {"production"}
    assert json.loads(frame["inputs"][0]).keys() == set(trained.frame.columns)
    assert "predict_proba" in json.loads(frame["outputs"][0])


def test_canary_is_sticky_and_shadow_is_logged(
    start_server: StartServer, trained: Trained, trained_alt: Trained, tmp_path: Path
) -> None:
    spec = DeploymentSpec("split", "cancer", canary_percent=30, shadow="cancer@staging")
    loader = routes_of(
        trained.served("3"), canary=trained_alt.served("4"), shadow=trained_alt.served("5")
    )
    server = start_server(spec, loader)
    record = _records(trained, slice(0, 1))
    seen: dict[str, set[str]] = {}
    with httpx.Client(base_url=server.url) as client:
        for user in range(60):
            for _ in range(2):
                reply = client.post(
                    "/predict", json={"records": record}, headers={"x-routing-key": f"u{user}"}
                ).json()
                seen.setdefault(f"u{user}", set()).add(reply["route"])
        shares = [r for routes in seen.values() for r in routes]
        version_of = client.post("/predict", json={"records": record, "routing_key": "u1"})
    assert all(len(routes) == 1 for routes in seen.values())  # sticky per user
    assert 5 <= shares.count("canary") <= 35
    assert version_of.json()["model_version"] in {"3", "4"}
    server.stop()
    with Workspace(settings_for(tmp_path)) as workspace:
        counts = query(
            "split",
            sql="SELECT route, count(*) AS n, count(DISTINCT prediction_id) AS ids "
            "FROM predictions GROUP BY route",
            workspace=workspace,
        ).set_index("route")
    assert counts.loc["shadow", "n"] == counts.loc[["production", "canary"], "n"].sum()


def test_concurrent_requests_are_each_logged_with_their_own_route_and_inputs(
    start_server: StartServer, trained: Trained, trained_alt: Trained, tmp_path: Path
) -> None:
    """Batched calls are logged one entry per call: each row must still be its own."""
    spec = DeploymentSpec("busy-log", "cancer", canary_percent=50)
    server = start_server(spec, routes_of(trained.served("3"), canary=trained_alt.served("4")))

    def post(i: int) -> tuple[int, dict[str, Any]]:
        rows = slice(i % 40, i % 40 + 1 + i % 3)  # one to three rows per request
        body = {"records": _records(trained, rows), "routing_key": f"user-{i}"}
        return i, httpx.post(f"{server.url}/predict", json=body, timeout=30).json()

    with ThreadPoolExecutor(16) as pool:
        replies = list(pool.map(post, range(96)))
    server.stop()
    with Workspace(settings_for(tmp_path)) as workspace:
        logged = query("busy-log", workspace=workspace).set_index("prediction_id")
    assert len(logged) == sum(len(r["prediction_ids"]) for _, r in replies)
    assert {r["route"] for _, r in replies} == {"production", "canary"}
    for i, reply in replies:
        records = _records(trained, slice(i % 40, i % 40 + 1 + i % 3))
        for prediction_id, record in zip(reply["prediction_ids"], records, strict=True):
            row = logged.loc[prediction_id]
            assert (row["route"], row["model_version"]) == (reply["route"], reply["model_version"])
            assert json.loads(row["inputs"]) == pytest.approx(record)
            assert row["latency_ms"] > 0


class Fragile:
    """A real model that starts failing when told to (a broken dependency, say)."""

    def __init__(self, model: Any) -> None:
        self.model = model
        self.broken = False

    def predict(self, frame: Any) -> Any:
        if self.broken:
            raise RuntimeError("secret internal detail")
        return self.model.predict(frame)


def test_model_failure_is_a_500_without_a_trace(
    start_server: StartServer, trained: Trained
) -> None:
    from shipyard.serving.model import ServedModel

    fragile = Fragile(trained.model)
    served = ServedModel.wrap("cancer", "1", fragile, trained.schema)
    server = start_server(DeploymentSpec("fragile", "cancer"), routes_of(served))
    fragile.broken = True
    reply = httpx.post(f"{server.url}/predict", json={"records": _records(trained, slice(0, 1))})
    assert reply.status_code == 500
    assert "RuntimeError" in reply.json()["error"]
    assert "secret" not in reply.text and "Traceback" not in reply.text


class Stalled:
    """A real model whose calls block on ``gate`` once ``stall`` is set (a busy model)."""

    def __init__(self, model: Any) -> None:
        self.model = model
        self.stall = False
        self.broken = False
        self.gate = threading.Event()
        self.rows = 0  # rows answered

    def predict(self, frame: Any) -> Any:
        if self.stall:
            self.gate.wait(60)
        if self.broken:
            raise RuntimeError("shadow broke")
        self.rows += len(frame)
        return self.model.predict(frame)


def _post_all(url: str, body: dict[str, Any], count: int) -> list[httpx.Response]:
    """``count`` concurrent posts; each must be answered within 10 s (the gate holds 60 s)."""
    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(lambda _: httpx.post(url, json=body, timeout=10), range(count)))


def test_overload_is_a_counted_503_with_retry_after(
    start_server: StartServer, trained: Trained
) -> None:
    from shipyard.serving.model import ServedModel

    stalled = Stalled(trained.model)
    spec = DeploymentSpec("busy", "cancer", batching=BatchingConfig(max_batch_size=1, max_queue=2))
    server = start_server(spec, routes_of(ServedModel.wrap("cancer", "1", stalled, trained.schema)))
    stalled.stall = True
    body = {"records": _records(trained, slice(0, 1))}
    with ThreadPoolExecutor(1) as pool:
        pending = pool.submit(_post_all, f"{server.url}/predict", body, 8)
        time.sleep(1.0)  # one request in the model, two queued, the rest refused at once
        stalled.gate.set()
        replies = pending.result()
    refused = [r for r in replies if r.status_code == 503]
    assert {r.status_code for r in replies} == {200, 503}, [r.text for r in replies]
    assert len(replies) - len(refused) >= 3  # what fit in the queue was served
    for reply in refused:
        assert int(reply.headers["retry-after"]) >= 1
        assert "max_queue=2" in reply.json()["error"] and "Traceback" not in reply.text
    metrics = httpx.get(f"{server.url}/metrics").text
    assert f'shipyard_overloaded_total{{deployment="busy"}} {float(len(refused))}' in metrics


def test_shadow_never_delays_or_changes_the_answer(
    start_server: StartServer, trained: Trained, trained_alt: Trained, tmp_path: Path
) -> None:
    from shipyard.serving.model import ServedModel

    shadow = Stalled(trained_alt.model)
    spec = DeploymentSpec("mirrored", "cancer", shadow="cancer@staging")
    served = ServedModel.wrap("cancer", "9", shadow, trained.schema)
    server = start_server(spec, routes_of(trained.served("3"), shadow=served))
    frame = trained.frame.iloc[:3]
    body = {"records": _records(trained, slice(0, 3))}
    expected = trained.model.predict_proba(frame)
    shadow.stall = True  # every shadow call now hangs until the gate opens
    stalled = _post_all(f"{server.url}/predict", body, 4)  # answered while the shadow hangs
    shadow.gate.set()
    deadline = time.monotonic() + 10
    while shadow.rows < 1 + 4 * 3:  # the warm-up row, then the hung shadow calls finish
        assert time.monotonic() < deadline, shadow.rows
        time.sleep(0.02)
    shadow.stall, shadow.broken = False, True
    broken = _post_all(f"{server.url}/predict", body, 4)
    for reply in stalled + broken:
        assert reply.status_code == 200, reply.text
        assert (reply.json()["route"], reply.json()["model_version"]) == ("production", "3")
        np.testing.assert_allclose(reply.json()["probabilities"], expected)
    deadline = time.monotonic() + 10
    while 'shipyard_shadow_errors_total{deployment="mirrored",version="9"} 4.0' not in (
        text := httpx.get(f"{server.url}/metrics").text
    ):
        assert time.monotonic() < deadline, text
        time.sleep(0.05)
    server.stop()
    with Workspace(settings_for(tmp_path)) as workspace:
        logged = query("mirrored", workspace=workspace)
    shadow_ids = set(logged[logged["route"] == "shadow"]["prediction_id"])
    assert shadow_ids == {i for r in stalled for i in r.json()["prediction_ids"]}

"""Serving throughput, latency, memory and cold start: shipyard vs its ceiling and its peers.

    .venv/bin/python bench/serving/bench_serving.py             # 3 runs x 4 s per cell
    .venv/bin/python bench/serving/bench_serving.py --quick     # smoke: 1 run x 1.5 s
    .venv/bin/python bench/serving/bench_serving.py --no-peers  # shipyard and bare only

Same model (LogisticRegression on load_breast_cancer, registered once; saved
with joblib for the peers), single-row requests on loopback, concurrency 1, 8
and 64. Servers are pinned to core 0 and the raw-socket load generator
(``loadgen.py``) to core 1 when ``taskset`` exists; access logs are off
everywhere. All servers run at once and the cells are interleaved run by run,
so background load on the machine hits every server alike.

Servers: ``bare`` (the ceiling: parse V2 JSON, predict_proba, respond),
``shipyard`` (V2 codec, validation, routing, batching, metrics, prediction log:
everything on), ``shipyard-nolog``, ``shipyard-nobatch``; the peers
``mlserver`` (MLServer 1.7, in-process), ``bentoml`` (BentoML 1.4) and
``mlflow`` (``mlflow models serve``), each in its own throwaway virtualenv
(``peers.py``); and a heavier model (a 100-tree RandomForest on the same data)
served by ``forest`` / ``forest-nobatch`` to show what batching buys when the
model call is a real share of a request. Also: cold start (process start to
the first answered prediction), RSS, and the model's own time per call.
Results: bench/serving/RESULTS.md (a partial run, ``--quick``, ``--only``
``--no-peers``, writes bench/.work/serving/RESULTS-partial.md instead).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import WORK, machine, median, stamp  # noqa: I001 - after the path insert
from peers import VERSIONS, Server, http_request, prepare

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
SHIPYARD = str(ROOT / ".venv" / "bin" / "shipyard")
PYTHON = str(ROOT / ".venv" / "bin" / "python")
CONCURRENCY = (1, 8, 64)
DEPLOYMENTS = {
    "shipyard": "bench",
    "shipyard-nolog": "bench-nolog",
    "shipyard-nobatch": "bench-nobatch",
    "forest": "forest",
    "forest-nobatch": "forest-nobatch",
}
PEERS = ("mlserver", "bentoml", "mlflow")
COLD = ("shipyard", "mlserver", "bentoml", "mlflow")
MAIN_TABLE = ("bare", "shipyard", "shipyard-nolog", "shipyard-nobatch", *PEERS)


def _pin(core: int) -> list[str]:
    return (
        ["taskset", "-c", str(core)] if shutil.which("taskset") and psutil.cpu_count() > 1 else []
    )


def _v2_body(row: list[float]) -> bytes:
    tensor = {"name": "input-0", "datatype": "FP64", "shape": [1, len(row)], "data": row}
    return json.dumps({"inputs": [tensor]}).encode()


def setup(home: Path) -> tuple[list[float], Any, Any]:
    """Register both models, promote them, create the deployments; (row, lr, forest)."""
    import joblib
    from sklearn.datasets import load_breast_cancer
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import LogisticRegression

    import shipyard as sy
    from shipyard.registry import register_model
    from shipyard.serving import BatchingConfig, create_deployment

    x, y = load_breast_cancer(return_X_y=True)
    model = LogisticRegression(max_iter=10_000).fit(x, y)
    forest = RandomForestClassifier(n_estimators=100, random_state=0).fit(x, y)
    joblib.dump(model, home / "model.joblib")
    off = BatchingConfig(enabled=False)
    with sy.connect(home=str(home)) as workspace:
        for name, fitted in (("cancer", model), ("forest", forest)):
            register_model(fitted, name, input_example=x[:5], workspace=workspace)
            for stage in ("staging", "canary", "production"):
                sy.promote(f"{name}/1", stage, reason="bench", workspace=workspace)
        create_deployment("bench", "cancer", workspace=workspace)
        create_deployment("bench-nolog", "cancer", log_predictions=False, workspace=workspace)
        create_deployment("bench-nobatch", "cancer", batching=off, workspace=workspace)
        create_deployment("forest", "forest", workspace=workspace)
        create_deployment("forest-nobatch", "forest", batching=off, workspace=workspace)
    return [float(v) for v in x[0]], model, forest


def own_servers(home: Path, row: list[float]) -> dict[str, Server]:
    """bare and the shipyard deployments, as ``Server``s like the peers."""
    body = _v2_body(row)
    servers = {
        "bare": Server(
            "bare",
            lambda port: [PYTHON, str(HERE / "bare_server.py"), str(home), str(port)],
            http_request("/v2/models/cancer/infer", body),
        )
    }
    for variant, deployment in DEPLOYMENTS.items():
        model = "forest" if variant.startswith("forest") else "cancer"
        servers[variant] = Server(
            variant,
            lambda port, d=deployment: [
                SHIPYARD,
                "--home",
                str(home),
                "serve",
                d,
                "--port",
                str(port),
            ],
            http_request(f"/v2/models/{model}/infer", body),
        )
    return servers


def start(server: Server, port: int) -> subprocess.Popen[bytes]:
    # One BLAS thread per server: they are pinned to one core, where extra BLAS threads
    # only spin against each other (the same for every server).
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", **server.env}
    return subprocess.Popen(
        [*_pin(0), *server.command(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
        cwd=server.cwd,
        start_new_session=True,  # its own process group: stop() reaches its workers too
    )


def wait_ready(
    process: subprocess.Popen[bytes], port: int, request: bytes, limit: float = 240
) -> float:
    """Seconds from now until the server answers its prediction request with 200."""
    started = time.perf_counter()
    head, body = request.split(b"\r\n\r\n", 1)
    path = head.split(b" ", 2)[1].decode()
    headers = {"Content-Type": "application/json"}
    while time.perf_counter() - started < limit:
        if process.poll() is not None:
            raise RuntimeError(f"server on port {port} exited with {process.returncode}")
        try:
            reply = httpx.post(
                f"http://127.0.0.1:{port}{path}", content=body, headers=headers, timeout=10
            )
            if reply.status_code == 200:
                return time.perf_counter() - started
        except httpx.HTTPError:
            pass
        time.sleep(0.02)
    raise RuntimeError(f"server on port {port} not ready after {limit} s")


def load(port: int, request_file: Path, concurrency: int, seconds: float) -> dict[str, Any]:
    done = subprocess.run(
        [
            *_pin(1),
            PYTHON,
            str(HERE / "loadgen.py"),
            "127.0.0.1",
            str(port),
            str(request_file),
            str(concurrency),
            str(seconds),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def rss_mb(process: subprocess.Popen[bytes]) -> float:
    """Resident memory of the server and every process it started (workers, supervisors)."""
    proc = psutil.Process(process.pid)
    procs = [proc, *proc.children(recursive=True)]
    total = 0
    for p in procs:
        if p.name() != "taskset":
            with contextlib.suppress(psutil.NoSuchProcess):
                total += p.memory_info().rss
    return total / 2**20


def stop(process: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(process.pid, signal.SIGINT)
        process.wait(30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(10)
    except ProcessLookupError:
        pass
    # Workers a supervisor left behind (same group) must not outlive the benchmark.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)


def cold_starts(servers: dict[str, Server], runs: int) -> dict[str, list[float]]:
    """Process start to the first answered prediction, interleaved across servers."""
    times: dict[str, list[float]] = {}
    port = 18700
    for _ in range(runs):
        for name in COLD:
            if name not in servers:
                continue
            port += 1
            process = start(servers[name], port)
            try:
                times.setdefault(name, []).append(wait_ready(process, port, servers[name].request))
            finally:
                stop(process)
    return times


def model_times(models: dict[str, Any], rows_list: tuple[int, ...] = (1, 64)) -> dict[str, Any]:
    """The model call alone (predict_proba on a float array, as shipyard calls it), ms."""
    import pandas as pd
    from sklearn.datasets import load_breast_cancer

    x = load_breast_cancer().data
    names = [f"f{i}" for i in range(x.shape[1])]
    found: dict[str, Any] = {}
    for label, model in models.items():
        for rows in rows_list:
            frame = pd.DataFrame(x[:rows], columns=names)
            model.predict_proba(frame.to_numpy())
            samples = []
            for _ in range(30):
                started = time.perf_counter()
                model.predict_proba(frame.to_numpy())
                samples.append(time.perf_counter() - started)
            found[f"{label}/{rows}"] = median(samples) * 1000
    return found


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="smoke run: 1 run x 1.5 s")
    parser.add_argument("--no-peers", action="store_true", help="skip MLServer/BentoML/MLflow")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--only", help="comma-separated servers to run (e.g. shipyard,bare)")
    args = parser.parse_args()
    runs, seconds = (1, 1.5) if args.quick else (args.runs, args.seconds)
    work = WORK / "serving"
    work.mkdir(parents=True, exist_ok=True)
    home = Path(tempfile.mkdtemp(dir=work, prefix="home-"))
    load_average = " ".join(f"{v:.1f}" for v in os.getloadavg())
    row, model, forest = setup(home)
    servers = own_servers(home, row)
    failed: dict[str, str] = {}
    only = set(args.only.split(",")) if args.only else None
    for name in () if args.no_peers else PEERS:
        if only is not None and name not in only:
            continue
        found = prepare(name, work / name, home / "model.joblib", row)
        if isinstance(found, str):
            failed[name] = found
        else:
            servers[name] = found
    if only is not None:
        servers = {name: server for name, server in servers.items() if name in only}
    for name, server in servers.items():
        (home / f"{name}.http").write_bytes(server.request)

    cold = cold_starts(servers, runs)
    running: dict[str, tuple[subprocess.Popen[bytes], int]] = {}
    cells: dict[tuple[str, int], list[dict[str, Any]]] = {}
    try:
        for index, (name, server) in enumerate(servers.items()):
            running[name] = (start(server, 18600 + index), 18600 + index)
        for name, (process, port) in list(running.items()):
            try:
                wait_ready(process, port, servers[name].request)
            except RuntimeError as exc:
                failed[name] = str(exc)
                stop(running.pop(name)[0])
        order = list(running)
        shuffle = random.Random(0).shuffle
        for _ in range(runs):
            for concurrency in CONCURRENCY:
                shuffle(order)  # no server always runs right after the same neighbour
                for name in order:
                    result = load(running[name][1], home / f"{name}.http", concurrency, seconds)
                    cells.setdefault((name, concurrency), []).append(result)
        memory = {name: rss_mb(process) for name, (process, _) in running.items()}
    finally:
        for process, _ in running.values():
            stop(process)
    timing = model_times({"LogisticRegression": model, "RandomForest(100)": forest})
    report = summarize(cells, memory, cold, timing, failed, runs, seconds, load_average, args)
    partial = args.quick or args.only or args.no_peers
    raw: dict[str, Any] = {f"{name}@{c}": found for (name, c), found in cells.items()}
    raw.update(cold_start=cold, rss_mb=memory, model_ms=timing, failed=failed)
    (work / ("raw-partial.json" if partial else "raw.json")).write_text(json.dumps(raw, indent=1))
    target = (work / "RESULTS-partial.md") if partial else (HERE / "RESULTS.md")
    target.write_text(report)
    print(report)
    print(json.dumps({"results": str(target)}))


def _cmd(args: argparse.Namespace) -> str:
    flags = " --quick" if args.quick else ""
    flags += " --no-peers" if args.no_peers else ""
    flags += f" --only {args.only}" if args.only else ""
    flags += f" --runs {args.runs}" if args.runs != 3 and not args.quick else ""
    flags += f" --seconds {args.seconds:g}" if args.seconds != 4 and not args.quick else ""
    return f"`.venv/bin/python bench/serving/bench_serving.py{flags}`"


def summarize(
    cells: dict[tuple[str, int], list[dict[str, Any]]],
    memory: dict[str, float],
    cold: dict[str, list[float]],
    timing: dict[str, float],
    failed: dict[str, str],
    runs: int,
    seconds: float,
    load_average: str,
    args: argparse.Namespace,
) -> str:
    def med(name: str, concurrency: int, key: str) -> float:
        found = cells.get((name, concurrency))
        return median([r[key] for r in found]) if found else float("nan")

    present = {name for name, _ in cells}
    lines = [
        "# Serving benchmark",
        "",
        f"- machine: {machine()}",
        f"- date: {stamp()}",
        f"- command: {_cmd(args)} ({runs} run(s) x {seconds:g} s per cell; medians)",
        "- model: LogisticRegression on load_breast_cancer (30 features), single-row requests;"
        " heavier cell: RandomForestClassifier(n_estimators=100) on the same data",
        "- servers pinned to core 0 (one BLAS thread), raw-socket load generator to core 1; "
        "access logs off everywhere",
        "- peers: " + "; ".join(VERSIONS[p] for p in PEERS),
        f"- load average at the start: {load_average}",
        "",
        "## Throughput and latency (LogisticRegression)",
        "",
        "| concurrency | server | requests/s | x bare | p50 ms | p95 ms | p99 ms | errors |",
        "|---:|---|---:|---:|---:|---:|---:|---:|",
    ]
    for concurrency in CONCURRENCY:
        bare = med("bare", concurrency, "rps")
        for name in (n for n in MAIN_TABLE if n in present):
            lines.append(_row(cells, name, concurrency, med, bare))
    lines += [
        "",
        "## Batching with a heavier model (RandomForest, 100 trees)",
        "",
        "| concurrency | server | requests/s | x nobatch | p50 ms | p95 ms | p99 ms | errors |",
        "|---:|---|---:|---:|---:|---:|---:|---:|",
    ]
    for concurrency in CONCURRENCY:
        base = med("forest-nobatch", concurrency, "rps")
        for name in ("forest", "forest-nobatch"):
            if name in present:
                lines.append(_row(cells, name, concurrency, med, base))
    lines += ["", "## Targets", "", "| target | measured | met |", "|---|---|---|"]
    lines += _targets(cells, med, cold, present)
    lines += [
        "",
        "## Cold start and memory",
        "",
        "| server | cold start s (median) | runs | RSS MB after the run |",
        "|---|---:|---:|---:|",
    ]
    for name in ("bare", *DEPLOYMENTS, *PEERS):
        if name in memory or name in cold:
            start_s = f"{median(cold[name]):.2f}" if name in cold else "—"
            runs_s = str(len(cold.get(name, []))) if name in cold else "—"
            rss = f"{memory[name]:.0f}" if name in memory else "—"
            lines.append(f"| {name} | {start_s} | {runs_s} | {rss} |")
    lines += [
        "",
        "## Where a request's time goes",
        "",
        "| model | predict_proba, 1 row, ms | 64 rows, ms | one request at c=64 without "
        "batching, ms of server time (1 / requests/s) |",
        "|---|---:|---:|---:|",
    ]
    for label, server in (
        ("LogisticRegression", "shipyard-nobatch"),
        ("RandomForest(100)", "forest-nobatch"),
    ):
        per_request = 1000 / med(server, 64, "rps") if (server, 64) in cells else float("nan")
        lines.append(
            f"| {label} | {timing[f'{label}/1']:.3f} | {timing[f'{label}/64']:.3f} | "
            f"{per_request:.2f} |"
        )
    if failed:
        lines += ["", "## Peers that did not run", ""]
        lines += [f"- {name}: {reason}" for name, reason in failed.items()]
    lines += ["", NOTES]
    return "\n".join(lines) + "\n"


def _row(cells: Any, name: str, concurrency: int, med: Any, base: float) -> str:
    rps = med(name, concurrency, "rps")
    errors = sum(r["errors"] for r in cells[(name, concurrency)])
    return (
        f"| {concurrency} | {name} | {rps:,.0f} | {rps / base:.2f} | "
        f"{med(name, concurrency, 'p50_ms'):.2f} | {med(name, concurrency, 'p95_ms'):.2f} | "
        f"{med(name, concurrency, 'p99_ms'):.2f} | {errors} |"
    )


def _verdict(ok: bool) -> str:
    return "met" if ok else "**not met**"


def _paired(cells: Any, on: str, off: str, concurrency: int) -> float:
    """Median over runs of on/off measured in the same run (less exposed to drifting load)."""
    pairs = zip(cells.get((on, concurrency), []), cells.get((off, concurrency), []), strict=False)
    ratios = [a["rps"] / b["rps"] for a, b in pairs if b["rps"] > 0]
    return median(ratios) if ratios else float("nan")


def _targets(cells: Any, med: Any, cold: dict[str, list[float]], present: set[str]) -> list[str]:
    lines = []
    for concurrency in CONCURRENCY:
        ratio = med("shipyard", concurrency, "rps") / med("bare", concurrency, "rps")
        lines.append(
            f"| c={concurrency}: shipyard >= 0.8x bare | {ratio:.2f}x | {_verdict(ratio >= 0.8)} |"
        )
    better = [p for p in ("mlserver", "bentoml") if p in present]
    for concurrency in CONCURRENCY if better else ():
        best = max(better, key=lambda p: med(p, concurrency, "rps"))
        ratio = med("shipyard", concurrency, "rps") / med(best, concurrency, "rps")
        ours, theirs = med("shipyard", concurrency, "p99_ms"), med(best, concurrency, "p99_ms")
        lines.append(
            f"| c={concurrency}: shipyard >= 2x the better of MLServer/BentoML ({best}), "
            f"p99 no worse | {ratio:.2f}x, p99 {ours:.1f} vs {theirs:.1f} ms | "
            f"{_verdict(ratio >= 2 and ours <= theirs)} |"
        )
    for concurrency in CONCURRENCY if "mlflow" in present else ():
        ratio = med("shipyard", concurrency, "rps") / med("mlflow", concurrency, "rps")
        lines.append(
            f"| c={concurrency}: shipyard >= 10x `mlflow models serve` | {ratio:.1f}x | "
            f"{_verdict(ratio >= 10)} |"
        )
    for concurrency in CONCURRENCY:
        cost = 1 - med("shipyard", concurrency, "rps") / med("shipyard-nolog", concurrency, "rps")
        paired = 1 - _paired(cells, "shipyard", "shipyard-nolog", concurrency)
        lines.append(
            f"| c={concurrency}: prediction logging costs <= 10% | {cost:+.1%} "
            f"(paired runs: {paired:+.1%}) | {_verdict(max(cost, paired) <= 0.10)} |"
        )
    for label, on, off in (
        ("LogisticRegression", "shipyard", "shipyard-nobatch"),
        ("RandomForest", "forest", "forest-nobatch"),
    ):
        ratio = med(on, 64, "rps") / med(off, 64, "rps")
        paired = _paired(cells, on, off, 64)
        lines.append(
            f"| c=64: batching on >= 2x off ({label}) | {ratio:.2f}x (paired runs: "
            f"{paired:.2f}x) | {_verdict(min(ratio, paired) >= 2)} |"
        )
    if "shipyard" in cold:
        ours = median(cold["shipyard"])
        for peer in ("mlserver", "bentoml"):
            if peer in cold:
                theirs = median(cold[peer])
                lines.append(
                    f"| cold start <= 1/3 of {peer}'s | {ours:.2f} s vs {theirs:.2f} s "
                    f"({ours / theirs:.2f}x) | {_verdict(ours <= theirs / 3)} |"
                )
    return lines


NOTES = """## Notes

- All servers run at once, pinned to the same core, and the cells are interleaved run
  by run in a shuffled order: background load on this shared 2-core machine hits every
  server alike, but single cells still swing by 20-30 %. Read the ratios (and the
  paired ratios, computed per run), not the absolute numbers.
- The peers: MLServer 1.7 in-process mode serves this model at 0.4-0.5x the bare
  Starlette endpoint (column "x bare"); shipyard with batching is above the bare endpoint
  at c >= 8, so ">= 2x the better of MLServer/BentoML" holds there. At c=1 nothing can
  batch, and 2x MLServer would be ~0.9x of the bare endpoint. `mlflow models serve` 3.x
  runs uvicorn + FastAPI and does ~850-1,300 requests/s here (not the 39-55 the issue
  quotes, which look like a client-bound measurement): ">= 10x mlflow" can hold only
  where batching lifts shipyard far above the bare endpoint (c=64); at c=1 it would be
  ~3.5x the bare endpoint, which does nothing but parse, predict and answer.
- Cold start: most of it is importing scikit-learn (~1.1 s, SciPy included), which any
  server that unpickles a scikit-learn model pays; 1/3 of MLServer's cold start is less
  than that import alone.
- A verdict takes the worse of the two readings (ratio of medians, median of paired
  per-run ratios): on this machine they can disagree by 20+ points at c=64.
- Prediction logging: a model call is logged as one entry (its stacked inputs and
  outputs, and each request's id, route and latency), so the request path appends one
  tuple per call, not per request. The flusher thread turns the queued arrays into Arrow
  columns (runs of same-typed requests found column-wise, JSON text of the inputs from
  orjson) and writes one zstd Parquet file per deployment and day per window; readers
  derive `input_hash` from the stored inputs. About 10 us of flusher CPU per row,
  measured on 5,000 single-row requests in isolation.
- Batching with LogisticRegression: predict_proba is ~0.1 ms, so the model runs on the
  event loop (a thread hand-off would cost more than the call) and batches fill only
  while requests keep arriving. With a 100-tree RandomForest (~3-4 ms per call whatever
  the row count, in a worker thread) batching is worth an order of magnitude at c=64.
- At c=1, 0.1-0.2 ms of every request is scikit-learn's predict_proba on one row, most of
  it its own input checks (dataframe detection through narwhals, feature names,
  finiteness), paid by every server here. The bare endpoint does nothing else but parse
  and write JSON, so 2x MLServer at c=1 (about 0.9x of the bare endpoint) leaves ~30-50 us per
  request for validation, routing, ids, metrics and logging together.
- The prediction routes (`/predict`, `/v2/models/.../infer`) are answered by a plain ASGI
  middleware ahead of Starlette's router, `Request` and `Response`; every other route is
  Starlette's. The bare endpoint is a Starlette route.
- Since 2026-12-06 the server runs with uvloop and httptools (about 1.5-2x asyncio + h11
  here); the bare endpoint runs in the same virtualenv, so it got them too.
- Python's cyclic GC: in `shipyard serve` under load a full (generation 2) collection
  ran every ~2 s and took ~200 ms (~10 % of the core), with logging on or off, because
  the heap holds every object of pandas, scikit-learn, SQLAlchemy. `gc.freeze()` once
  the model is loaded and warmed brought those passes to 1-24 ms in a probe run.
"""


if __name__ == "__main__":
    main()

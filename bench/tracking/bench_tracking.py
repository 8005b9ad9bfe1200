"""Tracking benchmark: shipyard against MLflow on SQLite, side by side in one run.

    .venv/bin/python bench/tracking/bench_tracking.py            # full: writes RESULTS.md
    .venv/bin/python bench/tracking/bench_tracking.py --quick    # smoke run, smaller counts

Scenarios (issue 2): (a) 2,000 ``log_metric`` calls in one run, timed until
the run has ended and every point is written; (b) 100 runs of 10 params +
10 metrics; (c) a filtered search over 1,000 runs; (d) ``import`` + first use
on a new store, as the wall time of a fresh process. Every measurement runs
``workers.py`` in a fresh subprocess on a fresh store; the two tools take
turns (the order flips every repetition) so that load from other processes
on the machine falls on both. MLflow is installed into a throwaway
virtualenv by ``common.peer_python``; shipyard never depends on it.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from common import WORK, machine, median, peer_python, ratio, run_json, stamp

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
# The same list as bench/registry, so that both share one virtualenv
# (peer_python rebuilds a peer whose requirement list changed).
MLFLOW_REQUIREMENTS = ["mlflow==3.17.2", "scikit-learn==1.9.1"]
NOTES_MARKER = "<!-- Notes below this line are kept when the benchmark rewrites this file. -->"
# Equal footing for both tools: bytecode caches may be written (the sandbox sets
# PYTHONDONTWRITEBYTECODE, no user does), and MLflow makes no telemetry calls.
WORKER_ENV = {
    "PYTHONDONTWRITEBYTECODE": "",
    "MLFLOW_DISABLE_TELEMETRY": "true",
    "DO_NOT_TRACK": "1",
}


@dataclass(frozen=True)
class Plan:
    """How much work each scenario does and how often it is repeated."""

    reps: int
    metric_calls: int
    runs: int
    search_runs: int
    searches: int


FULL = Plan(reps=5, metric_calls=2000, runs=100, search_runs=1000, searches=7)
QUICK = Plan(reps=1, metric_calls=200, runs=20, search_runs=200, searches=3)


@dataclass(frozen=True)
class Row:
    """One line of the results table."""

    scenario: str
    unit: str
    shipyard: float
    mlflow: float
    ratio: float
    target: float | None


class Bench:
    """Runs the workers in fresh processes under one temporary folder, outside any git repo."""

    def __init__(self, mlflow_python: Path) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="shipyard-bench-tracking-"))
        self.script = self.root / "workers.py"
        shutil.copy(HERE / "workers.py", self.script)
        self.pythons = {
            "shipyard": Path(sys.executable),
            "mlflow": mlflow_python,
            "mlflow-async": mlflow_python,
        }
        self.counter = 0

    def fresh_dir(self, tool: str, scenario: str) -> Path:
        self.counter += 1
        workdir = self.root / f"{self.counter:03d}-{tool}-{scenario}"
        workdir.mkdir()
        return workdir

    def run(self, tool: str, scenario: str, workdir: Path, *numbers: int) -> dict[str, Any]:
        """One worker process; adds its wall time (``wall_s``) to the worker's own report."""
        env = {**WORKER_ENV, "SHIPYARD_HOME": str(workdir / "home")}
        args = [tool, scenario, str(workdir), *(str(n) for n in numbers)]
        started = time.perf_counter()
        result: dict[str, Any] = run_json(self.pythons[tool], self.script, *args, env=env)
        result["wall_s"] = time.perf_counter() - started
        return result

    def close(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)


def _check(condition: bool, message: str) -> None:
    if not condition:
        raise SystemExit(f"benchmark check failed: {message}")


def _in_turns(reps: int, tools: list[str], measure: Callable[[str], None]) -> None:
    """Call ``measure(tool)`` ``reps`` times per tool, flipping the order every repetition."""
    for rep in range(reps):
        for tool in tools if rep % 2 == 0 else tools[::-1]:
            print(f"  rep {rep + 1}/{reps} {tool}", flush=True)
            measure(tool)


def bench_metrics(bench: Bench, plan: Plan) -> dict[str, list[dict[str, Any]]]:
    """(a) ``plan.metric_calls`` single log_metric calls, until the run is ended and written."""
    results: dict[str, list[dict[str, Any]]] = {"shipyard": [], "mlflow": [], "mlflow-async": []}

    def measure(tool: str) -> None:
        result = bench.run(tool, "metrics", bench.fresh_dir(tool, "a"), plan.metric_calls)
        _check(result["stored"] == plan.metric_calls, f"{tool} stored {result['stored']} points")
        results[tool].append(result)

    _in_turns(plan.reps, list(results), measure)
    return results


def bench_runs(bench: Bench, plan: Plan) -> dict[str, list[dict[str, Any]]]:
    """(b) ``plan.runs`` runs of 10 params and 10 metrics each."""
    results: dict[str, list[dict[str, Any]]] = {"shipyard": [], "mlflow": []}

    def measure(tool: str) -> None:
        result = bench.run(tool, "runs", bench.fresh_dir(tool, "b"), plan.runs)
        _check(result["stored"] == plan.runs, f"{tool} stored {result['stored']} runs")
        results[tool].append(result)

    _in_turns(plan.reps, list(results), measure)
    return results


def bench_search(bench: Bench, plan: Plan) -> dict[str, list[dict[str, Any]]]:
    """(c) populate ``plan.search_runs`` runs once per tool, then search in fresh processes."""
    tools = ["shipyard", "mlflow"]
    stores = {tool: bench.fresh_dir(tool, "c") for tool in tools}
    for tool in tools:
        print(f"  populating {plan.search_runs} runs for {tool}", flush=True)
        bench.run(tool, "populate", stores[tool], plan.search_runs)
    results: dict[str, list[dict[str, Any]]] = {tool: [] for tool in tools}

    def measure(tool: str) -> None:
        results[tool].append(
            bench.run(tool, "search", stores[tool], plan.search_runs, plan.searches)
        )

    _in_turns(plan.reps, tools, measure)
    matched = {r["matched"] for rs in results.values() for r in rs}
    _check(len(matched) == 1, f"the tools found different numbers of runs: {matched}")
    return results


def bench_first_use(bench: Bench, plan: Plan) -> dict[str, list[dict[str, Any]]]:
    """(d) a fresh process: import, create the store, one run with one metric, exit."""
    tools = ["shipyard", "mlflow"]
    for tool in tools:  # untimed: compiles the bytecode caches of both tools once
        bench.run(tool, "first-use", bench.fresh_dir(tool, "warm"))
    results: dict[str, list[dict[str, Any]]] = {tool: [] for tool in tools}

    def measure(tool: str) -> None:
        results[tool].append(bench.run(tool, "first-use", bench.fresh_dir(tool, "d")))

    _in_turns(plan.reps, tools, measure)
    return results


def _med(results: list[dict[str, Any]], key: str) -> float:
    return median([float(r[key]) for r in results])


def table(raw: dict[str, dict[str, list[dict[str, Any]]]], plan: Plan) -> list[Row]:
    """Medians and ratios; a ratio above 1 means shipyard is faster."""
    a, b, c, d = raw["a"], raw["b"], raw["c"], raw["d"]
    tools = ("shipyard", "mlflow")
    sy_calls, ml_calls = (plan.metric_calls / _med(a[t], "seconds") for t in tools)
    async_calls = plan.metric_calls / _med(a["mlflow-async"], "seconds")
    sy_runs, ml_runs = (plan.runs / _med(b[t], "seconds") for t in tools)
    sy_warm, ml_warm = (median([s for r in c[t] for s in r["warm_s"]]) * 1000 for t in tools)
    sy_cold, ml_cold = (_med(c[t], "cold_s") * 1000 for t in tools)
    sy_wall, ml_wall = (_med(d[t], "wall_s") for t in tools)
    # ratio(x, y) is x / y: shipyard rate / MLflow rate, MLflow time / shipyard time.
    return [
        Row(f"(a) {plan.metric_calls} log_metric calls", "calls/s", sy_calls, ml_calls,
            ratio(sy_calls, ml_calls), 100),
        Row("(a) same, MLflow `synchronous=False`", "calls/s", sy_calls, async_calls,
            ratio(sy_calls, async_calls), None),
        Row(f"(b) {plan.runs} runs x (10 params + 10 metrics)", "runs/s", sy_runs, ml_runs,
            ratio(sy_runs, ml_runs), 10),
        Row(f"(c) filtered search over {plan.search_runs} runs", "ms", sy_warm, ml_warm,
            ratio(ml_warm, sy_warm), 3),
        Row("(c) same, first search of a process", "ms", sy_cold, ml_cold,
            ratio(ml_cold, sy_cold), None),
        Row("(d) import + first use on a new store", "s", sy_wall, ml_wall,
            ratio(ml_wall, sy_wall), 5),
    ]  # fmt: skip


def _fmt(value: float) -> str:
    if value >= 1000:
        return f"{value:,.0f}"
    return f"{value:.3g}" if value < 10 else f"{value:.1f}"


def render(rows: list[Row], raw: dict[str, Any], plan: Plan, meta: dict[str, Any]) -> str:
    lines = [
        "# Tracking benchmark: shipyard vs MLflow",
        "",
        f"- machine: {meta['machine']}",
        f"- date: {meta['date']}",
        f"- command: `{meta['command']}`",
        f"- MLflow: {meta['mlflow']} (own virtualenv), both on SQLite in a fresh temp folder",
        f"- repetitions: {plan.reps} fresh processes per tool and scenario; the table shows "
        "medians (the search row: median of every warm search of every process)",
        f"- load average (1 min) before / after: {meta['load_before']} / {meta['load_after']} "
        "(2 cores, shared with other work)",
        "",
        "| scenario | unit | shipyard median | MLflow median | ratio | target | met? |",
        "|---|---|---:|---:|---:|---:|---|",
    ]
    for row in rows:
        target = f">= {row.target:g}x" if row.target else "(info)"
        met = ("yes" if row.ratio >= row.target else "**no**") if row.target else ""
        lines.append(
            f"| {row.scenario} | {row.unit} | {_fmt(row.shipyard)} | {_fmt(row.mlflow)} "
            f"| {row.ratio:.1f}x | {target} | {met} |"
        )
    lines += ["", "Ratio = how many times faster shipyard is (higher is better).", ""]
    lines += _breakdown(raw)
    return "\n".join(lines) + "\n"


def _breakdown(raw: dict[str, Any]) -> list[str]:
    d, a = raw["d"], raw["a"]
    lines = ["Details (medians):", ""]
    for tool in ("shipyard", "mlflow"):
        lazy = " (names load on first use)" if tool == "shipyard" else ""
        lines.append(
            f"- {tool}: (d) import {_med(d[tool], 'import_s'):.2f} s{lazy}, first use "
            f"{_med(d[tool], 'first_use_s'):.2f} s, process {_med(d[tool], 'wall_s'):.2f} s; "
            f"(a) start_run {_med(a[tool], 'start_run_s') * 1000:.1f} ms"
        )
    return lines


def write_results(path: Path, text: str) -> None:
    """Write the generated part, keeping hand-written notes after ``NOTES_MARKER``."""
    notes = ""
    if path.exists() and NOTES_MARKER in path.read_text():
        notes = path.read_text().split(NOTES_MARKER, 1)[1]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"{text}\n{NOTES_MARKER}{notes or chr(10)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smoke run: 1 rep, small counts")
    parser.add_argument("--reps", type=int, help="repetitions per tool and scenario")
    args = parser.parse_args()
    plan = QUICK if args.quick else FULL
    if args.reps:
        plan = Plan(**{**asdict(plan), "reps": args.reps})
    command = " ".join(["python", "bench/tracking/bench_tracking.py", *sys.argv[1:]])
    print(f"tracking benchmark ({'quick' if args.quick else 'full'}): {plan}", flush=True)
    mlflow_python = peer_python("mlflow", MLFLOW_REQUIREMENTS)
    load_before = os.getloadavg()[0]
    bench = Bench(mlflow_python)
    raw: dict[str, Any] = {}
    try:
        for name, step in (("a", bench_metrics), ("b", bench_runs), ("c", bench_search)):
            print(f"scenario ({name})", flush=True)
            raw[name] = step(bench, plan)
        print("scenario (d)", flush=True)
        raw["d"] = bench_first_use(bench, plan)
    finally:
        bench.close()
    meta = {
        "machine": machine(),
        "date": stamp(),
        "command": command,
        "mlflow": MLFLOW_REQUIREMENTS[0],
        "load_before": f"{load_before:.1f}",
        "load_after": f"{os.getloadavg()[0]:.1f}",
    }
    rows = table(raw, plan)
    out = HERE / "RESULTS.md" if not args.quick else WORK / "tracking" / "RESULTS-quick.md"
    write_results(out, render(rows, raw, plan, meta))
    raw_path = out.with_name(out.stem + ".json") if args.quick else WORK / "tracking" / "raw.json"
    raw_path.parent.mkdir(parents=True, exist_ok=True)
    raw_path.write_text(json.dumps({"meta": meta, "plan": asdict(plan), "raw": raw}, indent=1))
    print(render(rows, raw, plan, meta))
    print(f"results written to {out.relative_to(ROOT)} (raw timings: {raw_path.relative_to(ROOT)})")


if __name__ == "__main__":
    main()

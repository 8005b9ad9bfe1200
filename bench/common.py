"""Shared helpers for the benchmarks: peer virtualenvs, timing, medians, machine facts.

Peers (mlflow, feast, evidently, …) are installed into throwaway virtualenvs
under ``bench/.venvs/`` (git-ignored); shipyard itself never depends on them.
Every benchmark measures shipyard and its peer in the same run and reports
medians of several repetitions and their ratio.
"""

from __future__ import annotations

import fcntl
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
VENVS = BENCH_DIR / ".venvs"
WORK = BENCH_DIR / ".work"


def peer_python(name: str, requirements: Sequence[str]) -> Path:
    """The python of a virtualenv holding ``requirements``, created on first use."""
    venv = VENVS / name
    python = venv / "bin" / "python"
    marker = venv / ".requirements"
    wanted = "\n".join(requirements)
    VENVS.mkdir(parents=True, exist_ok=True)
    # Two benchmarks wanting the same venv at once: the second waits for the first
    # to finish building it instead of clearing it under the first one's feet.
    with open(VENVS / f".{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if not (python.exists() and marker.exists() and marker.read_text() == wanted):
                _build_venv(venv, python, requirements)
                marker.write_text(wanted)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    return python


def _build_venv(venv: Path, python: Path, requirements: Sequence[str]) -> None:
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
    subprocess.run(
        [
            str(python),
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            *requirements,
        ],
        check=True,
    )


def run_json(
    python: Path | str,
    script: Path | str,
    *args: str,
    env: dict[str, str] | None = None,
    timeout: float = 1800,
) -> Any:
    """Run ``script`` with ``python``; it prints one JSON document last on stdout."""
    done = subprocess.run(
        [str(python), str(script), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"{script} failed ({done.returncode}):\n{done.stderr[-4000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def timed(fn: Callable[[], Any]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values))


def machine() -> str:
    """A one-line description of this machine for the results table."""
    cpu = platform.processor() or platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}"


def stamp() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%d")


def ratio(slow: float, fast: float) -> float:
    return slow / fast if fast > 0 else float("inf")

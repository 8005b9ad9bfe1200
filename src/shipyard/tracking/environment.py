"""What a run ran on: Python, exact packages, OS, CPU, RAM, GPUs, and the git state.

The environment is content-hashed, so a thousand runs in one virtualenv
share one stored row (a lineage node, the "environment lock"). Package and
machine facts cannot change inside a process and are read once; the git
state is sampled at most every ``GIT_SAMPLE_SECONDS`` per folder, so that
starting runs in a loop stays cheap.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import shutil
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import Any

GIT_SAMPLE_SECONDS = 5.0
_GIT_TIMEOUT_SECONDS = 5.0


@dataclass(frozen=True)
class EnvironmentInfo:
    """A frozen environment and its content hash."""

    id: str
    python: str
    platform: str
    packages: dict[str, str]
    machine: dict[str, Any]


@dataclass(frozen=True)
class GitInfo:
    """The code a run came from: commit, whether the tree had changes, the repo root."""

    commit: str
    dirty: bool
    root: str


@cache
def installed_packages() -> dict[str, str]:
    """Every installed distribution and its exact version, by normalized name."""
    packages: dict[str, str] = {}
    for dist in metadata.distributions():
        name, version = _name_and_version(dist)
        if name and version:
            packages[name.lower().replace("_", "-")] = version
    return dict(sorted(packages.items()))


def _name_and_version(dist: metadata.Distribution) -> tuple[str, str]:
    # Name and Version are core headers at the top of METADATA; reading them directly
    # is ~20x faster than the email parser behind dist.metadata (which is what makes
    # environment capture cost seconds in other trackers).
    text = dist.read_text("METADATA") or dist.read_text("PKG-INFO") or ""
    name = version = ""
    for line in text.splitlines():
        if not line:
            break
        if line.startswith("Name:"):
            name = line[5:].strip()
        elif line.startswith("Version:"):
            version = line[8:].strip()
    return name, version


@cache
def machine_info() -> dict[str, Any]:
    """CPU model and count, total RAM, visible GPUs."""
    import psutil

    return {
        "os": platform.system(),
        "os_release": platform.release(),
        "arch": platform.machine(),
        "cpu": _cpu_model(),
        "cpu_count": os.cpu_count() or 0,
        "ram_bytes": int(psutil.virtual_memory().total),
        "gpus": _gpus(),
    }


@cache
def current_environment() -> EnvironmentInfo:
    """This process's environment, hashed."""
    python = platform.python_version()
    plat = platform.platform()
    packages = installed_packages()
    machine = machine_info()
    canonical = json.dumps(
        {"python": python, "platform": plat, "packages": packages, "machine": machine},
        sort_keys=True,
    )
    digest = hashlib.sha256(canonical.encode()).hexdigest()
    return EnvironmentInfo(digest, python, plat, packages, machine)


def _cpu_model() -> str:
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text(errors="replace").splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def _gpus() -> list[str]:
    if shutil.which("nvidia-smi") is None:
        return []
    try:
        out = subprocess.run(
            ["nvidia-smi", "--query-gpu=name,memory.total", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            timeout=_GIT_TIMEOUT_SECONDS,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return []
    return [line.strip() for line in out.stdout.splitlines() if line.strip()]


def entry_point() -> str | None:
    """The script this process runs, when it is one (not for ``python -c`` or a REPL)."""
    script = sys.argv[0] if sys.argv else ""
    if script and script not in {"-c", "-m"} and Path(script).is_file():
        return str(Path(script).resolve())
    return None


class _GitSampler:
    """Caches the git state per folder for a few seconds."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._cache: dict[str, tuple[float, GitInfo | None]] = {}

    def sample(self, folder: Path) -> GitInfo | None:
        key = str(folder)
        now = time.monotonic()
        with self._lock:
            cached = self._cache.get(key)
            if cached and now - cached[0] < GIT_SAMPLE_SECONDS:
                return cached[1]
        info = _read_git(folder)
        with self._lock:
            self._cache[key] = (now, info)
        return info


_sampler = _GitSampler()


def git_info(folder: Path | None = None) -> GitInfo | None:
    """The git commit and dirty flag of the repository holding ``folder`` (default: cwd)."""
    if not _has_git():
        return None
    return _sampler.sample((folder or Path.cwd()).resolve())


@cache
def _has_git() -> bool:
    return shutil.which("git") is not None


def _read_git(folder: Path) -> GitInfo | None:
    def git(*args: str) -> str | None:
        try:
            done = subprocess.run(
                ["git", *args],
                cwd=folder,
                capture_output=True,
                text=True,
                timeout=_GIT_TIMEOUT_SECONDS,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired):
            return None
        return done.stdout.strip() if done.returncode == 0 else None

    top = git("rev-parse", "--show-toplevel")
    commit = git("rev-parse", "HEAD") if top else None
    if not top or not commit:
        return None
    status = git("status", "--porcelain", "--untracked-files=no")
    return GitInfo(commit=commit, dirty=bool(status), root=top)

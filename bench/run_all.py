"""``make bench``: run every ``bench/<area>/bench_*.py``, each in its own process.

    .venv/bin/python bench/run_all.py                 # every benchmark, full size
    .venv/bin/python bench/run_all.py --quick         # smoke run (passed to each script)
    .venv/bin/python bench/run_all.py tracking data   # only these areas

A failing benchmark does not stop the others; the exit code is 1 when any
failed. At the end it lists the result files each benchmark wrote (any file
under its area folder or ``bench/.work/<area>/`` changed during its run).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
WORK = BENCH / ".work"
RESULT_SUFFIXES = {".md", ".json", ".csv", ".txt", ".html"}


def discover(areas: list[str]) -> list[Path]:
    """The benchmark scripts, in area then name order, limited to ``areas`` when given."""
    scripts = sorted(BENCH.glob("*/bench_*.py"))
    scripts = [s for s in scripts if not s.parent.name.startswith(".")]
    if areas:
        known = {s.parent.name for s in scripts}
        unknown = sorted(set(areas) - known)
        if unknown:
            raise SystemExit(f"no benchmark for area(s) {unknown}; known: {sorted(known)}")
        scripts = [s for s in scripts if s.parent.name in areas]
    return scripts


def written_since(area: str, since: float) -> list[Path]:
    """Result files of ``area`` modified after ``since`` (an epoch time)."""
    found = []
    for folder in (BENCH / area, WORK / area):
        if folder.is_dir():
            found += [
                p
                for p in folder.rglob("*")
                if p.is_file() and p.suffix in RESULT_SUFFIXES and p.stat().st_mtime >= since
            ]
    return sorted(found)


def run(script: Path, quick: bool) -> tuple[int, float, list[Path]]:
    """Run one benchmark with this interpreter; its output streams straight through."""
    since = time.time()
    started = time.perf_counter()
    command = [sys.executable, str(script), *(["--quick"] if quick else [])]
    code = subprocess.run(command, cwd=ROOT, check=False).returncode
    return code, time.perf_counter() - started, written_since(script.parent.name, since - 1)


def main() -> int:
    parser = argparse.ArgumentParser(description="Run the shipyard benchmarks.")
    parser.add_argument("areas", nargs="*", help="only these areas (folder names under bench/)")
    parser.add_argument("--quick", action="store_true", help="smoke run: fewer repetitions")
    args = parser.parse_args()
    scripts = discover(args.areas)
    if not scripts:
        print("no benchmarks found (bench/<area>/bench_*.py)")
        return 0
    summary = []
    for script in scripts:
        name = script.relative_to(ROOT).as_posix()
        print(f"=== {name}{' --quick' if args.quick else ''}", flush=True)
        code, seconds, files = run(script, args.quick)
        summary.append((name, code, seconds, files))
    print("\n=== summary")
    for name, code, seconds, files in summary:
        status = "ok" if code == 0 else f"FAILED (exit {code})"
        print(f"{name}: {status} in {seconds:.0f} s")
        for file in files:
            print(f"    wrote {file.relative_to(ROOT).as_posix()}")
    return 1 if any(code != 0 for _, code, _, _ in summary) else 0


if __name__ == "__main__":
    sys.exit(main())

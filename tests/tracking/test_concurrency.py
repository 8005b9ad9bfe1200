"""Several processes logging to one SQLite store at once lose nothing."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import shipyard as sy
from shipyard.config import load_settings
from shipyard.workspace import Workspace

PROCESSES = 8
POINTS = 300

WORKER = """
import sys
import shipyard as sy
from shipyard.config import load_settings
from shipyard.workspace import Workspace

home, index, points = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
workspace = Workspace(load_settings({"home": home}, environ={}))
with sy.start_run("parallel", name=f"worker-{index}", workspace=workspace) as run:
    run.log_params({"worker": index})
    for step in range(points):
        run.log_metric("value", float(step), step=step)
        if step % 50 == 0:
            run.flush()  # many small write transactions, interleaved with the others
workspace.close()
print(run.id)
"""


def test_eight_processes_logging_at_once_lose_nothing(tmp_path: Path) -> None:
    home = str(tmp_path / "home")
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, home, str(i), str(POINTS)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(PROCESSES)
    ]
    run_ids = []
    for worker in workers:
        out, err = worker.communicate(timeout=120)
        assert worker.returncode == 0, err
        assert "database is locked" not in err
        run_ids.append(out.strip())
    workspace = Workspace(load_settings({"home": home}, environ={}))
    assert len(set(run_ids)) == PROCESSES
    for run_id in run_ids:
        record = sy.get_run(run_id, workspace=workspace)
        assert record.status == "FINISHED"
        history = sy.metric_history(run_id, "value", workspace=workspace)
        assert [p.step for p in history] == list(range(POINTS))
        assert record.metrics["value"] == POINTS - 1
    workspace.close()

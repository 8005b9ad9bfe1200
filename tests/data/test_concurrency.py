"""Processes adding the same new dataset at once get distinct versions, or one for one content."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from shipyard import data as datasets
from shipyard.config import load_settings
from shipyard.workspace import Workspace

WORKER = """
import json, sys, time
from pathlib import Path
import pandas as pd
from shipyard import data as datasets
from shipyard.config import load_settings
from shipyard.workspace import Workspace

home, content, go = sys.argv[1], int(sys.argv[2]), Path(sys.argv[3])
frame = pd.DataFrame({"id": range(content, content + 2_000), "score": [0.5] * 2_000})
workspace = Workspace(load_settings({"home": home}, environ={}))
workspace.store  # open (and migrate) the store before the start line
while not go.exists():  # start together, so that the adds really overlap
    time.sleep(0.005)
snapshot = datasets.add(frame, "shared", workspace=workspace)
workspace.close()
print(json.dumps([content, snapshot.version, snapshot.content_hash]))
"""


def test_concurrent_adds_of_a_new_name_get_distinct_or_shared_versions(tmp_path: Path) -> None:
    home = str(tmp_path / "home")
    Workspace(load_settings({"home": home}, environ={})).close()  # create the SQLite store
    go = tmp_path / "go"
    contents = [0, 0, 1, 1]  # two processes per content, two contents
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, home, str(content), str(go)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for content in contents
    ]
    go.touch()
    results = []
    for worker in workers:
        out, err = worker.communicate(timeout=120)
        assert worker.returncode == 0, err
        results.append(json.loads(out.strip().splitlines()[-1]))
    version_of = {content: {v for c, v, _ in results if c == content} for content in (0, 1)}
    assert all(len(versions) == 1 for versions in version_of.values())  # same content, same v
    assert version_of[0] | version_of[1] == {1, 2}  # different content, distinct versions
    workspace = Workspace(load_settings({"home": home}, environ={}))
    stored = datasets.list("shared", workspace=workspace)
    assert [s.version for s in stored] == [1, 2]
    assert {s.content_hash for s in stored} == {h for _, _, h in results}
    workspace.close()

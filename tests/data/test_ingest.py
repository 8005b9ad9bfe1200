"""One pass writes, hashes and profiles; the stored bytes depend only on the content."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from shipyard import data as datasets
from shipyard.data.ingest import ingest, profile_file
from shipyard.workspace import Workspace


def sources(tmp_path: Path, frame: pd.DataFrame) -> dict[str, object]:
    parquet = tmp_path / "rows.parquet"
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), parquet, row_group_size=3)
    csv = tmp_path / "rows.csv"
    frame.to_csv(csv, index=False)
    return {"dataframe": frame, "parquet": parquet, "csv": csv}


@pytest.fixture
def frame() -> pd.DataFrame:
    rows = 1_000
    return pd.DataFrame(
        {
            "x": [float(i % 97) if i % 13 else None for i in range(rows)],
            "n": list(range(rows)),
            "city": [["oslo", "lima", "pune"][i % 3] for i in range(rows)],
        }
    )


@pytest.mark.parametrize("kind", ["dataframe", "parquet", "csv"])
def test_streamed_and_in_memory_ingest_agree(
    tmp_path: Path, frame: pd.DataFrame, kind: str
) -> None:
    data = sources(tmp_path, frame)[kind]
    whole = ingest(data, tmp_path / "whole.parquet")
    streamed = ingest(data, tmp_path / "streamed.parquet", in_memory_bytes=0)
    assert whole.profile is not None
    assert streamed.content_hash == whole.content_hash
    assert (tmp_path / "streamed.parquet").read_bytes() == (tmp_path / "whole.parquet").read_bytes()
    if kind == "csv":  # a large CSV cannot be read by column: the written file is profiled
        assert streamed.profile is None
        assert profile_file(tmp_path / "streamed.parquet") == whole.profile
    else:
        assert streamed.profile == whole.profile
    assert whole.profile == datasets.profile(frame)


def test_same_content_from_another_source_stores_no_second_blob(
    sqlite_workspace: Workspace, tmp_path: Path, frame: pd.DataFrame
) -> None:
    found = sources(tmp_path, frame)
    first = datasets.add(found["dataframe"], "cities", workspace=sqlite_workspace)
    for kind in ("parquet", "csv"):
        again = datasets.add(found[kind], "cities", workspace=sqlite_workspace)
        assert again == first
    stored = Path(sqlite_workspace.settings.artifacts_url) / "sha256"
    assert len([p for p in stored.rglob("*") if p.is_file()]) == 2  # snapshot + profile
    assert not any((Path(sqlite_workspace.settings.artifacts_url) / "tmp").iterdir())

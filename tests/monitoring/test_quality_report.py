"""Data quality counters and the HTML/JSON report."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import shipyard as sy
from shipyard.errors import InvalidInput


def test_quality_counts_nulls_out_of_range_and_unseen_categories() -> None:
    ref = pd.DataFrame({"age": [20.0, 30.0, 40.0, 50.0], "city": ["a", "b", "a", "b"]})
    cur = pd.DataFrame({"age": [10.0, 30.0, np.nan, 60.0], "city": ["a", "z", None, "y"]})
    report = sy.monitor.quality(cur, reference=ref)
    age, city = report["age"], report["city"]
    assert (age.nulls, age.null_rate) == (1, 0.25)
    assert age.expected_range == (20.0, 50.0)
    assert (age.out_of_range, age.out_of_range_rate) == (2, 0.5)
    assert city.unseen_categories == ("y", "z") and city.unseen == 2 and city.nulls == 1
    table = report.to_frame()
    assert table.loc["age", "out_of_range"] == 2


def test_quality_with_explicit_ranges_and_categories() -> None:
    cur = pd.DataFrame({"age": [-1.0, 5.0, 200.0], "city": ["a", "b", "c"]})
    report = sy.monitor.quality(cur, ranges={"age": (0, None)}, categories={"city": ["a", "b"]})
    assert report["age"].out_of_range == 1  # open upper bound
    assert report["city"].unseen_categories == ("c",)


def test_quality_all_null_column() -> None:
    cur = pd.DataFrame({"x": [np.nan, np.nan]})
    assert sy.monitor.quality(cur)["x"].null_rate == 1.0


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"ranges": {"age": (5, 1)}}, "ranges"),
        ({"ranges": {"age": 3}}, "ranges"),
        ({"ranges": {"age": ("a", 1)}}, "ranges"),
        ({"ranges": {"nope": (0, 1)}}, "columns"),
        ({"columns": ["nope"]}, "columns"),
    ],
)
def test_quality_bad_input(kwargs: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        sy.monitor.quality(pd.DataFrame({"age": [1.0]}), **kwargs)  # type: ignore[arg-type]
    assert caught.value.field == field


def _drifted() -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(0)
    n = 3000
    ref = pd.DataFrame({"x": rng.normal(size=n), "city": rng.choice(["a", "b<&>"], size=n)})
    cur = pd.DataFrame({"x": rng.normal(1, size=n), "city": rng.choice(["a", "new"], size=n)})
    return ref, cur


def test_html_report_is_small_self_contained_and_shows_every_column(tmp_path: Path) -> None:
    ref, cur = _drifted()
    report = sy.monitor.drift(ref, cur)
    path = sy.monitor.write_report(
        report, tmp_path / "drift.html", quality=sy.monitor.quality(cur, reference=ref)
    )
    page = path.read_text()
    assert page.startswith("<!doctype html>")
    assert "<script" not in page and "http://" not in page.replace("http://www.w3.org", "")
    assert page.count("<svg xmlns") == 2  # one chart per column
    assert "b&lt;&amp;&gt;" in page  # category names are escaped
    assert "Data quality" in page
    assert len(page.encode()) < 50_000


def test_json_report_round_trips(tmp_path: Path) -> None:
    ref, cur = _drifted()
    path = sy.monitor.write_report(sy.monitor.drift(ref, cur), tmp_path / "drift.json")
    document = json.loads(path.read_text())
    assert document["drift"]["drifted"] == ["x", "city"]
    with pytest.raises(InvalidInput) as caught:
        sy.monitor.write_report(sy.monitor.drift(ref, cur), tmp_path / "x.pdf", format="pdf")
    assert caught.value.field == "format"

"""Monitoring: drift statistics, data quality and reports over frames.

The public face is ``shipyard.monitor`` (``sy.monitor.drift(...)``); this
package holds one module per concept:

- ``stats``: the statistics as pure NumPy/SciPy functions;
- ``thresholds``: the defaults and per-feature overrides;
- ``verdict``: from statistics to flags, status and a ``ColumnDrift``;
- ``drift``: two in-memory frames; ``scan``: a Parquet window in chunks, from
  the mergeable per-chunk counters of ``counts``;
- ``frames``: column access over pandas and Arrow;
- ``results``: the typed results; ``quality``: null rates, ranges, unseen
  categories; ``report``: the HTML and JSON report.

Monitor runs over a deployment's logs (``docs/monitoring-operations.md``):
``logs`` (DuckDB views), ``window`` and ``runs`` (evaluate and store a
window), ``windowscan`` (a large window in one bounded pass, in-process or
on Dask), ``rejected`` (requests the server refused), ``targets``,
``ground_truth``, ``performance``, ``alerts``, ``run_report``.
"""

from __future__ import annotations

from shipyard.monitoring.drift import drift
from shipyard.monitoring.quality import ColumnQuality, QualityReport, quality
from shipyard.monitoring.report import render_html, render_json, write_report
from shipyard.monitoring.results import ColumnDrift, DriftReport, Histogram
from shipyard.monitoring.thresholds import Thresholds

__all__ = [
    "ColumnDrift",
    "ColumnQuality",
    "DriftReport",
    "Histogram",
    "QualityReport",
    "Thresholds",
    "drift",
    "quality",
    "render_html",
    "render_json",
    "write_report",
]

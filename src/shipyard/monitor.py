"""``sy.monitor``: the public monitoring API.

    import shipyard as sy

    report = sy.monitor.drift(reference_df, current_df)
    report.to_frame()              # one row per column
    sy.monitor.quality(current_df, reference=reference_df).to_frame()
    sy.monitor.write_report(report, "drift.html")

The implementation lives in ``shipyard.monitoring``; this module only names
what users may rely on.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from shipyard.monitoring import (
    ColumnDrift,
    ColumnQuality,
    DriftReport,
    Histogram,
    QualityReport,
    Thresholds,
    drift,
    quality,
    render_html,
    render_json,
    write_report,
)

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

# Operations: ground truth, performance, monitor runs, alerts (see docs/monitoring-operations.md).
# They need the metadata store (SQLAlchemy, pandas): imported on first use, so
# that ``sy.monitor.drift`` on two files stays a light process.
_OPERATIONS = {
    "ack_alert": "shipyard.monitoring.alerts",
    "get_alert": "shipyard.monitoring.alerts",
    "list_alerts": "shipyard.monitoring.alerts",
    "log_ground_truth": "shipyard.monitoring.ground_truth",
    "performance": "shipyard.monitoring.performance",
    "list_results": "shipyard.monitoring.runs",
    "metric_series": "shipyard.monitoring.runs",
    "run_monitor": "shipyard.monitoring.runs",
    "get_targets": "shipyard.monitoring.targets",
    "record_targets": "shipyard.monitoring.targets",
}

if TYPE_CHECKING:
    pass

__all__ += sorted(_OPERATIONS)


def __getattr__(name: str) -> Any:
    if name in _OPERATIONS:
        return getattr(importlib.import_module(_OPERATIONS[name]), name)
    raise AttributeError(f"module 'shipyard.monitor' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_OPERATIONS])

"""Where pipeline and retraining notifications go when a call names no sinks.

The ``notify`` list of ``[pipelines]`` in shipyard.toml when it is set;
otherwise the monitoring alert sinks (``sinks`` of ``[monitoring]``, with
``slack:`` too) when those are set, so that one configuration reaches people
for alerts, failed pipelines, gate skips and retrain requests alike;
otherwise none.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from shipyard.notify import Sink
    from shipyard.workspace import Workspace


def pipeline_sinks(workspace: Workspace) -> list[Sink]:
    """The configured sinks for pipeline and retraining notifications (see module doc)."""
    from shipyard.notify import configured_sinks

    if "notify" in workspace.settings.section("pipelines"):
        return configured_sinks(workspace)
    if "sinks" in workspace.settings.section("monitoring"):
        from shipyard.monitoring.alerts import configured_sinks as alert_sinks

        return alert_sinks(workspace, None)
    return []


__all__ = ["pipeline_sinks"]

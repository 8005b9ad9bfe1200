"""The management server: tracking, datasets and registry over HTTP (``shipyard server``).

``create_app(settings, workspace)`` builds the FastAPI app; see ``docs/server.md``.
"""

from shipyard.server.app import create_app

__all__ = ["create_app"]

"""Routers of the management server, one module per resource.

Each module exposes ``router(workspace) -> APIRouter``; ``shipyard.server.app``
includes them (and optional routers of other layers) in one list.
"""

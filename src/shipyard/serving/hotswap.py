"""Following the registry: load the versions a deployment routes to, and notice changes.

``RegistrySource`` resolves a deployment's routes from the registry's stage
table — production (or the stage/alias an ad-hoc ``MODEL@STAGE`` target
names), canary when the deployment has a canary share, and the shadow
reference — and loads each version once through ``shipyard.registry``
(SHA-256 verified: a mismatch raises ``IntegrityError`` and nothing is
served). Loaded versions are cached while the server holds them (serving,
or warm for ``warm_seconds``), so a rollback to such a version costs no
load; once the runtime lets a version go, the cache forgets it too and its
memory is freed.

``fingerprint()`` is the cheap question the server asks every
``poll_seconds`` (default 1 s, so a promotion reaches every worker within
about 1 s plus the load and warm-up of a new version): which version holds
each route. When the answer changes the server calls ``load()`` again and
installs the new routes atomically (``DeploymentRuntime.install``).
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Hashable

from shipyard.errors import NotFound
from shipyard.serving.model import ServedModel
from shipyard.serving.runtime import Routes
from shipyard.serving.spec import DeploymentSpec
from shipyard.serving.validation import InputSchema
from shipyard.workspace import Workspace

DEFAULT_POLL_SECONDS = 1.0


class RegistrySource:
    """The routes of one deployment, read from the registry and loaded on demand."""

    def __init__(
        self, workspace: Workspace, spec: DeploymentSpec, production: str = "production"
    ) -> None:
        self.workspace = workspace
        self.spec = spec
        self.production_ref = (
            production if "@" in production or "/" in production else (f"{spec.model}@{production}")
        )
        # Weak: a version lives as long as the runtime routes to it or keeps it warm.
        self._cache: weakref.WeakValueDictionary[str, ServedModel] = weakref.WeakValueDictionary()
        self._lock = threading.Lock()

    def _refs(self) -> dict[str, str | None]:
        canary = f"{self.spec.model}@canary" if self.spec.canary_percent > 0 else None
        return {"production": self.production_ref, "canary": canary, "shadow": self.spec.shadow}

    def fingerprint(self) -> Hashable:
        """Which version each route resolves to now (a few indexed reads)."""
        from shipyard.registry.catalog import get_version

        found: list[tuple[str, str]] = []
        for route, ref in self._refs().items():
            if ref is None:
                continue
            try:
                found.append((route, get_version(ref, workspace=self.workspace).ref))
            except NotFound:
                if route == "production":
                    raise
                found.append((route, ""))  # no canary right now: production takes it all
        return tuple(found)

    def load(self) -> Routes:
        """The current routes, loading (and verifying) versions not seen before."""
        from shipyard.registry.catalog import get_version

        models: dict[str, ServedModel | None] = {}
        for route, ref in self._refs().items():
            if ref is None:
                models[route] = None
                continue
            try:
                info = get_version(ref, workspace=self.workspace)
            except NotFound:
                if route == "production":
                    raise
                models[route] = None
                continue
            models[route] = self._load(info.ref)
        production = models["production"]
        assert production is not None
        return Routes(production, models["canary"], models["shadow"])

    def _load(self, ref: str) -> ServedModel:
        with self._lock:
            cached = self._cache.get(ref)
            if cached is not None:
                return cached
        from shipyard.registry.loading import load_model

        loaded = load_model(ref, workspace=self.workspace)
        info = loaded.info
        served = ServedModel.wrap(
            info.name,
            info.version,
            loaded.model,
            InputSchema.from_signature(info.signature),
            sha256=info.sha256,
            flavor=info.flavor,
            input_format=info.signature.input_format,
        )
        with self._lock:
            self._cache[ref] = served
        return served

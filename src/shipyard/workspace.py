"""A workspace: the settings and the stores they name, opened lazily.

Every API call takes a ``Workspace`` (or uses ``current()``, the one the
environment and ``shipyard.toml`` describe). Layers attach their long-lived
helpers (the metric flusher, an online-store client, a model cache) with
``service(name, factory)`` so that they are created once per workspace and
closed with it — never held in module globals.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable
from functools import lru_cache
from typing import Any, Protocol, TypeVar

from shipyard.artifacts import ArtifactStore
from shipyard.config import Settings, load_settings
from shipyard.store import Store

T = TypeVar("T")


class Closeable(Protocol):
    def close(self) -> None: ...


class Workspace:
    """The metadata store, artifact store and services for one set of settings."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._lock = threading.RLock()
        self._store: Store | None = None
        self._artifacts: ArtifactStore | None = None
        self._services: dict[str, Any] = {}
        # Runs at interpreter exit too, so buffered writes are flushed.
        self._finalizer = weakref.finalize(self, Workspace._close_services, self._services)

    @property
    def store(self) -> Store:
        with self._lock:
            if self._store is None:
                self._store = Store.open(self.settings.db_url)
            return self._store

    @property
    def artifacts(self) -> ArtifactStore:
        with self._lock:
            if self._artifacts is None:
                self._artifacts = ArtifactStore(self.settings.artifacts_url)
            return self._artifacts

    def service(self, name: str, factory: Callable[[Workspace], T]) -> T:
        """The workspace's one instance of a helper, created on first use."""
        with self._lock:
            if name not in self._services:
                self._services[name] = factory(self)
            service: T = self._services[name]
            return service

    def close(self) -> None:
        """Flush and close every service, then the stores."""
        with self._lock:
            Workspace._close_services(self._services)
            if self._store is not None:
                self._store.close()
                self._store = None

    @staticmethod
    def _close_services(services: dict[str, Any]) -> None:
        for service in reversed(list(services.values())):
            close = getattr(service, "close", None)
            if callable(close):
                close()
        services.clear()

    def __enter__(self) -> Workspace:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Workspace(home={str(self.settings.home)!r})"


def connect(**overrides: Any) -> Workspace:
    """A new workspace from the environment and ``shipyard.toml``, with overrides.

    ``sy.connect(home="/tmp/x")`` or ``sy.connect(db_url="postgresql+psycopg://…")``.
    """
    return Workspace(load_settings(overrides))


def current() -> Workspace:
    """The workspace the current settings describe, shared by calls that name none."""
    return _workspace_for(load_settings())


@lru_cache(maxsize=8)
def _workspace_for(settings: Settings) -> Workspace:
    return Workspace(settings)

"""The online store interface: the latest feature values per entity, newest write wins.

A backend keeps one record per key (``"<view>:<entity key>"``): the event
timestamp of the values (UTC ns), when it was written, and the values as bytes
(``codec``: a fixed binary layout, or JSON for views with text features). It
has three duties, checked by one conformance suite
(``tests/features/test_online_store.py``) that every backend runs:

- ``write`` never replaces a record by one with an older event timestamp (an
  equal one replaces it, so re-running a materialization is idempotent);
- ``read`` answers many keys in one round trip, ``None`` for a missing key;
- ``delete`` removes keys (used by tests and by ``features apply`` clean-ups).

Expiry (``online_ttl``) is not the backend's business: readers compare the
event timestamp with the clock, so a changed TTL applies at once.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import TYPE_CHECKING, NamedTuple

from shipyard.errors import ConfigError

if TYPE_CHECKING:
    from shipyard.workspace import Workspace

Row = tuple[str, int, bytes]  # (key, event timestamp in UTC ns, encoded values)


class Record(NamedTuple):
    """What the online store holds for one key (a tuple: cheap to build by the thousand)."""

    event_ns: int
    written_ns: int
    payload: bytes  # ``str`` only in stores written by an earlier version (JSON)


class OnlineStore(ABC):
    """A key-value store of feature records."""

    url: str

    @abstractmethod
    def write(self, rows: Sequence[Row]) -> int:
        """Store rows unless a newer record exists; returns how many were stored."""

    @abstractmethod
    def read(self, keys: Sequence[str]) -> list[Record | None]:
        """The records of ``keys`` in order (``None`` where missing), in one round trip."""

    @abstractmethod
    def delete(self, keys: Sequence[str]) -> None:
        """Remove ``keys`` (missing keys are ignored)."""

    @abstractmethod
    def close(self) -> None:
        """Release connections."""


def open_online_store(url: str) -> OnlineStore:
    """The backend named by ``url``: ``sqlite:///PATH`` or ``redis://HOST:PORT/DB``."""
    if url.startswith("sqlite:///"):
        from shipyard.features.online.sqlite import SQLiteOnlineStore

        return SQLiteOnlineStore(url)
    if url.startswith(("redis://", "rediss://", "unix://")):
        from shipyard.features.online.redis import RedisOnlineStore

        return RedisOnlineStore(url)
    raise ConfigError(
        f"online_store {url!r} is not supported. Use sqlite:///PATH (default) or "
        "redis://HOST:PORT/DB (SHIPYARD_ONLINE_STORE).",
        field="online_store",
    )


def online_store(workspace: Workspace) -> OnlineStore:
    """The workspace's online store client, opened once."""
    return workspace.service(
        "features.online_store", lambda ws: open_online_store(ws.settings.online_store)
    )

"""Online feature stores: SQLite (embedded default) and Redis, behind one interface."""

from shipyard.features.online.base import OnlineStore, Record, online_store, open_online_store

__all__ = ["OnlineStore", "Record", "online_store", "open_online_store"]

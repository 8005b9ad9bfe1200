"""The exceptions shipyard raises, and nothing else.

Every error a user can see is a ``ShipyardError``. Its message says what
happened, the offending value, and what to do next. Context travels as
attributes so that callers never parse messages::

    ShipyardError
     ├── NotFound              (.kind, .name)                      HTTP 404, exit 2
     ├── AlreadyExists         (.kind, .name)                      HTTP 409, exit 2
     ├── Conflict              (.kind, .name)                      HTTP 409, exit 2
     ├── InvalidInput          (.field)                            HTTP 422, exit 2
     │    ├── ConfigError      (.path, .line)                      HTTP 500, exit 2
     │    └── ValidationFailed (.report)                           HTTP 422, exit 1
     ├── GateFailed            (.report)                           HTTP 409, exit 1
     ├── PermissionDenied      (.required_role)                    HTTP 403, exit 2
     ├── Unauthenticated                                           HTTP 401, exit 2
     ├── BackendUnavailable    (.url)                              HTTP 503, exit 1
     ├── NotebookFailed        (.run_id, .failed_cell)             HTTP 500, exit 1
     └── IntegrityError        (.expected, .found)                 HTTP 500, exit 1

The HTTP status and CLI exit code of each class live in one table at each
edge (``shipyard.cli`` and the server), never in string matching.
"""

from __future__ import annotations

from typing import Any


class ShipyardError(Exception):
    """Base class of every error shipyard raises on purpose."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready description: the class name, the message and the context."""
        context = {
            key: value
            for key, value in vars(self).items()
            if key != "message" and isinstance(value, (str, int, float, bool, type(None)))
        }
        return {"error": type(self).__name__, "message": self.message, **context}


class NotFound(ShipyardError):
    """A named thing (run, experiment, model, version, dataset…) does not exist."""

    def __init__(self, message: str, *, kind: str = "", name: str = "") -> None:
        super().__init__(message)
        self.kind = kind
        self.name = name


class AlreadyExists(ShipyardError):
    """Creating something whose name is taken."""

    def __init__(self, message: str, *, kind: str = "", name: str = "") -> None:
        super().__init__(message)
        self.kind = kind
        self.name = name


class Conflict(ShipyardError):
    """A write that contradicts what is stored (a re-logged param, a lost race)."""

    def __init__(self, message: str, *, kind: str = "", name: str = "") -> None:
        super().__init__(message)
        self.kind = kind
        self.name = name


class InvalidInput(ShipyardError):
    """A value given by the caller is unusable; ``.field`` names it."""

    def __init__(self, message: str, *, field: str = "") -> None:
        super().__init__(message)
        self.field = field


class ConfigError(InvalidInput):
    """A settings file or value is wrong; ``.path`` and ``.line`` say where."""

    def __init__(
        self, message: str, *, path: str = "", line: int | None = None, field: str = ""
    ) -> None:
        super().__init__(message, field=field)
        self.path = path
        self.line = line


class ValidationFailed(InvalidInput):
    """Data failed a declared check; ``.report`` holds every failing check."""

    def __init__(self, message: str, *, report: Any = None, field: str = "") -> None:
        super().__init__(message, field=field)
        self.report = report


class GateFailed(ShipyardError):
    """A promotion gate blocked a stage change; ``.report`` holds the numbers."""

    def __init__(self, message: str, *, report: Any = None) -> None:
        super().__init__(message)
        self.report = report


class PermissionDenied(ShipyardError):
    """The caller's role may not do this; ``.required_role`` says which may."""

    def __init__(self, message: str, *, required_role: str = "") -> None:
        super().__init__(message)
        self.required_role = required_role


class Unauthenticated(ShipyardError):
    """A write came without a valid token."""


class BackendUnavailable(ShipyardError):
    """A database, bucket or server could not be reached; ``.url`` names it."""

    def __init__(self, message: str, *, url: str = "") -> None:
        super().__init__(message)
        self.url = url


class NotebookFailed(ShipyardError):
    """A notebook run as a pipeline step failed; its run and stored notebook say where."""

    def __init__(self, message: str, *, run_id: str = "", failed_cell: int | None = None) -> None:
        super().__init__(message)
        self.run_id = run_id
        self.failed_cell = failed_cell


class IntegrityError(ShipyardError):
    """Stored bytes do not match their recorded hash; nothing is loaded."""

    def __init__(self, message: str, *, expected: str = "", found: str = "") -> None:
        super().__init__(message)
        self.expected = expected
        self.found = found


__all__ = [
    "AlreadyExists",
    "BackendUnavailable",
    "ConfigError",
    "Conflict",
    "GateFailed",
    "IntegrityError",
    "InvalidInput",
    "NotFound",
    "NotebookFailed",
    "PermissionDenied",
    "ShipyardError",
    "Unauthenticated",
    "ValidationFailed",
]

"""Notifications to people: a monitor alert fired, a pipeline failed, a gate skipped a
step, a retrain request waits for approval — each with the reason and a command to run.

Every layer that tells people something uses these sinks, so one configuration reaches
everyone. A sink is anything with ``send(notification)``. Three ship here:

* ``LogSink`` — a WARNING on the ``shipyard.notify`` logger;
* ``WebhookSink(url)`` — a JSON POST of ``Notification.to_dict()``;
* ``CommandSink(argv)`` — runs a command with the JSON on stdin.

``parse_sink("webhook:https://…")``, ``"command:notify-send"`` and ``"log"``
build them from text (CLI ``--notify`` and the ``notify`` list of the
``[pipelines]`` table of shipyard.toml). A failing sink is logged and never
fails the pipeline.
"""

from __future__ import annotations

import json
import logging
import shlex
import subprocess
import urllib.request
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any, Protocol

from shipyard.errors import InvalidInput
from shipyard.workspace import Workspace

log = logging.getLogger("shipyard.notify")
SINK_TIMEOUT_SECONDS = 10.0


@dataclass(frozen=True)
class Notification:
    """What happened (``kind``), to which pipeline and run, why, and what to type next."""

    kind: str
    pipeline: str
    run_id: str
    reason: str
    command: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def text(self) -> str:
        return (
            f"[{self.kind}] pipeline {self.pipeline} run {self.run_id}: {self.reason} "
            f"(see `{self.command}`)"
        )


class Sink(Protocol):
    def send(self, notification: Notification) -> None: ...


class LogSink:
    def send(self, notification: Notification) -> None:
        log.warning(notification.text())


class WebhookSink:
    def __init__(self, url: str) -> None:
        if not url.startswith(("http://", "https://")):
            raise InvalidInput(
                f"Webhook URL {url!r} must start with http:// or https://.", field="notify"
            )
        self.url = url

    def send(self, notification: Notification) -> None:
        body = json.dumps(notification.to_dict()).encode()
        request = urllib.request.Request(
            self.url, data=body, headers={"Content-Type": "application/json"}, method="POST"
        )
        with urllib.request.urlopen(request, timeout=SINK_TIMEOUT_SECONDS) as response:
            response.read()


class CommandSink:
    def __init__(self, argv: Sequence[str]) -> None:
        if not argv:
            raise InvalidInput(
                "A command sink needs a command, e.g. 'command:notify.sh'.", field="notify"
            )
        self.argv = list(argv)

    def send(self, notification: Notification) -> None:
        subprocess.run(
            self.argv,
            input=json.dumps(notification.to_dict()),
            text=True,
            timeout=SINK_TIMEOUT_SECONDS,
            check=True,
            capture_output=True,
        )


def parse_sink(text: str) -> Sink:
    """A sink from ``log``, ``webhook:URL`` or ``command:CMD ARGS``."""
    kind, _, rest = text.partition(":")
    if kind == "log" and not rest:
        return LogSink()
    if kind == "webhook":
        return WebhookSink(rest)
    if kind == "command":
        return CommandSink(shlex.split(rest))
    raise InvalidInput(
        f"Unknown notification sink {text!r}; use 'log', 'webhook:URL' or 'command:CMD'.",
        field="notify",
    )


def configured_sinks(workspace: Workspace) -> list[Sink]:
    """The sinks listed under ``notify`` in the ``[pipelines]`` table of shipyard.toml."""
    listed = workspace.settings.section("pipelines").get("notify", [])
    if isinstance(listed, str):
        listed = [listed]
    return [parse_sink(str(item)) for item in listed]


def send(sinks: Sequence[Sink], notification: Notification) -> None:
    """Deliver to every sink; a sink's failure is logged, never raised."""
    for sink in sinks:
        try:
            sink.send(notification)
        except Exception as exc:  # a broken hook must not fail the pipeline
            log.error("notification sink %s failed: %s", type(sink).__name__, exc)


__all__ = [
    "CommandSink",
    "LogSink",
    "Notification",
    "Sink",
    "WebhookSink",
    "configured_sinks",
    "parse_sink",
    "send",
]

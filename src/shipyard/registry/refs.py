"""Model references: ``NAME/VERSION`` (``churn/3``) or ``NAME@STAGE_OR_ALIAS``.

``NAME@latest`` is the newest version.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from shipyard.errors import InvalidInput

STAGES = ("staging", "canary", "production")
"""The single-holder stages, in promotion order."""
ARCHIVED = "archived"
NONE = "none"
ALL_STAGES = (*STAGES, ARCHIVED)

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,127}$")
_ALIAS = re.compile(r"^[A-Za-z][A-Za-z0-9_\-]{0,63}$")


@dataclass(frozen=True)
class ModelRef:
    """A parsed reference: a name and either a version number or a stage/alias label."""

    name: str
    version: int | None = None
    label: str | None = None

    def __str__(self) -> str:
        return (
            f"{self.name}/{self.version}"
            if self.version is not None
            else f"{self.name}@{self.label}"
        )


def check_model_name(name: object) -> str:
    if not isinstance(name, str) or not _NAME.match(name):
        raise InvalidInput(
            f"Model name {name!r} is not valid: use 1-128 letters, digits, '_', '-' or '.', "
            "starting with a letter or digit (e.g. 'churn').",
            field="name",
        )
    return name


def check_alias(alias: object) -> str:
    if not isinstance(alias, str) or not _ALIAS.match(alias):
        raise InvalidInput(
            f"Alias {alias!r} is not valid: use up to 64 letters, digits, '_' or '-', starting "
            "with a letter (e.g. 'champion').",
            field="alias",
        )
    if alias in (*ALL_STAGES, NONE, "latest"):
        raise InvalidInput(
            f"Alias {alias!r} is a reserved stage name; pick another (e.g. 'champion').",
            field="alias",
        )
    return alias


def parse_ref(ref: object) -> ModelRef:
    """``"churn/3"`` → version 3; ``"churn@production"`` → label "production"."""
    if isinstance(ref, ModelRef):
        return ref
    if not isinstance(ref, str) or not ref.strip():
        raise InvalidInput(
            f"Model reference {ref!r} is empty or not a string; use NAME/VERSION (churn/3) or "
            "NAME@STAGE_OR_ALIAS (churn@production).",
            field="ref",
        )
    text = ref.strip()
    if "@" in text:
        name, _, label = text.partition("@")
        if not label:
            raise InvalidInput(
                f"Model reference {ref!r} has no stage or alias after '@'.", field="ref"
            )
        return ModelRef(check_model_name(name), label=label)
    if "/" in text:
        name, _, version = text.rpartition("/")
        if not version.isdigit() or int(version) < 1:
            raise InvalidInput(
                f"Model reference {ref!r}: version {version!r} must be a positive integer "
                "(e.g. churn/3).",
                field="ref",
            )
        return ModelRef(check_model_name(name), version=int(version))
    raise InvalidInput(
        f"Model reference {ref!r} names no version: use {text}/VERSION (e.g. {text}/1) or "
        f"{text}@STAGE_OR_ALIAS (e.g. {text}@production, {text}@latest).",
        field="ref",
    )

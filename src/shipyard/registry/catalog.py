"""Reading the registry: resolve a reference, describe versions, list models.

Unknown names and versions raise ``NotFound`` with the next step: the closest
model name, or the latest version.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from shipyard.errors import NotFound
from shipyard.registry.refs import ARCHIVED, NONE, STAGES, ModelRef, parse_ref
from shipyard.registry.signature import Signature
from shipyard.store.schema.registry import ModelAlias, ModelStage, ModelVersion, RegisteredModel
from shipyard.workspace import Workspace, current


@dataclass(frozen=True)
class ModelVersionInfo:
    """One registered version as users see it."""

    name: str
    version: int
    flavor: str
    sha256: str
    size: int
    signature: Signature
    requirements: dict[str, str]
    stage: str
    aliases: list[str]
    run_id: str | None
    environment_id: str | None
    created_by: str
    created_at: datetime
    description: str = ""
    golden: dict[str, Any] | None = None
    example_sha256: str | None = None
    flavor_meta: dict[str, Any] = field(default_factory=dict)

    @property
    def ref(self) -> str:
        return f"{self.name}/{self.version}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "ref": self.ref,
            "flavor": self.flavor,
            "sha256": self.sha256,
            "size": self.size,
            "stage": self.stage,
            "aliases": self.aliases,
            "run_id": self.run_id,
            "environment_id": self.environment_id,
            "created_by": self.created_by,
            "created_at": self.created_at.isoformat(),
            "description": self.description,
            "requirements": self.requirements,
            "signature": self.signature.to_dict(),
            "golden": self.golden,
        }


@dataclass(frozen=True)
class ModelInfo:
    """A model name with its versions count and who holds each stage and alias."""

    name: str
    latest_version: int
    stages: dict[str, int]
    aliases: dict[str, int]
    created_at: datetime
    description: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "latest_version": self.latest_version,
            "stages": self.stages,
            "aliases": self.aliases,
            "created_at": self.created_at.isoformat(),
            "description": self.description,
        }


def model_row(session: Session, name: str) -> RegisteredModel:
    row = session.scalar(select(RegisteredModel).where(RegisteredModel.name == name))
    if row is None:
        names = list(session.scalars(select(RegisteredModel.name)))
        close = difflib.get_close_matches(name, names, n=1, cutoff=0.5)
        hint = f" Did you mean '{close[0]}'?" if close else ""
        raise NotFound(
            f"No model named '{name}'.{hint} See `shipyard models list`.", kind="model", name=name
        )
    return row


def version_row(session: Session, ref: str | ModelRef) -> tuple[RegisteredModel, ModelVersion]:
    """The model and version a reference points at, or ``NotFound`` with the next step."""
    parsed = parse_ref(ref)
    model = model_row(session, parsed.name)
    number = (
        parsed.version if parsed.version is not None else _label_version(session, model, parsed)
    )
    row = session.scalar(
        select(ModelVersion).where(
            ModelVersion.model_id == model.id, ModelVersion.version == number
        )
    )
    if row is None:
        raise NotFound(
            f"Model '{model.name}' has no version {number} (latest is {model.last_version}). "
            f"See `shipyard models show {model.name}`.",
            kind="model_version",
            name=f"{model.name}/{number}",
        )
    return model, row


def _label_version(session: Session, model: RegisteredModel, ref: ModelRef) -> int:
    label = ref.label or ""
    if label == "latest":
        if model.last_version == 0:
            raise NotFound(
                f"Model '{model.name}' has no versions yet.", kind="model_version", name=str(ref)
            )
        return _latest(session, model.id)
    if label in STAGES:
        number = session.scalar(
            select(ModelStage.version).where(
                ModelStage.model_id == model.id, ModelStage.stage == label
            )
        )
    else:
        number = session.scalar(
            select(ModelAlias.version).where(
                ModelAlias.model_id == model.id, ModelAlias.alias == label
            )
        )
    if number is None:
        stages = stage_map(session, model.id)
        held = ", ".join(f"{s}=v{v}" for s, v in stages.items()) or "none"
        what = "version in" if label in STAGES else "alias"
        raise NotFound(
            f"Model '{model.name}' has no {what} '{label}' (stages: {held}; latest is "
            f"v{model.last_version}). Use {model.name}/{model.last_version} or promote a version.",
            kind="model_version",
            name=str(ref),
        )
    return int(number)


def _latest(session: Session, model_id: int) -> int:
    return int(
        session.scalar(
            select(func.max(ModelVersion.version)).where(ModelVersion.model_id == model_id)
        )
        or 0
    )


def stage_map(session: Session, model_id: int) -> dict[str, int]:
    rows = session.execute(
        select(ModelStage.stage, ModelStage.version).where(ModelStage.model_id == model_id)
    ).all()
    found = {stage: int(version) for stage, version in rows}
    return {s: found[s] for s in STAGES if s in found}


def alias_map(session: Session, model_id: int) -> dict[str, int]:
    rows = session.execute(
        select(ModelAlias.alias, ModelAlias.version)
        .where(ModelAlias.model_id == model_id)
        .order_by(ModelAlias.alias)
    ).all()
    return {alias: int(version) for alias, version in rows}


def stage_of(row: ModelVersion, stages: dict[str, int]) -> str:
    for stage, number in stages.items():
        if number == row.version:
            return stage
    return ARCHIVED if row.archived else NONE


def to_info(session: Session, model: RegisteredModel, row: ModelVersion) -> ModelVersionInfo:
    stages = stage_map(session, model.id)
    aliases = [a for a, v in alias_map(session, model.id).items() if v == row.version]
    return ModelVersionInfo(
        name=model.name,
        version=row.version,
        flavor=row.flavor,
        sha256=row.sha256,
        size=row.size,
        signature=Signature.from_dict(row.signature),
        requirements=dict(row.requirements),
        stage=stage_of(row, stages),
        aliases=aliases,
        run_id=row.run_id,
        environment_id=row.environment_id,
        created_by=row.created_by,
        created_at=row.created_at,
        description=row.description,
        golden=row.golden,
        example_sha256=row.example_sha256,
        flavor_meta=dict(row.flavor_meta),
    )


def get_version(ref: str, *, workspace: Workspace | None = None) -> ModelVersionInfo:
    """Describe the version ``ref`` points at (``churn/3``, ``churn@production``)."""
    workspace = workspace or current()
    with workspace.store.read() as session:
        model, row = version_row(session, ref)
        return to_info(session, model, row)


def list_versions(name: str, *, workspace: Workspace | None = None) -> list[ModelVersionInfo]:
    """Every version of model ``name``, newest first."""
    workspace = workspace or current()
    with workspace.store.read() as session:
        model = model_row(session, name)
        rows = session.scalars(
            select(ModelVersion)
            .where(ModelVersion.model_id == model.id)
            .order_by(ModelVersion.version.desc())
        ).all()
        return [to_info(session, model, row) for row in rows]


def list_models(*, workspace: Workspace | None = None) -> list[ModelInfo]:
    """Every registered model with its stages and aliases, by name."""
    workspace = workspace or current()
    with workspace.store.read() as session:
        models = session.scalars(select(RegisteredModel).order_by(RegisteredModel.name)).all()
        return [
            ModelInfo(
                m.name,
                m.last_version,
                stage_map(session, m.id),
                alias_map(session, m.id),
                m.created_at,
                m.description,
            )
            for m in models
        ]

"""Dataset schemas: declared in Python or a TOML/JSON file, or inferred from data.

A ``Schema`` lists ``Column`` rules (type, nullability, range, allowed
categories, uniqueness, required) and may carry distribution checks against a
reference profile (share of nulls, values outside the reference range, unseen
categories). ``validation.validate`` checks a frame against it.

File form (``schema.toml``; JSON has the same shape)::

    allow_extra_columns = false
    reference = "customers/v3"    # optional: distribution checks
    max_null_increase = 0.05      # null share may grow by at most 5 points
    max_out_of_range = 0.01       # at most 1% of values outside [ref min, ref max]

    [columns.age]
    type = "int64"
    nullable = false
    min = 0
    max = 120

A ``shipyard.toml`` holds the same under ``[datasets.schemas.NAME]``.
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from shipyard.data.canonical import NUMERIC_TYPES, TYPE_NAMES
from shipyard.data.profiles import DEFAULT_TOP, CategoricalProfile, NumericProfile, Profile
from shipyard.errors import ConfigError, InvalidInput, NotFound
from shipyard.workspace import Workspace, current

DEFAULT_MAX_CATEGORIES = DEFAULT_TOP


@dataclass(frozen=True)
class Column:
    """The rules for one column; ``None`` means "not checked"."""

    name: str
    type: str | None = None
    nullable: bool = True
    min: float | None = None
    max: float | None = None
    categories: tuple[Any, ...] | None = None
    unique: bool = False
    required: bool = True

    def __post_init__(self) -> None:
        if self.type is not None and self.type not in TYPE_NAMES:
            raise InvalidInput(
                f"Column '{self.name}': type {self.type!r} is not one of {', '.join(TYPE_NAMES)}.",
                field=f"columns.{self.name}.type",
            )
        if self.min is not None and self.max is not None and self.min > self.max:
            raise InvalidInput(
                f"Column '{self.name}': min {self.min} is above max {self.max}; swap them.",
                field=f"columns.{self.name}.min",
            )
        if self.categories is not None and not isinstance(self.categories, tuple):
            object.__setattr__(self, "categories", tuple(self.categories))

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        if self.categories is not None:
            data["categories"] = list(self.categories)
        return data

    def rules(self) -> dict[str, Any]:
        """The rules that differ from the defaults (what a schema file needs to say)."""
        defaults = Column(self.name).to_dict()
        return {k: v for k, v in self.to_dict().items() if k != "name" and v != defaults[k]}


@dataclass(frozen=True)
class Schema:
    """Column rules plus optional distribution checks against a reference profile."""

    columns: tuple[Column, ...]
    allow_extra_columns: bool = False
    reference: str | Profile | None = None
    max_null_increase: float = 0.05
    max_out_of_range: float = 0.01
    check_unseen_categories: bool = True
    extra: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "columns", tuple(self.columns))
        names = [c.name for c in self.columns]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise InvalidInput(
                f"Schema lists column(s) {duplicates} twice; keep one rule per column.",
                field="columns",
            )

    def __getitem__(self, name: str) -> Column:
        for column in self.columns:
            if column.name == name:
                return column
        raise InvalidInput(f"The schema has no column '{name}'.", field=name)

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "allow_extra_columns": self.allow_extra_columns,
            "max_null_increase": self.max_null_increase,
            "max_out_of_range": self.max_out_of_range,
            "check_unseen_categories": self.check_unseen_categories,
        }
        if isinstance(self.reference, str):
            data["reference"] = self.reference
        data["columns"] = {c.name: c.rules() for c in self.columns}
        return data

    def to_toml(self) -> str:
        """The schema as a TOML file ``Schema.load`` reads back."""
        lines = [f"{k} = {_toml_value(v)}" for k, v in self.to_dict().items() if k != "columns"]
        for name, rules in self.to_dict()["columns"].items():
            lines += ["", f"[columns.{json.dumps(name)}]"]
            lines += [f"{k} = {_toml_value(v)}" for k, v in rules.items()]
        return "\n".join(lines) + "\n"

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], where: str = "schema") -> Schema:
        """A schema from its mapping form (a parsed TOML or JSON file)."""
        if not isinstance(data, Mapping):
            raise ConfigError(f"{where}: a schema must be a table/object.", path=where)
        known = {f.name for f in fields(cls)} - {"columns", "extra"}
        unknown = sorted(set(data) - known - {"columns"})
        if unknown:
            raise ConfigError(
                f"{where}: unknown schema key(s) {unknown}; known: {sorted(known | {'columns'})}.",
                path=where,
                field=unknown[0],
            )
        raw_columns = data.get("columns", {})
        if not isinstance(raw_columns, Mapping) or not raw_columns:
            raise ConfigError(
                f"{where}: 'columns' must be a table of column rules ([columns.NAME]).",
                path=where,
                field="columns",
            )
        columns = tuple(_column(name, rules, where) for name, rules in raw_columns.items())
        options = {k: v for k, v in data.items() if k in known}
        try:
            return cls(columns, **options)
        except TypeError as exc:
            raise ConfigError(f"{where}: {exc}", path=where) from exc

    @classmethod
    def load(cls, path: str | Path) -> Schema:
        """Read a schema file: ``.toml`` or ``.json``."""
        source = Path(path)
        if not source.is_file():
            raise NotFound(f"No schema file at {source}.", kind="file", name=str(source))
        text = source.read_text(encoding="utf-8")
        try:
            data = json.loads(text) if source.suffix == ".json" else tomllib.loads(text)
        except (json.JSONDecodeError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(
                f"{source} is not valid {source.suffix.lstrip('.').upper() or 'TOML'}: {exc}.",
                path=str(source),
            ) from exc
        return cls.from_dict(data, str(source))

    @classmethod
    def from_config(cls, name: str, workspace: Workspace | None = None) -> Schema:
        """The schema ``[datasets.schemas.NAME]`` of the project's ``shipyard.toml``."""
        settings = (workspace or current()).settings
        section = settings.section("datasets", "schemas", name)
        if not section:
            raise NotFound(
                f"No schema '{name}' under [datasets.schemas] in "
                f"{settings.config_file or 'shipyard.toml (none found)'}.",
                kind="schema",
                name=name,
            )
        return cls.from_dict(section, f"{settings.config_file} [datasets.schemas.{name}]")


def _column(name: str, rules: Any, where: str) -> Column:
    if not isinstance(rules, Mapping):
        raise ConfigError(f"{where}: columns.{name} must be a table of rules.", path=where)
    allowed = {f.name for f in fields(Column)} - {"name"}
    unknown = sorted(set(rules) - allowed)
    if unknown:
        raise ConfigError(
            f"{where}: columns.{name} has unknown rule(s) {unknown}; known: {sorted(allowed)}.",
            path=where,
            field=f"columns.{name}.{unknown[0]}",
        )
    try:
        return Column(name, **rules)
    except InvalidInput as exc:
        raise ConfigError(f"{where}: {exc.message}", path=where, field=exc.field) from exc


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return json.dumps(value)


def schema_from_profile(profile: Profile, max_categories: int = DEFAULT_MAX_CATEGORIES) -> Schema:
    """The inferred schema: types, nullability, min/max, categories of low-cardinality text."""
    columns = []
    for name, column in profile.columns.items():
        rules: dict[str, Any] = {"type": column.type, "nullable": column.nulls > 0}
        if isinstance(column, NumericProfile) and column.type in NUMERIC_TYPES:
            if column.type in ("int64", "float64"):
                rules.update(min=column.min, max=column.max)
        elif (
            isinstance(column, CategoricalProfile)
            and column.type == "string"
            and column.complete
            and 0 < column.distinct <= max_categories
            and column.distinct < column.count
        ):
            rules["categories"] = tuple(sorted(column.categories))
        columns.append(Column(name, **rules))
    return Schema(tuple(columns))

"""Settings: declared once, read at the edges.

Every setting is one row of ``SETTINGS`` (name, type, default, help). A value
comes from the first of these that has it:

1. an explicit override (a CLI flag, or ``load_settings(overrides=...)``),
2. the environment variable ``SHIPYARD_<NAME>``,
3. the ``[shipyard]`` table of the nearest ``shipyard.toml`` found upward from
   the working directory (relative paths there are relative to that file),
4. the default.

``Settings.sources`` records which one won for each name, which is what
``shipyard config show`` prints. This is the only module that reads
``os.environ``.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from shipyard.errors import ConfigError

CONFIG_FILE_NAME = "shipyard.toml"
ENV_PREFIX = "SHIPYARD_"

Resolved = dict[str, Any]
Default = str | int | float | bool | None | Callable[[Resolved], Any]


@dataclass(frozen=True)
class Setting:
    """One configurable value: its name, type, default and what it is for."""

    name: str
    type: type
    default: Default
    help: str

    @property
    def env_var(self) -> str:
        return ENV_PREFIX + self.name.upper()


def _default_home(resolved: Resolved) -> Path:
    project_dir: Path | None = resolved["project_dir"]
    if project_dir is not None:
        return project_dir / ".shipyard"
    return Path.home() / ".shipyard"


SETTINGS: tuple[Setting, ...] = (
    Setting(
        "home",
        Path,
        _default_home,
        "Folder for the embedded stores. Default: .shipyard/ in the project (the nearest "
        "folder upward holding shipyard.toml or .git), else ~/.shipyard.",
    ),
    Setting(
        "db_url",
        str,
        lambda r: f"sqlite:///{r['home']}/shipyard.db",
        "Metadata store URL (SQLAlchemy form): sqlite:///PATH or "
        "postgresql+psycopg://USER@HOST:PORT/DB. Default: SQLite file in home.",
    ),
    Setting(
        "artifacts_url",
        str,
        lambda r: str(Path(r["home"]) / "artifacts"),
        "Artifact store location (fsspec URL): a local folder or s3://bucket/prefix. "
        "Default: artifacts/ in home.",
    ),
    Setting(
        "online_store",
        str,
        lambda r: f"sqlite:///{r['home']}/online.db",
        "Online feature store: sqlite:///PATH (default, in home) or redis://HOST:PORT/DB.",
    ),
    Setting(
        "data_dir",
        Path,
        lambda r: Path(r["home"]) / "data",
        "Folder for Parquet data written by shipyard (offline features, prediction logs).",
    ),
    Setting(
        "server_url",
        str,
        "",
        "URL of a remote `shipyard server`; when set, the CLI and Python API talk to it "
        "instead of opening the stores directly.",
    ),
    Setting("token", str, "", "API token sent to the server (see `shipyard tokens create`)."),
    Setting(
        "max_body_bytes",
        int,
        10 * 1024 * 1024,
        "Largest HTTP request body `shipyard server` accepts, in bytes (default 10 MiB); "
        "bigger requests get 413.",
    ),
    Setting(
        "metrics_flush_seconds",
        float,
        1.0,
        "How often buffered run metrics are written to the metadata store, in seconds.",
    ),
    Setting(
        "prediction_log_flush_seconds",
        float,
        1.0,
        "How often the prediction log buffer is written to Parquet; a crash loses at most "
        "this window.",
    ),
    Setting(
        "dask_scheduler",
        str,
        "",
        "Address of a Dask scheduler (tcp://HOST:PORT) or 'local'; empty runs in-process.",
    ),
)

SETTINGS_BY_NAME: dict[str, Setting] = {s.name: s for s in SETTINGS}


@dataclass(frozen=True)
class Settings:
    """The effective settings, and where each value came from."""

    home: Path
    db_url: str
    artifacts_url: str
    online_store: str
    data_dir: Path
    server_url: str
    token: str
    max_body_bytes: int
    metrics_flush_seconds: float
    prediction_log_flush_seconds: float
    dask_scheduler: str
    project_dir: Path | None = None
    config_file: Path | None = None
    sources: Mapping[str, str] = field(default_factory=dict, compare=False)
    file_config: Mapping[str, Any] = field(default_factory=dict, compare=False)

    def section(self, *path: str) -> Mapping[str, Any]:
        """A table of ``shipyard.toml`` other than ``[shipyard]``, e.g. ``section("models")``."""
        node: Any = self.file_config
        for key in path:
            node = node.get(key, {}) if isinstance(node, Mapping) else {}
        return node if isinstance(node, Mapping) else {}

    def with_overrides(self, **overrides: Any) -> Settings:
        """A copy with some values replaced, as if given as CLI flags."""
        return _resolve(
            overrides,
            self.project_dir,
            self.config_file,
            self.file_config,
            environ={},
        )


def find_config_file(start: Path) -> Path | None:
    """The nearest ``shipyard.toml`` at or above ``start``."""
    for folder in (start, *start.parents):
        candidate = folder / CONFIG_FILE_NAME
        if candidate.is_file():
            return candidate
    return None


def find_project_dir(start: Path) -> Path | None:
    """The nearest folder at or above ``start`` holding shipyard.toml or .git."""
    for folder in (start, *start.parents):
        if (folder / CONFIG_FILE_NAME).is_file() or (folder / ".git").exists():
            return folder
    return None


def read_config_file(path: Path) -> dict[str, Any]:
    """Parse a ``shipyard.toml``; a syntax error names the file and line."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"Cannot read {path}: {exc}", path=str(path)) from exc
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        line = _line_of_toml_error(exc)
        where = f"{path}, line {line}" if line else str(path)
        raise ConfigError(
            f"{where} is not valid TOML: {exc}. Fix the file or remove it.",
            path=str(path),
            line=line,
        ) from exc


def _line_of_toml_error(exc: tomllib.TOMLDecodeError) -> int | None:
    lineno = getattr(exc, "lineno", None)
    if isinstance(lineno, int):
        return lineno
    match = re.search(r"line (\d+)", str(exc))
    return int(match.group(1)) if match else None


def load_settings(
    overrides: Mapping[str, Any] | None = None,
    *,
    cwd: Path | None = None,
    environ: Mapping[str, str] | None = None,
) -> Settings:
    """Resolve every setting: overrides > environment > shipyard.toml > default."""
    cwd = (cwd or Path.cwd()).resolve()
    environ = os.environ if environ is None else environ
    config_file = find_config_file(cwd)
    env = tuple(sorted((k, v) for k, v in environ.items() if k.startswith(ENV_PREFIX)))
    key = (
        tuple(sorted((overrides or {}).items())),
        cwd,
        env,
        config_file,
        config_file.stat().st_mtime_ns if config_file else None,
    )
    return _load_cached(key)


@lru_cache(maxsize=64)
def _load_cached(key: tuple[Any, ...]) -> Settings:
    # Settings are resolved on every API call that names no workspace; the key holds
    # everything they depend on (overrides, folder, SHIPYARD_* variables, file and mtime).
    overrides, cwd, env, config_file, _mtime = key
    file_config = read_config_file(config_file) if config_file else {}
    return _resolve(dict(overrides), find_project_dir(cwd), config_file, file_config, dict(env))


def _resolve(
    overrides: Mapping[str, Any],
    project_dir: Path | None,
    config_file: Path | None,
    file_config: Mapping[str, Any],
    environ: Mapping[str, str],
) -> Settings:
    unknown = sorted(set(overrides) - set(SETTINGS_BY_NAME))
    if unknown:
        raise ConfigError(f"Unknown setting(s) {unknown}; known: {sorted(SETTINGS_BY_NAME)}")
    table = _shipyard_table(file_config, config_file)
    resolved: Resolved = {"project_dir": project_dir}
    sources: dict[str, str] = {}
    for setting in SETTINGS:
        value, source = _pick(setting, overrides, environ, table, config_file, resolved)
        resolved[setting.name] = value
        sources[setting.name] = source
    return Settings(
        **{s.name: resolved[s.name] for s in SETTINGS},
        project_dir=project_dir,
        config_file=config_file,
        sources=sources,
        file_config=file_config,
    )


def _shipyard_table(file_config: Mapping[str, Any], config_file: Path | None) -> Mapping[str, Any]:
    table = file_config.get("shipyard", {})
    if not isinstance(table, Mapping):
        raise ConfigError(f"{config_file}: 'shipyard' must be a table ([shipyard])")
    for key in table:
        if key not in SETTINGS_BY_NAME:
            line = _line_of_key(config_file, key)
            raise ConfigError(
                f"{config_file}, line {line}: unknown setting '{key}' in [shipyard]. "
                f"Known settings: {', '.join(sorted(SETTINGS_BY_NAME))}.",
                path=str(config_file),
                line=line,
                field=key,
            )
    return table


def _line_of_key(config_file: Path | None, key: str) -> int | None:
    if config_file is None:
        return None
    pattern = re.compile(rf"^\s*{re.escape(key)}\s*=")
    for number, text in enumerate(config_file.read_text(encoding="utf-8").splitlines(), 1):
        if pattern.match(text):
            return number
    return None


def _pick(
    setting: Setting,
    overrides: Mapping[str, Any],
    environ: Mapping[str, str],
    table: Mapping[str, Any],
    config_file: Path | None,
    resolved: Resolved,
) -> tuple[Any, str]:
    if overrides.get(setting.name) is not None:
        return _coerce(setting, overrides[setting.name], "flag", None), "flag"
    if setting.env_var in environ:
        where = f"env {setting.env_var}"
        return _coerce(setting, environ[setting.env_var], where, None), where
    if setting.name in table:
        line = _line_of_key(config_file, setting.name)
        where = f"{config_file}:{line}" if line else str(config_file)
        base = config_file.parent if config_file else None
        return _coerce(setting, table[setting.name], where, base), where
    default = setting.default(resolved) if callable(setting.default) else setting.default
    return default, "default"


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def _coerce(setting: Setting, raw: Any, where: str, base: Path | None) -> Any:
    try:
        if setting.type is bool:
            return _to_bool(raw)
        if setting.type is Path:
            path = Path(str(raw)).expanduser()
            return (base / path) if base is not None and not path.is_absolute() else path
        return setting.type(raw)
    except (TypeError, ValueError) as exc:
        raise ConfigError(
            f"Setting '{setting.name}' from {where} must be a {setting.type.__name__}, "
            f"got {raw!r}.",
            field=setting.name,
        ) from exc


def _to_bool(raw: Any) -> bool:
    if isinstance(raw, bool):
        return raw
    text = str(raw).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError(raw)

"""Settings: precedence, shipyard.toml discovery, and errors that say where."""

from __future__ import annotations

from pathlib import Path

import pytest

from shipyard.config import SETTINGS, load_settings
from shipyard.errors import ConfigError


def test_defaults_live_in_the_project_folder(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    nested = tmp_path / "src" / "pkg"
    nested.mkdir(parents=True)
    settings = load_settings(cwd=nested, environ={})
    assert settings.home == tmp_path / ".shipyard"
    assert settings.db_url == f"sqlite:///{tmp_path / '.shipyard'}/shipyard.db"
    assert settings.sources["home"] == "default"


def test_flag_beats_environment_beats_file_beats_default(tmp_path: Path) -> None:
    (tmp_path / "shipyard.toml").write_text('[shipyard]\nhome = "from-file"\ntoken = "file"\n')
    env = {"SHIPYARD_HOME": str(tmp_path / "from-env")}
    settings = load_settings({"token": "flag"}, cwd=tmp_path, environ=env)
    assert settings.home == tmp_path / "from-env"
    assert settings.sources["home"] == "env SHIPYARD_HOME"
    assert settings.token == "flag"
    assert settings.sources["token"] == "flag"
    from_file = load_settings(cwd=tmp_path, environ={})
    assert from_file.home == tmp_path / "from-file"  # relative to the file
    assert from_file.sources["home"].endswith("shipyard.toml:2")


def test_config_file_is_found_upward(tmp_path: Path) -> None:
    (tmp_path / "shipyard.toml").write_text("[shipyard]\nmetrics_flush_seconds = 0.25\n")
    deep = tmp_path / "a" / "b"
    deep.mkdir(parents=True)
    settings = load_settings(cwd=deep, environ={})
    assert settings.metrics_flush_seconds == 0.25
    assert settings.config_file == tmp_path / "shipyard.toml"


def test_broken_toml_names_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "shipyard.toml").write_text('[shipyard]\nhome = ".x"\ntoken = \n')
    with pytest.raises(ConfigError) as caught:
        load_settings(cwd=tmp_path, environ={})
    assert caught.value.line == 3
    assert "shipyard.toml, line 3" in caught.value.message


def test_unknown_setting_in_file_is_refused_with_its_line(tmp_path: Path) -> None:
    (tmp_path / "shipyard.toml").write_text("[shipyard]\n\nhomme = 'x'\n")
    with pytest.raises(ConfigError) as caught:
        load_settings(cwd=tmp_path, environ={})
    assert caught.value.line == 3
    assert "homme" in caught.value.message and "home" in caught.value.message


def test_ill_typed_environment_value_names_the_variable(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="SHIPYARD_METRICS_FLUSH_SECONDS"):
        load_settings(cwd=tmp_path, environ={"SHIPYARD_METRICS_FLUSH_SECONDS": "often"})


def test_other_sections_are_available_to_layers(tmp_path: Path) -> None:
    (tmp_path / "shipyard.toml").write_text("[models.churn.gates.golden]\ntolerance = 0.01\n")
    settings = load_settings(cwd=tmp_path, environ={})
    assert settings.section("models", "churn", "gates") == {"golden": {"tolerance": 0.01}}
    assert settings.section("models", "missing") == {}


def test_every_setting_has_help_and_a_documented_row() -> None:
    reference = (Path(__file__).parents[1] / "docs" / "configuration.md").read_text()
    for setting in SETTINGS:
        assert setting.help.strip()
        assert f"`{setting.env_var}`" in reference, f"{setting.env_var} is not documented"

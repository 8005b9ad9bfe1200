"""The public API is exactly ``shipyard.__all__``: sorted, complete, importable."""

from __future__ import annotations

import ast
import subprocess
import sys

import shipyard


def test_all_is_sorted_and_every_name_resolves() -> None:
    assert shipyard.__all__ == sorted(shipyard.__all__)
    for name in shipyard.__all__:
        assert getattr(shipyard, name) is not None, name


def test_unknown_names_raise_attribute_error() -> None:
    try:
        _ = shipyard.not_a_thing  # type: ignore[attr-defined]
    except AttributeError as error:
        assert "not_a_thing" in str(error)
    else:
        raise AssertionError("expected AttributeError")


def _heavy_modules_after(imports: str, heavy: tuple[str, ...]) -> list[str]:
    """Which of ``heavy`` a fresh interpreter has loaded after ``import <imports>``."""
    code = f"import sys, {imports}; print([m for m in {heavy!r} if m in sys.modules])"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return list(ast.literal_eval(done.stdout.strip()))


def test_import_is_light() -> None:
    assert _heavy_modules_after("shipyard", ("pandas", "sklearn", "pyarrow")) == []


def test_the_cli_and_the_registry_start_without_pandas() -> None:
    # `shipyard --help` and every command that reads the registry pay no pandas import
    # (about a quarter of the CLI's start-up); registering and validating import it.
    imports = "shipyard.cli, shipyard.registry, shipyard.serving.server"
    assert _heavy_modules_after(imports, ("pandas", "sklearn")) == []

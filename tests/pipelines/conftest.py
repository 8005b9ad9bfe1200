"""Helpers for pipeline tests: pipeline modules written into tmp_path and loaded by path."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from shipyard.pipelines import Pipeline, load_pipeline

CHAIN = """
import shipyard as sy

@sy.step
def load(n: int) -> list[int]:
    return list(range(n))

@sy.step
def double(xs: list[int]) -> list[int]:
    return [x * 2 for x in xs]

@sy.step
def total(xs: list[int]) -> int:
    return sum(xs)

@sy.step
def count(xs: list[int]) -> int:
    return len(xs)

@sy.pipeline
def chain(n: int = 4):
    xs = load(n)
    doubled = double(xs)
    return {"total": total(doubled), "count": count(xs)}
"""

CYCLIC = """
import shipyard as sy

@sy.step
def first(items: list) -> int:
    return len(items)

@sy.step
def second(x: int) -> int:
    return x

@sy.pipeline
def flow():
    items = []
    a = first(items)
    items.append(second(a))  # a handle in a list an earlier step received: a loop
    return a
"""

Writer = Callable[[str, str], Path]


@pytest.fixture
def write_module(tmp_path: Path) -> Writer:
    """Write ``text`` to tmp_path/NAME.py (dedented) and return the path."""

    def write(name: str, text: str) -> Path:
        path = tmp_path / f"{name}.py"
        path.write_text(textwrap.dedent(text))
        return path

    return write


def load(path: Path, name: str) -> Pipeline:
    return load_pipeline(f"{path}:{name}")

"""search_runs: the filter grammar, ordering, and errors that point at the mistake."""

from __future__ import annotations

import pytest

import shipyard as sy
from shipyard.errors import InvalidInput, NotFound
from shipyard.workspace import Workspace


@pytest.fixture
def runs(workspace: Workspace) -> dict[str, str]:
    made = {}
    for name, model, auc, team in [
        ("lr-a", "lr", 0.91, "risk"),
        ("lr-b", "lr", 0.85, "growth"),
        ("rf-a", "rf", 0.95, "risk"),
        ("rf-b", "rf", 0.70, "risk"),
    ]:
        with sy.start_run("churn", name=name, workspace=workspace) as run:
            run.log_params({"model": model, "depth": len(name)})
            run.log_metric("auc", auc)
            run.set_tag("team", team)
        made[name] = run.id
    with sy.start_run("other", name="elsewhere", workspace=workspace) as run:
        run.log_metric("auc", 0.99)
    return made


def names(workspace: Workspace, **kwargs: object) -> list[str]:
    return [r.name for r in sy.search_runs(workspace=workspace, **kwargs)]  # type: ignore[arg-type]


def test_filter_with_and_or_and_parentheses(workspace: Workspace, runs: dict[str, str]) -> None:
    found = names(workspace, experiment="churn", filter="metrics.auc > 0.9 and params.model = 'lr'")
    assert found == ["lr-a"]
    found = names(
        workspace,
        experiment="churn",
        filter="(params.model = 'rf' and metrics.auc < 0.8) or tags.team = 'growth'",
        order_by=["attributes.name"],
    )
    assert found == ["lr-b", "rf-b"]


def test_in_like_and_attributes(workspace: Workspace, runs: dict[str, str]) -> None:
    assert names(
        workspace,
        experiment="churn",
        filter="attributes.name like 'rf-%'",
        order_by=["attributes.name"],
    ) == ["rf-a", "rf-b"]
    assert names(
        workspace,
        experiment="churn",
        filter="params.model in ('rf', 'xgb')",
        order_by=["metrics.auc desc"],
    ) == ["rf-a", "rf-b"]
    assert names(
        workspace,
        experiment="churn",
        filter="attributes.status = 'finished'",
        order_by=["attributes.name"],
    ) == ["lr-a", "lr-b", "rf-a", "rf-b"]
    assert names(
        workspace,
        experiment="churn",
        filter="params.depth >= 4 and params.depth < 5",
        order_by=["attributes.name"],
    ) == ["lr-a", "lr-b", "rf-a", "rf-b"]


def test_ordering_and_limits(workspace: Workspace, runs: dict[str, str]) -> None:
    assert names(workspace, experiment="churn", order_by=["metrics.auc desc"], max_results=2) == [
        "rf-a",
        "lr-a",
    ]
    everything = names(workspace, order_by=["metrics.auc desc"])
    assert everything[0] == "elsewhere" and len(everything) == 5
    assert names(
        workspace,
        experiment=["churn", "other"],
        filter="metrics.auc > 0.94",
        order_by=["metrics.auc"],
    ) == ["rf-a", "elsewhere"]


@pytest.mark.parametrize(
    ("bad", "position", "expected"),
    [
        ("metrics.auc >> 0.9", 13, "a number or a quoted string"),
        ("metrics.auc > 0.9 and", 21, "a field"),
        ("auc > 0.9", 0, "a field"),
        ("metrics.auc ~ 1", 12, "a field, operator or value"),
        ("metrics.auc = 'high'", 0, "a number compared to metrics.auc"),
        ("(metrics.auc > 1", 16, "')'"),
        ("metric.auc > 1 params.x = 'a'", 15, "'and', 'or'"),
        ("attributes.colour = 'red'", 0, "an attribute"),
        ("attributes.start_time > 'yesterday'", 0, "ISO-8601"),
    ],
)
def test_bad_filters_say_where_and_what_was_expected(
    sqlite_workspace: Workspace, bad: str, position: int, expected: str
) -> None:
    with pytest.raises(InvalidInput) as caught:
        sy.search_runs(filter=bad, workspace=sqlite_workspace)
    assert f"position {position}:" in caught.value.message
    assert expected in caught.value.message
    assert caught.value.field == "filter"


def test_bad_arguments(sqlite_workspace: Workspace) -> None:
    with pytest.raises(NotFound, match="Did you mean 'churn'"):
        with sy.start_run("churn", workspace=sqlite_workspace):
            pass
        sy.search_runs("chrun", workspace=sqlite_workspace)
    with pytest.raises(InvalidInput, match="max_results"):
        sy.search_runs(max_results=0, workspace=sqlite_workspace)
    with pytest.raises(InvalidInput, match="order_by"):
        sy.search_runs(order_by=["metrics.auc sideways"], workspace=sqlite_workspace)

"""Feature references (``view:feature``) resolved against the applied definitions.

A request names features as ``"customer_spend:amount_7d"``, a whole view as
``"customer_spend:*"``, or a feature service. Resolution groups them by view,
adds the inputs on-demand views need (hidden from the output), and names the
output columns. An unknown reference is an error that suggests the closest name.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import dataclass, field

from shipyard.errors import InvalidInput, NotFound
from shipyard.features.definitions import FeatureService, FeatureView, OnDemandFeatureView
from shipyard.features.registry import Definitions


@dataclass
class Request:
    """Resolved features: per view the features to fetch, and what to show."""

    views: dict[str, list[str]] = field(default_factory=dict)
    on_demand: dict[str, list[str]] = field(default_factory=dict)
    # (view, feature) -> output column name, in request order
    columns: dict[tuple[str, str], str] = field(default_factory=dict)

    def view_columns(self, view: str) -> list[str]:
        return self.views[view]


def _all_refs(defs: Definitions) -> list[str]:
    refs = [f"{n}:{f}" for n, v in defs.views.items() for f in v.columns]
    return refs + [f"{n}:{f}" for n, v in defs.on_demand.items() for f in v.columns]


def _unknown(ref: str, defs: Definitions) -> NotFound:
    close = difflib.get_close_matches(ref, _all_refs(defs), n=1, cutoff=0.4)
    hint = f" Did you mean '{close[0]}'?" if close else " See `shipyard features list`."
    return NotFound(f"Unknown feature '{ref}'.{hint}", kind="feature", name=ref)


def refs_of(
    features: Sequence[str] | None, service: str | FeatureService | None, defs: Definitions
) -> list[str]:
    """The feature references of a call: the list given, or the service's."""
    if (features is None) == (service is None):
        raise InvalidInput("Give either features=[...] or service=..., not both.", field="features")
    if service is not None:
        if isinstance(service, FeatureService):
            return service.refs
        if service not in defs.services:
            close = difflib.get_close_matches(service, list(defs.services), n=1)
            hint = f" Did you mean '{close[0]}'?" if close else ""
            raise NotFound(
                f"Unknown feature service '{service}'.{hint}", kind="feature_service", name=service
            )
        return defs.services[service].refs
    if isinstance(features, str) or not features or not all(isinstance(f, str) for f in features):
        raise InvalidInput(
            f"features must be a non-empty list of 'view:feature' strings, got {features!r}.",
            field="features",
        )
    return list(features)


def resolve(refs: Sequence[str], defs: Definitions, *, full_names: bool = False) -> Request:
    """Group ``refs`` by view; raise for unknown names and clashing output columns.

    Results are memoized on ``defs`` (one registry generation), as callers never
    modify a ``Request``.
    """
    memo_key = (tuple(refs), full_names)
    if memo_key not in defs.requests:
        defs.requests[memo_key] = _resolve(refs, defs, full_names)
    request: Request = defs.requests[memo_key]
    return request


def _resolve(refs: Sequence[str], defs: Definitions, full_names: bool) -> Request:
    request = Request()
    for ref in refs:
        view_name, _, feature = ref.partition(":") if isinstance(ref, str) else ("", "", "")
        if not feature:
            raise InvalidInput(
                f"Feature reference {ref!r} must read 'view:feature' (or 'view:*').",
                field="features",
            )
        view: FeatureView | OnDemandFeatureView | None = defs.views.get(
            view_name
        ) or defs.on_demand.get(view_name)
        if view is None:
            raise _unknown(ref, defs)
        names = list(view.columns) if feature == "*" else [feature]
        for name in names:
            if name not in view.columns:
                raise _unknown(ref, defs)
            target = request.on_demand if isinstance(view, OnDemandFeatureView) else request.views
            if name not in target.setdefault(view_name, []):
                target[view_name].append(name)
            request.columns[(view_name, name)] = f"{view_name}__{name}" if full_names else name
    _add_on_demand_inputs(request, defs)
    _check_clashes(request)
    return request


def _add_on_demand_inputs(request: Request, defs: Definitions) -> None:
    for name in request.on_demand:
        for view in defs.on_demand[name].inputs:
            wanted = request.views.setdefault(view.name, [])
            wanted.extend(f for f in view.columns if f not in wanted)


def _check_clashes(request: Request) -> None:
    seen: dict[str, tuple[str, str]] = {}
    for key, column in request.columns.items():
        if column in seen:
            raise InvalidInput(
                f"Features '{seen[column][0]}:{column}' and '{key[0]}:{key[1]}' would both be "
                f"column '{column}'. Pass full_names=True to name columns 'view__feature'.",
                field="features",
            )
        seen[column] = key

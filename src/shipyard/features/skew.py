"""Train-serve skew check: do the online values equal what training would compute?

For a seeded sample of entity keys, recompute each feature offline — point in
time, as of the view's last materialization (or now), with no look-back limit,
exactly what materialization should have written — and compare it with what
the online store holds (ignoring ``online_ttl``). A feature's mismatch rate is
the share of sampled entities whose values differ (floats within 1e-9
relative); an entity absent online counts as a mismatch. The check fails when
any rate is above ``threshold``.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pandas as pd

from shipyard.errors import InvalidInput
from shipyard.features.lookup import key_text
from shipyard.features.materialize import watermark
from shipyard.features.offline import connect, feature_relation, pit_join, to_pandas
from shipyard.features.online.base import online_store
from shipyard.features.online.codec import Codec
from shipyard.features.registry import registry
from shipyard.features.sources import quote
from shipyard.workspace import Workspace, current

MAX_EXAMPLES = 5


@dataclass
class SkewReport:
    """Per-feature mismatch rates between offline recomputation and the online store."""

    view: str
    version: int
    as_of: datetime
    sampled: int
    threshold: float
    features: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def worst_rate(self) -> float:
        return max((f["rate"] for f in self.features.values()), default=0.0)

    @property
    def passed(self) -> bool:
        return self.worst_rate <= self.threshold

    def to_dict(self) -> dict[str, Any]:
        return {**dataclasses.asdict(self), "worst_rate": self.worst_rate, "passed": self.passed}


def _same(a: Any, b: Any) -> bool:
    a_null = a is None or (isinstance(a, float) and math.isnan(a))
    b_null = b is None or (isinstance(b, float) and math.isnan(b))
    if a_null or b_null:
        return a_null and b_null
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-12)
    return bool(a == b)


def _plain(value: Any) -> Any:
    if hasattr(value, "item"):
        value = value.item()
    return None if isinstance(value, float) and math.isnan(value) else value


def sample_keys(
    view: Any, sample: int, seed: int, as_of_ns: int, workspace: Workspace
) -> pd.DataFrame:
    """A seeded sample of distinct entity keys that have a row at or before ``as_of``."""
    con = connect(workspace)
    try:
        feature_relation(con, view, list(view.columns), "__fv", workspace, ties=False)
        keys = ", ".join(quote(k) for k in view.entity.join_keys)
        query = (
            f"SELECT * FROM (SELECT DISTINCT {keys} FROM __fv WHERE __ts <= {as_of_ns}) "
            f"USING SAMPLE reservoir({int(sample)} ROWS) REPEATABLE ({int(seed)})"
        )
        return to_pandas(con.sql(query))
    finally:
        con.close()


def check_skew(
    view: str,
    sample: int = 1000,
    *,
    threshold: float = 0.01,
    seed: int = 0,
    workspace: Workspace | None = None,
) -> SkewReport:
    """Compare online values with their offline recomputation for ``sample`` entities."""
    workspace = workspace or current()
    if sample < 1:
        raise InvalidInput(f"sample must be at least 1, got {sample}.", field="sample")
    defs = registry(workspace).current()
    definition = dataclasses.replace(defs.view(view), lookback=None)
    version = defs.versions[view]
    as_of = watermark(view, version, workspace) or datetime.now(UTC)
    as_of_ns = int(pd.Timestamp(as_of).value)
    keys = sample_keys(definition, sample, seed, as_of_ns, workspace)
    entity = keys.assign(event_timestamp=pd.Timestamp(as_of), __ts=as_of_ns)
    entity["__row"] = range(len(entity))
    offline = pit_join(entity, [(definition, list(definition.columns))], workspace)
    join_keys = list(definition.entity.join_keys)
    store_keys = [
        f"{view}:" + "\x1f".join(key_text(v) for v in row)
        for row in keys[join_keys].itertuples(index=False)
    ]
    records = online_store(workspace).read(store_keys)
    codec = Codec(definition.columns)
    online = [codec.decode(r.payload) if r else None for r in records]
    report = SkewReport(view, version, as_of, len(keys), threshold)
    for feature in definition.columns:
        report.features[feature] = _compare(
            feature, offline[f"{view}__{feature}"].tolist(), online, keys[join_keys]
        )
    return report


def _compare(
    feature: str, offline: list[Any], online: list[dict[str, Any] | None], keys: pd.DataFrame
) -> dict[str, Any]:
    mismatches = 0
    examples: list[dict[str, Any]] = []
    for i, (want, have) in enumerate(zip(offline, online, strict=True)):
        served = have.get(feature) if have is not None else None
        if have is not None and _same(want, served):
            continue
        mismatches += 1
        if len(examples) < MAX_EXAMPLES:
            examples.append(
                {
                    "key": {k: _plain(v) for k, v in keys.iloc[i].items()},
                    "offline": _plain(want),
                    "online": served if have is not None else "<missing>",
                }
            )
    rate = mismatches / len(offline) if offline else 0.0
    return {"mismatches": mismatches, "rate": rate, "examples": examples}

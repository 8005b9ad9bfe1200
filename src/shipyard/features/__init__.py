"""The feature store: one definition per feature for training and serving.

import shipyard as sy

sy.features.apply([customer, spend])                       # register, versioned
train = sy.features.get_historical(rows, ["spend:amount_7d"])   # point-in-time
sy.features.materialize("spend", start, end)               # into the online store
sy.features.get_online([{"customer_id": 7}], ["spend:amount_7d"])
"""

from shipyard.features.apply import apply, load_definitions
from shipyard.features.definitions import (
    Entity,
    FeatureService,
    FeatureView,
    OnDemandFeatureView,
)
from shipyard.features.lookup import OnlineFeatures, get_online
from shipyard.features.materialize import MaterializeResult, materialize, materialize_incremental
from shipyard.features.offline import get_historical
from shipyard.features.registry import Plan, registry
from shipyard.features.skew import SkewReport, check_skew
from shipyard.features.sources import ParquetSource, SnapshotSource, SQLSource

__all__ = [
    "Entity",
    "FeatureService",
    "FeatureView",
    "MaterializeResult",
    "OnDemandFeatureView",
    "OnlineFeatures",
    "ParquetSource",
    "Plan",
    "SQLSource",
    "SkewReport",
    "SnapshotSource",
    "apply",
    "check_skew",
    "get_historical",
    "get_online",
    "load_definitions",
    "materialize",
    "materialize_incremental",
    "registry",
]

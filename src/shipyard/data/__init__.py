"""Datasets: immutable content-hashed snapshots, schemas, validation and reference profiles.

    import shipyard as sy

    snap = sy.datasets.add(df, name="customers")      # -> customers/v1
    df = sy.datasets.load("customers/v1")
    report = sy.datasets.validate(new_df, snap.schema)
    profile = snap.profile                              # the reference for monitoring

``sy.datasets`` is this package. See docs/datasets.md.
"""

from shipyard.data.canonical import TYPE_NAMES
from shipyard.data.diff import ColumnChange, SnapshotDiff, StatChange, diff
from shipyard.data.profiles import CategoricalProfile, NumericProfile, Profile
from shipyard.data.schemas import Column, Schema
from shipyard.data.snapshots import (
    Snapshot,
    add,
    get,
    infer_schema,
    load,
    load_arrow,
    log_dataset,
    parse_ref,
    profile,
)
from shipyard.data.snapshots import list_snapshots as list
from shipyard.data.validation import Failure, ValidationReport, validate

show = get

__all__ = [
    "TYPE_NAMES",
    "CategoricalProfile",
    "Column",
    "ColumnChange",
    "Failure",
    "NumericProfile",
    "Profile",
    "Schema",
    "Snapshot",
    "SnapshotDiff",
    "StatChange",
    "ValidationReport",
    "add",
    "diff",
    "get",
    "infer_schema",
    "list",
    "load",
    "load_arrow",
    "log_dataset",
    "parse_ref",
    "profile",
    "show",
    "validate",
]

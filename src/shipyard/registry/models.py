"""``sy.models``: the registry's read and housekeeping calls in one namespace.

import shipyard as sy

sy.models.list()                      # every model, its stages and aliases
sy.models.show("churn")               # its versions, newest first
sy.models.get("churn@production")     # one version: flavor, signature, requirements
sy.models.history("churn")            # the audited stage changes
sy.models.lineage("churn/3")          # upstream and downstream
sy.models.check("churn/4")            # run the promotion gates now
sy.models.set_alias("churn/3", "champion")
"""

from __future__ import annotations

from shipyard.registry.aliases import remove_alias, set_alias
from shipyard.registry.audit import history
from shipyard.registry.catalog import get_version as get
from shipyard.registry.catalog import list_models as list
from shipyard.registry.catalog import list_versions as show
from shipyard.registry.gates import check
from shipyard.registry.lineage import lineage
from shipyard.registry.mlflow_import import import_mlflow
from shipyard.registry.versions import register_model as register

__all__ = [
    "check",
    "get",
    "history",
    "import_mlflow",
    "lineage",
    "list",
    "register",
    "remove_alias",
    "set_alias",
    "show",
]

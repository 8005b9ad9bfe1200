"""The metadata store's tables: one module per layer, one shared ``Base``.

Every table is a node or an edge of the lineage graph (DESIGN.md §1). Each
layer keeps its tables in a module of this package (``core``, ``data``,
``registry``…); all of them are imported here so that ``metadata`` is whole.
Schema changes go through a migration in ``store/migrations/versions``; a test
checks that the migrations and these models agree.
"""

import importlib
import pkgutil

from shipyard.store.schema.base import Base

for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")

metadata = Base.metadata

__all__ = ["Base", "metadata"]

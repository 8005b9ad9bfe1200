"""``sy.datasets``: the data layer's public API (a re-export of ``shipyard.data``)."""

from shipyard.data import *  # noqa: F403
from shipyard.data import __all__ as __all__

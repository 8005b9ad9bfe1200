"""The ``make demo`` job: the whole lifecycle on a bundled dataset.

Each stage is a function taking the workspace and what earlier stages made;
each capability that lands adds its stage here, so the demo always shows
everything shipyard can do, end to end, on a fresh home.
"""

from shipyard.demo.main import DemoResult, run_demo

__all__ = ["DemoResult", "run_demo"]

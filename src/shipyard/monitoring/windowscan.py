"""One bounded pass over a large window of the prediction log, in-process or on Dask.

A monitor run over a window of more than ``chunk_rows`` predictions does not
materialize the window. Only the log files of the ``date=`` folders the
window overlaps are read, by DuckDB queries that filter the window
(non-shadow rows), parse each row's ``inputs`` JSON once
(``json_extract_string`` with a list of paths) and, for the rows of the
monitored version, its ``outputs``, and stream the typed columns as Arrow
record batches of ``batch_rows`` rows into the mergeable counters of
``counts.py``. The merged counters become the window's feature drift,
prediction drift and data quality: the numbers of the chunked scan of
``scan.py``, with quality exact over every row.

In-process, one query reads every file (DuckDB spreads the parsing over its
threads). With the ``dask_scheduler`` setting set, the files are grouped
into **units** (at most ``UNIT_BYTES`` of Parquet, at least ~4 units per
worker thread when there are files enough), each unit is one task (DuckDB with one
thread) on the cluster (``"local"`` starts an in-process ``LocalCluster`` of
one thread per core for the run);
the plan (the reference's grids, a few MB at most) is broadcast once, each
worker reads its files itself (so the log must be on storage the workers
share, and shipyard installed on them), and the driver merges the counters
as the tasks finish.

Memory, wherever it runs: the counters (grid-sized, independent of the
window's length), one record batch, and DuckDB's read buffers (about one
row group of the log's columns per DuckDB thread).
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from shipyard.errors import BackendUnavailable
from shipyard.monitoring import frames, logs
from shipyard.monitoring.counts import CountSpec, NumericGrid, TableCounts
from shipyard.monitoring.quality import ColumnQuality, QualityReport
from shipyard.monitoring.scan import ChunkedDrift

UNIT_BYTES = 128 * 2**20
BATCH_ROWS = 65_536


@dataclass(frozen=True)
class OutputColumn:
    """One logged output to count: a JSON path in ``outputs`` and how to read it."""

    path: str
    kind: str  # "number" (TRY_CAST to DOUBLE) or "label" (norm_label of the text)


@dataclass(frozen=True)
class ScanPlan:
    """Everything a unit needs (picklable: it is broadcast to the Dask workers)."""

    start: datetime
    end: datetime
    inputs: dict[str, str]  # column -> "numeric" | "categorical"
    input_spec: CountSpec
    version: str = ""
    outputs: dict[str, OutputColumn] | None = None
    output_spec: CountSpec | None = None
    batch_rows: int = BATCH_ROWS
    threads: int | None = None

    def zeros(self) -> WindowCounts:
        outputs = self.output_spec.zeros() if self.output_spec is not None else None
        return WindowCounts(self.input_spec.zeros(), outputs)


@dataclass
class WindowCounts:
    """The merged counters of the window's inputs (every version) and one version's outputs."""

    inputs: TableCounts
    outputs: TableCounts | None

    def merge(self, other: WindowCounts) -> WindowCounts:
        self.inputs.merge(other.inputs)
        if self.outputs is not None and other.outputs is not None:
            self.outputs.merge(other.outputs)
        return self


# --- planning ----------------------------------------------------------------------------------


def input_spec(chunked: ChunkedDrift | None, kinds: Mapping[str, str]) -> CountSpec:
    """What the inputs count: the drift's columns, plus any monitored column quality needs."""
    numeric = dict(chunked.spec.numeric) if chunked else {}
    categorical = list(chunked.spec.categorical) if chunked else []
    for name, kind in kinds.items():
        if kind == "numeric" and name not in numeric:
            numeric[name] = NumericGrid.from_sorted(np.empty(0), 2)
        if kind != "numeric" and name not in categorical:
            categorical.append(name)
    return CountSpec(numeric, tuple(categorical))


def window_files(data_dir: Path, deployment: str, start: datetime, end: datetime) -> list[Path]:
    """The deployment's log files in the ``date=`` folders that ``[start, end)`` overlaps."""
    found: list[Path] = []
    for day in logs.day_folders(data_dir, deployment, start, end):
        found.extend(sorted(day.glob("part-*.parquet")))
    return found


def units(files: Sequence[Path], unit_bytes: int = UNIT_BYTES) -> list[list[str]]:
    """Consecutive files grouped into units of about ``unit_bytes`` (a big file alone)."""
    groups: list[list[str]] = []
    size = 0
    for path in files:
        length = path.stat().st_size
        if not groups or size + length > unit_bytes:
            groups.append([])
            size = 0
        groups[-1].append(path.as_posix())
        size += length
    return groups


# --- one unit ----------------------------------------------------------------------------------


def scan_unit(plan: ScanPlan, files: Sequence[str]) -> WindowCounts:
    """Count one unit of log files (runs in-process or as a Dask task)."""
    counts = plan.zeros()
    connection = logs.connect()
    try:
        # Counting does not care about row order; keeping it would buffer chunks.
        connection.execute("SET preserve_insertion_order = false")
        if plan.threads is not None:
            connection.execute(f"SET threads = {int(plan.threads)}")
        reader = connection.sql(unit_sql(plan, files)).to_arrow_reader(plan.batch_rows)
        for batch in reader:
            _count(plan, counts, batch)
    finally:
        connection.close()
    return counts


def _count(plan: ScanPlan, counts: WindowCounts, batch: pa.RecordBatch) -> None:
    names = list(plan.inputs)
    inputs = pa.Table.from_arrays([batch.column(f"i{j}") for j in range(len(names))], names)
    counts.inputs.add(plan.input_spec, inputs)
    if counts.outputs is None or plan.outputs is None or plan.output_spec is None:
        return
    mine = pc.fill_null(batch.column("v"), False)
    outputs = pa.Table.from_arrays(
        [batch.column(f"o{j}") for j in range(len(plan.outputs))], list(plan.outputs)
    ).filter(mine)
    counts.outputs.add(plan.output_spec, outputs)


def unit_sql(plan: ScanPlan, files: Sequence[str]) -> str:
    """The unit's query: window rows, each JSON parsed once, typed columns i0…, o0…, v."""
    source = ", ".join(f"'{logs._quote(f)}'" for f in files)
    version = logs._quote(plan.version)
    paths = ", ".join(f"'{logs.json_path(name)}'" for name in plan.inputs)
    inner = [f"json_extract_string(inputs, [{paths}]) AS _in" if plan.inputs else "NULL AS _in"]
    outer = [
        _typed(f"_in[{j + 1}]", "number" if kind == "numeric" else "text") + f" AS i{j}"
        for j, kind in enumerate(plan.inputs.values())
    ]
    if plan.outputs:
        paths = ", ".join(f"'{logs._quote(c.path)}'" for c in plan.outputs.values())
        inner.append(
            f"CASE WHEN model_version = '{version}' "
            f"THEN json_extract_string(outputs, [{paths}]) END AS _out"
        )
        inner.append(f"model_version = '{version}' AS v")
        outer += [
            _typed(f"_out[{j + 1}]", column.kind) + f" AS o{j}"
            for j, column in enumerate(plan.outputs.values())
        ]
        outer.append("v")
    where = (
        f"timestamp >= {logs._literal(plan.start)} AND timestamp < {logs._literal(plan.end)} "
        "AND route <> 'shadow'"
    )
    return (
        f"SELECT {', '.join(outer) or '1 AS _one'} FROM (SELECT {', '.join(inner)} "
        f"FROM read_parquet([{source}], hive_partitioning = false, union_by_name = true) "
        f"WHERE {where})"
    )


def _typed(value: str, kind: str) -> str:
    if kind == "number":
        return f"TRY_CAST({value} AS DOUBLE)"
    if kind == "label":
        return f"norm_label({value})"
    return value


# --- the window --------------------------------------------------------------------------------


def scan_window(plan: ScanPlan, files: Sequence[Path], scheduler: str) -> WindowCounts:
    """Every file counted and merged: in this process, or on Dask when ``scheduler`` is set."""
    total = plan.zeros()
    if not files:
        return total
    if not scheduler:
        # One query over every file: DuckDB parallelizes the parsing over its threads.
        return total.merge(scan_unit(plan, [f.as_posix() for f in files]))
    from distributed import as_completed

    with dask_client(scheduler) as client:
        workers = client.scheduler_info().get("workers", {}).values()
        slots = max(1, sum(int(w.get("nthreads", 1)) for w in workers))
        # At least ~4 units per worker thread (with files enough) to balance the load.
        size = sum(f.stat().st_size for f in files)
        groups = units(files, max(1, min(UNIT_BYTES, size // (4 * slots))))
        shared = client.scatter(_with_threads(plan, 1), broadcast=True)
        futures = [client.submit(scan_unit, shared, g, pure=False) for g in groups]
        for future in as_completed(futures):  # type: ignore[no-untyped-call]
            total.merge(future.result())
            future.release()
    return total


def _with_threads(plan: ScanPlan, threads: int) -> ScanPlan:
    from dataclasses import replace

    return replace(plan, threads=threads)


@contextmanager
def dask_client(scheduler: str) -> Iterator[Any]:
    """A ``distributed.Client`` for ``scheduler`` (``"local"``: an in-process ``LocalCluster``)."""
    from distributed import Client, LocalCluster

    cluster: Any = None
    try:
        if scheduler == "local":
            # Threads, as the pipelines' "local" executor: no worker processes to spawn
            # (spawning would re-import the caller's __main__); DuckDB and NumPy free the GIL.
            cluster = LocalCluster(  # type: ignore[no-untyped-call]
                n_workers=1,
                threads_per_worker=os.cpu_count() or 1,
                processes=False,
                dashboard_address=None,
            )
            client = Client(cluster)  # type: ignore[no-untyped-call]
        else:
            client = Client(scheduler, timeout=10)  # type: ignore[no-untyped-call]
    except OSError as exc:
        if cluster is not None:
            cluster.close()
        raise BackendUnavailable(
            f"Cannot reach the Dask scheduler at {scheduler!r} (setting dask_scheduler): "
            f"{exc}. Start it (`dask scheduler`), set dask_scheduler to 'local', or leave "
            "it empty to scan in-process.",
            url=scheduler,
        ) from exc
    try:
        yield client
    finally:
        client.close()  # type: ignore[no-untyped-call]
        if cluster is not None:
            cluster.close()


# --- results -----------------------------------------------------------------------------------


def window_quality(
    counts: TableCounts,
    kinds: Mapping[str, str],
    reference: frames.Frame | None,
    chunked: ChunkedDrift | None,
) -> QualityReport:
    """``quality(window, reference)`` from the counters: null rates, ranges, unseen categories.

    The expected range of a numeric column is the reference's min..max (the
    ends of its grid); values strictly outside are the counters' first and
    last gaps. Exact, as ``quality`` on the whole window.
    """
    grids = chunked.spec.numeric if chunked is not None else {}
    results = []
    for name, kind in kinds.items():
        if kind == "numeric":
            results.append(_numeric_quality(name, counts, grids.get(name)))
        else:
            results.append(_categorical_quality(name, counts, reference))
    return QualityReport(columns=tuple(results), n_rows=counts.rows)


def _numeric_quality(name: str, counts: TableCounts, grid: NumericGrid | None) -> ColumnQuality:
    rows, numeric = counts.rows, counts.numeric[name]
    expected = grid.observed_range if grid is not None else None
    outside = numeric.outside() if expected is not None else 0
    return ColumnQuality(
        name,
        "numeric",
        rows,
        numeric.nulls,
        _rate(numeric.nulls, rows),
        expected_range=expected,
        out_of_range=outside,
        out_of_range_rate=_rate(outside, rows),
    )


def _categorical_quality(
    name: str, counts: TableCounts, reference: frames.Frame | None
) -> ColumnQuality:
    rows, found = counts.rows, counts.categorical[name]
    unseen: tuple[str, ...] = ()
    if reference is not None and name in frames.column_names(reference):
        allowed = set(frames.category_counts(reference, name)[0])
        unseen = tuple(sorted(k for k in found.counts if k not in allowed))
    unseen_rows = sum(found.counts[k] for k in unseen)
    return ColumnQuality(
        name,
        "categorical",
        rows,
        found.nulls,
        _rate(found.nulls, rows),
        unseen_categories=unseen,
        unseen=unseen_rows,
        unseen_rate=_rate(unseen_rows, rows),
    )


def _rate(count: int, rows: int) -> float:
    return count / rows if rows else 0.0

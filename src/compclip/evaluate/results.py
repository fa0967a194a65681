"""The per-item result tables of an evaluation report: where they live and how they are read back."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa

from compclip.files import read_parquet

TAIL_COLUMN = "pmi_tail"  # a zero-shot table's "low" / "high": the item is in that PMI tail of the gap


def results_file(report: Path, key: str) -> Path:
    """The table of ``key`` (``zeroshot/<set>`` or a benchmark name) in a report folder."""
    return report / "results" / f"{key.replace('/', '_')}.parquet"


def read_results(report: Path, key: str, columns: list[str]) -> pa.Table | None:
    """``columns`` of the table of ``key``, or None when the report has no such table."""
    path = results_file(report, key)
    return read_parquet(path, columns) if path.is_file() else None


def pmi_values(table: pa.Table) -> np.ndarray:
    """A zero-shot table's ``pmi`` as floats, NaN for items without one (left out of PMI metrics)."""
    return np.asarray(table.column("pmi").to_pylist(), dtype=float)


def single_objects(table: pa.Table) -> np.ndarray:
    """True for a zero-shot table's items without an accessory (single-object scenes)."""
    return np.asarray([a is None for a in table.column("accessory").to_pylist()], dtype=bool)


def tail_masks(table: pa.Table) -> tuple[np.ndarray, np.ndarray]:
    """A zero-shot table's items in the low and in the high PMI tail of its report's gap."""
    tail = np.asarray(table.column(TAIL_COLUMN).to_pylist(), dtype=object)
    return tail == "low", tail == "high"

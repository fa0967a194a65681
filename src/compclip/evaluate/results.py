"""The per-item result tables of an evaluation report: where they live and how they are read back."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq


def results_file(report: Path, key: str) -> Path:
    """The table of ``key`` (``zeroshot/<set>`` or a benchmark name) in a report folder."""
    return report / "results" / f"{key.replace('/', '_')}.parquet"


def read_results(report: Path, key: str, columns: list[str]) -> pa.Table | None:
    """``columns`` of the table of ``key``, or None when the report has no such table."""
    path = results_file(report, key)
    return pq.read_table(path, columns=columns) if path.is_file() else None

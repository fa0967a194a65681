"""Flat metrics (``metrics.json``): the metrics of a job's shards merged into one run's."""

from __future__ import annotations


def sum_metrics(parts: list[dict]) -> dict:
    """Numbers summed over parts; other values kept when every part agrees."""
    merged: dict = {}
    for key in dict.fromkeys(k for part in parts for k in part):
        values = [part[key] for part in parts if key in part]
        if all(isinstance(v, int | float) and not isinstance(v, bool) for v in values):
            merged[key] = sum(values)
        elif all(v == values[0] for v in values):
            merged[key] = values[0]
    return merged

"""How many CPUs this process may really use: the affinity mask bounded by the cgroup's CPU quota.

torch sizes its intra-op pool from the cores it sees, which in a pod with a CPU limit are the node's
cores, not the quota: on a contended or throttled CPU two threads measured 14-25x slower than one.
:func:`torch_threads` is the number a CPU stage gives ``torch.set_num_threads`` when the user set
none: ``OMP_NUM_THREADS`` when set, else the quota's whole CPUs shared by the processes of one node
(``LOCAL_WORLD_SIZE``, set by accelerate's and torch's launchers), at least one.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

CGROUP = Path("/sys/fs/cgroup")


def parse_quota(cpu_max: str | None, cfs_quota: str | None, cfs_period: str | None) -> float | None:
    """CPUs granted by a cgroup v2 ``cpu.max`` ("QUOTA PERIOD" or "max PERIOD") or a v1 CFS
    quota/period pair (quota -1: none); ``None`` when unlimited or unknown."""
    if cpu_max is not None:
        quota, _, period = cpu_max.strip().partition(" ")
        if quota != "max" and period:
            return int(quota) / int(period)
        return None
    if cfs_quota is not None and cfs_period is not None and int(cfs_quota) > 0:
        return int(cfs_quota) / int(cfs_period)
    return None


def _read(path: Path) -> str | None:
    try:
        return path.read_text()
    except OSError:
        return None


def quota(root: Path = CGROUP) -> float | None:
    """This machine's cgroup CPU quota in CPUs (v2, else v1), ``None`` when there is none."""
    return parse_quota(
        _read(root / "cpu.max"),
        _read(root / "cpu" / "cpu.cfs_quota_us"),
        _read(root / "cpu" / "cpu.cfs_period_us"),
    )


def available(root: Path = CGROUP) -> int:
    """Whole CPUs this process may use: its affinity mask, bounded by the quota (rounded down, >= 1)."""
    cpus = len(os.sched_getaffinity(0))
    limit = quota(root)
    if limit is not None:
        cpus = min(cpus, max(1, math.floor(limit)))
    return cpus


def torch_threads(requested: int | None = None, root: Path = CGROUP) -> int:
    """``requested`` when given, else ``OMP_NUM_THREADS``, else the available CPUs shared by this
    node's processes (>= 1)."""
    if requested:
        return requested
    if os.environ.get("OMP_NUM_THREADS", "").isdigit():
        return max(1, int(os.environ["OMP_NUM_THREADS"]))
    return max(1, available(root) // int(os.environ.get("LOCAL_WORLD_SIZE", "1")))

"""CPU threads come from the cgroup quota, not the node's core count."""

from __future__ import annotations

import os

import pytest

from compclip import cpus


@pytest.mark.parametrize(
    ("cpu_max", "cfs_quota", "cfs_period", "expected"),
    [
        ("max 100000\n", None, None, None),
        ("150000 100000\n", None, None, 1.5),
        ("50000 100000\n", None, None, 0.5),
        (None, "-1\n", "100000\n", None),
        (None, "400000\n", "100000\n", 4.0),
        (None, None, None, None),
    ],
)
def test_the_quota_reads_cgroup_v2_then_v1(cpu_max, cfs_quota, cfs_period, expected):
    assert cpus.parse_quota(cpu_max, cfs_quota, cfs_period) == expected


def test_threads_follow_the_quota_shared_by_the_nodes_processes(tmp_path, monkeypatch):
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.delenv("LOCAL_WORLD_SIZE", raising=False)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(64)))
    (tmp_path / "cpu.max").write_text("400000 100000\n")  # a pod limited to 4 CPUs on a 64-core node
    assert cpus.available(tmp_path) == 4
    assert cpus.torch_threads(root=tmp_path) == 4
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "2")
    assert cpus.torch_threads(root=tmp_path) == 2
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "8")
    assert cpus.torch_threads(root=tmp_path) == 1
    (tmp_path / "cpu.max").write_text("50000 100000\n")  # half a CPU still gets one thread
    monkeypatch.delenv("LOCAL_WORLD_SIZE")
    assert cpus.torch_threads(root=tmp_path) == 1
    (tmp_path / "cpu.max").write_text("max 100000\n")
    assert cpus.torch_threads(root=tmp_path) == 64


def test_a_user_setting_wins(tmp_path, monkeypatch):
    (tmp_path / "cpu.max").write_text("400000 100000\n")
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    assert cpus.torch_threads(root=tmp_path) == 3
    assert cpus.torch_threads(6, root=tmp_path) == 6

"""Shared fixtures: paths to ../shared data and a real S3 server (SeaweedFS) on loopback."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("COMPCLIP_SHARED", REPO.parent / "shared"))
FLICKR = SHARED / "data" / "flickr8k" / "Flickr8k.token.txt"


@pytest.fixture(scope="session")
def shared() -> Path:
    if not SHARED.is_dir():
        pytest.fail(f"shared data folder missing: {SHARED}")
    return SHARED


@pytest.fixture(scope="session")
def flickr_captions() -> Path:
    return FLICKR


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory):
    """A SeaweedFS ``weed mini`` on loopback for the whole session, its AWS settings exported."""
    from compclip import s3local

    server = s3local.start(tmp_path_factory.mktemp("s3"), bucket="compclip-test")
    saved = {k: os.environ.get(k) for k in server.env()}
    os.environ.update(server.env())
    yield server
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    s3local.stop_pid(server.pid)

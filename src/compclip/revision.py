"""The git commit of the code that runs, as lineage records it."""

from __future__ import annotations

import os
import subprocess

ENV = "COMPCLIP_GIT_COMMIT"


def git_commit() -> str | None:
    """``$COMPCLIP_GIT_COMMIT``, else this checkout's ``HEAD`` (with ``-dirty`` when tracked files were
    changed); None outside a git checkout or without git."""
    if commit := os.environ.get(ENV):
        return commit
    try:
        head = _git("rev-parse", "HEAD")
        dirty = head is not None and bool(_git("status", "--porcelain", "--untracked-files=no"))
    except (OSError, subprocess.TimeoutExpired):
        return None
    return head and head + "-dirty" * dirty


def _git(*args: str) -> str | None:
    done = subprocess.run(["git", *args], capture_output=True, text=True, timeout=10)
    return done.stdout.strip() or None if done.returncode == 0 else None

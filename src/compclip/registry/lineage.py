"""A version's lineage (``lineage.json``): where it came from, so a result can be traced and rerun.

Git commit (:func:`compclip.revision.git_commit`), pipeline run id, params,
the compared model it is, its sources, and the training data and negatives with content hashes.
"""

from __future__ import annotations

import hashlib

from compclip import __version__
from compclip.errors import UserError
from compclip.revision import git_commit
from compclip.storage import content_hashes, filesystem, sha256_file

INPUTS = ("data", "negatives")


def content_sha256(uri: str) -> str | None:
    """A file's sha256, or a folder's (over its files' :func:`~compclip.storage.content_hashes`, one
    ``path sha256`` line each); None if unreachable."""
    try:
        fs, path = filesystem(uri)
        if not fs.exists(path):
            return None
        if not fs.isdir(path):
            return sha256_file(uri)
        hashes = content_hashes(uri)
    except (OSError, UserError):
        return None
    return hashlib.sha256("".join(f"{name} {sha}\n" for name, sha in hashes.items()).encode()).hexdigest()


def inputs(training: dict) -> dict[str, dict]:
    """The training data and negatives a model folder's manifest names, with content hashes (recorded
    by training as ``<input>_sha256``, else computed now when the input is reachable)."""
    found = {}
    for kind in INPUTS:
        uri = training.get(kind) or None
        sha = training.get(f"{kind}_sha256") or (content_sha256(uri) if uri else None)
        found[kind] = {"uri": uri, "sha256": sha}
    return found


def lineage(
    name: str,
    by: str,
    created_at: str,
    candidate: str,
    sources: dict[str, str],
    training: dict,
    run_id: str | None,
    params: dict | None,
) -> dict:
    """Everything but the version number, which publishing allocates."""
    return {
        "name": name,
        "created_at": created_at,
        "by": by,
        "candidate": candidate,
        "base": training.get("base"),
        "git_commit": git_commit(),
        "run_id": run_id,
        "params": params,
        "sources": sources,
        "inputs": inputs(training),
        "compclip_version": __version__,
    }

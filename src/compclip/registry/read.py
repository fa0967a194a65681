"""Reading the registry: names, versions, one version's record, two versions' metrics, a download.

A version is complete when its ``manifest.json`` exists (publishing writes it last); only complete
versions are shown as such, promoted or pulled. :func:`pull` downloads a version and checks every
file against the manifest before anything appears at its destination.
"""

from __future__ import annotations

import math
from pathlib import Path

from compclip.errors import UserError
from compclip.outputs import local_out
from compclip.registry import aliases
from compclip.registry.layout import (
    COMPARISON,
    LINEAGE,
    MANIFEST,
    METRICS,
    STAGES,
    VERSION,
    check_name,
    join,
    version_dir,
    versions_dir,
)
from compclip.registry.store import Store
from compclip.storage import verify_files


def names(store: Store) -> list[str]:
    return store.folders("registry/")


def stages(store: Store, name: str) -> dict[str, dict]:
    """Each stage that has an alias: the alias as a dict."""
    found = {}
    for stage in STAGES:
        if item := aliases.read(store, name, stage):
            found[stage] = item[0].as_dict()
    return found


def numbered(store: Store, name: str) -> list[str]:
    """The versions of ``name`` (complete or not), oldest first."""
    found = [(int(m.group(1)), v) for v in store.folders(versions_dir(name)) if (m := VERSION.fullmatch(v))]
    return [version for _, version in sorted(found)]


def versions(store: Store, name: str) -> list[dict]:
    """Every version of ``name``, oldest first: number, completeness, lineage summary, stages."""
    serving = stages(store, name)
    rows = []
    for version in numbered(store, name):
        lineage = _json(store, version_dir(name, version) + LINEAGE) or {}
        rows.append(
            {
                "version": version,
                "complete": store.exists(version_dir(name, version) + MANIFEST),
                "created_at": lineage.get("created_at"),
                "by": lineage.get("by"),
                "run_id": lineage.get("run_id"),
                "stages": [stage for stage, alias in serving.items() if alias["version"] == version],
            }
        )
    return rows


def _json(store: Store, key: str) -> dict | None:
    found = store.get_json(key)
    return None if found is None else found[0]


def complete(store: Store, name: str, version: str) -> tuple[dict, dict]:
    """The manifest and lineage of a complete version; a UserError when it is missing or incomplete."""
    prefix = version_dir(check_name(name), version)
    lineage = _json(store, prefix + LINEAGE)
    if lineage is None:
        raise UserError(f"{name} {version} does not exist in {store.root}")
    manifest = _json(store, prefix + MANIFEST)
    if manifest is None:
        raise UserError(f"{name} {version} is incomplete (its publisher did not finish); publish again")
    return manifest, lineage


def comparison(store: Store, name: str, version: str) -> dict:
    found = _json(store, version_dir(name, version) + COMPARISON)
    if found is None:
        raise UserError(f"{name} {version} has no {COMPARISON}")
    return found


def show(store: Store, name: str, version: str) -> dict:
    manifest, lineage = complete(store, name, version)
    serving = stages(store, name)
    return {
        "name": name,
        "version": version,
        "uri": join(store.root, version_dir(name, version)),
        "stages": [stage for stage, alias in serving.items() if alias["version"] == version],
        "lineage": lineage,
        "model_name": manifest.get("model_name"),
        "files": manifest["files"],
        "metrics": _metrics(store, name, version),
    }


def diff(store: Store, name: str, a: str, b: str) -> list[dict]:
    """Each metric of either version: its value in ``a``, in ``b``, and ``b - a``."""
    if a == b:
        raise UserError(f"diff needs two different versions, not {a} twice")
    left, right = (_metrics(store, name, version) for version in (a, b))
    rows = []
    for key in dict.fromkeys([*left, *right]):
        x, y = left.get(key), right.get(key)
        numbers = all(isinstance(v, int | float) and math.isfinite(v) for v in (x, y))
        rows.append({"metric": key, a: x, b: y, "change": y - x if numbers else None})
    return rows


def _metrics(store: Store, name: str, version: str) -> dict:
    complete(store, name, version)
    found = _json(store, version_dir(name, version) + METRICS)
    if found is None:
        raise UserError(f"{name} {version} has no {METRICS}")
    return found


def pull(store: Store, name: str, ref: str, out: str) -> str:
    """Download version ``ref`` (``vN``, or a stage: the version it points to) into ``out`` and verify it;
    a tampered, missing or unlisted file is refused by name and ``out`` is left untouched."""
    version = aliases.current(store, name, ref).version if ref in STAGES else ref
    manifest, _ = complete(store, name, version)
    prefix = version_dir(name, version)
    where = join(store.root, prefix)
    keys = [key.removeprefix(prefix) for key in store.keys(prefix)]
    unlisted = sorted(set(keys) - set(manifest["files"]) - {MANIFEST})
    if unlisted:
        raise UserError(f"{where}: {unlisted[0]} is not listed in the manifest; refusing the version")
    with local_out(out) as folder:
        for key in keys:
            store.download(prefix + key, Path(folder) / key)
        verify_files(Path(folder), manifest["files"], where)
    return version

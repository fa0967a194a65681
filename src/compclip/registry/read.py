"""Reading the registry: names, versions, one version's record, two versions' metrics, a download.

A version is complete when its ``manifest.json`` exists (publishing writes it last); only complete
versions are shown as such, promoted or pulled. Every file read from a version is checked against
its manifest's sha256 (:func:`version_file`); :func:`resolve` checks that the version an alias
names is complete and its manifest is the one the alias pinned; :func:`pull` downloads a version
and checks every file, refusing unlisted ones, before anything appears at its destination.
"""

from __future__ import annotations

import hashlib
import json
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


def manifest(store: Store, name: str, version: str) -> tuple[dict, str]:
    """The manifest of a complete version and the sha256 of its bytes; a UserError when the version
    is missing or incomplete."""
    prefix = version_dir(check_name(name), version)
    found = store.get(prefix + MANIFEST)
    if found is None:
        if not store.exists(prefix + LINEAGE):
            raise UserError(f"{name} {version} does not exist in {store.root}")
        raise UserError(f"{name} {version} is incomplete (its publisher did not finish); publish again")
    try:
        data = json.loads(found[0])
    except json.JSONDecodeError as err:
        raise UserError(f"{store.root}/{prefix}{MANIFEST} is not valid JSON: {err}") from err
    if not isinstance(data, dict) or not isinstance(data.get("files"), dict):
        raise UserError(f"{store.root}/{prefix}{MANIFEST}: not a manifest (no files)")
    return data, hashlib.sha256(found[0]).hexdigest()


def version_file(store: Store, name: str, version: str, files: dict, path: str) -> bytes:
    """The bytes of ``path`` in a version, checked against the manifest's ``files``."""
    where = join(store.root, version_dir(name, version))
    if path not in files:
        raise UserError(f"{where}: {path} is not listed in the manifest; refusing it")
    found = store.get(version_dir(name, version) + path)
    if found is None:
        raise UserError(f"{where}: {path} listed in the manifest is missing")
    if hashlib.sha256(found[0]).hexdigest() != files[path]:
        raise UserError(f"{where}: {path} does not match its sha256 in the manifest")
    return found[0]


def version_json(store: Store, name: str, version: str, files: dict, path: str) -> dict:
    """A JSON file of a version, checked against the manifest's ``files``."""
    try:
        return json.loads(version_file(store, name, version, files, path))
    except json.JSONDecodeError as err:
        where = join(store.root, version_dir(name, version))
        raise UserError(f"{where}: {path} is not valid JSON: {err}") from err


def complete(store: Store, name: str, version: str) -> tuple[dict, dict]:
    """The manifest and (verified) lineage of a complete version; a UserError when it is missing,
    incomplete or its lineage does not match the manifest."""
    found, _ = manifest(store, name, version)
    return found, version_json(store, name, version, found["files"], LINEAGE)


def comparison(store: Store, name: str, version: str, files: dict) -> dict:
    return version_json(store, name, version, files, COMPARISON)


def resolved(store: Store, name: str, stage: str) -> aliases.Alias:
    """The alias of ``stage`` once its version is complete and its manifest is the one the alias
    pinned when it moved."""
    alias = aliases.current(store, name, stage)
    _, digest = manifest(store, name, alias.version)
    if digest != alias.manifest_sha256:
        raise UserError(
            f"{name} {stage}: the manifest of {alias.version} changed after it was promoted; refusing it"
        )
    return alias


def resolve(root: str, name: str, stage: str) -> str:
    """The URI of the version ``stage`` of ``name`` points to (``R/registry/NAME/vN/``), checked."""
    return resolved(Store(root), name, stage).uri


def show(store: Store, name: str, version: str) -> dict:
    found, lineage = complete(store, name, version)
    serving = stages(store, name)
    return {
        "name": name,
        "version": version,
        "uri": join(store.root, version_dir(name, version)),
        "stages": [stage for stage, alias in serving.items() if alias["version"] == version],
        "lineage": lineage,
        "model_name": found.get("model_name"),
        "files": found["files"],
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
    found, _ = manifest(store, name, version)
    return version_json(store, name, version, found["files"], METRICS)


def pull(store: Store, name: str, ref: str, out: str) -> str:
    """Download version ``ref`` (``vN``, or a stage: the version it points to) into ``out`` and verify it;
    a tampered, missing or unlisted file is refused by name and ``out`` is left untouched."""
    version = resolved(store, name, ref).version if ref in STAGES else ref
    files, digest = manifest(store, name, version)
    files = files["files"]
    prefix = version_dir(name, version)
    where = join(store.root, prefix)
    keys = [key.removeprefix(prefix) for key in store.keys(prefix)]
    unlisted = sorted(set(keys) - set(files) - {MANIFEST})
    if unlisted:
        raise UserError(f"{where}: {unlisted[0]} is not listed in the manifest; refusing the version")
    with local_out(out) as folder:
        for key in keys:
            store.download(prefix + key, Path(folder) / key)
        if hashlib.sha256((Path(folder) / MANIFEST).read_bytes()).hexdigest() != digest:
            raise UserError(f"{where}: {MANIFEST} changed while downloading; pull again")
        verify_files(Path(folder), files, where)
    return version

"""Publishing: a model folder, its evaluation report and its comparison become an immutable version.

The version number is claimed by writing the version's ``lineage.json`` with ``IfNoneMatch='*'``:
of publishers racing for vN exactly one succeeds, the others move on to vN+1. Every other file is
then written once the same way, and ``manifest.json`` (the sha256 of every file) last, so a version
is complete exactly when its manifest exists; a publisher that dies half-way leaves an incomplete
version that nothing promotes or pulls. The publish event records the manifest's sha256, which every
promotion checks.

Publishing a run is idempotent: a complete version with the same run id and the same weights is
that version, returned as it is (its publish event appended if its publisher died before writing it).
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from compclip.config import Checked
from compclip.errors import UserError
from compclip.files import read_json
from compclip.registry import audit, read
from compclip.registry.card import render
from compclip.registry.gates import candidate_of, evaluate_gates
from compclip.registry.layout import (
    CARD,
    COMPARE,
    CONFIG,
    LINEAGE,
    MANIFEST,
    METRICS,
    REPORT,
    TRAINING,
    WEIGHTS,
    check_name,
    version_dir,
    version_name,
    version_number,
)
from compclip.registry.lineage import lineage
from compclip.registry.policy import in_force
from compclip.registry.store import Store, json_body
from compclip.storage import MARKER as OUTPUT_MARKER
from compclip.storage import local_dir, sha256_file, split_uri, verify_files

PICKLES = (".bin", ".pt", ".pth", ".pkl", ".ckpt")
MAX_CLAIMS = 1000


@dataclass(frozen=True)
class PublishConfig(Checked):
    """``candidate``: the model's name in the comparison (default: its only non-baseline model)."""

    name: str = "compclip"
    candidate: str | None = None
    run_id: str | None = None


def publish(
    model: str, report: str, compare: str, root: str, config: PublishConfig, params: dict | None = None
) -> str:
    """Publish ``model`` (a model folder) with its ``report`` (a ``compclip evaluate`` folder) and
    ``compare`` (a ``compclip compare`` folder) as the next version of ``config.name`` under
    ``root``; ``params`` go into the lineage. Returns the version, ``vN``."""
    name = check_name(config.name)
    store = Store(root)
    by, created_at = audit.actor(), datetime.now(UTC).isoformat(timespec="seconds")
    with local_dir(model) as model_dir, local_dir(report) as report_dir, local_dir(compare) as compare_dir:
        manifest = _model_manifest(model_dir)
        comparison = read_json(compare_dir / "compare.json")
        candidate = candidate_of(comparison, config.candidate)
        _check_report(report_dir / METRICS, comparison, candidate)
        files = _version_files(model_dir, manifest, report_dir, compare_dir)
        sources = {"model": _where(model), "report": _where(report), "compare": _where(compare)}
        events = audit.trusted(store, name)
        if config.run_id and (found := _published(store, name, config.run_id, manifest["files"][WEIGHTS])):
            version, digest = found
            if not any(e["action"] == "publish" and e["to"] == version for e in events):
                _record(store, name, version, digest, None, by)
            return version
        training = manifest.get("training") or {}
        record = lineage(name, by, created_at, candidate, sources, training, config.run_id, params)
        version, lineage_body = _claim(store, name, record)
        policy, policy_version = in_force(events)
        gates = evaluate_gates(comparison, candidate, policy)
        digest = _write_version(store, name, version, manifest, files, lineage_body, comparison, gates)
    _record(store, name, version, digest, (gates, policy_version), by)
    return version


def _published(store: Store, name: str, run_id: str, weights: str) -> tuple[str, str] | None:
    """The complete version (and its manifest digest) published from ``run_id`` with these weights."""
    for version in reversed(read.numbered(store, name)):
        try:
            manifest, digest = read.manifest(store, name, version)
            lineage_ = read.version_json(store, name, version, manifest["files"], LINEAGE)
        except UserError:  # incomplete or damaged: not a version to return
            continue
        if lineage_.get("run_id") == run_id and manifest["files"].get(WEIGHTS) == weights:
            return version, digest
    return None


def _record(store: Store, name: str, version: str, digest: str, gates: tuple | None, by: str) -> None:
    """The publish event: the manifest digest, and the gates at publish time under the policy then."""
    results, policy_version = gates or (None, None)
    event = audit.new_event(
        name,
        "publish",
        version,
        by=by,
        manifest_sha256=digest,
        gates=None if results is None else [g.as_dict() for g in results],
        policy_version=policy_version,
    )
    audit.append(store, name, event)


def _where(uri: str) -> str:
    """An input as the lineage records it: an s3:// URI as given, a local path made absolute."""
    scheme, path = split_uri(uri)
    return uri if scheme != "file" else path


def _model_manifest(folder: Path) -> dict:
    """The model folder's manifest, once every file it lists is checked; refuses pickles."""
    manifest = read_json(folder / MANIFEST)
    files = manifest.get("files") or {}
    missing = [f for f in (WEIGHTS, CONFIG) if f not in files]
    if missing:
        raise UserError(f"{folder}: not a compclip model folder (its manifest lists no {', '.join(missing)})")
    pickles = sorted(f for f in files if Path(f).suffix in PICKLES)
    if pickles:
        raise UserError(f"{folder}: refusing pickle-based weight files {pickles}; only safetensors load")
    verify_files(folder, files, folder)
    return manifest


def _check_report(metrics_path: Path, comparison: dict, candidate: str) -> None:
    """Refuse a report that is not the compared candidate's (a metric both hold differs)."""
    metrics = read_json(metrics_path)
    for key, value in comparison["metrics"][candidate].items():
        theirs = metrics.get(key)
        numbers = all(isinstance(v, int | float) for v in (value, theirs))
        if numbers and not math.isclose(value, theirs, rel_tol=1e-9, abs_tol=1e-12):
            raise UserError(
                f"{metrics_path} is not the report of {candidate!r} in the comparison: "
                f"{key} is {theirs} there and {value} in compare.json"
            )


def _version_files(model_dir: Path, manifest: dict, report_dir: Path, compare_dir: Path) -> dict[str, Path]:
    """Each file of the version (its name in the version -> the local file), the model's first."""
    files = {_model_target(name): model_dir / name for name in manifest["files"]}
    files[METRICS] = report_dir / METRICS
    files[REPORT] = report_dir / REPORT
    if not files[REPORT].is_file():
        raise UserError(f"{report_dir}: no {REPORT}; publish the folder `compclip evaluate` wrote")
    for path in sorted(compare_dir.rglob("*")):
        if path.is_file() and not path.name.startswith(".") and path.name != OUTPUT_MARKER:
            files[f"{COMPARE}/{path.relative_to(compare_dir).as_posix()}"] = path
    return files


def _model_target(name: str) -> str:
    """Weights and config at the root (where KServe and load_model look), other model files in training/."""
    return name if name in (WEIGHTS, CONFIG) else f"{TRAINING}/{name}"


def _claim(store: Store, name: str, record: dict) -> tuple[str, bytes]:
    """Allocate the next version by creating its lineage.json; the version and the bytes written."""
    taken = read.numbered(store, name)
    number = version_number(taken[-1]) + 1 if taken else 1
    for _ in range(MAX_CLAIMS):
        version = version_name(number)
        body = json_body({**record, "version": version})
        if store.create(version_dir(name, version) + LINEAGE, body):
            return version, body
        number += 1
    raise UserError(f"{store.root}: no free version of {name} after {MAX_CLAIMS} tries")


def _write_version(
    store: Store,
    name: str,
    version: str,
    manifest: dict,
    files: dict[str, Path],
    lineage_body: bytes,
    comparison: dict,
    gates: list,
) -> str:
    """The files, the model card, then the manifest: written last, it marks the version complete.
    Returns the manifest's sha256."""
    hashes = {target: sha256_file(str(path)) for target, path in files.items()}
    hashes[LINEAGE] = hashlib.sha256(lineage_body).hexdigest()
    card = render({**manifest, "files": hashes}, json.loads(lineage_body), comparison, gates).encode()
    hashes[CARD] = hashlib.sha256(card).hexdigest()
    registry = {"name": name, "version": version}
    version_manifest = json_body({**manifest, "files": dict(sorted(hashes.items())), "registry": registry})
    prefix = version_dir(name, version)
    for target, body in [*files.items(), (CARD, card), (MANIFEST, version_manifest)]:
        if not store.create(prefix + target, body):
            raise UserError(f"{store.root}/{prefix}{target} exists already; versions are written once")
    return hashlib.sha256(version_manifest).hexdigest()

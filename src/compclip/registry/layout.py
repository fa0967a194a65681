"""Where everything lives under a registry root ``R`` (``s3://BUCKET`` or ``s3://BUCKET/prefix``).

- ``R/registry/NAME/vN/``: one immutable version, each object written once (the model files at its
  root, so KServe's storage initializer reads ``storageUri: R/registry/NAME/vN/`` as it is);
- ``R/aliases/NAME/STAGE.json``: the version a stage (staging, production) points to;
- ``R/audit/NAME/NNNNNNNN.json``: the audit log, one object per event numbered from 1, each
  naming the sha256 of the one before it (a hash chain); the registry's gate policy is in it too.

Pure functions over names and keys; no I/O.
"""

from __future__ import annotations

import re

from compclip.errors import UserError

STAGES = ("staging", "production")
NAME = re.compile(r"[a-z0-9][a-z0-9._-]{0,62}")
VERSION = re.compile(r"v([1-9][0-9]*)")
AUDIT = re.compile(r"([0-9]{8})\.json")
BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")

# A version's files: the model's (named as compclip.models.loading names them; that module imports
# torch), its other training files under training/, then the registry's own.
WEIGHTS = "open_clip_model.safetensors"
CONFIG = "open_clip_config.json"
MANIFEST = "manifest.json"
LINEAGE = "lineage.json"
METRICS = "metrics.json"
REPORT = "report.html"
CARD = "model_card.md"
COMPARE = "compare"
COMPARISON = f"{COMPARE}/compare.json"
TRAINING = "training"


def parse_root(root: str) -> tuple[str, str]:
    """``s3://BUCKET[/prefix]`` -> ``(bucket, prefix)``, the prefix without slashes at its ends."""
    if not root or not root.startswith("s3://"):
        raise UserError(f"registry root must be s3://BUCKET or s3://BUCKET/prefix, not {root!r}")
    bucket, _, prefix = root.removeprefix("s3://").partition("/")
    if not BUCKET.fullmatch(bucket):
        raise UserError(f"registry root {root!r}: invalid bucket name {bucket!r}")
    return bucket, prefix.strip("/")


def check_name(name: str) -> str:
    if not NAME.fullmatch(name or ""):
        raise UserError(f"invalid model name {name!r}: 1-63 lowercase letters, digits, '.', '_' or '-'")
    return name


def check_stage(stage: str) -> str:
    if stage not in STAGES:
        raise UserError(f"unknown stage {stage!r}; choose {' or '.join(STAGES)}")
    return stage


def version_number(version: str) -> int:
    """``"v3"`` -> 3; a UserError for anything else."""
    match = VERSION.fullmatch(version or "")
    if not match:
        raise UserError(f"invalid version {version!r}: expected vN, e.g. v3")
    return int(match.group(1))


def version_name(number: int) -> str:
    return f"v{number}"


def version_dir(name: str, version: str) -> str:
    """The key prefix of a version, relative to the root, with a trailing slash."""
    return f"registry/{check_name(name)}/{version_name(version_number(version))}/"


def versions_dir(name: str) -> str:
    return f"registry/{check_name(name)}/"


def alias_key(name: str, stage: str) -> str:
    return f"aliases/{check_name(name)}/{check_stage(stage)}.json"


def audit_dir(name: str) -> str:
    return f"audit/{check_name(name)}/"


def audit_key(name: str, seq: int) -> str:
    """The key of event number ``seq`` (from 1); keys sort by number."""
    return f"{audit_dir(name)}{seq:08d}.json"


def audit_seq(key: str) -> int | None:
    """The number of an event's key (relative to the root), None for any other key."""
    match = AUDIT.fullmatch(key.rsplit("/", 1)[-1])
    return int(match.group(1)) if match else None


def join(root: str, key: str) -> str:
    """The URI of ``key`` under ``root``."""
    return f"{root.rstrip('/')}/{key}"

"""Create, save and load open_clip models; every model source is parsed in one place.

Model sources (:func:`parse_source`):

- ``NAME`` or ``NAME:TAG``: an open_clip architecture (built-in or one of compclip's
  configs in ``configs/``) with random weights or open_clip's pretrained tag
  (``ViT-B-32:laion400m_e32``; fetching the tag needs network access);
- ``hf-hub:org/repo``: open_clip's Hugging Face hub loading;
- ``local-dir:/path``, a plain folder path or ``s3://bucket/prefix``: a compclip model folder.

A compclip model folder holds ``open_clip_model.safetensors``, ``open_clip_config.json``
(``model_name``, ``model_cfg``, ``preprocess_cfg``: open_clip's own local-dir format) and
``manifest.json`` with the sha256 of every file. Loading verifies the manifest, refuses any file
it does not list (a pickle, or a ``model_source.json`` that would load another model) and, given
the manifest's own sha256 (a registry alias pins it), the manifest itself, so a model from S3 can
never run code or be swapped. A folder without a manifest holding only ``model_source.json``
names another source (:func:`write_reference`, a pipeline's base model).
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import open_clip
import torch
from safetensors import SafetensorError
from safetensors.torch import save_model as save_safetensors

from compclip import __version__
from compclip.errors import UserError
from compclip.files import parse_json, read_json
from compclip.outputs import local_out
from compclip.storage import MARKER as OUTPUT_MARKER
from compclip.storage import local_dir, plain_mode, sha256_file, verify_files, write_json

log = logging.getLogger(__name__)

CONFIG_DIR = Path(__file__).parent / "configs"
WEIGHTS = "open_clip_model.safetensors"
CONFIG = "open_clip_config.json"
MANIFEST = "manifest.json"
FOLDER_SCHEMES = ("local-dir", "s3", "file")
REFERENCE = "model_source.json"  # a folder holding only this names another source
open_clip.add_model_config(CONFIG_DIR)


@dataclass(frozen=True)
class ModelSource:
    """A parsed model source: ``kind`` is ``"open_clip"``, ``"hf-hub"`` or ``"folder"``."""

    kind: str
    name: str
    pretrained: str | None = None


def parse_source(source: str) -> ModelSource:
    """Parse a model source string; raise a UserError on anything unrecognised."""
    if not source or not source.strip():
        raise UserError("empty model source")
    if source.startswith("hf-hub:"):
        return ModelSource("hf-hub", source.removeprefix("hf-hub:"))
    if source.startswith("local-dir:"):
        return ModelSource("folder", source.removeprefix("local-dir:"))
    if source.startswith(("s3://", "file://")) or Path(source).is_dir():
        return ModelSource("folder", source)
    name, _, tag = source.partition(":")
    if name not in open_clip.list_models():
        raise UserError(
            f"unknown model source {source!r}: not a folder, s3:// URI, hf-hub: id or open_clip model "
            f"(compclip configs: {', '.join(sorted(p.stem for p in CONFIG_DIR.glob('*.json')))})"
        )
    return ModelSource("open_clip", name, tag or None)


@dataclass
class ModelBundle:
    """A model with the transforms and tokenizer that belong to it."""

    model: torch.nn.Module
    name: str
    preprocess_train: Any
    preprocess: Any
    tokenizer: Any
    info: dict = field(default_factory=dict)


def create_model(name: str, pretrained: str | None = None, device: str = "cpu", seed: int = 0) -> ModelBundle:
    """An open_clip architecture by name, random-initialised from ``seed`` unless ``pretrained``."""
    torch.manual_seed(seed)
    model, train_tf, eval_tf = open_clip.create_model_and_transforms(
        name, pretrained=pretrained, device=device
    )
    return ModelBundle(model, name, train_tf, eval_tf, open_clip.get_tokenizer(name), {"source": name})


def load_model(source: str, device: str = "cpu", manifest_sha256: str | None = None) -> ModelBundle:
    """Load a model from any source (see the module docstring); a folder's ``manifest.json`` must
    have the sha256 ``manifest_sha256`` when it is given."""
    parsed = parse_source(source)
    if parsed.kind == "open_clip":
        return create_model(parsed.name, parsed.pretrained, device)
    if parsed.kind == "hf-hub":
        spec = f"hf-hub:{parsed.name}"
        model, train_tf, eval_tf = open_clip.create_model_and_transforms(spec, device=device)
        return ModelBundle(model, spec, train_tf, eval_tf, open_clip.get_tokenizer(spec), {"source": source})
    with local_dir(parsed.name) as folder:
        if manifest_sha256 is None and _is_reference(folder):
            return load_model(read_reference(folder), device)
        manifest = verify_folder(folder, manifest_sha256)
        spec = f"local-dir:{folder}"
        try:
            model, train_tf, eval_tf = open_clip.create_model_and_transforms(spec, device=device)
        except (SafetensorError, ValueError, RuntimeError) as err:  # its config or weights
            first = str(err).strip().splitlines()[0]
            raise UserError(f"{source}: the model folder does not load ({first[:300]})") from None
        tokenizer = open_clip.get_tokenizer(spec)
    return ModelBundle(
        model, manifest.get("model_name", spec), train_tf, eval_tf, tokenizer, {"source": source, **manifest}
    )


def check(source: str) -> str:
    """Check that ``source`` names a loadable model before a run spends time on it (a folder's files
    against its manifest; a name as a source form); the line that says what it is."""
    parsed = parse_source(source)
    if parsed.kind == "folder":
        with local_dir(parsed.name) as folder:
            manifest = verify_folder(folder)
        return f"{source}: {manifest['model_name']}, {len(manifest['files'])} files match the manifest"
    tag = f":{parsed.pretrained}" if parsed.pretrained else ""
    return f"{source}: {parsed.kind} model {parsed.name}{tag}"


def write_reference(source: str, out: Path) -> None:
    """A folder that names a model source instead of holding weights (a pipeline's base model)."""
    with local_out(str(out)) as stage:
        write_json(stage / REFERENCE, {"source": source})


def read_reference(folder: Path) -> str:
    return read_json(folder / REFERENCE, required=("source",))["source"]


def _is_reference(folder: Path) -> bool:
    """A folder naming another source: ``model_source.json`` alone (beside its output marker), no manifest."""
    return sorted(p.name for p in folder.iterdir() if p.name != OUTPUT_MARKER) == [REFERENCE]


def verify_folder(folder: Path, manifest_sha256: str | None = None) -> dict:
    """Check a model folder against its manifest (and the manifest against ``manifest_sha256`` when
    given): every listed file matches, no other file is there. Returns the manifest."""
    manifest_path = folder / MANIFEST
    if not manifest_path.is_file():
        raise UserError(f"{folder}: not a compclip model folder (no {MANIFEST})")
    body = manifest_path.read_bytes()
    if manifest_sha256 is not None and hashlib.sha256(body).hexdigest() != manifest_sha256:
        raise UserError(f"{folder}: {MANIFEST} is not the manifest with sha256 {manifest_sha256}")
    manifest = parse_json(body, str(manifest_path), required=("files",))
    present = {p.relative_to(folder).as_posix() for p in folder.rglob("*") if not p.is_dir()}
    foreign = sorted(present - set(manifest.get("files", {})) - {MANIFEST, OUTPUT_MARKER})
    if foreign:
        raise UserError(f"{folder}: files not listed in the manifest {foreign[:5]}; refusing the folder")
    verify_files(folder, manifest.get("files", {}), folder)
    for required in (WEIGHTS, CONFIG):
        if required not in manifest.get("files", {}):
            raise UserError(f"{folder}: manifest does not list {required}")
    return manifest


def save_model(bundle: ModelBundle, out_dir: str | Path, extra: dict | None = None) -> Path:
    """Write safetensors weights, open_clip config and a sha256 manifest into ``out_dir``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    model_cfg = open_clip.get_model_config(bundle.name) if bundle.name in open_clip.list_models() else None
    if model_cfg is None:
        model_cfg = bundle.info.get("model_cfg")
    if model_cfg is None:
        raise UserError(f"cannot save {bundle.name!r}: its open_clip config is unknown")
    preprocess_cfg = dict(getattr(bundle.model.visual, "preprocess_cfg", {}) or {})
    config = {"model_name": bundle.name, "model_cfg": model_cfg, "preprocess_cfg": preprocess_cfg}
    write_json(out / CONFIG, config, sort_keys=False)
    save_safetensors(bundle.model, str(out / WEIGHTS))
    plain_mode(out / WEIGHTS)
    files = {name: sha256_file(str(out / name)) for name in (WEIGHTS, CONFIG)}
    for name in sorted((extra or {}).get("files", [])):
        files[name] = sha256_file(str(out / name))
    manifest = {
        "format": "compclip-model-v1",
        "compclip_version": __version__,
        "model_name": bundle.name,
        "model_cfg": model_cfg,
        "files": files,
        **{k: v for k, v in (extra or {}).items() if k != "files"},
    }
    write_json(out / MANIFEST, manifest)
    log.info("saved model %s to %s", bundle.name, out)
    return out

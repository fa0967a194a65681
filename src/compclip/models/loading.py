"""Create, save and load open_clip models; every model source is parsed in one place.

Model sources (:func:`parse_source`):

- ``NAME`` or ``NAME:TAG``: an open_clip architecture (built-in or one of compclip's
  configs in ``configs/``) with random weights or open_clip's pretrained tag
  (``ViT-B-32:laion400m_e32``; fetching the tag needs network access);
- ``hf-hub:org/repo``: open_clip's Hugging Face hub loading;
- ``local-dir:/path``, a plain folder path or ``s3://bucket/prefix``: a compclip model folder.

A compclip model folder holds ``open_clip_model.safetensors``, ``open_clip_config.json``
(``model_name``, ``model_cfg``, ``preprocess_cfg``: open_clip's own local-dir format) and
``manifest.json`` with the sha256 of every file. Loading verifies the manifest and refuses
any other weight file, so a model from S3 can never run code (no pickles).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import open_clip
import torch
from safetensors.torch import save_model as save_safetensors

from compclip import __version__
from compclip.errors import UserError
from compclip.storage import local_dir, sha256_file, verify_files, write_json

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


def load_model(source: str, device: str = "cpu") -> ModelBundle:
    """Load a model from any source (see the module docstring)."""
    parsed = parse_source(source)
    if parsed.kind == "open_clip":
        return create_model(parsed.name, parsed.pretrained, device)
    if parsed.kind == "hf-hub":
        spec = f"hf-hub:{parsed.name}"
        model, train_tf, eval_tf = open_clip.create_model_and_transforms(spec, device=device)
        return ModelBundle(model, spec, train_tf, eval_tf, open_clip.get_tokenizer(spec), {"source": source})
    with local_dir(parsed.name) as folder:
        if (folder / REFERENCE).is_file():
            return load_model(read_reference(folder), device)
        manifest = verify_folder(folder)
        spec = f"local-dir:{folder}"
        model, train_tf, eval_tf = open_clip.create_model_and_transforms(spec, device=device)
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
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / REFERENCE, {"source": source})


def read_reference(folder: Path) -> str:
    return json.loads((folder / REFERENCE).read_text())["source"]


def verify_folder(folder: Path) -> dict:
    """Check a model folder against its manifest; return the manifest."""
    manifest_path = folder / MANIFEST
    if not manifest_path.is_file():
        raise UserError(f"{folder}: not a compclip model folder (no {MANIFEST})")
    manifest = json.loads(manifest_path.read_text())
    foreign = sorted(p.name for p in folder.iterdir() if p.suffix in (".bin", ".pt", ".pth", ".pkl", ".ckpt"))
    if foreign:
        raise UserError(f"{folder}: refusing pickle-based weight files {foreign}; only safetensors load")
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

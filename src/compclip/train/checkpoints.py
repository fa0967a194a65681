"""Training checkpoints: pickle-free, verified by a sha256 manifest, kept at a local or s3:// URI.

A checkpoint ``step_{n}/`` holds ``student.safetensors`` and ``teacher.safetensors`` (weights),
``optimizer.safetensors`` (AdamW's moment tensors), ``state.json`` (the step, the optimizer's
hyper-parameters, the schedule and the fp16 loss scaler), ``losses.jsonl`` (the loss curve so
far) and, written last, ``checkpoint.json``: the run's fingerprint
(:mod:`compclip.train.fingerprint`) and the sha256 of every other file. Nothing is unpickled, so a
checkpoint read back from a bucket cannot run code, and a file that does not match the manifest is
refused, naming it, before anything is loaded.

The training loop draws no global random state (crops, negative draws and the shuffle are seeded
by seed, step and epoch), so no RNG state is stored: a resumed run repeats the uninterrupted one.

:class:`CheckpointDir` keeps the checkpoints of a URI in a local working folder; with an s3:// URI
each one is uploaded when saved (its manifest last, so a half-uploaded checkpoint is never
resumed from) and downloaded to resume, so a preempted pod continues on another machine.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import safetensors.torch
import torch
from torch import nn

from compclip.errors import UserError
from compclip.files import parse_json, read_json
from compclip.outputs import claimed_work, release_work
from compclip.storage import (
    filesystem,
    is_remote,
    plain_mode,
    read_bytes,
    sha256_file,
    split_uri,
    verify_files,
    write_json,
)

log = logging.getLogger(__name__)

MANIFEST = "checkpoint.json"
FORMAT = "compclip-checkpoint-v1"
STUDENT, TEACHER = "student.safetensors", "teacher.safetensors"
OPTIMIZER, STATE = "optimizer.safetensors", "state.json"


@dataclass
class TrainState:
    """What a checkpoint saves and restores; ``optimizer``, ``scheduler`` and ``scaler`` are
    anything with ``state_dict``/``load_state_dict`` (accelerate's wrappers included)."""

    student: nn.Module
    teacher: nn.Module | None
    optimizer: Any
    scheduler: Any
    scaler: Any | None = None


def write_state(state: TrainState, step: int, folder: Path) -> None:
    """The state's files (all but the manifest) into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    safetensors.torch.save_model(state.student, str(folder / STUDENT))
    if state.teacher is not None:
        safetensors.torch.save_model(state.teacher, str(folder / TEACHER))
    optimizer = state.optimizer.state_dict()
    tensors, plain = {}, {}
    for index, values in optimizer["state"].items():
        for name, value in values.items():
            if isinstance(value, torch.Tensor):
                tensors[f"{index}.{name}"] = value.detach().cpu().contiguous()
            else:
                plain.setdefault(str(index), {})[name] = value
    safetensors.torch.save_file(tensors, str(folder / OPTIMIZER))
    for weights in folder.glob("*.safetensors"):
        plain_mode(weights)
    write_json(
        folder / STATE,
        {
            "step": step,
            "optimizer": {"param_groups": optimizer["param_groups"], "state": plain},
            "scheduler": state.scheduler.state_dict(),
            "scaler": state.scaler.state_dict() if state.scaler is not None else None,
        },
    )


def read_state(state: TrainState, folder: Path) -> int:
    """Restore ``state`` from a verified checkpoint folder; returns its step."""
    saved = read_json(folder / STATE, required=("step", "optimizer", "scheduler"))
    safetensors.torch.load_model(state.student, folder / STUDENT)
    if state.teacher is not None:
        safetensors.torch.load_model(state.teacher, folder / TEACHER)
    params = [p for group in state.optimizer.param_groups for p in group["params"]]
    moments: dict[int, dict] = {}
    for key, value in safetensors.torch.load_file(folder / OPTIMIZER).items():
        index, name = key.split(".", 1)
        param = params[int(index)]
        if value.shape == param.shape:  # the parameter's memory layout (channels-last), as fused AdamW needs
            value = torch.empty_like(param, dtype=value.dtype, device="cpu").copy_(value)
        moments.setdefault(int(index), {})[name] = value
    for index, values in saved["optimizer"]["state"].items():
        moments.setdefault(int(index), {}).update(values)
    state.optimizer.load_state_dict({"state": moments, "param_groups": saved["optimizer"]["param_groups"]})
    state.scheduler.load_state_dict(saved["scheduler"])
    if state.scaler is not None and saved["scaler"] is not None:
        state.scaler.load_state_dict(saved["scaler"])
    return saved["step"]


def verify(folder: Path, where: str) -> dict:
    """Check every file of a checkpoint folder against its manifest; returns the manifest."""
    if not (folder / MANIFEST).is_file():
        raise UserError(f"{where}: not a checkpoint (no {MANIFEST})")
    manifest = read_json(folder / MANIFEST, required=("files",))
    files = manifest["files"]
    unlisted = sorted({p.name for p in folder.iterdir()} - {MANIFEST} - set(files))
    if unlisted:
        raise UserError(f"{where}/{unlisted[0]}: not in the checkpoint's {MANIFEST}; refusing to resume")
    verify_files(folder, files, where)
    return manifest


class CheckpointDir:
    """The ``step_{n}`` checkpoints under ``uri`` (a local folder or s3:// prefix), worked on in
    ``local`` (the folder itself when ``uri`` is local)."""

    def __init__(self, uri: str, local: Path) -> None:
        self.uri, self.local = uri.rstrip("/"), local
        self.fs, self.path = filesystem(uri)
        self.path = self.path.rstrip("/")

    def steps(self) -> list[int]:
        """Steps of the complete checkpoints (those with a manifest), ascending."""
        self.fs.invalidate_cache(self.path)
        found = self.fs.glob(f"{self.path}/step_*/{MANIFEST}")
        names = (Path(f).parent.name.removeprefix("step_") for f in found)
        return sorted(int(n) for n in names if n.isdigit())

    def fingerprint(self, step: int) -> dict:
        """The run fingerprint a checkpoint was saved with (read from its manifest, plain JSON)."""
        where = f"{self.uri}/step_{step}/{MANIFEST}"
        return parse_json(read_bytes(where), where, required=("fingerprint",))["fingerprint"]

    def save(self, state: TrainState, step: int, fingerprint: dict, extra: dict[str, bytes]) -> None:
        """Write checkpoint ``step`` (with ``extra`` files), publish it, then drop the older ones."""
        tmp, final = self.local / f".step_{step}.tmp", self.local / f"step_{step}"
        shutil.rmtree(tmp, ignore_errors=True)
        write_state(state, step, tmp)
        for name, data in extra.items():
            (tmp / name).write_bytes(data)
        files = {p.name: sha256_file(str(p)) for p in sorted(tmp.iterdir())}
        write_json(
            tmp / MANIFEST, {"format": FORMAT, "step": step, "fingerprint": fingerprint, "files": files}
        )
        shutil.rmtree(final, ignore_errors=True)
        tmp.rename(final)
        if is_remote(self.uri):
            for name in [*files, MANIFEST]:  # the manifest last: it marks the checkpoint complete
                self.fs.put_file(str(final / name), f"{self.path}/step_{step}/{name}")
        self._drop_older(step)
        log.info("checkpoint %s/step_%d", self.uri, step)

    def fetch(self, step: int) -> Path:
        """A local, verified copy of checkpoint ``step``."""
        where = f"{self.uri}/step_{step}"
        folder = self.local / f"step_{step}"
        if is_remote(self.uri):
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir(parents=True)
            self.fs.get(f"{self.path}/step_{step}/", str(folder), recursive=True)
        verify(folder, where)
        return folder

    def clear(self) -> None:
        """Remove every checkpoint of the run (after it finished), then the folder if compclip made it;
        nothing else under ``uri`` is touched."""
        self.fs.invalidate_cache(self.path)
        for entry in self.fs.ls(self.path, detail=False) if self.fs.exists(self.path) else []:
            if Path(entry).name.startswith(("step_", ".step_")):
                self.fs.rm(entry, recursive=True)
        release_work(self.uri)
        if is_remote(self.uri):
            shutil.rmtree(self.local, ignore_errors=True)

    def _drop_older(self, step: int) -> None:
        self.fs.invalidate_cache(self.path)
        for entry in self.fs.ls(self.path, detail=False) if self.fs.exists(self.path) else []:
            name = Path(entry).name
            if name != f"step_{step}" and name.startswith(("step_", ".step_")):
                self.fs.rm(entry, recursive=True)
        if is_remote(self.uri):
            for old in self.local.glob("step_*"):
                if old.name != f"step_{step}":
                    shutil.rmtree(old)


@contextmanager
def open_checkpoints(uri: str) -> Iterator[CheckpointDir]:
    """:class:`CheckpointDir` of ``uri``, with a temporary working folder when it is remote; ``uri`` is
    claimed as compclip's work folder first (:func:`compclip.outputs.claim_work`)."""
    with claimed_work(uri, "checkpoints"):  # a run refused before its first checkpoint leaves no folder
        if not is_remote(uri):
            yield CheckpointDir(uri, Path(split_uri(uri)[1]))
            return
        with tempfile.TemporaryDirectory(prefix="compclip-checkpoints-") as tmp:
            yield CheckpointDir(uri, Path(tmp))

"""Work folders (a stage's resume state) at a local path or an s3:// prefix, worked on locally.

A stage reads and writes its work files in a local folder: the work folder itself when it is
local; for an s3:// one, a temporary folder that first receives the files already there, and
from which every finished file is uploaded whole (one PUT: a reader sees the old object or the
new one, never part of one). A stage uploads the record that marks a unit of work done after the
unit's other files, so a pod killed mid-way leaves nothing that a resumed run, on another node,
takes for done. The folder is claimed as compclip's first (:func:`compclip.outputs.claim_work`);
:meth:`WorkFolder.remove` deletes the files it knows (pulled or pushed), then the folder's marker.
"""

from __future__ import annotations

import hashlib
import json
import logging
import tempfile
from pathlib import Path

import fsspec

from compclip import storage
from compclip.outputs import WORK_MARKER, claim_work, release_work
from compclip.storage import is_remote, s3_access, split_uri

log = logging.getLogger(__name__)


def join(work_dir: str | Path, name: str) -> str:
    """``work_dir/name`` for a local path or an s3:// URI (a Path would fold ``s3://`` to ``s3:/``)."""
    return f"{str(work_dir).rstrip('/')}/{name}"


def task_work_dir(root: str, stage: str, *inputs: object) -> str | None:
    """A pipeline task's work folder under ``root`` (None when ``root`` is empty): one per stage and
    inputs (artifact URIs, settings), so the task run again on the same inputs (a retry, a retried
    run, a later run whose upstream tasks were cached) resumes from it, and a task on other inputs
    never meets it."""
    if not root:
        return None
    digest = hashlib.sha256(json.dumps(inputs, sort_keys=True, default=str).encode()).hexdigest()[:16]
    return join(root, f"{stage}-{digest}")


class WorkFolder:
    """The work folder ``uri`` of ``stage``, claimed; ``local`` is where the stage works on it.

    ``pull``: the top-level names (files or subfolders) to download from an s3:// folder, so a
    folder that holds the work folders of other stages (a shared prefix) is not fetched whole.
    """

    def __init__(self, uri: str | Path, stage: str, pull: tuple[str, ...] = ()) -> None:
        self.uri = str(uri).rstrip("/")
        claim_work(self.uri, stage)
        self.remote = is_remote(self.uri)
        self._known: set[str] = set()  # relative names of the files on S3
        if not self.remote:
            self.local = Path(split_uri(self.uri)[1])
            return
        self._tmp = tempfile.TemporaryDirectory(prefix=f"compclip-{stage}-work-")  # removed with self
        self.local = Path(self._tmp.name)
        self.path = split_uri(self.uri)[1].strip("/")
        self._pull(pull)

    def _pull(self, names: tuple[str, ...]) -> None:
        fs = fsspec.filesystem("s3")
        with s3_access(self.uri):
            fs.invalidate_cache(self.path)
            found = fs.find(self.path) if fs.exists(self.path) else []
            for key in found:
                name = storage.safe_relative(key[len(self.path) + 1 :], self.uri)
                if name != WORK_MARKER and name.split("/", 1)[0] in names:
                    (self.local / name).parent.mkdir(parents=True, exist_ok=True)
                    fs.get_file(key, str(self.local / name))
                    self._known.add(name)
        if self._known:
            log.info("resuming from %s: %d work files", self.uri, len(self._known))

    def push(self, *names: str) -> None:
        """Upload the named local files (relative names), in order; nothing to do when local."""
        if not self.remote:
            return
        fs = fsspec.filesystem("s3")
        with s3_access(self.uri):
            for name in names:
                fs.put_file(str(self.local / name), f"{self.path}/{name}")
                self._known.add(name)

    def push_new(self, folder: str) -> None:
        """Upload the files under the local subfolder ``folder`` not uploaded yet."""
        if self.remote:
            base = self.local / folder
            names = (p.relative_to(self.local).as_posix() for p in sorted(base.rglob("*")) if p.is_file())
            self.push(*(n for n in names if n not in self._known))

    def remove(self) -> None:
        """Delete the work folder once the stage's output is published (only what compclip wrote)."""
        if self.remote:
            fs = fsspec.filesystem("s3")
            with s3_access(self.uri):
                keys = [f"{self.path}/{name}" for name in sorted(self._known)]
                for start in range(0, len(keys), 1000):
                    fs.rm(keys[start : start + 1000])
                fs.invalidate_cache(self.path)
            self._tmp.cleanup()
        release_work(self.uri)

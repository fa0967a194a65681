"""Stage outputs: written only where compclip owns the place, published whole, never half-visible.

Every output folder holds a marker, ``_compclip.json``, listing its files (relative name -> size).
The marker is what makes a place compclip's: a stage writes to an ``--out`` that does not exist,
is an empty folder, or holds a marker; anything else (a folder of the user's, a bucket root, a
prefix with foreign objects) is refused with one line. Publication (docs/storage.md):

- **Local**: the output is staged in a hidden folder beside ``out`` and renamed into place; the old
  output is moved aside first and then only the files its marker lists are deleted.
- **S3** (no rename there): the files go under ``OUT/_compclip/GENERATION/``, then the pointer
  ``OUT/_compclip.json`` (the marker plus the generation) is written last, as a compare-and-swap on
  the previous pointer's ETag. Readers (:mod:`compclip.storage`) read only what a pointer lists, so
  a killed upload leaves the previous output whole, or nothing a reader accepts. The old
  generation's listed files are deleted only after the new pointer is in place.

Work folders (resume state, checkpoints) carry a ``_compclip-work.json`` marker of their own and
are removed only when compclip created them (:func:`claim_work`, :func:`release_work`).
"""

from __future__ import annotations

import hashlib
import logging
import os
import secrets
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import fsspec

from compclip import storage
from compclip.errors import UserError
from compclip.storage import GENERATIONS, MARKER, s3_access, split_uri

log = logging.getLogger(__name__)
WORK_MARKER = "_compclip-work.json"


def check_place(uri: str) -> None:
    """Refuse an output place compclip does not own (see the module docstring); return if it may write."""
    scheme, path = split_uri(uri)
    if scheme == "s3":
        _check_s3_place(uri, path.strip("/"))
        return
    place = Path(path)
    if place.exists() and not place.is_dir():
        raise UserError(f"output {uri} exists and is not a folder; choose another --out")
    if place.is_dir() and not (place / MARKER).is_file() and any(place.iterdir()):
        raise UserError(
            f"output {uri} is a folder compclip did not write (no {MARKER}); choose a new or empty "
            "--out (compclip never replaces what it did not write)"
        )


def _check_s3_place(uri: str, path: str) -> None:
    if "/" not in path:
        raise UserError(f"output {uri} is a bucket root; give a prefix inside it (s3://bucket/NAME)")
    fs = fsspec.filesystem("s3")
    with s3_access(uri):
        if storage.read_pointer(path) is not None:
            return
        if fs.isfile(path):
            raise UserError(f"output {uri} exists and is an object, not a folder; choose another --out")
        foreign = storage.some_keys(path, skip=GENERATIONS)
    if foreign:
        raise UserError(
            f"output {uri} holds objects compclip did not write (e.g. s3://{foreign[0]}; no {MARKER}); "
            "choose a new prefix (compclip never replaces what it did not write)"
        )


def file_sizes(folder: Path) -> dict[str, int]:
    """Every file below ``folder`` but its marker: relative name -> size."""
    return {
        p.relative_to(folder).as_posix(): p.stat().st_size
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.relative_to(folder).as_posix() != MARKER
    }


@contextmanager
def local_out(uri: str) -> Iterator[Path]:
    """A fresh local folder to write a stage's output into, published to ``uri`` only on success.

    The place is checked first (:func:`check_place`); a stage that raises leaves nothing new
    under ``uri`` and the previous output, if any, as it was.
    """
    check_place(uri)
    scheme, path = split_uri(uri)
    if scheme == "file":
        final = Path(path)
        final.parent.mkdir(parents=True, exist_ok=True)
        stage = Path(tempfile.mkdtemp(dir=final.parent, prefix=f".{final.name}.staging-"))
        try:
            stage.chmod(0o777 & ~storage.umask())
            yield stage
            storage.write_marker(stage, file_sizes(stage))
            _replace_dir(stage, final)
        finally:
            shutil.rmtree(stage, ignore_errors=True)
        return
    with tempfile.TemporaryDirectory(prefix="compclip-out-") as tmp:
        yield Path(tmp)
        publish_s3(Path(tmp), uri)


def _replace_dir(stage: Path, final: Path) -> None:
    old = None
    if final.is_dir() and any(final.iterdir()):
        old = final.with_name(f".{final.name}.old-{os.getpid()}")
        os.replace(final, old)
    elif final.is_dir():
        final.rmdir()
    os.replace(stage, final)
    if old is not None:
        remove_listed(old, _listed(old))


def _listed(folder: Path) -> list[str]:
    marker = storage.parse_marker((folder / MARKER).read_bytes(), str(folder / MARKER))
    return [*marker["files"], MARKER]


def remove_listed(folder: Path, names: list[str]) -> None:
    """Delete the named files of ``folder``, then the folders they leave empty; anything else stays
    (and is logged)."""
    for name in names:
        (folder / storage.safe_relative(name, str(folder))).unlink(missing_ok=True)
    for sub in sorted((p for p in folder.rglob("*") if p.is_dir()), key=lambda p: -len(p.parts)):
        if not any(sub.iterdir()):
            sub.rmdir()
    if any(folder.iterdir()):
        log.warning("kept %s: it holds files compclip did not write", folder)
    else:
        folder.rmdir()


def publish_s3(folder: Path, uri: str) -> None:
    """Upload ``folder`` as a new generation of the output ``uri``, then point ``uri`` at it."""
    root = split_uri(uri)[1].strip("/")
    with s3_access(uri):
        old = storage.pointer_and_etag(root)
    files = file_sizes(folder)
    generation = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()) + "-" + secrets.token_hex(4)
    keys = [f"{root}/{GENERATIONS}/{generation}/{name}" for name in files]
    _upload(folder, files, keys, uri)
    body = storage.marker_body(files, generation=generation)
    with s3_access(uri):
        published = storage.put_if(f"{root}/{MARKER}", body, None if old is None else old[1])
    storage.forget_pointer(root)
    if not published:
        _remove_keys(keys, uri)
        raise UserError(f"{uri} was published by another run while this one uploaded; nothing was replaced")
    if old is not None:
        stale = storage.Located(root, old[0].get("generation"), old[0]["files"], "")
        _remove_keys([stale.key(name) for name in stale.files], uri)
    log.info("published %d files to %s (generation %s)", len(files), uri, generation)


def add_files(folder: Path, uri: str, names: list[str]) -> None:
    """Add the named files of ``folder`` to the published output ``uri`` (local: the folder itself,
    whose marker is rewritten; S3: into its generation, then a new pointer). For files a reader of the
    old pointer never reads (new names), or the same bytes again (a retried task)."""
    scheme, path = split_uri(uri)
    if scheme == "file":
        if not (folder / MARKER).is_file():
            raise UserError(f"{uri} is not a compclip output (no {MARKER})")
        storage.write_marker(folder, file_sizes(folder))
        return
    root = path.strip("/")
    with s3_access(uri):
        old = storage.pointer_and_etag(root)
    if old is None:
        raise UserError(f"{uri} is not a published compclip output (no {MARKER})")
    where = storage.Located(root, old[0].get("generation"), old[0]["files"], "")
    _upload(folder, {n: 0 for n in names}, [where.key(n) for n in names], uri)
    files = where.files | {name: (folder / name).stat().st_size for name in names}
    body = storage.marker_body(files, generation=where.generation)
    with s3_access(uri):
        swapped = storage.put_if(f"{root}/{MARKER}", body, old[1])
    if not swapped:
        raise UserError(f"{uri} was republished while files were added to it; run the step again")
    storage.forget_pointer(root)


def _upload(folder: Path, files: dict[str, int], keys: list[str], uri: str) -> None:
    fs = fsspec.filesystem("s3")
    try:
        with s3_access(uri):
            if keys:
                fs.put([str(folder / name) for name in files], keys)
    except (OSError, UserError) as err:
        _remove_keys(keys, uri, quiet=True)
        raise UserError(f"uploading to {uri} failed, nothing was published: {err}") from err


def _remove_keys(keys: list[str], uri: str, quiet: bool = False) -> None:
    fs = fsspec.filesystem("s3")
    try:
        with s3_access(uri):
            for start in range(0, len(keys), 1000):
                fs.rm(keys[start : start + 1000])
    except (OSError, UserError) as err:
        if not quiet:
            raise
        log.warning("could not remove the partial upload under %s (%s); no reader sees it", uri, err)
    fs.invalidate_cache()


def work_dir(out: str, stage: str) -> Path:
    """Where a stage keeps work files until its output ``out`` is written, so a killed run resumes.

    Beside a local ``out`` (``.NAME.STAGE-work``); for an s3:// ``out``, a temp folder named after it
    and its endpoint (the same bucket name on two S3 servers is two outputs).
    """
    scheme, path = split_uri(out)
    if scheme == "file":
        return Path(path).with_name(f".{Path(path).name}.{stage}-work")
    digest = hashlib.sha256(f"{os.environ.get('AWS_ENDPOINT_URL', '')} {out}".encode()).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / f"compclip-{stage}-work-{digest}"


def claim_work(uri: str, stage: str) -> None:
    """Make ``uri`` (a local folder or s3:// prefix) a work folder of ``stage``: created (or an empty
    one adopted) with a marker, or an earlier one of compclip's reused (resume). Refuses a bucket root
    and a folder holding what compclip did not write."""
    scheme, path = split_uri(uri)
    refusal = f"work folder {uri} holds files compclip did not write (no {WORK_MARKER}); give an empty one"
    if scheme == "file":
        folder = Path(path)
        if folder.exists() and not folder.is_dir():
            raise UserError(f"work folder {uri} exists and is not a folder")
        if (folder / WORK_MARKER).is_file():
            return
        if folder.is_dir() and any(folder.iterdir()):
            raise UserError(refusal)
        folder.mkdir(parents=True, exist_ok=True)
        storage.write_json(folder / WORK_MARKER, {"stage": stage})
        return
    path = path.strip("/")
    if "/" not in path:
        raise UserError(f"work folder {uri} is a bucket root; give a prefix inside it (s3://bucket/NAME)")
    fs = fsspec.filesystem("s3")
    with s3_access(uri):
        if fs.exists(f"{path}/{WORK_MARKER}"):
            return
        if storage.some_keys(path):
            raise UserError(refusal)
        fs.pipe_file(f"{path}/{WORK_MARKER}", storage.json_bytes({"stage": stage}))


@contextmanager
def claimed_work(uri: str, stage: str) -> Iterator[None]:
    """:func:`claim_work` for the span of a stage: a folder this call made and the stage left empty (it
    failed before it wrote any state, e.g. on bad input) is removed again, so a refused run leaves
    nothing behind; one holding state stays for the resumed run."""
    fresh = not _work_exists(uri)
    claim_work(uri, stage)
    try:
        yield
    except BaseException:
        if fresh and _only_the_marker(uri):
            release_work(uri)
        raise


def _work_exists(uri: str) -> bool:
    scheme, path = split_uri(uri)
    if scheme == "file":
        return Path(path).exists()
    with s3_access(uri):
        return bool(storage.some_keys(path.strip("/"), limit=1))


def _only_the_marker(uri: str) -> bool:
    scheme, path = split_uri(uri)
    if scheme == "file":
        return [p.name for p in Path(path).iterdir()] == [WORK_MARKER]
    with s3_access(uri):
        return [k.rsplit("/", 1)[-1] for k in storage.some_keys(path.strip("/"), limit=2)] == [WORK_MARKER]


def release_work(uri: str) -> None:
    """Remove a work folder compclip created (it holds its marker); anything else is left alone.

    Local: the whole folder (it was new or empty when claimed). S3: only the marker; the stage
    removes the objects it wrote first."""
    scheme, path = split_uri(uri)
    if scheme == "file":
        if (Path(path) / WORK_MARKER).is_file():
            shutil.rmtree(path)
        return
    fs = fsspec.filesystem("s3")
    with s3_access(uri):
        fs.rm_file(f"{path.strip('/')}/{WORK_MARKER}")
        fs.invalidate_cache()

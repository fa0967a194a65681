"""One place that turns paths and URIs (local, ``file://``, ``s3://``) into files.

S3 goes through fsspec/s3fs, so the endpoint and credentials come from the usual
AWS settings (``AWS_ENDPOINT_URL``, ``AWS_ACCESS_KEY_ID``, ...), never from code.
"""

from __future__ import annotations

import glob
import hashlib
import io
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

import fsspec
import pyarrow as pa
import pyarrow.parquet as pq

from compclip.errors import UserError

SCHEMES = ("s3", "file")
HASH_CHUNK = 1 << 22


def split_uri(uri: str) -> tuple[str, str]:
    """Return ``(scheme, path)``; plain paths are ``("file", absolute path)``. Raises on unknown schemes."""
    if "://" not in uri:
        return "file", str(Path(uri).expanduser().resolve())
    scheme, path = uri.split("://", 1)
    if scheme not in SCHEMES:
        raise UserError(f"unsupported URI scheme {scheme!r} in {uri!r}; use a local path or s3://bucket/key")
    if not path:
        raise UserError(f"empty path in URI {uri!r}")
    return scheme, path if scheme == "s3" else str(Path(path).resolve())


def uri_name(uri: str) -> str:
    """The last part of a path or URI (``s3://b/reports/base/`` -> ``base``)."""
    return uri.rstrip("/").rsplit("/", 1)[-1]


def filesystem(uri: str) -> tuple[fsspec.AbstractFileSystem, str]:
    scheme, path = split_uri(uri)
    return fsspec.filesystem(scheme), path


def is_remote(uri: str) -> bool:
    return split_uri(uri)[0] != "file"


def expand(inputs: list[str], keep: Callable[[str], bool] | None = None) -> list[str]:
    """Expand globs in local paths and s3:// URIs; directories expand to the files below them.

    ``keep`` filters the files found below a directory (named files and glob matches always stay).

    Returns URIs (``s3://...``) or absolute local paths, sorted and de-duplicated.
    Raises a UserError naming the first input that matches nothing.
    """
    found: list[str] = []
    for item in inputs:
        scheme, path = split_uri(item)
        fs = fsspec.filesystem(scheme)
        with s3_access(item):
            matches = fs.glob(path) if glob.has_magic(path) else ([path] if fs.exists(path) else [])
        if not matches:
            raise UserError(f"no such file: {item}")
        for match in matches:
            files = [f for f in fs.find(match) if keep is None or keep(f)] if fs.isdir(match) else [match]
            prefix = "s3://" if scheme == "s3" else ""
            found.extend(prefix + f for f in files if not Path(f).name.startswith((".", "_")))
    return sorted(set(found))


@contextmanager
def open_uri(uri: str, mode: str = "rb") -> Iterator[IO]:
    fs, path = filesystem(uri)
    try:
        with s3_access(uri):
            handle = fs.open(path, mode)
    except FileNotFoundError as err:
        raise UserError(f"no such file: {uri}") from err
    with handle:
        yield handle


def read_bytes(uri: str) -> bytes:
    with open_uri(uri) as handle:
        return handle.read()


def sha256_file(uri: str) -> str:
    digest = hashlib.sha256()
    with open_uri(uri) as handle:
        while chunk := handle.read(HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write a local file so that a killed process leaves either the old file or the new one.

    The file gets the mode a plain ``open`` would give it (0666 less the umask), not
    ``mkstemp``'s 0600, so reports stay readable by a web server or another container user.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        os.fchmod(fd, 0o666 & ~_umask())
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json(path: Path, data: dict, sort_keys: bool = True) -> None:
    """Indented JSON (keys sorted unless told otherwise), written atomically."""
    atomic_write_bytes(path, (json.dumps(data, indent=2, sort_keys=sort_keys) + "\n").encode())


def write_parquet(path: Path, table: pa.Table) -> None:
    """A zstd-compressed Parquet file, written atomically."""
    buffer = io.BytesIO()
    pq.write_table(table, buffer, compression="zstd")
    atomic_write_bytes(path, buffer.getvalue())


@contextmanager
def local_copy(uri: str) -> Iterator[tuple[Path, str]]:
    """A local path holding the file ``uri`` and its content sha256, reading a remote file once.

    A local file is hashed where it is; a remote one is downloaded to a temp folder (keeping its
    name, so its extension still tells its format) and hashed on the way.
    """
    scheme, path = split_uri(uri)
    if scheme == "file":
        yield Path(path), sha256_file(uri)
        return
    digest = hashlib.sha256()
    with tempfile.TemporaryDirectory(prefix="compclip-") as tmp:
        local = Path(tmp) / Path(path).name
        with open_uri(uri) as source, local.open("wb") as target:
            while chunk := source.read(HASH_CHUNK):
                digest.update(chunk)
                target.write(chunk)
        yield local, digest.hexdigest()


@contextmanager
def local_dir(uri: str, include: Callable[[str], bool] | None = None) -> Iterator[Path]:
    """A local folder holding the contents of ``uri`` (downloaded to a temp dir when remote).

    ``include`` picks, by path relative to ``uri``, which remote files to download (default: all).
    """
    scheme, path = split_uri(uri)
    if scheme == "file":
        if not Path(path).is_dir():
            raise UserError(f"no such folder: {uri}")
        yield Path(path)
        return
    fs = fsspec.filesystem(scheme)
    with s3_access(uri):
        if not fs.isdir(path):
            raise UserError(f"no such folder: {uri}")
    with tempfile.TemporaryDirectory(prefix="compclip-") as tmp:
        with s3_access(uri):
            if include is None:
                fs.get(path.rstrip("/") + "/", tmp, recursive=True)
            else:
                root = path.rstrip("/") + "/"
                for key in fs.find(root):
                    relative = key[len(root) :]
                    if include(relative):
                        (Path(tmp) / relative).parent.mkdir(parents=True, exist_ok=True)
                        fs.get_file(key, str(Path(tmp) / relative))
        yield Path(tmp)


def work_dir(out: str, stage: str) -> Path:
    """Where a stage keeps work files until its output ``out`` is written, so a killed run resumes.

    Beside a local ``out`` (``.NAME.STAGE-work``); for an s3:// ``out``, a temp folder named after it.
    """
    scheme, path = split_uri(out)
    if scheme == "file":
        return Path(path).with_name(f".{Path(path).name}.{stage}-work")
    digest = hashlib.sha256(out.encode()).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / f"compclip-{stage}-work-{digest}"


def exists(uri: str) -> bool:
    fs, path = filesystem(uri)
    with s3_access(uri):
        return fs.exists(path)


def is_dir(uri: str) -> bool:
    fs, path = filesystem(uri)
    with s3_access(uri):
        return fs.isdir(path)


@contextmanager
def local_path(uri: str) -> Iterator[Path]:
    """A local file or folder holding ``uri`` (remote: a folder as :func:`local_dir` fetches it, a
    file as :func:`local_copy` does, under its own name)."""
    scheme, path = split_uri(uri)
    if scheme == "file":
        if not Path(path).exists():
            raise UserError(f"no such file or folder: {uri}")
        yield Path(path)
        return
    if fsspec.filesystem(scheme).isdir(path):
        with local_dir(uri) as folder:
            yield folder
        return
    with local_copy(uri) as (local, _):
        yield local


@contextmanager
def local_out(uri: str) -> Iterator[Path]:
    """A fresh local folder to write a stage's output into, published to ``uri`` only on success.

    Local ``uri``: the folder is staged beside the destination and renamed into place, replacing
    an old output whole. ``s3://``: staged in a temp folder, then uploaded; objects left under the
    prefix by an older output are deleted, and an upload that fails part-way removes what it wrote.
    Either way a stage that raises leaves nothing new under ``uri``.
    """
    scheme, path = split_uri(uri)
    if scheme == "file":
        final = Path(path)
        final.parent.mkdir(parents=True, exist_ok=True)
        stage = Path(tempfile.mkdtemp(dir=final.parent, prefix=f".{final.name}.staging-"))
        try:
            stage.chmod(0o777 & ~_umask())
            yield stage
            _replace_dir(stage, final)
        finally:
            shutil.rmtree(stage, ignore_errors=True)
        return
    with tempfile.TemporaryDirectory(prefix="compclip-out-") as tmp:
        yield Path(tmp)
        upload_dir(Path(tmp), uri)


def _replace_dir(stage: Path, final: Path) -> None:
    old = None
    if final.exists():
        if not final.is_dir():
            raise UserError(f"output {final} exists and is not a folder")
        old = final.with_name(f".{final.name}.old-{os.getpid()}")
        os.replace(final, old)
    os.replace(stage, final)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def put_files(folder: Path, uri: str, names: list[str]) -> None:
    """Upload the named files of ``folder`` under the prefix ``uri``, in the order given."""
    fs, prefix = filesystem(uri)
    for name in names:
        fs.put_file(str(folder / name), f"{prefix.rstrip('/')}/{name}")
    fs.invalidate_cache(prefix)


def upload_dir(folder: Path, uri: str) -> None:
    """Make the prefix ``uri`` hold exactly the files of ``folder`` (removing a partial upload on failure)."""
    fs, prefix = filesystem(uri)
    prefix = prefix.rstrip("/")
    files = sorted(p for p in folder.rglob("*") if p.is_file())
    with s3_access(uri):
        stale = set(fs.find(prefix)) if fs.exists(prefix) else set()
    written: list[str] = []
    try:
        for file in files:
            key = f"{prefix}/{file.relative_to(folder).as_posix()}"
            fs.put_file(str(file), key)
            written.append(key)
            stale.discard(key)
    except BaseException:
        for key in written:
            fs.rm_file(key)
        raise
    for key in sorted(stale):
        fs.rm_file(key)
    fs.invalidate_cache(prefix)


@contextmanager
def s3_access(uri: str) -> Iterator[None]:
    """Turn an S3 credential or connection failure into one UserError naming the endpoint and bucket."""
    from botocore.exceptions import BotoCoreError, NoCredentialsError

    try:
        yield
    except (PermissionError, BotoCoreError) as err:
        scheme, path = split_uri(uri)
        if scheme != "s3":
            raise
        endpoint = os.environ.get("AWS_ENDPOINT_URL") or "the AWS default endpoint"
        if isinstance(err, NoCredentialsError):
            cause = (
                "no credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (on Kubeflow: the S3 Secret)"
            )
        elif isinstance(err, PermissionError):
            cause = f"access denied ({err}): a wrong key or secret, or no right to the bucket"
        else:
            cause = f"cannot connect ({err})"
        raise UserError(f"S3 at {endpoint}, bucket {path.split('/')[0]!r}: {cause}") from err


def verify_files(folder: Path, files: dict[str, str], where: str | Path) -> None:
    """Check every ``name -> sha256`` of a manifest against the files of ``folder``; a UserError
    prefixed ``where`` names the first file that is missing or differs."""
    for name, expected in files.items():
        path = folder / name
        if not path.is_file():
            raise UserError(f"{where}: {name} listed in the manifest is missing")
        if sha256_file(str(path)) != expected:
            raise UserError(f"{where}: {name} does not match its sha256 in the manifest")

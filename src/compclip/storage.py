"""One place that turns paths and URIs (local, ``file://``, ``s3://``) into files.

S3 goes through fsspec/s3fs, so the endpoint and credentials come from the usual
AWS settings (``AWS_ENDPOINT_URL``, ``AWS_ACCESS_KEY_ID``, ...), never from code.

Reading follows compclip's output contract (:mod:`compclip.outputs`, docs/storage.md): an S3 prefix
holding a ``_compclip.json`` pointer is a stage output, and a reader sees exactly the files that
pointer lists, under the generation it names; an output whose pointer was never written (a killed
upload) reads as missing. Anything else (a raw corpus, COCO images) reads as it is.
"""

from __future__ import annotations

import fnmatch
import glob
import hashlib
import io
import json
import os
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import fsspec
import pyarrow as pa
import pyarrow.parquet as pq

from compclip.errors import UserError

SCHEMES = ("s3", "file")
HASH_CHUNK = 1 << 22
MARKER = "_compclip.json"  # in every output folder; on S3 the pointer to the output's generation
GENERATIONS = "_compclip"  # S3: an output's files live under PREFIX/_compclip/GENERATION/
OUTPUT_FORMAT = "compclip-output/1"


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


def s3_form(uri: str) -> str:
    """An artifact URI of Kubeflow's MinIO (``minio://BUCKET/KEY``: an S3 API) as ``s3://BUCKET/KEY``;
    any other URI as it is."""
    return "s3://" + uri.removeprefix("minio://") if uri.startswith("minio://") else uri


def uri_name(uri: str) -> str:
    """The last part of a path or URI (``s3://b/reports/base/`` -> ``base``)."""
    return uri.rstrip("/").rsplit("/", 1)[-1]


def filesystem(uri: str) -> tuple[fsspec.AbstractFileSystem, str]:
    scheme, path = split_uri(uri)
    return fsspec.filesystem(scheme), path


def is_remote(uri: str) -> bool:
    return split_uri(uri)[0] != "file"


def safe_relative(name: str, where: str) -> str:
    """``name`` if it is a plain relative path (no ``..``, no absolute or empty parts), else a UserError:
    a key or manifest entry never becomes a local path outside the folder it is read into."""
    parts = name.split("/")
    if not name or name.startswith("/") or any(p in ("", ".", "..") for p in parts) or "\\" in name:
        raise UserError(f"{where}: refusing the unsafe file name {name!r}")
    return name


@dataclass(frozen=True)
class Located:
    """Where an s3:// path falls inside a published output: its ``root`` (``bucket/key``), the
    pointer's listed ``files`` (relative name -> size), its ``generation`` and the path's ``rel``.

    A marker without a generation is an output folder copied to S3 as it is (a Kubeflow artifact
    the launcher uploaded, a synced folder): its listed files sit at their names under the root."""

    root: str
    generation: str | None
    files: dict[str, int]
    rel: str

    def key(self, name: str) -> str:
        if self.generation is None:
            return f"{self.root}/{name}"
        return f"{self.root}/{GENERATIONS}/{self.generation}/{name}"

    def below(self) -> list[str]:
        """The listed files at or under ``rel``, relative to the root."""
        if not self.rel:
            return sorted(self.files)
        return sorted(f for f in self.files if f == self.rel or f.startswith(self.rel + "/"))


_POINTERS: dict[str, tuple[dict | None, float]] = {}
NO_POINTER_TTL = 5.0  # seconds a "no output here" answer is reused (a raw corpus has many files)


def read_pointer(root: str) -> dict | None:
    """The pointer of the output at ``root`` (``bucket/key``), None when there is none.

    A pointer once read is kept for the life of the process, so one process reads one generation
    of an output (a republished output's old files vanish: a clear "no such file", never a mix);
    a missing one is asked again after :data:`NO_POINTER_TTL`.
    """
    cached = _POINTERS.get(root)
    if cached is not None and (cached[0] is not None or time.monotonic() - cached[1] < NO_POINTER_TTL):
        return cached[0]
    try:
        data = fsspec.filesystem("s3").cat_file(f"{root}/{MARKER}")
    except FileNotFoundError:
        data = None
    pointer = None if data is None else parse_marker(data, f"s3://{root}/{MARKER}", pointer=True)
    _POINTERS[root] = (pointer, time.monotonic())
    return pointer


def forget_pointer(root: str) -> None:
    """Drop ``root``'s cached pointer (after this process published there)."""
    _POINTERS.pop(root, None)


def parse_marker(data: bytes, where: str, pointer: bool = False) -> dict:
    """A marker's (or S3 pointer's) JSON, checked: a known format, safe file names, integer sizes."""
    try:
        marker = json.loads(data)
        files = marker["files"]
        ok = marker.get("format") == OUTPUT_FORMAT and isinstance(files, dict)
        ok = ok and all(isinstance(n, int) for n in files.values())
        if pointer:
            ok = ok and isinstance(marker.get("generation", ""), str)
    except (ValueError, KeyError, TypeError) as err:
        raise UserError(f"{where}: not a compclip output marker ({err})") from None
    if not ok:
        raise UserError(f"{where}: not a compclip output marker of format {OUTPUT_FORMAT}")
    for name in files:
        safe_relative(name, where)
    if pointer and "generation" in marker:
        safe_relative(marker["generation"], where)
    return marker


def locate(uri: str) -> Located | None:
    """The published output that the s3:// ``uri`` falls in (its nearest ancestor with a pointer)."""
    scheme, path = split_uri(uri)
    if scheme != "s3":
        return None
    parts = path.strip("/").split("/")
    with s3_access(uri):
        for i in range(len(parts), 1, -1):
            pointer = read_pointer("/".join(parts[:i]))
            if pointer is not None:
                rel = "/".join(parts[i:])
                return Located("/".join(parts[:i]), pointer.get("generation"), pointer["files"], rel)
    return None


def _physical(uri: str) -> str:
    """The s3:// object that holds ``uri`` (a file of a published output maps into its generation)."""
    found = locate(uri)
    if found is None:
        return uri
    if found.rel not in found.files:
        raise UserError(f"no such file: {uri} (not listed in s3://{found.root}/{MARKER})")
    return "s3://" + found.key(found.rel)


def put_if(path: str, body: bytes, etag: str | None) -> bool:
    """Write the S3 object ``path`` only if it is still the one whose ETag is ``etag`` (``None``: only if
    there is none); False when another writer got there first (412, or 409 while one is in flight)."""
    from botocore.exceptions import ClientError

    bucket, _, key = path.partition("/")
    condition = {"IfNoneMatch": "*"} if etag is None else {"IfMatch": etag}
    try:
        fsspec.filesystem("s3").call_s3("put_object", Bucket=bucket, Key=key, Body=body, **condition)
    except OSError as err:
        cause = err.__cause__
        code = cause.response.get("Error", {}).get("Code") if isinstance(cause, ClientError) else None
        if code in ("PreconditionFailed", "ConditionalRequestConflict"):
            return False
        raise
    return True


def pointer_and_etag(root: str) -> tuple[dict, str] | None:
    """The output pointer at ``root`` (``bucket/key``) as it is now, with its ETag (for :func:`put_if`)."""
    fs = fsspec.filesystem("s3")
    try:
        etag = fs.info(f"{root}/{MARKER}", refresh=True)["ETag"]
        data = fs.cat_file(f"{root}/{MARKER}")
    except FileNotFoundError:
        return None
    return parse_marker(data, f"s3://{root}/{MARKER}", pointer=True), etag


def some_keys(path: str, skip: str | None = None, limit: int = 10) -> list[str]:
    """Up to ``limit`` object keys under the S3 prefix ``path`` (``bucket/key``), leaving out those under
    ``path/skip/``; one listing request, not the whole prefix (empty 'folders' are not objects)."""
    bucket, _, key = path.strip("/").partition("/")
    prefix = f"{key}/" if key else ""
    fs = fsspec.filesystem("s3")
    response = fs.call_s3("list_objects_v2", Bucket=bucket, Prefix=prefix, MaxKeys=1000)
    keys = [f"{bucket}/{item['Key']}" for item in response.get("Contents", [])]
    if skip is not None:
        keys = [k for k in keys if not k.startswith(f"{path.strip('/')}/{skip}/")]
    return keys[:limit]


def _refuse_unfinished(uri: str) -> None:
    """A prefix with generations but no pointer is an output whose upload never finished."""
    fs, path = filesystem(uri)
    if fs.exists(f"{path.rstrip('/')}/{GENERATIONS}"):
        raise UserError(
            f"{uri} holds an unfinished compclip output (no {MARKER}: its upload was killed or failed); "
            "run its stage again"
        )


def expand(inputs: list[str], keep: Callable[[str], bool] | None = None) -> list[str]:
    """Expand globs in local paths and s3:// URIs; directories expand to the files below them.

    ``keep`` filters the files found below a directory (named files and glob matches always stay).
    Inside a published S3 output only the files its pointer lists are seen.

    Returns URIs (``s3://...``) or absolute local paths, sorted and de-duplicated.
    Raises a UserError naming the first input that matches nothing.
    """
    found: list[str] = []
    for item in inputs:
        scheme, path = split_uri(item)
        fs = fsspec.filesystem(scheme)
        output = locate(_static_part(item)) if scheme == "s3" else None
        if output is not None:
            found.extend(_expand_in_output(item, output, keep))
            continue
        with s3_access(item):
            matches = fs.glob(path) if glob.has_magic(path) else ([path] if fs.exists(path) else [])
        if not matches:
            raise UserError(f"no such file: {item}")
        for match in matches:
            if fs.isdir(match):
                if scheme == "s3":
                    _refuse_unfinished("s3://" + match)
                files = [f for f in fs.find(match) if keep is None or keep(f)]
            else:
                files = [match]
            prefix = "s3://" if scheme == "s3" else ""
            found.extend(prefix + f for f in files if not _hidden(f))
    return sorted(set(found))


def _hidden(path: str) -> bool:
    return Path(path).name.startswith((".", "_"))


def _static_part(uri: str) -> str:
    """The part of a glob before its first wildcard, cut back to a whole path segment."""
    if not glob.has_magic(uri):
        return uri
    head = uri[: min(uri.index(c) for c in "*?[" if c in uri)]
    return head.rsplit("/", 1)[0]


def _expand_in_output(item: str, output: Located, keep: Callable[[str], bool] | None) -> list[str]:
    pattern = split_uri(item)[1].strip("/")[len(output.root) + 1 :]
    if glob.has_magic(item):
        depth = pattern.count("/")  # a wildcard stays within one path segment, as in a glob
        names = [f for f in output.files if f.count("/") == depth and fnmatch.fnmatchcase(f, pattern)]
    else:
        names = [f for f in Located(output.root, output.generation, output.files, pattern).below()]
        names = [f for f in names if f == pattern or keep is None or keep(f)]
    names = [f for f in names if not _hidden(f)]
    if not names:
        raise UserError(f"no such file: {item}")
    return [f"s3://{output.root}/{f}" for f in names]


@contextmanager
def open_uri(uri: str, mode: str = "rb") -> Iterator[IO]:
    fs, path = filesystem(_physical(uri) if "r" in mode else uri)
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


def read_range(uri: str, offset: int, size: int) -> bytes:
    """``size`` bytes of the file ``uri`` from ``offset`` (on S3 one ranged GET, not the object)."""
    fs, path = filesystem(_physical(uri))
    try:
        with s3_access(uri):
            return fs.cat_file(path, start=offset, end=offset + size)
    except FileNotFoundError as err:
        raise UserError(f"no such file: {uri}") from err


def sha256_file(uri: str) -> str:
    digest = hashlib.sha256()
    with open_uri(uri) as handle:
        while chunk := handle.read(HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def content_hashes(uri: str) -> dict[str, str]:
    """``relative path -> sha256`` of every file at ``uri`` (a file, a folder or an s3:// prefix)."""
    scheme, path = split_uri(uri)
    root = path.rstrip("/") if scheme == "file" else uri.rstrip("/")
    return {_relative(f, root): sha256_file(f) for f in expand([uri])}


def _relative(file: str, root: str) -> str:
    if file == root:
        return Path(file).name
    return file[len(root) + 1 :] if file.startswith(root + "/") else file


def umask() -> int:
    """The process's umask (read without changing it)."""
    mask = os.umask(0)
    os.umask(mask)
    return mask


def plain_mode(path: Path) -> None:
    """Give a file that a library wrote (safetensors writes 0600) the mode of a plain ``open``:
    0666 less the umask, like every other output."""
    os.chmod(path, 0o666 & ~umask())


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write a local file so that a killed process leaves either the old file or the new one.

    The file gets the mode a plain ``open`` would give it (0666 less the umask), not
    ``mkstemp``'s 0600, so reports stay readable by a web server or another container user.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        os.fchmod(fd, 0o666 & ~umask())
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def json_bytes(data: dict, sort_keys: bool = True) -> bytes:
    """Indented JSON (keys sorted unless told otherwise), as the bytes compclip writes everywhere."""
    return (json.dumps(data, indent=2, sort_keys=sort_keys) + "\n").encode()


def write_json(path: Path, data: dict, sort_keys: bool = True) -> None:
    """Indented JSON (keys sorted unless told otherwise), written atomically."""
    atomic_write_bytes(path, json_bytes(data, sort_keys))


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
    A published output is read through its pointer: only the files it lists, its marker rewritten
    beside them (so the copy equals the local output), and an unfinished one is refused.
    """
    scheme, path = split_uri(uri)
    if scheme == "file":
        if not Path(path).is_dir():
            raise UserError(f"no such folder: {uri}")
        yield Path(path)
        return
    fs = fsspec.filesystem(scheme)
    root = path.rstrip("/")
    output = locate(uri)
    with s3_access(uri):
        if output is None and not fs.isdir(root):
            raise UserError(f"no such folder: {uri}")
    if output is None:
        _refuse_unfinished(uri)
        with s3_access(uri):
            names = [safe_relative(key[len(root) + 1 :], uri) for key in fs.find(root)]
        sources = {name: f"{root}/{name}" for name in names}
    else:
        cut = len(output.rel) + 1 if output.rel else 0
        sources = {name[cut:]: output.key(name) for name in output.below() if name != output.rel}
        if not sources:
            raise UserError(f"no such folder: {uri}")
    wanted = {name: key for name, key in sources.items() if include is None or include(name)}
    with tempfile.TemporaryDirectory(prefix="compclip-") as tmp:
        targets = [str(Path(tmp) / name) for name in wanted]
        with s3_access(uri):
            if wanted:
                fs.get(list(wanted.values()), targets)
        if output is not None and not output.rel:
            write_marker(Path(tmp), output.files)
        yield Path(tmp)


def marker_body(files: dict[str, int], generation: str | None = None) -> bytes:
    """The bytes of an output's marker (``files``: relative name -> size; deterministic), with the
    ``generation`` its files are under on S3 (none: at their names, as in a local folder)."""
    extra = {} if generation is None else {"generation": generation}
    return json_bytes({"format": OUTPUT_FORMAT, "files": dict(sorted(files.items())), **extra})


def write_marker(folder: Path, files: dict[str, int]) -> None:
    atomic_write_bytes(folder / MARKER, marker_body(files))


def exists(uri: str) -> bool:
    output = locate(uri)
    if output is not None:
        return bool(output.below())
    fs, path = filesystem(uri)
    with s3_access(uri):
        return fs.exists(path)


def is_dir(uri: str) -> bool:
    output = locate(uri)
    if output is not None:
        return any(name != output.rel for name in output.below())
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
    if is_dir(uri):
        with local_dir(uri) as folder:
            yield folder
        return
    with local_copy(uri) as (local, _):
        yield local


@contextmanager
def s3_access(uri: str) -> Iterator[None]:
    """Turn an S3 credential or connection failure into one UserError naming the endpoint and the URI."""
    from botocore.exceptions import BotoCoreError, NoCredentialsError

    try:
        yield
    except (PermissionError, BotoCoreError) as err:
        if split_uri(uri)[0] != "s3":
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
        raise UserError(f"S3 at {endpoint}, {uri}: {cause}") from err


def verify_files(folder: Path, files: dict[str, str], where: str | Path) -> None:
    """Check every ``name -> sha256`` of a manifest against the files of ``folder``; a UserError
    prefixed ``where`` names the first file that is missing or differs."""
    for name, expected in files.items():
        path = folder / name
        if not path.is_file():
            raise UserError(f"{where}: {name} listed in the manifest is missing")
        if sha256_file(str(path)) != expected:
            raise UserError(f"{where}: {name} does not match its sha256 in the manifest")


def write_bytes(uri: str, data: bytes) -> None:
    """One file at a local path or s3:// URI that a reader never sees half-written (local: renamed
    into place; S3: an object appears whole when its upload completes)."""
    scheme, path = split_uri(uri)
    if scheme == "file":
        atomic_write_bytes(Path(path), data)
        return
    with open_uri(uri, "wb") as handle:
        handle.write(data)

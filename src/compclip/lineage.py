"""Lineage of a pipeline run: one manifest per run, and the run's outputs on the DVC remote.

``record`` writes ``lineage.json``: the run id, the git commit of the code, the params of every
stage, and the content hash (sha256) of every file of every input and output. ``push`` hands
each output to DVC (``dvc add --to-remote``: DVC hashes it and uploads it to the repository's
remote, writing ``lineage/RUN_ID/NAME.dvc``) and copies the manifest beside them. Commit
``lineage/RUN_ID`` and anyone with the repository gets the run's data with one command::

    dvc pull -R lineage/RUN_ID

Command line::

    compclip lineage record --out out/lineage --run-id demo-1 --commit "$(git rev-parse HEAD)" \\
        --params params.yaml --input corpus=s3://bucket/laion --output pmi=out/pmi
    compclip lineage push out/lineage/lineage.json --repo .
"""

from __future__ import annotations

import argparse
import hashlib
import re
import time
from pathlib import Path

from compclip import __version__
from compclip.cli import add_command
from compclip.config import load_params
from compclip.errors import UserError
from compclip.files import read_json
from compclip.storage import content_hashes, exists, s3_form, write_json

MANIFEST = "lineage.json"
RUNS = "lineage"
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")

EXAMPLES = """examples:
  compclip lineage record --out out/lineage --run-id demo-1 --commit "$(git rev-parse HEAD)" \\
      --params params.yaml --input corpus=s3://bucket/laion --output pmi=data/pmi --output base=models/base
  compclip lineage push out/lineage/lineage.json --repo .   # commit lineage/demo-1; then anywhere:
  dvc pull -R lineage/demo-1
"""


def record(
    run_id: str,
    commit: str,
    params: dict,
    inputs: dict[str, str],
    outputs: dict[str, str],
    copies: dict[str, str] | None = None,
) -> dict:
    """The manifest of one run: ``inputs`` and ``outputs`` map names to URIs, each hashed file by file;
    ``copies`` maps a name to a local folder holding the same files, hashed instead of its URI (a
    Kubeflow task's inputs, already downloaded)."""
    for name in (run_id, *inputs, *outputs):
        check_name(name)

    def entry(name: str, uri: str) -> dict:
        return {"uri": uri, "files": content_hashes((copies or {}).get(name, uri))}

    return {
        "kind": "compclip-run",
        "run_id": run_id,
        "git_commit": commit,
        "compclip_version": __version__,
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "params": params,
        "inputs": {name: entry(name, uri) for name, uri in inputs.items()},
        "outputs": {name: entry(name, uri) for name, uri in outputs.items()},
    }


def check_name(name: str) -> None:
    """Refuse a run id or output name that is not safe as one path part (it names a folder or file
    in the repository): no '/', no '..'."""
    if not isinstance(name, str) or not NAME.fullmatch(name) or ".." in name:
        raise UserError(f"lineage name {name!r}: use letters, digits, '.', '_' or '-' (no '..')")


def push(manifest: dict, repo: Path, remote: str | None = None) -> Path:
    """Upload every output to the DVC remote of ``repo``; write ``lineage/RUN_ID/*.dvc``, a .gitignore
    for the outputs ``dvc pull`` brings there, and the manifest."""
    from dvc.exceptions import DvcException, NotDvcRepoError
    from dvc.repo import Repo

    for name in (manifest["run_id"], *manifest["outputs"]):
        check_name(name)
    sources = {name: _source(name, output["uri"]) for name, output in manifest["outputs"].items()}
    try:
        dvc = Repo(str(repo))
    except NotDvcRepoError:
        raise UserError(f"{repo}: not in a DVC repository (`dvc init` one, or pass --repo)") from None
    folder = repo / RUNS / manifest["run_id"]
    folder.mkdir(parents=True, exist_ok=True)
    with dvc:
        dvc.scm_context.quiet = True  # not DVC's "git add" hint after every output: the caller says it once
        objects = dvc.cloud.get_remote_odb(remote, "push")
        before = _upload_leftovers(objects)
        for name, source in sources.items():
            try:  # `dvc add --to-remote --out FOLDER/NAME URI`
                dvc.add(source, out=str(folder / name), to_remote=True, remote=remote)
            except DvcException as err:
                raise UserError(f"dvc could not push output {name} ({source}): {err}") from err
        _remove_leftovers(objects, _upload_leftovers(objects) - before)
    ignored = sorted(f"/{name}" for name in manifest["outputs"])
    (folder / ".gitignore").write_text("".join(f"{line}\n" for line in ignored))
    write_json(folder / MANIFEST, manifest)
    return folder


def _source(name: str, uri: str) -> str:
    """Where push reads the output ``name`` recorded at ``uri``: a local folder, or an S3 prefix read
    with this machine's AWS settings (Kubeflow's ``minio://`` artifacts are S3 objects of its MinIO);
    checked here, so an output push cannot read fails in one line before anything is uploaded."""
    source = s3_form(uri)
    scheme = source.split("://", 1)[0] if "://" in source else "file"
    if scheme == "s3" and exists(source):
        return source
    if scheme == "file" and Path(source).exists():
        return source
    where = {"file": "not on this machine (a pod's path?)", "s3": "nothing there"}.get(
        scheme, "a scheme push cannot read (local paths, s3:// and minio://)"
    )
    raise UserError(f"output {name} is at {uri}: {where}")


# `dvc add --to-remote` uploads each file as OBJECTS/.TOKEN.tmp, copies it to its content address and
# leaves the temporary object behind (dvc-data 3.x, hashfile/build.py: one orphan per file, doubling
# what the remote stores; BENCHMARKS.md). push removes the ones its own upload left: new since it
# started, named as DVC names them, and holding the bytes of an object now stored (their ETag, the
# MD5 of a single-part upload, is that object's address).
LEFTOVER = re.compile(r"\.[A-Za-z0-9_-]{22}\.tmp")


def _upload_leftovers(objects) -> set[str]:
    """The temporary upload objects directly under the remote's object folder."""
    fs = objects.fs.fs
    if not fs.exists(objects.path):
        return set()
    fs.invalidate_cache(objects.path)  # a listing from before the upload would hide what it left
    return {path for path in fs.ls(objects.path, detail=False) if LEFTOVER.fullmatch(path.rsplit("/", 1)[-1])}


def _remove_leftovers(objects, paths: set[str]) -> None:
    """Remove each of ``paths`` whose bytes are stored at their content address (MD5)."""
    fs = objects.fs.fs
    for path in sorted(paths):
        etag = str(fs.info(path).get("ETag", "")).strip('"')
        if not re.fullmatch(r"[0-9a-f]{32}", etag):  # a multipart upload's or a local file's: hash it
            digest = hashlib.md5()
            with fs.open(path, "rb") as handle:
                for block in iter(lambda: handle.read(1 << 20), b""):
                    digest.update(block)
            etag = digest.hexdigest()
        if fs.exists(f"{objects.path}/{etag[:2]}/{etag[2:]}"):
            fs.rm_file(path)


def pull_hint(folder: Path, repo: Path) -> str:
    """What to do after :func:`push` wrote ``folder`` in ``repo``: commit it, then pull anywhere."""
    where = folder.relative_to(repo)
    return f"commit {where} with git, then anywhere: dvc pull -R {where}"


def _pairs(items: list[str] | None, flag: str) -> dict[str, str]:
    pairs = {}
    for item in items or []:
        name, sep, uri = item.partition("=")
        if not sep or not name or not uri:
            raise UserError(f"{flag} {item!r}: give NAME=URI")
        pairs[name] = uri
    return pairs


def register(commands: argparse._SubParsersAction) -> None:
    parser = add_command(
        commands, "lineage", "a run's lineage manifest and its outputs on DVC", EXAMPLES, description=__doc__
    )
    verbs = parser.add_subparsers(dest="verb", required=True, metavar="VERB")
    rec = add_command(verbs, "record", "write lineage.json for one run", EXAMPLES)
    rec.add_argument("--out", type=Path, required=True, help="folder to write lineage.json into")
    rec.add_argument("--run-id", required=True)
    rec.add_argument("--commit", default="unknown", help="git commit of the code that ran")
    rec.add_argument("--params", type=Path, help="params YAML (or JSON) file of the run")
    rec.add_argument("--input", action="append", metavar="NAME=URI", help="an input to hash (repeatable)")
    rec.add_argument("--output", action="append", metavar="NAME=URI", help="an output to hash (repeatable)")
    rec.set_defaults(func=_record)
    up = add_command(verbs, "push", "push a run's outputs to the DVC remote; write lineage/RUN_ID/", EXAMPLES)
    up.add_argument("manifest", type=Path, help="lineage.json")
    up.add_argument("--repo", type=Path, default=Path("."), help="the DVC repository (default: %(default)s)")
    up.add_argument("--remote", help="DVC remote name (default: the repository's default remote)")
    up.set_defaults(func=_push)


def _record(args: argparse.Namespace) -> None:
    params = load_params(args.params) if args.params else {}
    outputs = _pairs(args.output, "--output")
    if not outputs:
        raise UserError("give at least one --output NAME=URI")
    manifest = record(args.run_id, args.commit, params, _pairs(args.input, "--input"), outputs)
    write_json(args.out / MANIFEST, manifest)
    n = sum(len(o["files"]) for o in manifest["outputs"].values())
    print(f"wrote {args.out / MANIFEST}: run {args.run_id}, {len(outputs)} outputs, {n} files hashed")


def _push(args: argparse.Namespace) -> None:
    if not args.manifest.is_file():
        raise UserError(f"no such manifest: {args.manifest}")
    manifest = read_json(args.manifest, required=("run_id", "outputs"))
    folder = push(manifest, args.repo.resolve(), args.remote)
    print(
        f"pushed {len(manifest['outputs'])} outputs of run {manifest['run_id']}; "
        f"{pull_hint(folder, args.repo.resolve())}"
    )

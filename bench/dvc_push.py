"""DVC push and pull to the local SeaweedFS: how long a run's lineage push (`dvc add --to-remote`, as
:func:`compclip.lineage.push` does) and the `dvc pull -R lineage/RUN_ID` that brings the outputs back
take, for a folder of small files or for a run's outputs. Run:

    .venv/bin/python bench/dvc_push.py [--files 5000] [--bytes 800]        # one folder of N files
    .venv/bin/python bench/dvc_push.py --manifest out/kfp/RUN/lineage-record/lineage/lineage.json
    .venv/bin/python bench/dvc_push.py --output world=data/world --output evalsets=data/evalsets

``--manifest`` takes a run's outputs from its lineage manifest, ``--output NAME=FOLDER`` adds (or
replaces) one; each output is pushed, then pulled into the same repository (the push leaves neither
the data nor DVC's cache there), and the files, bytes and seconds of both are printed per output and
in all.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from compclip import s3local


def count(folder: Path) -> tuple[int, int]:
    """Files and bytes under ``folder``."""
    files = [p for p in folder.rglob("*") if p.is_file()]
    return len(files), sum(p.stat().st_size for p in files)


def outputs(args: argparse.Namespace, root: Path) -> dict[str, Path]:
    """The folders to push by output name (a generated folder of small files when none is given)."""
    chosen: dict[str, Path] = {}
    if args.manifest:
        manifest = json.loads(Path(args.manifest).read_text())
        chosen = {name: Path(output["uri"]) for name, output in manifest["outputs"].items()}
    for given in args.output:
        name, _, folder = given.partition("=")
        chosen[name] = Path(folder)
    if not chosen:
        data = root / "data"
        data.mkdir()
        for i in range(args.files):
            (data / f"{i:07d}.png").write_bytes(os.urandom(args.bytes))
        chosen = {"data": data}
    return chosen


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=5000)
    parser.add_argument("--bytes", type=int, default=800, help="bytes a file (the world's PNGs: ~760)")
    parser.add_argument("--manifest", help="a run's lineage.json: push and pull its outputs")
    parser.add_argument("--output", action="append", default=[], help="NAME=FOLDER, an output to push")
    args = parser.parse_args()
    from compclip.lineage import push

    with tempfile.TemporaryDirectory(prefix="compclip-dvc-push-") as tmp:
        root = Path(tmp)
        server = s3local.start(root / "s3", bucket="push-bench")
        os.environ.update(server.env())
        try:
            repo = root / "repo"
            repo.mkdir()
            subprocess.run(["git", "init", "-q"], cwd=repo, check=True)
            dvc = [sys.executable, "-m", "dvc"]
            subprocess.run([*dvc, "init", "-q"], cwd=repo, check=True)
            subprocess.run(
                [*dvc, "remote", "add", "-q", "-d", "s3", "s3://push-bench/dvc"], cwd=repo, check=True
            )
            chosen = outputs(args, root)
            sizes = {name: count(folder) for name, folder in chosen.items()}
            manifest = {"run_id": "bench", "outputs": {n: {"uri": str(f)} for n, f in chosen.items()}}
            start = time.perf_counter()
            folder = push(manifest, repo, "s3")
            pushed = time.perf_counter() - start
            cache = repo / ".dvc" / "cache"
            if any((folder / name).exists() for name in chosen) or (cache.exists() and count(cache)[0]):
                raise SystemExit("the push left data in the repository: the pull would not be measured")
            start = time.perf_counter()
            subprocess.run([*dvc, "pull", "-q", "-R", str(folder)], cwd=repo, check=True)
            pulled = time.perf_counter() - start
            for name in chosen:
                if count(folder / name) != sizes[name]:
                    raise SystemExit(f"{name}: the pull brought {count(folder / name)}, pushed {sizes[name]}")
        finally:
            s3local.stop_pid(server.pid)
    for name, (files, size) in sizes.items():
        print(f"{name:24s} {files:8d} files {size / 1e6:9.1f} MB")
    files, size = (sum(v[i] for v in sizes.values()) for i in (0, 1))
    print(f"{'all':24s} {files:8d} files {size / 1e6:9.1f} MB")
    for verb, seconds in (("push", pushed), ("pull", pulled)):
        print(f"{verb} {seconds:.1f} s ({files / seconds:.0f} files/s)")


if __name__ == "__main__":
    main()

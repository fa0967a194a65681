"""DVC push throughput to the local SeaweedFS: how long a run's lineage push (`dvc add --to-remote`,
as :func:`compclip.lineage.push` does) takes per file of a folder of small files. Run:

    .venv/bin/python bench/dvc_push.py [--files 5000] [--bytes 800]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from compclip import s3local


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=5000)
    parser.add_argument("--bytes", type=int, default=800, help="bytes a file (the world's PNGs: ~760)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="compclip-dvc-push-") as tmp:
        root = Path(tmp)
        server = s3local.start(root / "s3", bucket="push-bench")
        os.environ.update(server.env())
        try:
            repo, data = root / "repo", root / "data"
            repo.mkdir()
            data.mkdir()
            subprocess.run(["git", "init", "-q"], cwd=repo, check=True)
            dvc = [sys.executable, "-m", "dvc"]
            subprocess.run([*dvc, "init", "-q"], cwd=repo, check=True)
            subprocess.run([*dvc, "remote", "add", "-q", "s3", "s3://push-bench/dvc"], cwd=repo, check=True)
            for i in range(args.files):
                (data / f"{i:07d}.png").write_bytes(os.urandom(args.bytes))
            from dvc.repo import Repo

            start = time.perf_counter()
            with Repo(str(repo)) as project:
                project.add(str(data), out=str(repo / "data"), to_remote=True, remote="s3")
            seconds = time.perf_counter() - start
        finally:
            s3local.stop_pid(server.pid)
    print(f"{args.files} files of {args.bytes} B in {seconds:.1f} s: {args.files / seconds:.0f} files/s")


if __name__ == "__main__":
    main()

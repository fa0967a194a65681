"""Dataset formats compared on world images: a folder of PNGs, tar shards with an index
(compclip.shards), parquet shards with image bytes. Write, sequential read and random access,
locally and against the local SeaweedFS (S3 range reads), and DVC push/pull (``--dvc``). Run:

    OMP_NUM_THREADS=1 .venv/bin/python bench/dataset_format.py [--n 3000] [--shard-size 1000] [--dvc]
    OMP_NUM_THREADS=1 .venv/bin/python bench/dataset_format.py --n 60000 --shard-size 2000 --dvc --formats tar
"""

from __future__ import annotations

import argparse
import io
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import fsspec
import pyarrow as pa
import pyarrow.parquet as pq

from compclip import s3local
from compclip.shards import ShardWriter, read_image, read_index, stream
from compclip.world.preset import load_world
from compclip.world.render import Renderer
from compclip.world.sampler import CorpusSampler

ROW_GROUP = 100  # parquet: rows a row group, the unit of a random read


def render(n: int) -> list[tuple[str, bytes]]:
    from PIL import Image

    world = load_world("default", {})
    sampler, renderer = CorpusSampler(world), Renderer(world)
    images = []
    for i in range(n):
        buffer = io.BytesIO()
        Image.fromarray(renderer.render(sampler.item(0, i)[0])).save(buffer, format="PNG", compress_level=1)
        images.append((f"{i:07d}.png", buffer.getvalue()))
    return images


def timed(fn) -> tuple[float, object]:
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def write_folder(root: Path, images: list[tuple[str, bytes]], _: int) -> None:
    (root / "images").mkdir(parents=True)
    for name, data in images:
        (root / "images" / name).write_bytes(data)


def write_tar(root: Path, images: list[tuple[str, bytes]], shard_size: int) -> None:
    with ShardWriter(root, shard_size) as writer:
        for name, data in images:
            writer.add(name, data)


def write_parquet(root: Path, images: list[tuple[str, bytes]], shard_size: int) -> None:
    (root / "shards").mkdir(parents=True)
    for k, start in enumerate(range(0, len(images), shard_size)):
        part = images[start : start + shard_size]
        table = pa.table({"name": [n for n, _ in part], "png": pa.array([d for _, d in part], pa.binary())})
        pq.write_table(
            table, root / "shards" / f"{k:06d}.parquet", row_group_size=ROW_GROUP, compression="none"
        )


def read_all(fmt: str, root: str, names: list[str], shard_size: int) -> int:
    fs, path = fsspec.core.url_to_fs(root)
    total = 0
    if fmt == "folder":
        for name in names:
            total += len(fs.cat_file(f"{path}/images/{name}"))
    elif fmt == "tar":
        wanted = {}
        for i, name in enumerate(names):
            wanted.setdefault(f"shards/{i // shard_size:06d}.tar", set()).add(name)
        total = sum(len(data) for _, _, data in stream(root, wanted, {}))
    else:
        for shard in sorted(fs.ls(f"{path}/shards", detail=False)):
            with fs.open(shard, "rb") as handle:
                for batch in pq.ParquetFile(handle).iter_batches(columns=["png"]):
                    total += sum(len(v) for v in batch.column(0).to_pylist())
    return total


def read_random(fmt: str, root: str, picks: list[int], names: list[str], shard_size: int) -> int:
    fs, path = fsspec.core.url_to_fs(root)
    total, indexes = 0, {}
    for i in picks:
        shard = i // shard_size
        if fmt == "folder":
            total += len(fs.cat_file(f"{path}/images/{names[i]}"))
        elif fmt == "tar":
            rel = f"shards/{shard:06d}.tar"
            if rel not in indexes:
                indexes[rel] = read_index(f"{root}/{rel}")
            total += len(read_image(root, rel, names[i], indexes[rel]))
        else:
            with fs.open(f"{path}/shards/{shard:06d}.parquet", "rb", block_size=1 << 16) as handle:
                group = (i % shard_size) // ROW_GROUP
                table = pq.ParquetFile(handle).read_row_group(group, columns=["png"])
                total += len(table.column(0)[(i % shard_size) % ROW_GROUP].as_py())
    return total


def dvc_push_pull(folder: Path, tmp: Path, remote: str) -> tuple[float, float, int]:
    repo = tmp / f"repo-{folder.name}"
    repo.mkdir()
    dvc = [sys.executable, "-m", "dvc"]
    run = lambda *args: subprocess.run([*dvc, *args], cwd=repo, check=True, capture_output=True)  # noqa: E731
    subprocess.run(["git", "init", "-q"], cwd=repo, check=True)
    run("init", "-q")
    run("remote", "add", "-d", "s3", f"{remote}/{folder.name}")
    shutil.copytree(folder, repo / "data")
    run("add", "data")
    push, _ = timed(lambda: run("push"))
    shutil.rmtree(repo / "data")
    shutil.rmtree(repo / ".dvc" / "cache")
    pull, _ = timed(lambda: run("pull"))
    files = sum(1 for p in (repo / "data").rglob("*") if p.is_file())
    return push, pull, files


def measure(fmt: str, writer, root: Path, images: list[tuple[str, bytes]], picks: list[int], args) -> list:
    """One row of the table: files, MB, write s, local read img/s and random ms, S3 upload s, stream
    MB/s and random ms, and (``args.dvc``) dvc push and pull s."""
    names, size_each = [n for n, _ in images], args.shard_size
    write_s, _ = timed(lambda: writer(root, images, size_each))
    files = [p for p in root.rglob("*") if p.is_file()]
    size = sum(p.stat().st_size for p in files)
    read_s, got = timed(lambda: read_all(fmt, str(root), names, size_each))
    assert got == sum(len(d) for _, d in images), (fmt, got)
    rand_s, _ = timed(lambda: read_random(fmt, str(root), picks, names, size_each))
    s3 = f"s3://format-bench/{fmt}"
    upload_s, _ = timed(lambda: fsspec.filesystem("s3").put(str(root), s3, recursive=True))
    s3_read_s, _ = timed(lambda: read_all(fmt, s3, names, size_each))
    s3_rand_s, _ = timed(lambda: read_random(fmt, s3, picks, names, size_each))
    row = [fmt, len(files), size / 1e6, write_s, len(names) / read_s, rand_s / len(picks) * 1e3, upload_s,
           size / 1e6 / s3_read_s, s3_rand_s / len(picks) * 1e3]  # fmt: skip
    if args.dvc:
        row += dvc_push_pull(root, root.parent, "s3://format-bench/dvc")[:2]
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=3000)
    parser.add_argument("--shard-size", type=int, default=1000)
    parser.add_argument("--random", type=int, default=200, help="random reads per format")
    parser.add_argument("--dvc", action="store_true", help="also time dvc push and pull of each format")
    parser.add_argument("--formats", default="folder,tar,parquet", help="comma-separated, of those three")
    args = parser.parse_args()
    images = render(args.n)
    picks = random.Random(0).sample(range(args.n), args.random)
    mean = sum(len(d) for _, d in images) / args.n
    print(f"{args.n} world PNGs, {mean:.0f} B each; shard size {args.shard_size}")
    with tempfile.TemporaryDirectory(prefix="compclip-format-") as tmp:
        tmp = Path(tmp)
        server = s3local.start(tmp / "s3", bucket="format-bench")
        os.environ.update(server.env())
        try:
            rows = [
                measure(fmt, writer, tmp / fmt, images, picks, args)
                for fmt, writer in (("folder", write_folder), ("tar", write_tar), ("parquet", write_parquet))
                if fmt in args.formats.split(",")
            ]
            head = "| format | files | MB | write s | local read img/s | local random ms | S3 upload s "
            head += "| S3 stream MB/s | S3 random ms |" + (" dvc push s | dvc pull s |" if args.dvc else "")
            print(head)
            print("|" + "---|" * (head.count("|") - 1))
            for row in rows:
                print("| " + " | ".join(f"{v:,.2f}" if isinstance(v, float) else str(v) for v in row) + " |")
        finally:
            s3local.stop_pid(server.pid)


if __name__ == "__main__":
    main()

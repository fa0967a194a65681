"""A training read of a world corpus, as tar shards and as the older folder of PNGs, local and from
the local SeaweedFS: ``load_pairs`` (stream, decode once into the uint8 cache, tokenise) seconds,
images/s and MB/s; then ``compclip pretrain`` wall time and seconds per step on each local copy.
Run:

    OMP_NUM_THREADS=1 .venv/bin/python bench/dataset_read.py [--n 10000] [--steps 20]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from compclip import s3local
from compclip.cli import main as cli
from compclip.dataset import CAPTIONS, read_images, read_rows
from compclip.models import create_model
from compclip.outputs import local_out, publish_s3
from compclip.rejects import Rejects
from compclip.train.data import DataConfig, load_pairs
from compclip.world import CorpusConfig, write_corpus


def as_folder(sharded: Path, out: Path) -> None:
    """The sharded corpus rewritten in the older layout: ``images/NAME`` files, no ``shard`` column."""
    rows = read_rows(sharded, Rejects())
    with local_out(str(out)) as target:
        (target / "images").mkdir()
        for key, data in read_images(str(sharded), rows, {}):
            (target / "images" / key.rsplit("/", 1)[1]).write_bytes(data)
        table = pa.Table.from_pylist([{**r, "image": f"images/{r['image']}"} for r in rows])
        pq.write_table(table.drop(["shard"]), target / CAPTIONS)


def size_mb(folder: Path) -> float:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) / 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--steps", type=int, default=20, help="pretrain steps per layout (0: none)")
    parser.add_argument("--batch", type=int, default=128)
    args = parser.parse_args()
    tokenizer = create_model("compclip-tiny-rn").tokenizer
    with tempfile.TemporaryDirectory(prefix="compclip-read-") as tmp:
        tmp = Path(tmp)
        write_corpus(str(tmp / "shards"), CorpusConfig(n=args.n, seed=0))
        as_folder(tmp / "shards", tmp / "folder")
        server = s3local.start(tmp / "s3", bucket="read-bench")
        os.environ.update(server.env())
        try:
            print(f"{args.n} world images; batch {args.batch}")
            print("| layout | where | files | MB | load s | img/s | MB/s |")
            print("|---|---|---|---|---|---|---|")
            for layout in ("folder", "shards"):
                local = tmp / layout
                publish_s3(local, f"s3://read-bench/{layout}")
                files = sum(1 for p in local.rglob("*") if p.is_file())
                for where, uri in (("local", str(local)), ("S3", f"s3://read-bench/{layout}")):
                    start = time.perf_counter()
                    pairs = load_pairs(uri, tokenizer, 64, DataConfig(batch_size=args.batch))
                    seconds = time.perf_counter() - start
                    assert len(pairs.ids) == args.n
                    mb = size_mb(local)
                    print(
                        f"| {layout} | {where} | {files:,} | {mb:.1f} | {seconds:.1f} | "
                        f"{args.n / seconds:,.0f} | {mb / seconds:.2f} |"
                    )
        finally:
            s3local.stop_pid(server.pid)
        if args.steps:
            print("| layout | pretrain wall s | steps | s/step (metrics.json) |")
            print("|---|---|---|---|")
            for layout in ("folder", "shards"):
                out = tmp / f"pre-{layout}"
                start = time.perf_counter()
                flags = ["--threads", "1", "--batch-size", str(args.batch), "--max-steps", str(args.steps)]
                cli(["pretrain", "--data", str(tmp / layout), "--out", str(out), *flags, "--seed", "0"])
                wall = time.perf_counter() - start
                metrics = json.loads((out / "metrics.json").read_text())
                print(f"| {layout} | {wall:.1f} | {args.steps} | {metrics['seconds_per_step']:.3f} |")


if __name__ == "__main__":
    main()

"""``compclip data import``: bring an image-caption set from outside the world into a dataset folder
(``captions.parquet`` and its image shards) that ``pretrain``, ``train`` and ``negatives`` read."""

from __future__ import annotations

import argparse
import json

from compclip.cli import add_command
from compclip.config import override_from
from compclip.dataset_import import FORMATS, ImportConfig, import_dataset

EXAMPLES = """examples:
  compclip data import s3://coco/annotations/captions_train2017.json --images s3://coco/train2017 \\
      --out s3://compclip/data/coco-train            # COCO captions: 5 per image, images into shards
  compclip data import s3://laion/cc3m-wds --out s3://compclip/data/cc3m     # img2dataset's tar shards
  compclip data import s3://laion/cc3m-parquet --format parquet --out s3://compclip/data/cc3m
  compclip data import old/finetune --out data/finetune     # an older folder of PNGs, rewritten as shards
  compclip pipeline run --param finetune_data=s3://compclip/data/coco-train   # fine-tune on it
"""


def register(commands: argparse._SubParsersAction) -> None:
    parser = add_command(commands, "data", "image-caption dataset folders", EXAMPLES, description=__doc__)
    verbs = parser.add_subparsers(dest="verb", required=True, metavar="VERB")
    imp = add_command(verbs, "import", "check an image-caption set, write it as a dataset folder", EXAMPLES)
    imp.add_argument(
        "source",
        help="dataset folder, COCO captions JSON, or a folder of img2dataset tar or parquet shards; path or s3://",
    )
    imp.add_argument("--out", required=True, help="dataset folder or s3:// prefix to write")
    imp.add_argument("--images", help="image root of COCO captions (file_name is relative to it)")
    imp.add_argument("--format", choices=FORMATS, help="default (auto): by what the source holds")
    imp.add_argument("--shard-size", type=int, help="images a shard (2000)")
    imp.add_argument("--max-reject-share", type=float, help="fail when more rows are unusable (0.01)")
    imp.set_defaults(func=_import)


def _import(args: argparse.Namespace) -> None:
    config = override_from(ImportConfig(), args, "format", "max_reject_share", "shard_size")
    print(json.dumps(import_dataset(args.source, args.out, args.images, config), indent=2))

"""``compclip paste``: ImageNet-paste, an accessory chosen by PMI stratum pasted on each image.

``run`` edits one shard's images (``--shard i/n``: chunks i, i+n, ... of the images), resumable
from its work folder; ``merge`` joins the shards' folders into one evaluation set.
"""

from __future__ import annotations

import argparse
import json

from compclip.chunks import Shard, add_shard_flags
from compclip.cli import add_command
from compclip.config import load_section, override
from compclip.evalsets.generated import merge_evalsets
from compclip.paste.run import PasteConfig, paste_set

EXAMPLES = """examples:
  compclip paste run --images /data/imagenet/val --pmi s3://bucket/pmi/laion400m \\
      --out s3://bucket/evalsets/paste --params params.yaml      # accessories painted by FLUX.1-dev
  compclip paste run --images val/ --pmi pmi/ --accessories cutouts/ --out paste/   # CONCEPT.png files
  compclip paste run --images val/ --pmi pmi/ --out shards/3 --shard 3/8 --class-map classes.tsv
  compclip paste merge shards/0 shards/1 --out paste/
  compclip evaluate --model ViT-B-32:laion400m_e32 --zeroshot paste/ --out eval/
"""


def register(commands: argparse._SubParsersAction) -> None:
    parser = add_command(commands, "paste", "ImageNet-paste: accessories pasted on images by PMI stratum",
                         EXAMPLES, description=__doc__)  # fmt: skip
    verbs = parser.add_subparsers(dest="verb", required=True, metavar="VERB")
    run = add_command(verbs, "run", "paste accessories on (one shard of) an ImageNet-style folder", EXAMPLES)
    run.add_argument("--images", required=True, help="folder of class folders of images (local or s3://)")
    run.add_argument("--pmi", required=True, help="PMI table folder (local or s3://)")
    run.add_argument("--out", required=True, help="output folder (local or s3://)")
    run.add_argument("--accessories", help="folder of CONCEPT.png accessory images (default: FLUX on white)")
    run.add_argument("--params", help="params.yaml; its `paste` section sets defaults")
    add_shard_flags(run, "image")
    run.add_argument("--class-map", help="file of FOLDER<TAB>CLASS NAME lines")
    run.add_argument("--seed", type=int)
    run.add_argument("--flux-model", help="FLUX pipeline: hub name, local folder or s3:// URI")
    run.add_argument("--device", help="auto (default), cuda or cpu")
    run.set_defaults(func=_run)
    merge = add_command(verbs, "merge", "join the shards' output folders into one evaluation set", EXAMPLES)
    merge.add_argument("shards", nargs="+", help="the shards' output folders (local or s3://)")
    merge.add_argument("--out", required=True, help="output folder (local or s3://)")
    merge.set_defaults(func=_merge)


def _run(args: argparse.Namespace) -> None:
    config = load_section(PasteConfig, args.params, "paste")
    config = override(config, seed=args.seed, class_map=args.class_map,
                      flux=override(config.flux, model=args.flux_model, device=args.device))  # fmt: skip
    metrics = paste_set(args.images, args.pmi, args.out, config, args.accessories, Shard.parse(args.shard),
                        args.work_dir)  # fmt: skip
    print(f"wrote {args.out}: {metrics['n']} pasted images of {metrics['base_images']}")
    print(json.dumps({k: v for k, v in metrics.items() if k.startswith("rejects/")}))


def _merge(args: argparse.Namespace) -> None:
    metrics = merge_evalsets(args.shards, args.out)
    print(f"wrote {args.out}: {metrics['n']} images from {len(args.shards)} shards")

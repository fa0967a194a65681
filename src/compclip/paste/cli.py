"""``compclip paste``: ImageNet-paste, an accessory chosen by PMI stratum pasted on each image.

``accessories`` paints every accessory the set uses once into a cache shared by the shards (the
GPU part); ``run`` edits one shard's images (``--shard i/n``: chunks i, i+n, ... of the images),
resumable from its work folder, reading the cache; ``merge`` joins the shards' folders.
"""

from __future__ import annotations

import argparse
import json

from compclip.chunks import Shard, add_merge_command, add_shard_flags
from compclip.cli import add_command
from compclip.config import add_flag, load_section, override
from compclip.devices import DEVICES
from compclip.evalsets.generated import merge_evalsets
from compclip.genpairs.images import DISTILLED_STEPS, GUIDED_STEPS
from compclip.paste.run import PasteConfig, paint_accessories, paste_set

EXAMPLES = """examples:
  compclip paste accessories --images /data/imagenet/val --pmi s3://bucket/pmi/laion400m \\
      --cache s3://bucket/paste-accessories          # FLUX paints every accessory once (one GPU)
  compclip paste run --images /data/imagenet/val --pmi s3://bucket/pmi/laion400m --out shards/0 \\
      --shard 0/8 --accessory-cache s3://bucket/paste-accessories     # CPU: the cache has them all
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
    add_flag(run, PasteConfig(), "--seed", type=int, help="sampling seed")
    run.add_argument("--accessory-cache", help="painted accessories shared by every shard (local or s3://)")
    _flux_flags(run)
    run.set_defaults(func=_run)
    paint = add_command(verbs, "accessories", "paint every accessory the set uses into the shared cache",
                        EXAMPLES)  # fmt: skip
    paint.add_argument("--images", required=True, help="folder of class folders of images (local or s3://)")
    paint.add_argument("--pmi", required=True, help="PMI table folder (local or s3://)")
    paint.add_argument("--cache", required=True, help="the accessory cache (local or s3://)")
    paint.add_argument("--accessories", help="folder of CONCEPT.png accessory images (none painted)")
    paint.add_argument("--params", help="params.yaml; its `paste` section sets defaults")
    paint.add_argument("--class-map", help="file of FOLDER<TAB>CLASS NAME lines")
    add_flag(paint, PasteConfig(), "--seed", type=int, help="sampling seed")
    _flux_flags(paint)
    paint.set_defaults(func=_accessories)
    add_merge_command(verbs, "join the shards' output folders into one evaluation set", EXAMPLES, _merge)


def _flux_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--flux-model", help="FLUX pipeline: hub name, local folder or s3:// URI")
    parser.add_argument(
        "--steps",
        type=int,
        help=f"denoising steps (default: {GUIDED_STEPS} for FLUX.1-dev, {DISTILLED_STEPS} for schnell)",
    )
    defaults = PasteConfig()
    add_flag(parser, defaults, "--guidance", field="flux.guidance", type=float, help="FLUX guidance")
    add_flag(parser, defaults, "--device", field="flux.device", choices=DEVICES, help="where FLUX runs")


def _config(args: argparse.Namespace) -> PasteConfig:
    config = load_section(PasteConfig, args.params, "paste")
    flux = override(config.flux, model=args.flux_model, steps=args.steps, guidance=args.guidance,
                    device=args.device)  # fmt: skip
    cache = getattr(args, "accessory_cache", None)
    return override(config, seed=args.seed, class_map=args.class_map, accessory_cache=cache, flux=flux)


def _accessories(args: argparse.Namespace) -> None:
    counts = paint_accessories(args.images, args.pmi, args.cache, _config(args), args.accessories)
    print(f"{args.cache}: {counts['painted']} accessories painted, {counts['accessories']} in all")


def _run(args: argparse.Namespace) -> None:
    config = _config(args)
    metrics = paste_set(args.images, args.pmi, args.out, config, args.accessories, Shard.parse(args.shard),
                        args.work_dir)  # fmt: skip
    print(f"wrote {args.out}: {metrics['n']} pasted images of {metrics['base_images']}")
    print(json.dumps({k: v for k, v in metrics.items() if k.startswith("rejects/")}))


def _merge(args: argparse.Namespace) -> None:
    metrics = merge_evalsets(args.shards, args.out)
    print(f"wrote {args.out}: {metrics['n']} images from {len(args.shards)} shards")

"""``compclip genpairs``: GenPairs on real models (pairs by PMI stratum, LLM captions, FLUX images).

Three phases, each its own command and pipeline task: ``pairs`` (CPU: the selection, to inspect
before paying for GPUs), ``captions`` (the LM alone on one GPU), ``images`` (FLUX alone; ``--shard
i/n`` takes chunks i, i+n, ... of the captioned pairs, so a pipeline fans out with one GPU per
shard); ``merge`` joins the image shards. ``run`` chains the three on one machine. All resumable.
"""

from __future__ import annotations

import argparse
import json

from compclip.chunks import Shard, add_merge_command, add_shard_flags
from compclip.cli import add_command
from compclip.config import add_flag, load_section, override
from compclip.devices import DEVICES
from compclip.evalsets.generated import merge_evalsets
from compclip.genpairs.captions import caption_stage
from compclip.genpairs.images import DISTILLED_STEPS, GUIDED_STEPS, image_stage
from compclip.genpairs.pairs import select_stage
from compclip.genpairs.run import GenPairsConfig, genpairs

EXAMPLES = """examples:
  compclip genpairs pairs --pmi s3://bucket/pmi/laion400m --out pairs.parquet       # CPU, seconds
  compclip genpairs pairs --pmi pmi/ --out pairs.parquet --per-stratum 200 --class-pmi mean
  compclip genpairs captions --pairs pairs.parquet --out captions.parquet   # Llama-3.1-8B, one GPU
  compclip genpairs images --captions captions.parquet --out shards/2 --shard 2/8 --steps 28 --guidance 5
  compclip genpairs images --captions captions.parquet --out gp/ --offload  # T5 off the GPU: 24 GB peak
  compclip genpairs merge shards/0 shards/1 shards/2 --out gp/
  compclip genpairs run --pmi pmi/ --out gp/ --params params.yaml       # all three phases, one machine
  compclip evaluate --model ViT-B-32:laion400m_e32 --zeroshot gp/ --out eval/
"""


def register(commands: argparse._SubParsersAction) -> None:
    parser = add_command(commands, "genpairs", "GenPairs: LLM captions + FLUX images by PMI stratum",
                         EXAMPLES, description=__doc__)  # fmt: skip
    verbs = parser.add_subparsers(dest="verb", required=True, metavar="VERB")

    pairs = add_command(verbs, "pairs", "select the (class, concept) pairs by PMI stratum (CPU)", EXAMPLES)
    pairs.add_argument("--pmi", required=True, help="PMI table folder (local or s3://)")
    pairs.add_argument("--out", required=True, help="pairs file, Parquet (local or s3://)")
    _params(pairs)
    _select_flags(pairs)
    pairs.set_defaults(func=_pairs)

    captions = add_command(verbs, "captions", "caption every pair with a causal LM (resumable)", EXAMPLES)
    captions.add_argument("--pairs", required=True, help="pairs file of `genpairs pairs` (local or s3://)")
    captions.add_argument("--out", required=True, help="captions file, Parquet (local or s3://)")
    captions.add_argument("--pmi", help="the PMI table (default: the path the pairs file recorded)")
    _params(captions)
    captions.add_argument(
        "--work-dir", help="where finished chunks are kept for a resumed run (default: beside --out)"
    )
    _caption_flags(captions)
    captions.set_defaults(func=_captions)

    images = add_command(verbs, "images", "paint (one shard of) the captioned pairs with FLUX (resumable)",
                         EXAMPLES)  # fmt: skip
    images.add_argument("--captions", required=True, help="captions file of `genpairs captions`")
    images.add_argument("--out", required=True, help="output folder (local or s3://)")
    _params(images)
    add_shard_flags(images, "captioned pair")
    _image_flags(images)
    images.set_defaults(func=_images)

    run = add_command(verbs, "run", "all three phases on one machine (resumable)", EXAMPLES)
    run.add_argument("--pmi", required=True, help="PMI table folder (local or s3://)")
    run.add_argument("--out", required=True, help="output folder (local or s3://)")
    _params(run)
    run.add_argument(
        "--work-dir", help="where finished work is kept for a resumed run (default: beside --out)"
    )
    _select_flags(run)
    _caption_flags(run)
    _image_flags(run)
    run.set_defaults(func=_run)

    add_merge_command(verbs, "join the image shards' folders into one evaluation set", EXAMPLES, _merge)


def _params(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--params", help="params.yaml; its `genpairs` section sets defaults")


DEFAULTS = GenPairsConfig()


def _select_flags(parser: argparse.ArgumentParser) -> None:
    select = DEFAULTS.select
    add_flag(parser, select, "--seed", type=int, help="sampling seed")
    add_flag(parser, select, "--classes", help="'imagenet' or a text file of class names")
    add_flag(
        parser,
        select,
        "--class-pmi",
        choices=["head", "mean"],
        help="score a class by its head noun or its whole name",
    )
    add_flag(parser, select, "--per-stratum", type=int, help="pairs per PMI stratum")


def _caption_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--caption-model", help="causal LM: hub name, local folder or s3:// URI")
    add_flag(
        parser,
        DEFAULTS.captions,
        "--caption-device",
        field="device",
        choices=DEVICES,
        help="where the LM runs",
    )


def _image_flags(parser: argparse.ArgumentParser) -> None:
    images = DEFAULTS.images
    parser.add_argument("--flux-model", help="FLUX pipeline: hub name, local folder or s3:// URI")
    parser.add_argument(
        "--steps",
        type=int,
        help=f"denoising steps (default: {GUIDED_STEPS} for FLUX.1-dev, {DISTILLED_STEPS} for schnell)",
    )
    add_flag(parser, images, "--guidance", field="flux.guidance", type=float, help="FLUX guidance")
    add_flag(parser, images, "--images-per-caption", type=int, help="images painted per caption")
    add_flag(parser, images, "--offload", field="flux.offload", action="store_true", default=None,
             help="each model on the GPU only while it runs (T5 stays in CPU memory)")  # fmt: skip
    add_flag(parser, images, "--flux-device", field="flux.device", choices=DEVICES, help="where FLUX runs")


def _config(args: argparse.Namespace) -> GenPairsConfig:
    config = load_section(GenPairsConfig, args.params, "genpairs")
    get = lambda name: getattr(args, name, None)  # noqa: E731 - each verb has its own flags
    images = config.images
    flux = override(images.flux, model=get("flux_model"), steps=get("steps"), guidance=get("guidance"),
                    offload=get("offload"), device=get("flux_device"))  # fmt: skip
    return override(
        config,
        select=override(config.select, seed=get("seed"), classes=get("classes"), class_pmi=get("class_pmi"),
                        per_stratum=get("per_stratum")),
        captions=override(config.captions, model=get("caption_model"), device=get("caption_device")),
        images=override(images, images_per_caption=get("images_per_caption"), flux=flux),
    )  # fmt: skip


def _pairs(args: argparse.Namespace) -> None:
    summary = select_stage(args.pmi, args.out, _config(args).select)
    print(f"wrote {args.out}: {summary['pairs']} pairs of {summary['classes_in_vocabulary']} classes and "
          f"{summary['candidates']} candidate concepts")  # fmt: skip
    for s in summary["strata"]:
        print(json.dumps(s))
    print(json.dumps(summary["rejects"]))


def _captions(args: argparse.Namespace) -> None:
    metrics = caption_stage(args.pairs, args.out, _config(args).captions, args.pmi, args.work_dir)
    print(f"wrote {args.out}: {metrics['pairs_captioned']} of {metrics['pairs']} pairs captioned")
    print(json.dumps({k: v for k, v in metrics.items() if k.startswith("rejects/")}))


def _images(args: argparse.Namespace) -> None:
    metrics = image_stage(
        args.captions, args.out, _config(args).images, Shard.parse(args.shard), args.work_dir
    )
    print(f"wrote {args.out}: {metrics['n']} images of {metrics['pairs_painted']} captioned pairs")


def _run(args: argparse.Namespace) -> None:
    metrics = genpairs(args.pmi, args.out, _config(args), args.work_dir)
    print(
        f"wrote {args.out}: {metrics['n']} images of {metrics['pairs_captioned']} of {metrics['pairs']} pairs"
    )
    print(json.dumps({k: v for k, v in metrics.items() if k.startswith("rejects/")}))


def _merge(args: argparse.Namespace) -> None:
    metrics = merge_evalsets(args.shards, args.out)
    print(f"wrote {args.out}: {metrics['n']} images from {len(args.shards)} shards")

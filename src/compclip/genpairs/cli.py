"""``compclip genpairs``: GenPairs on real models (LLM captions + FLUX images by PMI stratum).

``run`` builds one shard's part of the set (``--shard i/n``: chunks i, i+n, ... of the pairs, so a
pipeline fans out with one task per shard, each with a GPU), resumable from its work folder;
``merge`` joins the shards' folders into one evaluation set.
"""

from __future__ import annotations

import argparse
import json

from compclip.chunks import Shard, add_shard_flags
from compclip.cli import add_command
from compclip.config import load_section, override
from compclip.evalsets.generated import merge_evalsets
from compclip.genpairs.run import GenPairsConfig, genpairs

EXAMPLES = """examples:
  compclip genpairs run --pmi s3://bucket/pmi/laion400m --out s3://bucket/evalsets/genpairs \\
      --params params.yaml        # Llama-3.1-8B-Instruct captions, FLUX.1-dev 512 px, 28 steps
  compclip genpairs run --pmi pmi/ --out shards/2 --shard 2/8 --per-stratum 200 --seed 1
  compclip genpairs run --pmi pmi/ --out gp/ --caption-model /models/llama --flux-model s3://b/flux-dev
  compclip genpairs merge shards/0 shards/1 shards/2 --out gp/
  compclip evaluate --model ViT-B-32:laion400m_e32 --zeroshot gp/ --out eval/
"""


def register(commands: argparse._SubParsersAction) -> None:
    parser = add_command(commands, "genpairs", "GenPairs: LLM captions + FLUX images by PMI stratum",
                         EXAMPLES, description=__doc__)  # fmt: skip
    verbs = parser.add_subparsers(dest="verb", required=True, metavar="VERB")
    run = add_command(verbs, "run", "build (one shard of) the set from a PMI table (resumable)", EXAMPLES)
    run.add_argument("--pmi", required=True, help="PMI table folder (local or s3://)")
    run.add_argument("--out", required=True, help="output folder (local or s3://)")
    run.add_argument("--params", help="params.yaml; its `genpairs` section sets defaults")
    add_shard_flags(run, "pair")
    run.add_argument("--seed", type=int)
    run.add_argument("--classes", help="'imagenet' (default) or a text file of class names")
    run.add_argument("--per-stratum", type=int, help="pairs per PMI stratum")
    run.add_argument("--images-per-caption", type=int)
    run.add_argument("--caption-model", help="causal LM: hub name, local folder or s3:// URI")
    run.add_argument("--flux-model", help="FLUX pipeline: hub name, local folder or s3:// URI")
    run.add_argument("--device", help="auto (default), cuda or cpu")
    run.set_defaults(func=_run)
    merge = add_command(verbs, "merge", "join the shards' output folders into one evaluation set", EXAMPLES)
    merge.add_argument("shards", nargs="+", help="the shards' output folders (local or s3://)")
    merge.add_argument("--out", required=True, help="output folder (local or s3://)")
    merge.set_defaults(func=_merge)


def _run(args: argparse.Namespace) -> None:
    config = load_section(GenPairsConfig, args.params, "genpairs")
    config = override(
        config,
        seed=args.seed,
        classes=args.classes,
        per_stratum=args.per_stratum,
        images_per_caption=args.images_per_caption,
        captions=override(config.captions, model=args.caption_model, device=args.device),
        flux=override(config.flux, model=args.flux_model, device=args.device),
    )
    metrics = genpairs(args.pmi, args.out, config, Shard.parse(args.shard), args.work_dir)
    print(
        f"wrote {args.out}: {metrics['n']} images of {metrics['pairs_captioned']} of {metrics['pairs']} pairs"
    )
    print(json.dumps({k: v for k, v in metrics.items() if k.startswith("rejects/")}))


def _merge(args: argparse.Namespace) -> None:
    metrics = merge_evalsets(args.shards, args.out)
    print(f"wrote {args.out}: {metrics['n']} images from {len(args.shards)} shards")

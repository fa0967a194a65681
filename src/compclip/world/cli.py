"""``compclip world``: sample the compositional world's pretraining corpus (images and captions)."""

from __future__ import annotations

import argparse
from pathlib import Path

from compclip.cli import add_command
from compclip.config import add_flag, load_section, override_from
from compclip.world.corpus import MIXES, CorpusConfig, write_corpus

EXAMPLES = """examples:
  compclip world corpus --n 60000 --out out/world
  compclip world corpus --n 1000 --out out/world-small --seed 3 --params params.yaml
  compclip world corpus --params params.yaml --section finetune --out data/finetune
  compclip world corpus --params params.yaml --section finetune --mix preset --out data/finetune-skewed
  compclip pmi count out/world/captions.parquet --out out/pmi --min-count 1   # its PMI table
"""


def register(commands: argparse._SubParsersAction) -> None:
    parser = add_command(
        commands,
        "world",
        "the compositional world: rendered scenes and captions",
        EXAMPLES,
        description=__doc__,
    )
    verbs = parser.add_subparsers(dest="verb", required=True, metavar="VERB")
    corpus = add_command(
        verbs,
        "corpus",
        "write an image-caption dataset folder (captions.parquet, shards/, dataset.json)",
        EXAMPLES,
        description="Render N seeded scenes with one caption each; item i depends on (seed, i) only.",
    )
    corpus.add_argument("--out", required=True, help="dataset folder to write (a path or s3:// URI)")
    defaults = CorpusConfig()
    add_flag(corpus, defaults, "--n", type=int, help="number of images and captions")
    add_flag(corpus, defaults, "--seed", type=int, help="sampling seed")
    add_flag(corpus, defaults, "--preset", help="world preset: a package preset name or a YAML path")
    add_flag(
        corpus, defaults, "--mix", choices=list(MIXES),
        help="scene kinds: the preset's (the pretraining law) or pairs (rich in two-object scenes)",
    )  # fmt: skip
    add_flag(corpus, defaults, "--shard-size", type=int, help="images a tar shard")
    corpus.add_argument("--params", type=Path, help="params.yaml; its `world` section sets defaults")
    corpus.add_argument("--section", default="world", help="read this params section instead of `world`")
    corpus.set_defaults(func=_corpus)


def _corpus(args: argparse.Namespace) -> None:
    config = load_section(CorpusConfig, args.params, args.section)
    config = override_from(config, args, "n", "seed", "preset", "mix", "shard_size")
    metrics = write_corpus(args.out, config)
    print(
        f"wrote {args.out}: {metrics['n']} images and captions "
        f"({metrics['object_accessory_pairs_never']} object-accessory pairs never together)"
    )

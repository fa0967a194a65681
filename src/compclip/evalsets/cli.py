"""``compclip evalsets``: build the world's eval sets against the pretraining corpus' PMI table."""

from __future__ import annotations

import argparse

from compclip.cli import add_command
from compclip.config import add_flag, load_section, override_from
from compclip.evalsets.build import EvalsetsConfig, build_evalsets

EXAMPLES = """examples:
  compclip evalsets build --pmi out/pmi --out out/evalsets
  compclip evalsets build --pmi s3://bucket/pmi --out s3://bucket/evalsets --seed 1 --params params.yaml

  # then, e.g.:
  compclip evaluate --model out/pretrain --out out/eval \\
      --zeroshot out/evalsets/genpairs out/evalsets/single \\
      --sugarcrepe out/evalsets/compositional --sugarcrepe-images out/evalsets/compositional
"""


def register(commands: argparse._SubParsersAction) -> None:
    parser = add_command(
        commands,
        "evalsets",
        "GenPairs-world, Paste-world, single objects and SugarCrepe-style sets",
        EXAMPLES,
        description=__doc__,
    )
    verbs = parser.add_subparsers(dest="verb", required=True, metavar="VERB")
    build = add_command(
        verbs,
        "build",
        "write genpairs/, paste/, single/ and compositional/ under --out",
        EXAMPLES,
        description="(class, accessory) pairs spread evenly over PMI strata of the corpus' PMI table.",
    )
    build.add_argument(
        "--pmi", required=True, help="PMI table folder (or s3:// URI) of the pretraining corpus"
    )
    build.add_argument("--out", required=True, help="folder or s3:// prefix to write the eval sets into")
    defaults = EvalsetsConfig()
    add_flag(build, defaults, "--seed", type=int, help="sampling seed")
    add_flag(build, defaults, "--preset", help="world preset; must match the corpus'")
    add_flag(build, defaults, "--n-strata", type=int, help="equal-count strata of finite PMI")
    add_flag(build, defaults, "--per-stratum", type=int, help="images per PMI stratum")
    add_flag(build, defaults, "--single-per-class", type=int, help="single-object images per class")
    add_flag(build, defaults, "--per-subset", type=int, help="compositional items per subset")
    build.add_argument("--params", help="params.yaml; its `evalsets` section sets defaults")
    build.set_defaults(func=_build)


def _build(args: argparse.Namespace) -> None:
    config = load_section(EvalsetsConfig, args.params, "evalsets")
    config = override_from(
        config, args, "seed", "preset", "n_strata", "per_stratum", "single_per_class", "per_subset"
    )
    metrics = build_evalsets(args.pmi, args.out, config)
    print(
        f"wrote {args.out}: genpairs {metrics['genpairs/n']}, paste {metrics['paste/n']}, "
        f"single {metrics['single/n']} images over {metrics['strata']} PMI strata; compositional "
        f"{sum(v for k, v in metrics.items() if k.startswith('compositional/'))} items"
    )

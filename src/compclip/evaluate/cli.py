"""``compclip evaluate``: zero-shot accuracy against PMI and compositional benchmarks for one model."""

from __future__ import annotations

import argparse

from compclip.cli import add_command
from compclip.config import add_flag, load_section, override, override_from
from compclip.devices import DEVICES
from compclip.errors import UserError
from compclip.evaluate.encode import PRECISIONS
from compclip.evaluate.headline import headline_metrics
from compclip.evaluate.run import Benchmark, EvaluateConfig, evaluate

EXAMPLES = """examples:
  compclip evaluate --model compclip-tiny-rn --out out/eval --zeroshot out/evalsets/genpairs
  compclip evaluate --model s3://models/degla/v3 --out out/eval --device cuda --precision bf16 \\
      --sugarcrepe ../shared/data/sugarcrepe --sugarcrepe-images coco/val2017 \\
      --valse ../shared/data/valse --valse-images valse/images
  compclip evaluate --model ViT-B-32:laion400m_e32 --out out/eval \\
      --aro-relation visual_genome_relation.json --aro-attribution visual_genome_attribution.json \\
      --aro-images vg/images --flickr-order ../shared/data/flickr8k/Flickr8k.token.txt \\
      --flickr-order-images flickr8k/images
  compclip evaluate --params params.yaml --model s3://bucket/models/base --out s3://bucket/reports/base \\
      --zeroshot s3://bucket/evalsets/genpairs   # settings from params.yaml's `evaluate` section

--model is required. Every input and --out may be a local path or an s3:// URI; the report is
written whole on success (a failed run leaves nothing). Every benchmark needs its annotations and
its image root. A benchmark may drop at most --max-reject-share of its records (missing or
unreadable images, malformed records). Outputs in --out: metrics.json,
results/*.parquet, bins.json, plots/*.png, report.html, aro/<subset>.json (stored perturbations).
"""

# benchmark -> (annotations flag, its help, image root flag); the two ARO VG subsets share --aro-images
BENCHMARK_FLAGS = {
    "sugarcrepe": ("sugarcrepe", "SugarCrepe JSON file or folder", "sugarcrepe-images"),
    "valse": ("valse", "VALSE JSON file or folder", "valse-images"),
    "aro_vg_relation": ("aro-relation", "ARO visual_genome_relation.json", "aro-images"),
    "aro_vg_attribution": ("aro-attribution", "ARO visual_genome_attribution.json", "aro-images"),
    "aro_coco_order": (
        "coco-order",
        "COCO captions (Karpathy JSON) or stored perturbations",
        "coco-order-images",
    ),
    "aro_flickr_order": (
        "flickr-order",
        "Flickr captions (token file or Karpathy JSON) or stored perturbations",
        "flickr-order-images",
    ),
}


def register(commands: argparse._SubParsersAction) -> None:
    parser = add_command(
        commands,
        "evaluate",
        "zero-shot accuracy vs PMI and compositional benchmarks",
        EXAMPLES,
        description=__doc__,
    )
    parser.add_argument(
        "--model", required=True, help="open_clip NAME[:TAG], hf-hub:ID, model folder or s3:// URI"
    )
    parser.add_argument("--out", required=True, help="report folder or s3:// prefix")
    parser.add_argument("--params", help="params.yaml; its `evaluate` section sets defaults")
    parser.add_argument(
        "--zeroshot",
        nargs="+",
        action="extend",
        default=[],
        metavar="EVALSET",
        help="zero-shot eval set folders or s3:// URIs",
    )
    roots = set()
    for flag, text, images in BENCHMARK_FLAGS.values():
        parser.add_argument(f"--{flag}", metavar="URI", help=text)
        if images not in roots:
            roots.add(images)
            parser.add_argument(f"--{images}", metavar="ROOT", help="its image root")
    config = EvaluateConfig()
    add_flag(parser, config, "--valse-min-votes", type=int, help="keep VALSE items with >= N caption votes")
    add_flag(parser, config, "--order-seed", type=int, help="seed of the COCO/Flickr-Order perturbations")
    parser.add_argument("--order-max-images", type=int, help="perturb captions of the first N images only")
    add_flag(
        parser,
        config,
        "--max-reject-share",
        type=float,
        help="fail when a benchmark drops more of its records",
    )
    add_flag(parser, config.runtime, "--device", choices=DEVICES, help="where the model runs")
    add_flag(parser, config.runtime, "--batch-size", type=int, help="images or texts per forward")
    add_flag(
        parser, config.runtime, "--precision", choices=tuple(PRECISIONS), help="fp32, or bf16/fp16 autocast"
    )
    add_flag(parser, config.runtime, "--workers", type=int, help="DataLoader worker processes")
    add_flag(parser, config.stats, "--bins", field="n_bins", type=int, help="equal-count PMI bins")
    add_flag(
        parser, config.stats, "--boot", field="n_boot", type=int, help="bootstrap resamples for the gap CI"
    )
    add_flag(
        parser, config.stats, "--seed", type=int, help="seed of the PMI tie-break shuffle and the bootstrap"
    )
    parser.set_defaults(func=_evaluate)


def config_from_args(args: argparse.Namespace) -> EvaluateConfig:
    config = load_section(EvaluateConfig, args.params, "evaluate")
    runtime = override_from(config.runtime, args, "device", "batch_size", "precision", "workers")
    stats = override(config.stats, n_bins=args.bins, n_boot=args.boot, seed=args.seed)
    return override_from(
        config, args, "valse_min_votes", "order_seed", "order_max_images", "max_reject_share",
        runtime=runtime, stats=stats,
    )  # fmt: skip


def benchmarks_from_args(args: argparse.Namespace) -> dict[str, Benchmark]:
    """``name -> Benchmark`` for every benchmark given; its annotations without an image root is an error."""
    chosen = {}
    for name, (flag, _, images) in BENCHMARK_FLAGS.items():
        annotations, root = getattr(args, flag.replace("-", "_")), getattr(args, images.replace("-", "_"))
        if annotations is not None and root is None:
            raise UserError(f"{name}: give both its annotations (--{flag}) and its image root (--{images})")
        if annotations is not None:
            chosen[name] = Benchmark(annotations, root)
    return chosen


def _evaluate(args: argparse.Namespace) -> None:
    metrics = evaluate(
        args.model, args.zeroshot, benchmarks_from_args(args), args.out, config_from_args(args)
    )
    for key, value in headline_metrics(metrics).items():
        print(f"{key}: {value:.4f}")
    print(f"wrote {args.out}/metrics.json and {args.out}/report.html")

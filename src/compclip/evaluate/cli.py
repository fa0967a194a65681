"""``compclip evaluate``: zero-shot accuracy against PMI and compositional benchmarks for one model."""

from __future__ import annotations

import argparse
from pathlib import Path

from compclip.cli import add_command
from compclip.config import load_section, override, override_from
from compclip.evaluate.encode import DEVICES, PRECISIONS
from compclip.evaluate.run import EvaluateConfig, evaluate

EXAMPLES = """examples:
  compclip evaluate --model compclip-tiny-rn --out out/eval --zeroshot out/evalsets/genpairs
  compclip evaluate --model s3://models/degla/v3 --out out/eval --device cuda --precision bf16 \\
      --sugarcrepe ../shared/data/sugarcrepe --sugarcrepe-images coco/val2017 \\
      --valse ../shared/data/valse --valse-images valse/images
  compclip evaluate --model ViT-B-32:laion400m_e32 --out out/eval \\
      --aro-relation visual_genome_relation.json --aro-attribution visual_genome_attribution.json \\
      --aro-images vg/images --flickr-order ../shared/data/flickr8k/Flickr8k.token.txt \\
      --flickr-order-images flickr8k/images
  compclip evaluate --params params.yaml --model out/model --out out/eval   # `evaluate` section

Every benchmark needs its annotations and its image root. Outputs in --out: metrics.json,
results/*.parquet, bins.json, plots/*.png, report.html, aro/<subset>.json (stored perturbations).
"""

BENCHMARK_FLAGS = (
    ("sugarcrepe", "SugarCrepe JSON file or folder", "sugarcrepe-images"),
    ("valse", "VALSE JSON file or folder", "valse-images"),
    ("aro-relation", "ARO visual_genome_relation.json", None),
    ("aro-attribution", "ARO visual_genome_attribution.json", "aro-images"),
    ("coco-order", "COCO captions (Karpathy JSON) or stored perturbations", "coco-order-images"),
    (
        "flickr-order",
        "Flickr captions (token file or Karpathy JSON) or stored perturbations",
        "flickr-order-images",
    ),
)


def register(commands: argparse._SubParsersAction) -> None:
    parser = add_command(
        commands,
        "evaluate",
        "zero-shot accuracy vs PMI and compositional benchmarks",
        EXAMPLES,
        description=__doc__,
    )
    parser.add_argument("--model", help="open_clip NAME[:TAG], hf-hub:ID, model folder or s3:// URI")
    parser.add_argument("--out", type=Path, help="output folder")
    parser.add_argument("--params", type=Path, help="params.yaml; its `evaluate` section sets defaults")
    parser.add_argument("--zeroshot", nargs="+", metavar="EVALSET_DIR", help="zero-shot eval set folders")
    for flag, text, images in BENCHMARK_FLAGS:
        parser.add_argument(f"--{flag}", metavar="PATH", help=text)
        if images:
            parser.add_argument(f"--{images}", metavar="ROOT", help="its image root")
    parser.add_argument("--valse-min-votes", type=int, help="keep VALSE items with >= N caption votes (2)")
    parser.add_argument("--order-seed", type=int, help="seed of the COCO/Flickr-Order perturbations")
    parser.add_argument("--order-max-images", type=int, help="perturb captions of the first N images only")
    parser.add_argument(
        "--max-reject-share", type=float, help="fail when more records are bad (1.0: none left)"
    )
    parser.add_argument("--device", choices=DEVICES, help="cpu, cuda or auto")
    parser.add_argument("--batch-size", type=int)
    parser.add_argument("--precision", choices=tuple(PRECISIONS), help="fp32, or bf16/fp16 autocast")
    parser.add_argument("--workers", type=int, help="DataLoader worker processes")
    parser.add_argument("--bins", type=int, help="equal-count PMI bins")
    parser.add_argument("--boot", type=int, help="bootstrap resamples for the gap CI")
    parser.add_argument("--seed", type=int, help="bootstrap seed")
    parser.set_defaults(func=_evaluate)


def config_from_args(args: argparse.Namespace) -> EvaluateConfig:
    config = load_section(EvaluateConfig, args.params, "evaluate")
    runtime = override_from(config.runtime, args, "device", "batch_size", "precision", "workers")
    stats = override(config.stats, n_bins=args.bins, n_boot=args.boot, seed=args.seed)
    flags = [f for flag, _, images in BENCHMARK_FLAGS for f in (flag, images) if f]
    paths = {f.replace("-", "_"): getattr(args, f.replace("-", "_")) for f in flags}
    zeroshot = None if args.zeroshot is None else tuple(args.zeroshot)
    return override(
        config, model=args.model, out=None if args.out is None else str(args.out), zeroshot=zeroshot,
        valse_min_votes=args.valse_min_votes,
        order_seed=args.order_seed, order_max_images=args.order_max_images,
        max_reject_share=args.max_reject_share, runtime=runtime, stats=stats, **paths,
    )  # fmt: skip


def _evaluate(args: argparse.Namespace) -> None:
    config = config_from_args(args)
    metrics = evaluate(config)
    headline = {k: v for k, v in metrics.items() if k.endswith(("/acc", "pearson_r", "/gap")) and "/" in k}
    for key, value in list(headline.items())[:20]:
        print(f"{key}: {value:.4f}" if isinstance(value, float) else f"{key}: {value}")
    print(f"wrote {config.out}/metrics.json and {config.out}/report.html")

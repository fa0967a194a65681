"""``compclip negatives``: hard-negative captions of DeGLA's five types (rules or an LLM), filtered.

Two more types change a spatial relation: ``replace_relations`` its meaning, ``invert_relations``
its direction; ask for them with ``--types``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from compclip.chunks import Shard, add_merge_command
from compclip.cli import add_command, retire_flag
from compclip.config import add_flag, load_section, override
from compclip.negatives.run import GENERATORS, NegativesConfig, filter_file, generate

EXAMPLES = """examples:
  compclip negatives generate out/world --out out/negatives
  compclip negatives generate captions.parquet --out neg/ --pmi out/pmi --per-type 2 --seed 1
  compclip negatives generate captions.parquet --out neg/ --candidates 96
  compclip negatives generate captions.parquet --out neg/ --generator rules   # every type by the rules
  compclip negatives generate few.tsv --out neg/ --reference-captions flickr8k/Flickr8k.token.txt
  compclip negatives generate out/world --out neg/ --types reshuffle swap_nouns swap_adjectives \\
      replace_adjectives replace_nouns replace_relations invert_relations   # + spatial relations
  compclip negatives generate coco.parquet --out neg/ --generator llm \\
      --model meta-llama/Llama-3.1-8B-Instruct      # or a local folder or s3:// URI
  compclip negatives generate s3://bucket/coco.parquet --out s3://bucket/neg/ --work-dir s3://bucket/work/neg
  compclip negatives generate coco.parquet --out neg-1/ --generator llm --shard 1/8   # one GPU each
  compclip negatives merge neg-0/ neg-1/ neg-2/ neg-3/ neg-4/ neg-5/ neg-6/ neg-7/ --out neg/
  compclip negatives filter degla_negatives.json --out neg-clean/
  compclip negatives audit neg/negatives.json --corpus flickr8k/Flickr8k.token.txt --out audit/
"""


def register(commands: argparse._SubParsersAction) -> None:
    parser = add_command(
        commands,
        "negatives",
        "hard-negative captions of seven types for DeGLA training",
        EXAMPLES,
        description=__doc__,
    )
    verbs = parser.add_subparsers(dest="verb", required=True, metavar="VERB")
    gen = add_command(
        verbs, "generate", "generate negatives for a dataset folder or caption file (resumable)", EXAMPLES
    )
    gen.add_argument(
        "inputs", metavar="DATASET_OR_CAPTIONS", help="dataset folder, caption file or s3:// URI"
    )
    defaults = NegativesConfig()
    add_flag(
        gen,
        defaults,
        "--generator",
        choices=GENERATORS,
        help="auto: real captions' llm_types by the LLM on a GPU, the rest and the world by the rules; "
        "rules (offline); llm (every type)",
    )
    add_flag(gen, defaults, "--model", field="llm.model", help="llm: hub name, local folder or s3:// URI")
    gen.add_argument("--pmi", help="rules: PMI table folder; replacements prefer low-PMI concept pairs")
    add_flag(gen, defaults, "--per-type", type=int, help="valid negatives per caption and type")
    add_flag(
        gen,
        defaults,
        "--candidates",
        type=int,
        help="rules: candidates per caption and type to rank (0: a few); sets world.candidates too",
    )
    add_flag(gen, defaults, "--types", nargs="+", help="the paper's five, and the two relation types")
    gen.add_argument(
        "--work-dir",
        help="the resume log: path or s3://, new, empty or compclip's, removed when done "
        "(default: OUT.progress beside a local --out; s3:// --out: none)",
    )
    retire_flag(gen, "--progress", "use --work-dir")
    gen.add_argument("--shard", default="0/1", help="i/n: this task's share of the caption chunks")
    _common(gen, defaults)
    gen.set_defaults(func=_generate)
    add_merge_command(verbs, "join the outputs of `generate --shard i/n` tasks into one", EXAMPLES, _merge)
    check = add_command(
        verbs,
        "filter",
        "re-check a negatives JSON file; drop and count malformed records and invalid negatives",
        EXAMPLES,
    )
    check.add_argument("negatives", help="negatives.json (DeGLA format), local or s3://")
    _common(check, defaults)
    check.set_defaults(func=_filter)
    audit = add_command(
        verbs,
        "audit",
        "per type: n, yield, blind preference with its CI, still-true swaps, WordNet-related replacements",
        EXAMPLES,
    )
    audit.add_argument("negatives", help="negatives.json (DeGLA format), local or s3://")
    audit.add_argument(
        "--corpus", required=True, help="caption file or dataset folder the blind model learns"
    )
    audit.add_argument("--out", required=True, help="output folder or s3:// prefix")
    audit.add_argument(
        "--order", type=int, default=2, help="the blind model's n-gram order, 2 or 3 (default: %(default)s)"
    )
    audit.add_argument("--sample", type=int, default=10, help="pairs shown per type (default: %(default)s)")
    audit.add_argument("--seed", type=int, default=0)
    audit.set_defaults(func=_audit)


def _common(parser: argparse.ArgumentParser, defaults: NegativesConfig) -> None:
    parser.add_argument("--out", required=True, help="output folder or s3:// prefix")
    parser.add_argument(
        "--reference-captions",
        metavar="CORPUS",
        help="caption file, dataset folder or s3:// URI the blind filter learns from (default: the input)",
    )
    add_flag(
        parser,
        defaults,
        "--profile",
        choices=("auto", "world", "real"),
        help="the world's or real captions' settings; auto: a world dataset folder is the world",
    )
    parser.add_argument("--params", type=Path, help="params.yaml; its `negatives` section sets defaults")
    add_flag(parser, defaults, "--seed", type=int, help="sampling seed")


def _config(args: argparse.Namespace) -> NegativesConfig:
    config = load_section(NegativesConfig, args.params, "negatives")
    flags = {"seed": args.seed, "reference": args.reference_captions, "profile": args.profile}
    if args.verb == "generate":
        flags.update(
            generator=args.generator,
            pmi=args.pmi,
            per_type=args.per_type,
            candidates=args.candidates,  # whatever the profile
            world=override(config.world, candidates=args.candidates),
            types=tuple(args.types) if args.types else None,
            llm=override(config.llm, model=args.model),
        )
    return override(config, **flags)


def _generate(args: argparse.Namespace) -> None:
    metrics = generate(
        args.inputs, args.out, _config(args), work_dir=args.work_dir, shard=Shard.parse(args.shard)
    )
    _report(args.out, metrics)


def _merge(args: argparse.Namespace) -> None:
    from compclip.negatives.shards import merge_negatives

    _report(args.out, merge_negatives(args.shards, args.out))


def _filter(args: argparse.Namespace) -> None:
    metrics = filter_file(args.negatives, args.out, _config(args))
    _report(args.out, metrics)


def _audit(args: argparse.Namespace) -> None:
    from compclip.negatives.audit import AuditConfig, audit

    config = AuditConfig(order=args.order, sample=args.sample, seed=args.seed)
    report = audit(args.negatives, args.corpus, args.out, config)
    print(f"wrote {args.out}: audit.json, audit.html")
    for kind, row in report["types"].items():
        low, high = row["ci"]
        extra = "".join(
            f", {name} {row[key]:.1%}"
            for key, name in (("still_true", "still true"), ("wordnet_related", "WordNet-related"))
            if key in row
        )
        print(
            f"{kind}: {row['pairs']} pairs, yield {row['yield']:.1%}, blind prefers positive "
            f"{row['blind_prefers_positive']:.1%} [{low:.1%}, {high:.1%}]{extra}"
        )


def _report(out: str, metrics: dict) -> None:
    yields = {k[len("yield_") :]: v for k, v in metrics.items() if k.startswith("yield_")}
    print(
        f"wrote {out}: {metrics['n_negatives']} negatives for {metrics['n_records']} "
        f"of {metrics['n_captions']} captions"
    )
    print("yield per type: " + json.dumps(yields))
    if metrics.get("llm_fallback"):
        print(f"note: {metrics['llm_fallback']}")

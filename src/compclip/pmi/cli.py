"""``compclip pmi``: count, merge and query concept co-occurrence (PMI) tables."""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

from compclip.captions import FORMATS
from compclip.cli import add_command
from compclip.config import add_flag, load_section, override_from
from compclip.errors import UserError
from compclip.pmi.shards import (
    MODES,
    SHARD,
    CountConfig,
    count_corpus,
    count_shard_pairs,
    merge_table,
    merge_vocab,
    plan_parts,
    scan_part,
    scan_shard,
)
from compclip.pmi.summary import summarize
from compclip.pmi.table import PMITable
from compclip.storage import exists

EXAMPLES = """examples:
  compclip pmi count ../shared/data/flickr8k/Flickr8k.token.txt --out pmi/ --min-count 5
  compclip pmi count 's3://bucket/laion/*.parquet' --out s3://bucket/pmi --min-count 10000 --workers 8

  # sharded (one map per worker, two rounds):
  compclip pmi count --shard part-00.parquet --out work/00            # map 1: scan
  compclip pmi merge work/* --out work/vocab --min-count 10000        # reduce 1: vocabulary
  compclip pmi count --shard part-00.parquet --out work/00 --vocab work/vocab   # map 2: pairs
  compclip pmi merge work/0* --vocab work/vocab --out pmi/            # reduce 2: the table

  # a fan-out over the files of a corpus: the parts, then one map per part
  compclip pmi plan 's3://bucket/laion/*.parquet' --shards 64         # ["0/64", "1/64", ...]
  compclip pmi count --shard 's3://bucket/laion/*.parquet' --part 3/64 --out work/03 \\
      --work-dir s3://bucket/work/scan-03     # a killed scan resumes on any node

  compclip pmi query dog frisbee --table pmi/
  compclip pmi top dog --lowest -k 10 --table pmi/ --json
  compclip pmi score "a dog catching a frisbee" --table pmi/
  compclip pmi summary dog beach --table pmi/
"""


def register(commands: argparse._SubParsersAction) -> None:
    parser = add_command(commands, "pmi", "concept co-occurrence (PMI) tables", EXAMPLES, description=__doc__)
    verbs = parser.add_subparsers(dest="verb", required=True, metavar="VERB")

    count = add_command(verbs, "count", "count a corpus (or one shard)", EXAMPLES)
    count.add_argument(
        "inputs", nargs="*", help="caption files: paths, globs, folders or s3:// URIs (none: a scanned shard)"
    )
    count.add_argument(
        "--out", required=True, help="table folder (or shard folder with --shard): a path or s3:// URI"
    )
    count.add_argument("--shard", action="store_true", help="map step: scan (and with --vocab, count pairs)")
    count.add_argument("--vocab", help="with --shard: the merged vocabulary folder")
    count.add_argument("--part", help="with --shard: scan only part I/N of the files (dealt round-robin)")
    count.add_argument(
        "--work-dir",
        help="where finished work waits for a resumed run (new, empty or compclip's; removed when done): "
        "whole-corpus count, a local folder (default beside a local --out); --shard scan, a path or s3://",
    )
    _config_flags(count)
    count.set_defaults(func=_count)

    merge = add_command(verbs, "merge", "reduce shard folders into a vocabulary or a table", EXAMPLES)
    merge.add_argument("shards", nargs="+", help="shard folders: paths or s3:// URIs")
    merge.add_argument("--out", required=True, help="vocabulary or table folder: a path or s3:// URI")
    merge.add_argument("--vocab", help="merge pair counts into the table for this vocabulary")
    _config_flags(merge)
    merge.set_defaults(func=_merge)

    plan = add_command(verbs, "plan", "the non-empty parts I/N of a corpus for a sharded count", EXAMPLES)
    plan.add_argument("inputs", nargs="+", help="caption files: paths, globs, folders or s3:// URIs")
    plan.add_argument("--shards", type=int, required=True, help="at most this many parts")
    plan.set_defaults(func=_plan)

    query = add_command(verbs, "query", "counts and PMI of one pair", EXAMPLES)
    query.add_argument("c1")
    query.add_argument("c2")
    top = add_command(verbs, "top", "partners of a concept by PMI", EXAMPLES)
    top.add_argument("concept")
    order = top.add_mutually_exclusive_group()
    order.add_argument("--lowest", action="store_true", help="lowest PMI first")
    order.add_argument("--highest", action="store_true", help="highest PMI first (default)")
    top.add_argument("-k", type=int, default=10)
    score = add_command(verbs, "score", "mean PMI over the concept pairs of a text", EXAMPLES)
    score.add_argument("text")
    summary = add_command(verbs, "summary", "corpus statistics and partners of a few concepts", EXAMPLES)
    summary.add_argument("concepts", nargs="*", help="concepts to show partners of")
    summary.add_argument("-k", type=int, default=5)
    summary.set_defaults(func=_summary)
    summary.add_argument("--table", required=True, help="PMI table folder or s3:// URI")
    for sub, func in ((query, _query), (top, _top), (score, _score)):
        sub.add_argument("--table", required=True, help="PMI table folder or s3:// URI")
        sub.add_argument("--json", action="store_true", help="machine-readable output")
        sub.set_defaults(func=func)


def _config_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--params", type=Path, help="params.yaml; its `pmi` section sets defaults")
    config = CountConfig()
    add_flag(parser, config, "--min-count", type=int, help="vocabulary: concepts in at least N captions")
    add_flag(parser, config, "--mode", choices=MODES, help="exact, or the released code's choices")
    add_flag(parser, config, "--top-k", type=int, help="released-code mode: per-file vocabulary size")
    add_flag(parser, config, "--smoothing", type=float, help="add-k on pair counts")
    add_flag(parser, config.read, "--format", field="fmt", choices=FORMATS, help="input format")
    add_flag(parser, config.read, "--caption-column", help="caption column/field (parquet, jsonl)")
    add_flag(parser, config.read, "--id-column", help="id column/field (parquet, jsonl)")
    add_flag(parser, config.read, "--max-chars", type=int, help="captions longer than this are rejected")
    add_flag(parser, config, "--max-reject-share", type=float, help="fail a file when a larger share is bad")
    add_flag(parser, config, "--workers", type=int, help="processes scanning files in parallel")


def _config(args: argparse.Namespace) -> CountConfig:
    config = load_section(CountConfig, args.params, "pmi")
    read = override_from(config.read, args, "caption_column", "id_column", "max_chars", fmt=args.format)
    return override_from(
        config, args, "min_count", "mode", "top_k", "smoothing", "max_reject_share", "workers", read=read
    )


def _count(args: argparse.Namespace) -> None:
    config = _config(args)
    if args.part is not None and not args.shard:
        raise UserError("--part needs --shard")
    if not args.shard and not args.inputs:
        raise UserError("give caption files to count")
    if not args.shard:
        header = count_corpus(args.inputs, args.out, config, args.work_dir)
        print(
            f"wrote {args.out}: {header['n_captions']} captions, {header['n_concepts']} concepts, "
            f"{header['n_pairs']} pairs; rejected {header['rejects'] or 'none'}"
        )
        return
    scanned = exists(f"{args.out.rstrip('/')}/{SHARD}")
    if not args.inputs and not (args.vocab is not None and scanned):
        raise UserError("give caption files to count (only a scanned shard with --vocab needs none)")
    if args.vocab is None or not scanned:
        if args.part is not None:
            summary = scan_part(args.inputs, args.part, args.out, config, args.work_dir)
        else:
            try:
                summary = scan_shard(args.inputs, args.out, config, args.work_dir)
            except UserError as err:
                raise UserError(f"shard {args.out}: {err}") from err
        print(f"scanned {len(summary['files'])} files into {args.out}: {summary['n_captions']} captions")
    if args.vocab is not None:
        record = count_shard_pairs(args.out, args.vocab, config)
        print(f"counted {record['n_pairs']} pairs into {args.out}")


def _plan(args: argparse.Namespace) -> None:
    print(json.dumps(plan_parts(args.inputs, args.shards)))


def _merge(args: argparse.Namespace) -> None:
    config = _config(args)
    if args.vocab is None:
        header = merge_vocab(args.shards, args.out, config)
        print(
            f"wrote vocabulary {args.out}: {header['n_captions']} captions, "
            f"{header['n_concepts_seen']} concepts seen"
        )
    else:
        header = merge_table(args.shards, args.vocab, args.out, config)
        print(f"wrote {args.out}: {header['n_concepts']} concepts, {header['n_pairs']} pairs")


def _emit(args: argparse.Namespace, data, text: str) -> None:
    print(json.dumps(data, indent=2, allow_nan=True) if args.json else text)


def _fmt(value: float) -> str:
    return "-inf" if value == -math.inf else "n/a" if math.isnan(value) else f"{value:+.3f}"


def _query(args: argparse.Namespace) -> None:
    table = PMITable.load(args.table)
    data = {
        "c1": table.concept(args.c1),
        "c2": table.concept(args.c2),
        "count_c1": table.count(args.c1),
        "count_c2": table.count(args.c2),
        "count_pair": table.count(args.c1, args.c2),
        "pmi": table.pmi(args.c1, args.c2),
        "n_captions": table.n_captions,
    }
    text = (
        f"{data['c1']} ({data['count_c1']}) & {data['c2']} ({data['count_c2']}): together in "
        f"{data['count_pair']} of {data['n_captions']} captions, PMI {_fmt(data['pmi'])}"
    )
    _emit(args, data, text)


def _top(args: argparse.Namespace) -> None:
    rows = PMITable.load(args.table).top(args.concept, args.k, lowest=args.lowest)
    data = [{"concept": c, "pmi": p, "count": n} for c, p, n in rows]
    text = "\n".join(f"{_fmt(p)}  {c} ({n})" for c, p, n in rows)
    _emit(args, data, text)


def _score(args: argparse.Namespace) -> None:
    result = PMITable.load(args.table).score(args.text)
    data = {
        "mean_pmi": result.mean,
        "unknown": result.unknown,
        "pairs": [{"c1": a, "c2": b, "pmi": p} for a, b, p in result.pairs],
    }
    lines = [f"mean PMI {_fmt(result.mean)} over {len(result.pairs)} pairs"]
    lines += [f"  {_fmt(p)}  {a} & {b}" for a, b, p in result.pairs]
    if result.unknown:
        lines.append(f"  not in the vocabulary: {', '.join(result.unknown)}")
    _emit(args, data, "\n".join(lines))


def _summary(args: argparse.Namespace) -> None:
    print(summarize(PMITable.load(args.table), args.concepts, args.k))

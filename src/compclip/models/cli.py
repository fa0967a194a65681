"""``compclip models``: check a model source before a pipeline spends hours on it."""

from __future__ import annotations

import argparse
from pathlib import Path

from compclip.cli import add_command
from compclip.models.loading import check, write_reference

EXAMPLES = """examples:
  compclip models check ViT-B-32:laion400m_e32
  compclip models check s3://bucket/registry/degla/v3
  compclip models check models/base
  compclip models check hf-hub:laion/CLIP-ViT-B-32-laion2B-s34B-b79K --out out/base   # a reference folder
"""


def register(commands: argparse._SubParsersAction) -> None:
    parser = add_command(commands, "models", "model sources: check one", EXAMPLES, description=__doc__)
    verbs = parser.add_subparsers(dest="verb", required=True, metavar="VERB")
    check = add_command(
        verbs,
        "check",
        "parse a model source; for a folder or s3:// URI, verify its files against the manifest",
        EXAMPLES,
    )
    check.add_argument("source", help="open_clip NAME[:TAG], hf-hub:ID, model folder or s3:// URI")
    check.add_argument("--out", type=Path, help="write a folder naming the source, loadable as a model")
    check.set_defaults(func=_check)


def _check(args: argparse.Namespace) -> None:
    print(check(args.source))
    if args.out is not None:
        write_reference(args.source, args.out)

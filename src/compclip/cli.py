"""The ``compclip`` command: one sub-command per stage, each a thin door onto a library function.

Every stage package has a ``cli`` module with ``register(subparsers)``, which adds its
sub-command and sets ``func(args) -> int | None``. Only the invoked stage's module is imported,
so ``compclip pmi`` never pays for torch. User errors print one line and exit 2.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

from compclip import __version__
from compclip.errors import UserError

STAGES = {
    "pmi": "concept co-occurrence (PMI) tables",
    "world": "the compositional world: scenes, captions, corpora",
    "evalsets": "evaluation sets built from the world and a PMI table",
    "negatives": "hard-negative captions of five types",
    "pretrain": "pretrain a tiny CLIP from scratch on an image-caption folder",
    "train": "fine-tune with DeGLA, NegCLIP or plain CLIP",
    "evaluate": "zero-shot accuracy against PMI and compositional benchmarks",
}


def build_parser(argv: list[str]) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="compclip", description="Find and repair compositional blind spots")
    parser.add_argument("--version", action="version", version=f"compclip {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    chosen = next((a for a in argv if not a.startswith("-")), None)
    for stage, summary in STAGES.items():
        if stage == chosen:
            importlib.import_module(f"compclip.{stage}.cli").register(commands)
        else:
            commands.add_parser(stage, help=summary)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = build_parser(argv).parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
    )
    try:
        return args.func(args) or 0
    except UserError as err:
        print(f"compclip {args.command}: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())

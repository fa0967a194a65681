"""The ``compclip`` command: one sub-command per stage, each a thin door onto a library function.

Every stage package has a ``cli`` module with ``register(subparsers)``, which adds its
sub-command and sets ``func(args) -> int | None``. User errors print one line and exit 2.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

from compclip import __version__
from compclip.errors import UserError

STAGES = ("pmi", "world", "evalsets", "negatives", "pretrain", "train", "evaluate")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="compclip", description=__doc__.split("\n")[0])
    parser.add_argument("--version", action="version", version=f"compclip {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for stage in STAGES:
        try:
            module = importlib.import_module(f"compclip.{stage}.cli")
        except ModuleNotFoundError as err:
            if err.name != f"compclip.{stage}" and err.name != f"compclip.{stage}.cli":
                raise
            continue
        module.register(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
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

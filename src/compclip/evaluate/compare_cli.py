"""``compclip compare``: evaluation reports side by side, each against the first (the baseline)."""

from __future__ import annotations

import argparse

from compclip.cli import add_command
from compclip.errors import UserError
from compclip.evaluate.compare import compare
from compclip.evaluate.compare_report import markdown
from compclip.evaluate.stats import StatsConfig
from compclip.storage import uri_name

EXAMPLES = """examples:
  compclip compare base=reports/base degla=reports/degla negclip=reports/negclip --out reports/compare
  compclip compare reports/base reports/degla --out reports/compare   # names from the folder names
  compclip compare base=reports/base degla=reports/degla --out reports/compare --n-boot 5000 --ci 0.99
  compclip compare base=s3://bucket/reports/base degla=s3://bucket/reports/degla --out s3://bucket/compare

Writes compare.json, compare.md (printed) and compare.html (forest plot of each family's change with
its paired CI, accuracy against PMI of every model overlaid, the tables) to --out.
"""


def register(commands: argparse._SubParsersAction) -> None:
    parser = add_command(
        commands, "compare", "compare evaluation reports against a baseline", EXAMPLES, description=__doc__
    )
    parser.add_argument("reports", nargs="+", help="[NAME=]REPORT (folder or s3:// URI), the baseline first")
    parser.add_argument("--out", required=True, help="folder or s3:// prefix for compare.json/.md/.html")
    defaults = StatsConfig()
    parser.add_argument("--n-boot", type=int, default=defaults.n_boot, help="paired bootstrap resamples")
    parser.add_argument("--ci", type=float, default=defaults.ci, help="confidence level of the paired CIs")
    parser.add_argument("--seed", type=int, default=defaults.seed, help="bootstrap seed")
    parser.set_defaults(func=_compare)


def _parse(item: str) -> tuple[str, str]:
    name, sep, uri = item.partition("=")
    return (name, uri) if sep else (uri_name(item), item)


def _compare(args: argparse.Namespace) -> None:
    reports = dict(_parse(r) for r in args.reports)
    if len(reports) < len(args.reports):
        raise UserError("two reports share a name; name them NAME=FOLDER")
    result = compare(reports, args.out, StatsConfig(n_boot=args.n_boot, ci=args.ci, seed=args.seed))
    print(markdown(result), end="")

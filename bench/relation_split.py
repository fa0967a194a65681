"""Experiment: accuracy on the world's ``replace_rel`` items, split by what the negative changes.

A world relation negative either moves the relation to the other axis ("left of" -> "above") or
makes it its opposite ("left of" -> "right of"); a model that knows where things lie on an axis
but not which way round gets the first kind and is at chance on the second. For each evaluation
report (``compclip evaluate --sugarcrepe <compositional folder>``), prints both accuracies.

    .venv/bin/python bench/relation_split.py data/evalsets/compositional reports/base reports/degla
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from compclip.evaluate.results import read_results
from compclip.world.preset import load_world
from relation_negatives import phrases


def kinds(evalset: Path) -> dict[str, str]:
    """``replace_rel/<id>`` -> "axis" or "inverse", from the item's two captions."""
    relations = load_world("default").relations
    table = phrases(relations)

    def relation(caption: str) -> str:
        return next(name for pattern, name, _ in table if pattern.search(caption))

    items = json.loads((evalset / "replace_rel.json").read_text())
    found = {}
    for key, item in items.items():
        old, new = relation(item["caption"]), relation(item["negative_caption"])
        found[f"replace_rel/{key}"] = "inverse" if relations[old].inverse == new else "axis"
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("evalset", type=Path, help="the world's compositional evaluation set folder")
    parser.add_argument("reports", type=Path, nargs="+", help="compclip evaluate output folders")
    args = parser.parse_args()
    kind = kinds(args.evalset)
    counts = {k: sum(v == k for v in kind.values()) for k in ("axis", "inverse")}
    print(f"replace_rel: {counts['axis']} axis items, {counts['inverse']} inverse items")
    for report in args.reports:
        table = read_results(report, "sugarcrepe", ["id", "correct"])
        if table is None:
            raise SystemExit(f"{report}: no SugarCrepe-format results")
        ids, correct = table["id"].to_pylist(), table["correct"].to_pylist()
        split = {"all": [], "axis": [], "inverse": []}
        for item, hit in zip(ids, correct, strict=True):
            if item in kind:
                split["all"].append(hit)
                split[kind[item]].append(hit)
        pct = {k: 100 * sum(v) / max(1, len(v)) for k, v in split.items()}
        axis, inverse = pct["axis"], pct["inverse"]
        print(f"{report}: replace_rel {pct['all']:.1f} (axis {axis:.1f} / inverse {inverse:.1f})")


if __name__ == "__main__":
    main()

"""Experiment: add a relation-flipping negative to every world caption that names a relation.

The paper's five negative types almost never change a spatial relation, and relation replace stays
at chance after DeGLA. This writes a copy of a DeGLA negatives file in which each caption holding
one of the world's relation phrases gains one more negative, typed ``replace_relations``: the
phrase swapped for a phrase of the inverse relation ("left of" -> "right of", "over" -> "under").

    .venv/bin/python bench/relation_negatives.py data/negatives/negatives.json out/exp/negatives-rel.json
    .venv/bin/compclip train --method degla --model models/base --data data/finetune \\
        --negatives out/exp/negatives-rel.json --params params.yaml --out out/exp/degla-rel
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

from compclip.world.preset import load_world


def flips(preset: str = "default") -> list[tuple[re.Pattern, str]]:
    """(phrase pattern, inverse phrase) for every relation phrase, longest phrase first."""
    relations = load_world(preset).relations
    pairs = []
    for relation in relations.values():
        inverse = relations[relation.inverse].phrases
        for i, phrase in enumerate(relation.phrases):
            pattern = re.compile(rf"\b{re.escape(phrase)}\b", re.IGNORECASE)
            pairs.append((pattern, inverse[i % len(inverse)]))
    return sorted(pairs, key=lambda pair: -len(pair[0].pattern))


def flip(caption: str, table: list[tuple[re.Pattern, str]]) -> str | None:
    for pattern, inverse in table:
        if pattern.search(caption):
            return pattern.sub(inverse, caption, count=1)
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("negatives", type=Path)
    parser.add_argument("out", type=Path)
    args = parser.parse_args()
    records = json.loads(args.negatives.read_text())
    table, added = flips(), 0
    for record in records:
        negative = flip(record["original"], table)
        if negative is not None and negative != record["original"]:
            record["enhanced"].append(negative)
            record["types"].append("replace_relations")
            added += 1
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(records))
    print(f"wrote {args.out}: {added} relation-flipping negatives added to {len(records)} records")


if __name__ == "__main__":
    main()

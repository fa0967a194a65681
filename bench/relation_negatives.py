"""Experiment: add a relation-flipping negative to every world caption that names a relation.

The paper's five negative types almost never change a spatial relation, and relation replace stays
at chance after DeGLA. This writes a copy of a DeGLA negatives file in which each caption holding
one of the world's relation phrases gains one more negative, typed ``replace_relations``: the
phrase swapped for a phrase of the inverse relation ("left of" -> "right of", "over" -> "under").
It is read and written by the negatives stage's own reader and writer (JSON, Parquet, metrics).

    .venv/bin/python bench/relation_negatives.py data/negatives/negatives.json out/exp/negatives-rel
    .venv/bin/compclip train --method degla --model models/base --data data/finetune \\
        --negatives out/exp/negatives-rel/negatives.json --params params.yaml --out out/exp/degla-rel
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from compclip.negatives.io import read_negatives, write_outputs
from compclip.rejects import Rejects
from compclip.world.preset import load_world


def flips(preset: str = "default") -> list[tuple[re.Pattern, str]]:
    """(phrase pattern, inverse phrase) for every relation phrase, longest phrase first."""
    relations = load_world(preset).relations
    pairs = [
        (phrase, relations[relation.inverse].phrases[i % len(relations[relation.inverse].phrases)])
        for relation in relations.values()
        for i, phrase in enumerate(relation.phrases)
    ]
    pairs.sort(key=lambda pair: -len(pair[0]))
    return [(re.compile(rf"\b{re.escape(phrase)}\b", re.IGNORECASE), inverse) for phrase, inverse in pairs]


def flip(caption: str, table: list[tuple[re.Pattern, str]]) -> str | None:
    for pattern, inverse in table:
        if pattern.search(caption):
            return pattern.sub(inverse, caption, count=1)
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("negatives", type=Path)
    parser.add_argument("out", type=Path, help="output folder")
    args = parser.parse_args()
    rejects = Rejects()
    records = read_negatives(str(args.negatives), rejects)
    table, added = flips(), 0
    for record in records:
        negative = flip(record.original, table)
        if negative is not None and negative != record.original:
            record.enhanced.append(negative)
            record.types.append("replace_relations")
            added += 1
    args.out.mkdir(parents=True, exist_ok=True)
    write_outputs(args.out, records, {"records": len(records), "added": added, "rejected": rejects.total})
    print(f"wrote {args.out}: {added} relation-flipping negatives added to {len(records)} records")


if __name__ == "__main__":
    main()

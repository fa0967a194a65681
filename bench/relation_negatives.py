"""Experiment: add a relation-changing negative to every world caption that names a relation.

Writes a copy of a DeGLA negatives file in which each caption holding one of the world's relation
phrases gains one more negative, typed ``replace_relations``, with the phrase changed to a phrase
of another of the world's relations (unlike the rule generator's ``replace_relations``, only
phrases the world's captions use):

- ``--change inverse``: the inverse relation ("left of" -> "right of", "over" -> "under"), what the
  rule generator's ``invert_relations`` does with the lexicon's phrases;
- ``--change axis``: a relation on the other axis ("left of" -> "above");
- ``--change any``: any other relation (as the world's ``replace_rel`` eval set does).

It is read and written by the negatives stage's own reader and writer (JSON, Parquet, metrics).

    .venv/bin/python bench/relation_negatives.py data/negatives/negatives.json out/exp/negatives-rel
    .venv/bin/compclip train --method degla --model models/base --data data/finetune \\
        --negatives out/exp/negatives-rel/negatives.json --params params.yaml --out out/exp/degla-rel
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import numpy as np

from compclip.negatives.io import read_negatives, write_outputs
from compclip.rejects import Rejects
from compclip.world.preset import Relation, load_world

CHANGES = ("inverse", "axis", "any")


def phrases(relations: dict[str, Relation]) -> list[tuple[re.Pattern, str, int]]:
    """(phrase pattern, relation, phrase index) for every relation phrase, longest phrase first."""
    found = [(p, name, i) for name, r in relations.items() for i, p in enumerate(r.phrases)]
    found.sort(key=lambda row: -len(row[0]))
    return [(re.compile(rf"\b{re.escape(p)}\b", re.IGNORECASE), name, i) for p, name, i in found]


def change(
    caption: str, relations: dict[str, Relation], table: list, kind: str, rng: np.random.Generator
) -> str | None:
    """The caption with its first relation phrase changed as ``kind`` says, or None without one."""
    for pattern, name, index in table:
        if pattern.search(caption):
            relation = relations[name]
            if kind == "inverse":
                new = relations[relation.inverse]
                phrase = new.phrases[index % len(new.phrases)]
            else:
                others = [
                    r
                    for n, r in relations.items()
                    if n != name and (kind == "any" or r.axis != relation.axis)
                ]
                new = others[int(rng.integers(len(others)))]
                phrase = new.phrases[int(rng.integers(len(new.phrases)))]
            return pattern.sub(phrase, caption, count=1)
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("negatives", type=Path)
    parser.add_argument("out", type=Path, help="output folder")
    parser.add_argument("--change", choices=CHANGES, default="inverse", help="what the new phrase means")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rejects, rng = Rejects(), np.random.default_rng(args.seed)
    records = read_negatives(str(args.negatives), rejects)
    relations = load_world("default").relations
    table, added = phrases(relations), 0
    for record in records:
        negative = change(record.original, relations, table, args.change, rng)
        if negative is not None and negative != record.original:
            record.enhanced.append(negative)
            record.types.append("replace_relations")
            added += 1
    args.out.mkdir(parents=True, exist_ok=True)
    write_outputs(args.out, records, {"records": len(records), "added": added, "rejected": rejects.total})
    print(f"wrote {args.out}: {added} {args.change} relation negatives added to {len(records)} records")


if __name__ == "__main__":
    main()

"""Which blind filter keeps Flickr8k negatives that text alone cannot tell from their captions? (issue 18)

For the captions of ``--images`` Flickr8k images (seed 0, as ``negatives_quality.py`` draws them),
proposes every rule candidate of each type (``--candidates``, steered by the PMI table ``--pmi``),
keeps the valid ones (the validity filter without a blind model), and scores them with a trigram
and a bigram LM of the input captions (the filter's model; caption left out) and with the audit's
independent judge, a bigram LM of the other images' captions. Then, per filter order and
``blind_margin``, picks per caption the valid candidate closest to the caption's fluency
(``|gap|``, the stage's ranking) or the first within the margin (the unranked order), and prints
the yield (over the captions) and the judge's preference for the positive on the kept pairs.

Run: ``PYTHONPATH=src .venv/bin/python bench/negatives_blind_sweep.py --pmi PMI [--captions N]``.
"""

from __future__ import annotations

import argparse
import zlib
from pathlib import Path

import numpy as np

from compclip.negatives import RuleGenerator, Steering, ValidityFilter
from compclip.negatives.blind import BlindModel
from compclip.negatives.types import TYPES
from compclip.pmi import PMITable
from negatives_quality import FLICKR, flickr


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pmi", type=Path, required=True, help="PMI table of Flickr8k (compclip pmi count)")
    parser.add_argument("--images", type=int, default=400)
    parser.add_argument("--captions", type=int, default=1000, help="the first N captions of the sample")
    parser.add_argument("--candidates", type=int, default=48)
    parser.add_argument("--types", nargs="+", default=["swap_nouns", "replace_nouns", "reshuffle"])
    args = parser.parse_args()
    rows = flickr(FLICKR)
    images = sorted({image for image, _ in rows})
    chosen = set(np.random.default_rng(0).choice(images, size=args.images, replace=False))
    sample = [c for image, c in rows if image in chosen]
    judge = BlindModel([c for image, c in rows if image not in chosen], order=2)
    filters = {order: BlindModel(sample, order) for order in (3, 2)}
    rules = RuleGenerator(Steering(PMITable.load(args.pmi)), breadth=args.candidates)
    validity = ValidityFilter()
    for kind in args.types:
        scored = []  # per caption with a valid candidate: filter gaps by order, judge gaps
        for k, caption in enumerate(sample[: args.captions]):
            rng = np.random.default_rng([0, zlib.crc32(f"c{k}".encode()), TYPES.index(kind)])
            valid = [
                c
                for c in rules.candidates(caption, kind, rng)
                if validity.reason(caption, c, kind, set()) is None
            ]
            if valid:
                gaps = {order: np.array(model.gaps(caption, valid)) for order, model in filters.items()}
                scored.append((gaps, np.array(judge.gaps(caption, valid))))
        print(f"{kind}: {len(scored)} captions with a valid candidate")
        for order in (3, 2):
            for margin in (1.0, 0.5, 0.0, -0.5):
                for rule in ("closest", "first"):
                    kept = []
                    for gaps, judged in scored:
                        within = np.flatnonzero(gaps[order] <= margin)
                        if len(within):
                            pick = (
                                within[np.argmin(np.abs(gaps[order][within]))]
                                if rule == "closest"
                                else within[0]
                            )
                            kept.append(judged[pick] > 0)
                    print(
                        f"  order {order} margin {margin:+.1f} {rule:7s} "
                        f"yield {len(kept) / args.captions:.1%} judge prefers positive {np.mean(kept):.3f}"
                    )


if __name__ == "__main__":
    main()

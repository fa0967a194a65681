"""Which blind filter keeps Flickr8k negatives that text alone cannot tell from their captions?

For the captions of ``--images`` Flickr8k images (seed 0, as ``negatives_quality.py`` draws them),
proposes every rule candidate of each type (``--candidates``, steered by the PMI table ``--pmi``),
keeps the valid ones (the validity filter without a blind model), and scores them with LMs of the
input captions (the filter's model, per ``--orders`` and ``--smoothings``; caption left out) and
with the audit's independent judge, a bigram LM (absolute discounting) of the other images'
captions, and prints each filter model's perplexity on the judge's captions. Then, per filter
model and ``blind_margin``, picks per caption the valid candidate closest to the caption's fluency
(``|gap|``, the stage's ranking) or the first within the margin (the unranked order), and prints
the yield (over the captions), the judge's preference for the positive on the kept pairs, and the
share of kept pairs the filter scored as fluent as their caption (gap 0 up to rounding: the n-grams the
change touches are all unseen, so the filter has no evidence either way) with the judge's
preference on those.

Run: ``PYTHONPATH=src .venv/bin/python bench/negatives_blind_sweep.py --pmi PMI [--captions N]
[--orders 2 3] [--smoothings absolute kneser_ney] [--margins 0.0 -0.5] [--rules closest]``.
"""

from __future__ import annotations

import argparse
import itertools
import zlib
from pathlib import Path

import numpy as np

from compclip.negatives import RuleGenerator, Steering, ValidityFilter
from compclip.negatives.blind import SMOOTHINGS, BlindModel
from compclip.negatives.text import normalize
from compclip.negatives.types import TYPES
from compclip.pmi import PMITable
from negatives_quality import FLICKR, flickr


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pmi", type=Path, required=True, help="PMI table of Flickr8k (compclip pmi count)")
    parser.add_argument("--images", type=int, default=400)
    parser.add_argument("--captions", type=int, default=1000, help="the first N of the sample (0: all)")
    parser.add_argument("--candidates", type=int, default=48)
    parser.add_argument("--types", nargs="+", default=["swap_nouns", "replace_nouns", "reshuffle"])
    parser.add_argument("--orders", nargs="+", type=int, default=[3, 2], help="the filter's n-gram orders")
    parser.add_argument("--smoothings", nargs="+", choices=SMOOTHINGS, default=["absolute"])
    parser.add_argument("--margins", nargs="+", type=float, default=[1.0, 0.5, 0.0, -0.5])
    parser.add_argument("--rules", nargs="+", choices=("closest", "first"), default=["closest", "first"])
    args = parser.parse_args()
    rows = flickr(FLICKR)
    images = sorted({image for image, _ in rows})
    chosen = set(np.random.default_rng(0).choice(images, size=args.images, replace=False))
    sample = [c for image, c in rows if image in chosen]
    others = [c for image, c in rows if image not in chosen]
    judge = BlindModel(others, order=2)
    filters = {
        (order, smoothing): BlindModel(sample, order, smoothing=smoothing)
        for order in args.orders
        for smoothing in args.smoothings
    }
    captions = sample[: args.captions] if args.captions else sample
    words = sum(len(normalize(c)) + 1 for c in others)  # + the end mark
    for (order, smoothing), model in filters.items():
        entropy = -sum(model.score(c) for c in others) / words
        print(f"order {order} {smoothing}: perplexity {np.exp(entropy):.1f} on the judge's captions")
    rules = RuleGenerator(Steering(PMITable.load(args.pmi)), breadth=args.candidates)
    validity = ValidityFilter()
    for kind in args.types:
        scored = []  # per caption with a valid candidate: filter gaps by order, judge gaps
        for k, caption in enumerate(captions):
            rng = np.random.default_rng([0, zlib.crc32(f"c{k}".encode()), TYPES.index(kind)])
            valid = [
                c
                for c in rules.candidates(caption, kind, rng)
                if validity.reason(caption, c, kind, set()) is None
            ]
            if valid:
                gaps = {key: np.array(model.gaps(caption, valid)) for key, model in filters.items()}
                scored.append((gaps, np.array(judge.gaps(caption, valid))))
        print(f"{kind}: {len(scored)} captions with a valid candidate")
        for (order, smoothing), margin, rule in itertools.product(filters, args.margins, args.rules):
            kept = []
            for gaps, judged in scored:
                within = np.flatnonzero(gaps[order, smoothing] <= margin)
                if len(within):
                    pick = (
                        within[np.argmin(np.abs(gaps[order, smoothing][within]))]
                        if rule == "closest"
                        else within[0]
                    )
                    kept.append((judged[pick] > 0, abs(gaps[order, smoothing][pick]) < 1e-9))
            prefers, blind = np.array(kept, dtype=bool).reshape(-1, 2).T
            on_blind = np.mean(prefers[blind]) if blind.any() else np.nan
            print(
                f"  order {order} {smoothing:10s} margin {margin:+.1f} {rule:7s} "
                f"yield {len(kept) / len(captions):.1%} judge prefers positive {np.mean(prefers):.3f} "
                f"({len(kept)} pairs; filter gap 0: {blind.mean():.0%}, judge {on_blind:.3f})"
            )


if __name__ == "__main__":
    main()

"""Yield of the rule-based negatives generator on SugarCrepe's positive captions.

For each type: the share of captions with at least one valid negative, over all captions and over
those that have the words the type needs (two noun groups for swap_nouns, two different
adjectives for swap_adjectives, one adjective for replace_adjectives, one noun for
replace_nouns, two words for reshuffle, a spatial relation phrase for the relation types); the most
common rejects; throughput (captions/s for every type, one process). Each type is generated and
filtered on its own, so that no type's yield depends on another's negatives (the stage drops a
negative that another type already gave a caption).
Run: ``.venv/bin/python bench/negatives_yield.py [--limit N]``.
"""

from __future__ import annotations

import argparse
import time
from collections import Counter
from pathlib import Path

from compclip.negatives import TYPES, RuleGenerator, Rules, ValidityFilter, propose
from sugarcrepe import DATA, positive_captions


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--limit", type=int, default=0, help="first N unique captions (0: all)")
    parser.add_argument("--examples", type=int, default=0, help="print N sample negatives per type")
    args = parser.parse_args()
    captions = positive_captions(args.data)
    if args.limit:
        captions = captions[: args.limit]
    rules = RuleGenerator()
    generator, validity = Rules(rules, seed=0), ValidityFilter()
    started = time.perf_counter()
    items = [(str(n), c) for n, c in enumerate(captions)]
    per_type = {kind: propose(items, generator, validity, (kind,), 1) for kind in TYPES}
    seconds = time.perf_counter() - started
    needs = [rules.needs(c) for c in captions]
    total = sum((c for results in per_type.values() for _, c in results), Counter())
    print(
        f"{len(captions)} unique SugarCrepe positive captions, {seconds:.1f} s, "
        f"{len(captions) / seconds:.0f} captions/s"
    )
    print(f"{'type':20s} {'all':>7s} {'has words':>10s} {'n':>6s}")
    for kind in TYPES:
        ok = [bool(counts[f"valid_{kind}"]) for _, counts in per_type[kind]]
        have = [o for o, need in zip(ok, needs, strict=True) if need[kind]]
        print(f"{kind:20s} {sum(ok) / len(ok):7.1%} {sum(have) / max(len(have), 1):10.1%} {len(have):6d}")
    rejects = {k: v for k, v in total.most_common() if k.startswith("reject_")}
    print("rejected candidates:", rejects)
    for kind in TYPES if args.examples else ():
        shown = [(r.original, n) for r, _ in per_type[kind] for n in r.enhanced]
        for original, negative in shown[: args.examples]:
            print(f"  {kind}: {original!r} -> {negative!r}")


if __name__ == "__main__":
    main()

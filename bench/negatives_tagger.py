"""Part-of-speech tags on real captions: compclip's taggers against NLTK's averaged perceptron.

Gold from SugarCrepe's structure: in ``replace_att`` and ``replace_obj`` a curated negative
changes one word of the positive caption, an attribute (an adjective, ``adj``) or an object (a
noun, ``noun``). For every pair whose positive and negative differ in exactly one word, the tag
each tagger gives that word in the positive caption is compared with the gold. Also reported:
how often each tagger agrees with the perceptron on all open-class words of the captions.

Taggers: ``negatives`` (:class:`compclip.negatives.tagger.Tagger`, what the rule generator
uses), ``aro_order`` (:class:`compclip.evaluate.benchmarks.order.Tagger`, ARO Order's
perturbations), ``perceptron`` (``nltk.tag.PerceptronTagger``, Penn tags mapped to noun/adj).
Run at commit 0b5239f, the first two rows are the hand-written taggers this replaced.
Run: ``PYTHONPATH=src .venv/bin/python bench/negatives_tagger.py``.
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path

from nltk.tag import PerceptronTagger

from compclip.evaluate.benchmarks.order import Tagger as OrderTagger
from compclip.negatives.tagger import Lexicon, Tagger
from compclip.negatives.text import surface, tokens
from sugarcrepe import DATA

GOLD = {"replace_att.json": "adj", "replace_obj.json": "noun"}
ORDER = {"n": "noun", "a": "adj"}


def penn(tag: str) -> str:
    return "noun" if tag.startswith("NN") else "adj" if tag.startswith("JJ") else "other"


def items(data: Path) -> list[tuple[list[str], int, str]]:
    """``(positive words, index of the changed word, gold tag)`` for one-word changes."""
    found = []
    for name, gold in GOLD.items():
        for item in json.loads((data / name).read_text()).values():
            pos = [surface(t, i).lower() for i, t in enumerate(tokens(item["caption"]))]
            neg = [surface(t, i).lower() for i, t in enumerate(tokens(item["negative_caption"]))]
            if len(pos) != len(neg):
                continue
            changed = [i for i, (a, b) in enumerate(zip(pos, neg, strict=True)) if a != b]
            if len(changed) == 1:
                found.append((pos, changed[0], gold))
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=DATA)
    args = parser.parse_args()
    found = items(args.data)
    negatives, order, perceptron = Tagger(Lexicon.load()), OrderTagger(), PerceptronTagger(lang="eng")
    taggers = {
        "negatives": lambda words: [t if t in ("noun", "adj") else "other" for t in negatives.tag(words)],
        "aro_order": lambda words: [ORDER.get(t, "other") for t in order.tags(words)],
        "perceptron": lambda words: [penn(t) for _, t in perceptron.tag(words)],
    }
    print(f"{len(found)} one-word changes (SugarCrepe replace_att + replace_obj)")
    header = ("adj right", "noun right", "all right", "agrees w/ perceptron")
    print(f"{'tagger':12s} " + " ".join(f"{h:>{len(h) + 1}s}" for h in header))
    for name, tag in taggers.items():
        right, seen, agree, words = Counter(), Counter(), 0, 0
        for pos, i, gold in found:
            tags = tag(pos)
            seen[gold] += 1
            right[gold] += tags[i] == gold
            reference = taggers["perceptron"](pos)
            open_class = [k for k, t in enumerate(reference) if t != "other" or tags[k] != "other"]
            agree += sum(tags[k] == reference[k] for k in open_class)
            words += len(open_class)
        print(
            f"{name:12s} {right['adj'] / seen['adj']:10.1%} {right['noun'] / seen['noun']:11.1%} "
            f"{sum(right.values()) / sum(seen.values()):10.1%} {agree / words:21.1%}"
        )


if __name__ == "__main__":
    main()

"""Near-synonyms by how captions use them: words that captions of one image say for the same thing.

WordNet misses many words people use for the same thing (*street* / *road*, *lady* / *woman*,
*jacket* / *coat*, *big* / *large*). Captions of one image (Flickr8k and COCO have five) are
paraphrases of each other, so such words show up in *different* captions of one image and
rarely in the *same* caption, while two things that are both shown (*man* / *woman*, *dog* /
*cat*) show up together in one caption too. :class:`Paraphrases` counts, over a caption corpus,
for each pair of content words (lemmas, closed-class words left out) the images where one caption
has one and another caption the other (``across``), and the captions that have both (``within``);
a pair is a near-synonym when ``across >= min_across`` and ``within <= max_within * across``. A
replacement by a near-synonym may leave a caption true. A corpus of one caption an image gives no
evidence: then nothing is a near-synonym.
"""

from __future__ import annotations

import itertools
from collections import Counter, defaultdict
from collections.abc import Iterable

from compclip.negatives.inflection import base
from compclip.negatives.tagger import Lexicon
from compclip.negatives.text import normalize


class Paraphrases:
    """Near-synonyms learnt from ``captions``: ``(image, caption)`` pairs."""

    def __init__(
        self, captions: Iterable[tuple[str, str]], min_across: int = 2, max_within: float = 0.2
    ) -> None:
        self.min_across, self.max_within = min_across, max_within
        closed = Lexicon.load().function
        by_image: dict[str, list[frozenset[str]]] = defaultdict(list)
        for image, caption in captions:
            words = frozenset(base(w) for w in normalize(caption) if w.isalpha() and w not in closed)
            by_image[image].append(words)
        self.across: Counter = Counter()
        self.within: Counter = Counter()
        for found in by_image.values():
            for words in found:
                self.within.update(itertools.combinations(sorted(words), 2))
            if len(found) < 2:
                continue
            pairs = set()
            for one, other in itertools.permutations(found, 2):
                pairs.update((a, b) for a in one - other for b in other - one if a < b)
            self.across.update(pairs)

    def near(self, old: str, new: str) -> bool:
        """Whether captions of one image use ``old`` and ``new`` (words or lemmas) for the same thing."""
        a, b = sorted((base(old.lower()), base(new.lower())))
        across = self.across[a, b]
        return across >= self.min_across and self.within[a, b] <= self.max_within * across

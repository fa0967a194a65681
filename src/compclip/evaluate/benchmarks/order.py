"""ARO COCO-Order and Flickr-Order: captions against word-order perturbations of themselves.

For every caption, four perturbations as in ARO's ``perturbations.py``: shuffle the nouns and the
adjectives (each among themselves), shuffle all other words, shuffle words within each trigram,
and shuffle the trigrams. Captions are normalised first as ARO's ``pre_caption`` (lowercase,
``.!"()*#:;~`` removed, at most 30 words). Perturbations equal to the caption are dropped.

ARO tags parts of speech with spaCy; compclip has no spaCy model offline, so it tags with NLTK's
averaged perceptron (Penn ``NN*`` a noun, ``JJ*`` an adjective), which tags real captions better
than the earlier WordNet-reading rules (BENCHMARKS.md, "Part-of-speech tags on real captions");
stopwords, numerals and words WordNet does not know are neither (word lists in ``order_words.yaml``).

Generation is deterministic: caption ``i`` uses ``numpy.random.default_rng([seed, i])``. The result
is stored as JSON (``compclip-aro-order-v1``), which :func:`load` also accepts, so a run can be
repeated on exactly the same options.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from functools import cache, cached_property
from pathlib import Path

import numpy as np
import yaml

from compclip import nltkdata
from compclip.errors import UserError
from compclip.evaluate.benchmarks.common import Item, get_fields, image_path, read_json
from compclip.evaluate.encode import ImageRef
from compclip.rejects import Rejects
from compclip.storage import sha256_file, write_json

log = logging.getLogger(__name__)

FORMAT = "compclip-aro-order-v1"
MAX_WORDS = 30
PUNCT = re.compile(r'[.!"()*#:;~]')
WORDS = yaml.safe_load((Path(__file__).parent / "order_words.yaml").read_text())
SUBSETS = ("coco_order", "flickr_order")
PENN = {"NN": "n", "JJ": "a"}


def pre_caption(caption: str, max_words: int = MAX_WORDS) -> str:
    """ARO's caption normalisation."""
    words = PUNCT.sub(" ", caption.lower()).split()
    return " ".join(words[:max_words])


class Tagger:
    """Noun (``n``), adjective (``a``) or other (``x``) per token, by the perceptron's tags."""

    @cached_property
    def _perceptron(self):
        return nltkdata.perceptron()

    @cached_property
    def _wordnet(self):
        return nltkdata.wordnet(), nltkdata.stopwords()

    @cache  # noqa: B019 - one tagger per run; the cache is the point
    def readings(self, word: str) -> dict[str, float]:
        """Lemma counts of ``word`` per WordNet POS (``n``, ``v``, ``a``, ``r``)."""
        wordnet, stop = self._wordnet
        if word in stop or word in WORDS["numerals"] or not word.isalpha():
            return {}
        counts = {}
        for pos in "nvar":
            base = wordnet.morphy(word, pos)
            if base is None:
                continue
            lemmas = [
                lemma for s in wordnet.synsets(base, pos) for lemma in s.lemmas() if lemma.name() == base
            ]
            if lemmas:
                counts[pos] = sum(lemma.count() for lemma in lemmas) + 1e-3 * len(lemmas)
        return counts

    def tags(self, tokens: list[str]) -> list[str]:
        """``n``/``a`` by the perceptron's Penn tag, for words with a WordNet reading; else ``x``."""
        penn = [tag for _, tag in self._perceptron.tag(tokens)] if tokens else []
        return [
            PENN.get(tag[:2], "x") if self.readings(token) else "x"
            for token, tag in zip(tokens, penn, strict=True)
        ]


def trigrams(tokens: list[str]) -> list[list[str]]:
    return [tokens[i : i + 3] for i in range(0, len(tokens), 3)]


def _permute_at(tokens: list[str], positions: list[int], rng: np.random.Generator) -> list[str]:
    out = list(tokens)
    for target, source in zip(positions, rng.permutation(positions), strict=True):
        out[target] = tokens[source]
    return out


def shuffle_nouns_and_adj(tokens: list[str], tags: list[str], rng: np.random.Generator) -> list[str]:
    out = _permute_at(tokens, [i for i, t in enumerate(tags) if t == "n"], rng)
    return _permute_at(out, [i for i, t in enumerate(tags) if t == "a"], rng)


def shuffle_allbut_nouns_and_adj(tokens: list[str], tags: list[str], rng: np.random.Generator) -> list[str]:
    return _permute_at(tokens, [i for i, t in enumerate(tags) if t == "x"], rng)


def shuffle_within_trigrams(tokens: list[str], tags: list[str], rng: np.random.Generator) -> list[str]:
    return [w for tri in trigrams(tokens) for w in (tri[i] for i in rng.permutation(len(tri)))]


def shuffle_trigrams(tokens: list[str], tags: list[str], rng: np.random.Generator) -> list[str]:
    tris = trigrams(tokens)
    return [w for i in rng.permutation(len(tris)) for w in tris[i]]


PERTURBATIONS: tuple[Callable[[list[str], list[str], np.random.Generator], list[str]], ...] = (
    shuffle_nouns_and_adj, shuffle_allbut_nouns_and_adj, shuffle_within_trigrams, shuffle_trigrams,
)  # fmt: skip


def perturb(caption: str, tagger: Tagger, rng: np.random.Generator) -> list[str]:
    """The normalised caption followed by its distinct perturbations (in ARO's order)."""
    text = pre_caption(caption)
    tokens = text.split()
    tags = tagger.tags(tokens)
    options = [text]
    for fn in PERTURBATIONS:
        option = " ".join(fn(tokens, tags, rng))
        if option not in options:
            options.append(option)
    return options


def read_captions(path: Path, rejects: Rejects) -> tuple[list[tuple[str, str]], int]:
    """``(image, caption)`` pairs from a Karpathy-style JSON list ``[{image, caption: str | [str]}]``
    or a Flickr token file (``<image>#<n>\\t<caption>``), and the number of records read."""
    if path.suffix == ".json":
        data = read_json(path)
        if not isinstance(data, list):
            raise UserError(f"{path}: expected a JSON list of {{image, caption}} records")
        pairs = []
        for index, record in enumerate(data):
            values = get_fields(record, ("image", "caption"), rejects, f"{path.name}:{index}")
            if values is not None:
                image, captions = values
                pairs.extend((image, c) for c in ([captions] if isinstance(captions, str) else captions))
        return pairs, len(data)
    if not path.is_file():
        raise UserError(f"no such captions file: {path}")
    pairs, lines = [], path.read_text(encoding="utf-8").splitlines()
    for number, line in enumerate(lines, 1):
        key, _, caption = line.partition("\t")
        if not caption.strip() or "#" not in key:
            rejects.add("malformed_line", f"{path.name}:{number}")
            continue
        pairs.append((key.rsplit("#", 1)[0], caption))
    return pairs, len(lines)


def generate(pairs: list[tuple[str, str]], seed: int, max_images: int | None = None) -> list[dict]:
    """Perturbed caption options for every caption (of the first ``max_images`` images)."""
    if max_images is not None:
        keep = set(list(dict.fromkeys(image for image, _ in pairs))[:max_images])
        pairs = [(image, caption) for image, caption in pairs if image in keep]
    tagger = Tagger()
    return [
        {
            "id": i,
            "image": image,
            "caption_options": perturb(caption, tagger, np.random.default_rng([seed, i])),
        }
        for i, (image, caption) in enumerate(pairs)
    ]


def load(
    annotations: Path, image_root: Path, rejects: Rejects, subset: str, seed: int,
    store: Path, max_images: int | None = None,
) -> tuple[list[Item], int]:  # fmt: skip
    """Items from a captions file (perturbed now and stored at ``store``) or a stored perturbation file."""
    data = read_json(annotations) if annotations.suffix == ".json" else None
    if isinstance(data, dict) and data.get("format") == FORMAT:
        records, n_seen = data["items"], len(data["items"])
        log.info("read %d stored %s items from %s (seed %s)", n_seen, subset, annotations, data.get("seed"))
    else:
        pairs, n_seen = read_captions(annotations, rejects)
        records = generate(pairs, seed, max_images)
        header = {"format": FORMAT, "subset": subset, "source": annotations.name,
                  "source_sha256": sha256_file(str(annotations)), "seed": seed,
                  "max_images": max_images, "items": records}  # fmt: skip
        write_json(store, header, sort_keys=False)
        log.info("wrote %d perturbed %s items to %s", len(records), subset, store)
    items = []
    for record in records:
        options = record["caption_options"]
        if len(options) < 2:
            rejects.add("no_distinct_perturbation", f"{annotations.name}:{record['id']}")
            continue
        image = ImageRef(image_path(image_root, record["image"]))
        items.append(Item(f"{subset}/{record['id']}", subset, image, options[0], tuple(options[1:])))
    return items, n_seen

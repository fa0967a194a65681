"""Provision the NLTK data compclip needs (English stopwords, POS tagger, WordNet) without a network.

``make`` runs ``python -m compclip.nltkdata --target .venv/nltk_data``. NLTK searches
``sys.prefix/nltk_data``, so the installed ``compclip`` finds the data with no environment
variable. Sources, in order:

- stopwords: the pinned copy in ``--shared`` (``shared/nltk_data``, nltk_data commit 5db857e,
  2023-02, English list of 179 words), else ``nltk.download``;
- the averaged-perceptron part-of-speech tagger (``averaged_perceptron_tagger_eng``, the JSON
  format nltk >= 3.9 loads): the copy in ``--shared`` (``taggers/``), else ``nltk.download``;
- WordNet: Debian's ``wordnet-base`` + ``wordnet-sense-index`` files in ``--wordnet-dir``
  (copied, since NLTK refuses links, plus a generated ``lexnames``), else ``nltk.download``.

What was provisioned is written to ``compclip-nltk.json`` in the target and recorded in
every PMI table's header. :func:`wordnet`, :func:`stopwords` and :func:`perceptron` load the data,
each once a process, and refuse missing data with one message that says how to provision it.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import socket
import sys
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

from compclip.errors import UserError
from compclip.storage import write_json

PROVENANCE = "compclip-nltk.json"
STOPWORDS_PIN = "nltk_data commit 5db857e (2023-02), English list"
TAGGER = "averaged_perceptron_tagger_eng"
WORDNET_FILES = (
    "adj.exc",
    "adv.exc",
    "cntlist.rev",
    "data.adj",
    "data.adv",
    "data.noun",
    "data.verb",
    "index.adj",
    "index.adv",
    "index.noun",
    "index.verb",
    "noun.exc",
    "verb.exc",
    "index.sense",
)
# WordNet 3.0's lexicographer files (lexnames(5WN)): number, name, syntactic category.
LEXNAMES = [
    "adj.all",
    "adj.pert",
    "adv.all",
    "noun.Tops",
    "noun.act",
    "noun.animal",
    "noun.artifact",
    "noun.attribute",
    "noun.body",
    "noun.cognition",
    "noun.communication",
    "noun.event",
    "noun.feeling",
    "noun.food",
    "noun.group",
    "noun.location",
    "noun.motive",
    "noun.object",
    "noun.person",
    "noun.phenomenon",
    "noun.plant",
    "noun.possession",
    "noun.process",
    "noun.quantity",
    "noun.relation",
    "noun.shape",
    "noun.state",
    "noun.substance",
    "noun.time",
    "verb.body",
    "verb.change",
    "verb.cognition",
    "verb.communication",
    "verb.competition",
    "verb.consumption",
    "verb.contact",
    "verb.creation",
    "verb.emotion",
    "verb.motion",
    "verb.perception",
    "verb.possession",
    "verb.social",
    "verb.stative",
    "verb.weather",
    "adj.ppl",
]
LEX_CATEGORY = {"adj": 3, "adv": 4, "noun": 1, "verb": 2}


def lexnames_text() -> str:
    return "".join(
        f"{i:02d}\t{name}\t{LEX_CATEGORY[name.split('.')[0]]}\n" for i, name in enumerate(LEXNAMES)
    )


def install_debian_wordnet(source: Path, target: Path) -> str | None:
    """Copy Debian's WordNet files into ``target/corpora/wordnet``; the sha256 of what was copied
    (each file's name and content), or None when they are absent."""
    if not (source / "index.noun").is_file():
        return None
    dest = target / "corpora" / "wordnet"
    dest.mkdir(parents=True, exist_ok=True)
    total = hashlib.sha256()
    for name in WORDNET_FILES:
        if (source / name).is_file():
            data = (source / name).read_bytes()
            total.update(f"{name}\0".encode() + hashlib.sha256(data).digest())
            (dest / name).write_bytes(data)
    (dest / "lexnames").write_text(lexnames_text())
    return total.hexdigest()


def _download(package: str, target: Path) -> bool:
    import nltk

    socket.setdefaulttimeout(20)
    return bool(nltk.download(package, download_dir=str(target), quiet=True, raise_on_error=False))


def provision(target: Path, shared: Path | None, wordnet_dir: Path) -> dict:
    """Install stopwords, the POS tagger and WordNet into ``target``; return (and write) their
    provenance, which names what was installed (a pin or a digest), never where it was copied from,
    so the same data gives the same provenance on any machine and in any image."""
    target.mkdir(parents=True, exist_ok=True)
    provenance: dict[str, str] = {}
    pinned = shared / "corpora" / "stopwords.zip" if shared else None
    if pinned and pinned.is_file():
        (target / "corpora").mkdir(exist_ok=True)
        shutil.copyfile(pinned, target / "corpora" / "stopwords.zip")
        provenance["stopwords"] = STOPWORDS_PIN
    elif _download("stopwords", target):
        provenance["stopwords"] = "nltk.download (latest)"
    else:
        raise SystemExit("no stopword list: pass --shared shared/nltk_data or allow nltk.download")
    shared_tagger = shared / "taggers" / f"{TAGGER}.zip" if shared else None
    if shared_tagger and shared_tagger.is_file():
        (target / "taggers").mkdir(exist_ok=True)
        shutil.copyfile(shared_tagger, target / "taggers" / f"{TAGGER}.zip")
        digest = hashlib.sha256(shared_tagger.read_bytes()).hexdigest()
        provenance["tagger"] = f"{TAGGER} (sha256 {digest[:12]})"
    elif _download(TAGGER, target):
        provenance["tagger"] = f"nltk.download ({TAGGER})"
    else:
        raise SystemExit(
            f"no POS tagger: pass --shared shared/nltk_data (taggers/{TAGGER}.zip) or allow nltk.download"
        )
    if wordnet_digest := install_debian_wordnet(wordnet_dir, target):
        provenance["wordnet"] = f"Debian wordnet-base (sha256 {wordnet_digest[:12]})"
    elif _download("wordnet", target):
        provenance["wordnet"] = "nltk.download (wordnet)"
    else:
        raise SystemExit(f"no WordNet: install Debian's wordnet-base ({wordnet_dir}) or allow nltk.download")
    write_json(target / PROVENANCE, provenance, sort_keys=False)
    return provenance


def _loaded(what: str, load: Callable[[], Any]) -> Any:
    try:
        return load()
    except LookupError as err:
        raise UserError(
            f"NLTK data missing ({what}): run `make setup` or "
            "`python -m compclip.nltkdata --shared ../shared/nltk_data`"
        ) from err


@cache
def wordnet() -> Any:
    """NLTK's WordNet reader, loaded."""

    def load() -> Any:
        from nltk.corpus import wordnet

        wordnet.ensure_loaded()
        return wordnet

    return _loaded("WordNet", load)


@cache
def stopwords() -> frozenset[str]:
    """NLTK's English stopword list."""

    def load() -> frozenset[str]:
        from nltk.corpus import stopwords

        return frozenset(stopwords.words("english"))

    return _loaded("stopwords", load)


@cache
def perceptron() -> Any:
    """NLTK's averaged-perceptron part-of-speech tagger (English)."""

    def load() -> Any:
        from nltk.tag import PerceptronTagger

        return PerceptronTagger(lang="eng")

    return _loaded(TAGGER, load)


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--target", type=Path, default=Path(sys.prefix) / "nltk_data")
    parser.add_argument(
        "--shared", type=Path, default=None, help="folder holding corpora/stopwords.zip and taggers/"
    )
    parser.add_argument("--wordnet-dir", type=Path, default=Path("/usr/share/wordnet"))
    args = parser.parse_args(argv)
    print(json.dumps(provision(args.target, args.shared, args.wordnet_dir)))


if __name__ == "__main__":
    main()

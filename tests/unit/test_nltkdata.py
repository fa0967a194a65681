"""`python -m compclip.nltkdata`: the POS tagger is provisioned beside the stopwords and WordNet."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from compclip.nltkdata import TAGGER, provision

WORDNET = Path("/usr/share/wordnet")


@pytest.mark.skipif(not (WORDNET / "index.noun").is_file(), reason="Debian's wordnet-base not installed")
def test_tagger_is_copied_and_loads(shared, tmp_path):
    provenance = provision(tmp_path, shared / "nltk_data", WORDNET)
    assert (tmp_path / "taggers" / f"{TAGGER}.zip").is_file() and TAGGER in provenance["tagger"]
    assert json.loads((tmp_path / "compclip-nltk.json").read_text()) == provenance
    import nltk
    from nltk.tag import PerceptronTagger

    nltk.data.path.insert(0, str(tmp_path))
    try:
        tags = [t for _, t in PerceptronTagger(lang="eng").tag(["two", "dogs", "run"])]
    finally:
        nltk.data.path.remove(str(tmp_path))
    assert tags[1] == "NNS"

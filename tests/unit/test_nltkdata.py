"""`python -m compclip.nltkdata`: the POS tagger is provisioned beside the stopwords and WordNet;
every module loads the data through it and names missing data in one message."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
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


@pytest.mark.skipif(not (WORDNET / "index.noun").is_file(), reason="Debian's wordnet-base not installed")
def test_provenance_names_the_data_not_where_it_was_copied_from(shared, tmp_path):
    moved = tmp_path / "elsewhere"
    shutil.copytree(shared / "nltk_data", moved / "nltk_data")
    shutil.copytree(WORDNET, moved / "wordnet")
    here = provision(tmp_path / "a", shared / "nltk_data", WORDNET)
    there = provision(tmp_path / "b", moved / "nltk_data", moved / "wordnet")
    assert here == there
    assert not any(str(WORDNET) in v or str(shared) in v or str(moved) in v for v in here.values())
    (moved / "wordnet" / "index.noun").write_text("changed\n")
    assert provision(tmp_path / "c", moved / "nltk_data", moved / "wordnet")["wordnet"] != here["wordnet"]


# each loader where NLTK finds no data: the message it refuses with
MISSING = """
import nltk, sys
nltk.data.path[:] = [sys.argv[1]]
from compclip import nltkdata
from compclip.errors import UserError
for load in (nltkdata.wordnet, nltkdata.stopwords, nltkdata.perceptron):
    try:
        load()
    except UserError as err:
        print(err)
"""


def test_missing_data_is_named_with_the_command_that_provisions_it(tmp_path):
    done = subprocess.run([sys.executable, "-c", MISSING, str(tmp_path)], capture_output=True, text=True)
    lines = done.stdout.splitlines()
    assert [line.split(")")[0] for line in lines] == [
        "NLTK data missing (WordNet",
        "NLTK data missing (stopwords",
        f"NLTK data missing ({TAGGER}",
    ], done.stderr
    assert all(line.endswith("`python -m compclip.nltkdata --shared ../shared/nltk_data`") for line in lines)

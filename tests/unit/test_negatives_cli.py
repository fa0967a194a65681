"""``compclip negatives``: the door builds the config and calls the library."""

from __future__ import annotations

import json

import pytest

from compclip.cli import main


def test_generate_and_filter(tmp_path, capsys):
    captions = tmp_path / "caps.tsv"
    captions.write_text("a\ta red car next to a white dog\nb\ttwo cats on a sofa\n")
    params = tmp_path / "params.yaml"
    params.write_text("negatives:\n  per_type: 2\n  filter:\n    max_ratio: 1.2\n    blind: false\n")
    out = tmp_path / "neg"
    args = ["negatives", "generate", str(captions), "--out", str(out), "--params", str(params), "--seed", "3"]
    assert main([*args, "--types", "swap_adjectives", "replace_nouns"]) == 0
    assert "negatives for 2 of 2 captions" in capsys.readouterr().out
    header = json.loads((out / "progress.json").read_text())
    assert (header["per_type"], header["seed"], header["filter"]["max_ratio"]) == (2, 3, 1.2)
    assert header["types"] == ["swap_adjectives", "replace_nouns"]
    check = ["negatives", "filter", str(out / "negatives.json"), "--out", str(tmp_path / "clean")]
    assert main(check) == 2  # two captions cannot teach the blind filter: it says so, never skips
    assert "--reference-captions" in capsys.readouterr().err
    assert main([*check, "--params", str(params)]) == 0
    assert (tmp_path / "clean" / "negatives.parquet").is_file()


def test_user_errors_are_one_line(tmp_path, capsys):
    assert main(["negatives", "generate", str(tmp_path / "nope.tsv"), "--out", str(tmp_path / "o")]) == 2
    assert "no such file" in capsys.readouterr().err


def test_help_has_examples(capsys):
    with pytest.raises(SystemExit):
        main(["negatives", "generate", "--help"])
    assert "compclip negatives generate" in capsys.readouterr().out

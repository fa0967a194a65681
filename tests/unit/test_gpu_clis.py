"""The GPU stages' commands: help with examples, and user errors as one line."""

from __future__ import annotations

import pytest

from compclip.cli import main


@pytest.mark.parametrize(
    ("command", "verb"),
    [("genpairs", "pairs"), ("genpairs", "captions"), ("genpairs", "images"), ("genpairs", "run"),
     ("genpairs", "merge"), ("paste", "accessories"), ("paste", "run"), ("paste", "merge"),
     ("vqa-pmi", "predict"), ("vqa-pmi", "analyze")],
)  # fmt: skip
def test_help_ends_with_examples(command, verb, capsys):
    with pytest.raises(SystemExit) as stop:
        main([command, verb, "--help"])
    out = capsys.readouterr().out
    assert stop.value.code == 0 and "examples:" in out and f"compclip {command} " in out.split("examples:")[1]


def test_a_bad_shard_is_one_error_line(tmp_path, capsys):
    code = main(
        ["genpairs", "images", "--captions", str(tmp_path), "--out", str(tmp_path / "o"), "--shard", "4/4"]
    )
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "--shard" in err


def test_a_missing_pmi_table_is_one_error_line(tmp_path, capsys):
    code = main(
        [
            "paste",
            "run",
            "--images",
            str(tmp_path),
            "--pmi",
            str(tmp_path / "none"),
            "--out",
            str(tmp_path / "o"),
        ]
    )
    assert code == 2 and "no such folder" in capsys.readouterr().err

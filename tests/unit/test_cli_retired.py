"""Flags of earlier releases are refused in one line naming the flag that replaced them."""

import pytest

from compclip.cli import main

TRAIN = ["train", "--model", "m", "--data", "d", "--out", "o"]


@pytest.mark.parametrize(
    ("argv", "named"),
    [
        ([*TRAIN, "--resume"], "--resume is gone: a run resumes from its --work-dir by itself"),
        ([*TRAIN, "--checkpoint-dir", "ck"], "--checkpoint-dir is gone: use --work-dir"),
        (["pretrain", "--data", "d", "--out", "o", "--resume"], "--resume is gone"),
        (
            ["negatives", "generate", "c.tsv", "--out", "o", "--progress", "w"],
            "--progress is gone: use --work-dir",
        ),
    ],
)
def test_a_retired_flag_is_refused_before_anything_runs(argv, named, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    err = capsys.readouterr().err
    command = " ".join(argv[:2]) if argv[0] == "negatives" else argv[0]
    assert exit_.value.code == 2 and err.startswith(f"compclip {command}: error: {named}")
    assert err.count("\n") == 1 and "Traceback" not in err and not list(tmp_path.iterdir())

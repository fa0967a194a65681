"""Stage configs: params.yaml sections, unknown keys, and flags that override only when given."""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field

import pytest

from compclip.config import load_section, override, override_from
from compclip.errors import UserError


@dataclass(frozen=True)
class Optim:
    lr: float = 1e-6
    betas: tuple[float, float] = (0.9, 0.98)


@dataclass(frozen=True)
class Stage:
    seed: int = 0
    name: str = "x"
    optim: Optim = field(default_factory=Optim)


def test_section_fills_nested_dataclasses_and_tuples(tmp_path):
    params = tmp_path / "params.yaml"
    params.write_text("stage:\n  seed: 3\n  optim: {lr: 0.001, betas: [0.8, 0.9]}\nother: {seed: 9}\n")
    config = load_section(Stage, params, "stage")
    assert config == Stage(seed=3, optim=Optim(lr=0.001, betas=(0.8, 0.9)))
    assert load_section(Stage, None, "stage") == Stage()


def test_unknown_keys_and_missing_files_are_errors(tmp_path):
    params = tmp_path / "params.yaml"
    params.write_text("stage:\n  optim: {learning_rate: 0.1}\n")
    with pytest.raises(UserError, match=r"stage\.optim: unknown keys \['learning_rate'\]"):
        load_section(Stage, params, "stage")
    with pytest.raises(UserError, match="no such params file"):
        load_section(Stage, tmp_path / "missing.yaml", "stage")


def test_only_given_flags_override():
    config = Stage(seed=3, name="a")
    assert override(config, seed=None, name="b") == Stage(seed=3, name="b")
    args = argparse.Namespace(seed=None, name="c", lr=0.5)
    optim = override_from(config.optim, args, "lr")
    assert override_from(config, args, "seed", "name", optim=optim) == Stage(3, "c", Optim(lr=0.5))

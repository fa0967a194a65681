"""Stage configs: params.yaml sections, unknown keys, and flags that override only when given."""

from __future__ import annotations

import argparse
import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated

import pytest

from compclip.config import (
    Checked,
    PositiveInt,
    Range,
    Share,
    add_flag,
    load_section,
    override,
    override_from,
)
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


@dataclass(frozen=True)
class Typed:
    lr: float = 1e-3
    steps: int = 10
    pad: bool = False
    crop: tuple[float, float] = (0.8, 1.0)
    names: tuple[str, ...] = ()
    device: str | None = None


def _load(tmp_path, text: str) -> Typed:
    params = tmp_path / "params.yaml"
    params.write_text(text)
    return load_section(Typed, params, "stage")


def test_values_are_converted_to_their_field_types_when_lossless(tmp_path):
    # PyYAML reads `1e-3` as a string (YAML 1.1 floats need a dot); `4.0` steps is a whole number
    config = _load(tmp_path, "stage: {lr: 1e-3, steps: 4.0, crop: [1, 1], names: [a, b], device: cpu}\n")
    assert config == Typed(lr=0.001, steps=4, crop=(1.0, 1.0), names=("a", "b"), device="cpu")
    assert isinstance(config.lr, float) and isinstance(config.crop, tuple)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("stage: {lr: fast}", r"stage\.lr: expected float, got 'fast'"),
        ("stage: {steps: 2.5}", r"stage\.steps: expected int, got 2\.5"),
        ("stage: {pad: 'yes please'}", r"stage\.pad: expected bool"),
        ("stage: {crop: [0.8]}", r"stage\.crop: expected 2 values"),
        ("stage: {names: a}", r"stage\.names: expected a list"),
        ("stage: {stepz: 3}", r"unknown keys \['stepz'\]; valid keys: \['crop', 'device', 'lr'"),
        ("stage: 7", r"expected a mapping of settings"),
    ],
)
def test_values_of_the_wrong_type_are_refused_naming_the_key(tmp_path, text, message):
    with pytest.raises(UserError, match=message):
        _load(tmp_path, text + "\n")


@dataclass(frozen=True)
class Ranged(Checked):
    batch_size: PositiveInt = 8
    share: Share = 0.5
    lr: float = 1e-3
    limit: PositiveInt | None = None
    crop: tuple[Annotated[float, Range(0, 1, open_low=True)], ...] = (0.9, 1.0)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("stage: {lr: .nan}", r"stage\.lr: must be a finite number, got nan"),
        ("stage: {lr: .inf}", r"stage\.lr: must be a finite number, got inf"),
        ("stage: {lr: '-inf'}", r"stage\.lr: must be a finite number, got '-inf'"),
        ("stage: {batch_size: 0}", r"stage\.batch_size: must be >= 1, got 0"),
        ("stage: {share: 2}", r"stage\.share: must be in \[0, 1\], got 2\.0"),
        ("stage: {limit: -1}", r"stage\.limit: must be >= 1, got -1"),
        ("stage: {crop: [0, 1]}", r"stage\.crop\[0\]: must be in \(0, 1\], got 0\.0"),
    ],
)
def test_values_out_of_their_range_are_refused_naming_key_value_and_range(tmp_path, text, message):
    params = tmp_path / "params.yaml"
    params.write_text(text + "\n")
    with pytest.raises(UserError, match=message):
        load_section(Ranged, params, "stage")


def test_flags_and_configs_built_in_code_are_checked_the_same_way():
    with pytest.raises(UserError, match=r"^lr: must be a finite number, got nan$"):
        override(Ranged(), lr=float("nan"))
    with pytest.raises(UserError, match=r"^batch_size: must be >= 1, got 0$"):
        override_from(Ranged(), argparse.Namespace(batch_size=0), "batch_size")
    with pytest.raises(UserError, match=r"^share: must be in \[0, 1\], got -0\.5$"):
        Ranged(share=-0.5)
    assert override(Ranged(), share=1, limit=3) == Ranged(share=1.0, limit=3)


def test_every_stage_config_refuses_a_non_finite_float():
    """No float setting of a stage may be NaN: each is finite, most also carry a range."""
    from compclip.evaluate.run import EvaluateConfig
    from compclip.negatives.run import NegativesConfig
    from compclip.pmi.shards import CountConfig
    from compclip.train.loop import TrainConfig

    for config in (TrainConfig(), CountConfig(), EvaluateConfig(), NegativesConfig()):
        floats = _float_fields(config)
        assert floats
        for path in floats:
            with pytest.raises(UserError, match=f"{path.rsplit('.', 1)[-1]}: must be"):
                _replace(config, path, float("nan"))


def _float_fields(config, prefix: str = "") -> list[str]:
    paths = []
    for f in dataclasses.fields(config):
        value = getattr(config, f.name)
        if dataclasses.is_dataclass(value):
            paths += _float_fields(value, f"{prefix}{f.name}.")
        elif isinstance(value, float):
            paths.append(prefix + f.name)
    return paths


def _replace(config, path: str, value):
    head, _, rest = path.partition(".")
    if not rest:
        return override(config, **{head: value})
    return dataclasses.replace(config, **{head: _replace(getattr(config, head), rest, value)})


def test_a_flag_shows_its_field_default_and_leaves_the_config_alone():
    parser = argparse.ArgumentParser()
    add_flag(parser, Stage(seed=3), "--seed", type=int, help="sampling seed")
    add_flag(parser, Stage(), "--betas", field="optim.betas", nargs=2, type=float, help="Adam betas")
    text = " ".join(parser.format_help().split())
    assert "sampling seed (default: 3)" in text and "Adam betas (default: 0.9, 0.98)" in text
    assert vars(parser.parse_args([])) == {"seed": None, "betas": None}
    assert override_from(Stage(seed=5), parser.parse_args([]), "seed").seed == 5
    assert override_from(Stage(seed=5), parser.parse_args(["--seed", "7"]), "seed").seed == 7


REPO = Path(__file__).resolve().parents[2]


def test_pretrain_and_train_sections_share_one_shape():
    """``pretrain`` nests ``optim`` and ``data`` as ``train`` does, and params.yaml's section still
    gives the loop the same settings as the flat section of earlier releases did."""
    from compclip.pretrain import PretrainConfig
    from compclip.train import DataConfig, OptimConfig, TrainConfig

    pretrain = load_section(PretrainConfig, REPO / "params.yaml", "pretrain")
    before = TrainConfig(
        method="clip", seed=0, threads=2, checkpoint_every=200,
        optim=OptimConfig(lr=1e-3, warmup_steps=20, weight_decay=0.1, epochs=2),
        data=DataConfig(batch_size=128, crop_scale=(0.8, 1.0), max_reject_share=0.05),
    )  # fmt: skip
    assert dataclasses.asdict(pretrain.train_config()) == dataclasses.asdict(before)
    shared = {f.name for f in dataclasses.fields(TrainConfig)} | {"model"}
    assert {f.name for f in dataclasses.fields(PretrainConfig)} <= shared


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("pretrain: {epochs: 2}", r"^P:pretrain\.epochs moved: write it as P:pretrain\.optim\.epochs$"),
        (
            "pretrain: {batch_size: 64}",
            r"^P:pretrain\.batch_size moved: write it as P:pretrain\.data\.batch_size$",
        ),
    ],
)
def test_a_moved_key_is_refused_naming_its_new_place(tmp_path, monkeypatch, text, message):
    from compclip.pretrain import PretrainConfig

    monkeypatch.chdir(tmp_path)
    Path("P").write_text(text)
    with pytest.raises(UserError, match=message):
        load_section(PretrainConfig, "P", "pretrain")

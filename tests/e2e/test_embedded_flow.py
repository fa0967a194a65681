"""A smoke run of the whole embedded flow: every DVC stage of dvc.yaml, on a tiny world."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

pytestmark = pytest.mark.e2e
REPO = Path(__file__).resolve().parents[2]

# A small corpus names every accessory only when captions always name it and the skew is mild.
SMALL = {"mention": {"accessory": 1.0}, "skew": {"zipf_exponent": 1.3}}
TINY = {
    "world": {"n": 600, "overrides": SMALL},
    "finetune": {"n": 240, "overrides": SMALL},  # its named mix (params.yaml: pairs) stays
    "pmi": {"min_count": 1, "workers": 1},
    "evalsets": {"per_stratum": 8, "single_per_class": 4, "per_subset": 8, "n_strata": 4, "overrides": SMALL},
    "pretrain": {
        "optim": {"epochs": 1, "warmup_steps": 2},
        "data": {"batch_size": 64},
        "checkpoint_every": 0,
    },
    "train": {"optim": {"epochs": 1, "warmup_steps": 1}, "data": {"batch_size": 32}, "checkpoint_every": 0},
    "evaluate": {"stats": {"n_bins": 4, "n_boot": 50}},
}


def _merge(base: dict, update: dict) -> dict:
    return {
        k: _merge(base[k], v) if isinstance(v, dict) and k in base else v
        for k, v in {**base, **update}.items()
    }


def test_dvc_repro_runs_every_stage(tmp_path):
    for name in ("dvc.yaml", ".dvcignore"):
        shutil.copy(REPO / name, tmp_path / name)
    code = shutil.ignore_patterns("__pycache__", "*.egg-info")
    shutil.copytree(REPO / "src", tmp_path / "src", ignore=code)  # the stages' code dependencies
    params = _merge(yaml.safe_load((REPO / "params.yaml").read_text()), TINY)
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    dvc = [str(Path(sys.executable).parent / "dvc")]
    subprocess.run([*dvc, "init", "--no-scm", "-q"], cwd=tmp_path, env=env, check=True)
    result = subprocess.run([*dvc, "repro"], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    stages = yaml.safe_load((tmp_path / "dvc.lock").read_text())["stages"]
    runs = [f"{kind}@{name}" for kind in ("train", "evaluate") for name in ("degla", "negclip", "clip")]
    expected = {
        "world",
        "finetune_world",
        "pmi",
        "evalsets",
        "pretrain",
        "negatives",
        "evaluate@base",
        "compare",
    }
    assert set(stages) == expected | set(runs)
    compare = json.loads((tmp_path / "reports" / "compare" / "compare.json").read_text())
    assert compare["baseline"] == "base" and set(compare["delta"]) == {"degla", "negclip", "clip"}
    assert set(compare["paired"]) == {"degla", "negclip", "clip"}
    swap = compare["paired"]["degla"]["compositional/swap/mean_acc"]
    assert swap["ci_low"] <= swap["change"] <= swap["ci_high"] and swap["n"] == 16  # 2 subsets x 8
    base = json.loads((tmp_path / "reports" / "base" / "metrics.json").read_text())
    assert 0.0 <= base["zeroshot/single-world/acc"] <= 1.0
    assert "sugarcrepe/swap_att/acc" in base
    manifest = json.loads((tmp_path / "models" / "degla" / "manifest.json").read_text())
    assert set(manifest["files"]) >= {"open_clip_model.safetensors", "open_clip_config.json"}

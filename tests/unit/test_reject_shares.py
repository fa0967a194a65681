"""One rule for reject shares: a stage's dataclass default is the share params.yaml runs with, so a
command run without --params fails on the same bad input as the pipeline."""

from pathlib import Path

from compclip.config import load_params
from compclip.evaluate.run import EvaluateConfig
from compclip.genpairs.captions import CaptionConfig
from compclip.negatives.run import NegativesConfig
from compclip.paste.run import PasteConfig
from compclip.pmi.shards import CountConfig
from compclip.vqa.run import VqaConfig

PARAMS = Path(__file__).parents[2] / "params.yaml"
CONFIGS = {
    "pmi": CountConfig,
    "negatives": NegativesConfig,
    "evaluate": EvaluateConfig,
    "genpairs.captions": CaptionConfig,
    "paste": PasteConfig,
    "vqa_pmi": VqaConfig,
}


def _shares(values: dict, prefix: str = "") -> dict[str, float]:
    found = {prefix.rstrip("."): values["max_reject_share"]} if "max_reject_share" in values else {}
    for key, value in values.items():
        if isinstance(value, dict):
            found |= _shares(value, f"{prefix}{key}.")
    return found


def test_params_yaml_runs_each_stage_with_its_default_reject_share():
    shares = _shares(load_params(PARAMS))
    assert sorted(shares) == sorted(CONFIGS), "a section with max_reject_share is missing from CONFIGS"
    assert {name: cls().max_reject_share for name, cls in CONFIGS.items()} == shares

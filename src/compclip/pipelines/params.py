"""Pipeline arguments from params.yaml and ``--param`` flags, checked before anything runs.

A ``--param`` is ``NAME=VALUE`` for a pipeline parameter (``shards=8``, ``methods=[degla]``,
``corpus='s3://b/laion/*.parquet'``) or ``SECTION.KEY=VALUE`` for one setting of a stage
(``world.n=500``, ``train.optim.epochs=1``); VALUE is read as YAML. Every section is checked
against its stage's config dataclass (unknown keys, wrong types) and every parameter against the
type the pipeline declares, so a typo fails at compile or submit time with one line.
"""

import importlib
from typing import Any

import yaml

from compclip.config import from_dict
from compclip.errors import UserError

# The config dataclass of each params.yaml section the pipeline reads (module, class).
CONFIGS = {
    "world": ("compclip.world.corpus", "CorpusConfig"),
    "finetune": ("compclip.world.corpus", "CorpusConfig"),
    "pmi": ("compclip.pmi.shards", "CountConfig"),
    "evalsets": ("compclip.evalsets.build", "EvalsetsConfig"),
    "pretrain": ("compclip.pretrain", "PretrainConfig"),
    "negatives": ("compclip.negatives.run", "NegativesConfig"),
    "train": ("compclip.train.loop", "TrainConfig"),
    "evaluate": ("compclip.evaluate.run", "EvaluateConfig"),
    "registry": ("compclip.registry.cli", "RegistryConfig"),
    "genpairs": ("compclip.genpairs.run", "GenPairsConfig"),
    "paste": ("compclip.paste.run", "PasteConfig"),
    "vqa_pmi": ("compclip.vqa.run", "VqaConfig"),
}
# KFP parameter types (as compiled) and the Python values they accept.
KFP_TYPES = {
    "STRING": (str,),
    "NUMBER_INTEGER": (int,),
    "NUMBER_DOUBLE": (int, float),
    "BOOLEAN": (bool,),
    "LIST": (list,),
    "STRUCT": (dict,),
}


def apply(params: dict[str, Any], items: list[str]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Apply ``--param`` items to ``params`` (sections) and collect pipeline arguments.

    Returns ``(params, arguments)``; ``SECTION.KEY`` items change a copy of the sections.
    """
    params = yaml.safe_load(yaml.safe_dump(params))  # a deep copy of plain data
    arguments: dict[str, Any] = {}
    for item in items:
        name, sep, text = item.partition("=")
        if not sep or not name:
            raise UserError(f"--param {item!r}: give NAME=VALUE")
        try:
            value = yaml.safe_load(text) if text else ""
        except yaml.YAMLError:
            raise UserError(
                f"--param {item!r}: the value is not YAML (quote a string: NAME='VALUE')"
            ) from None
        section, dot, key = name.partition(".")
        if dot:
            if section not in CONFIGS:
                raise UserError(f"--param {name}: unknown section {section!r}; known: {', '.join(CONFIGS)}")
            node = params.setdefault(section, {})
            *parents, last = key.split(".")
            for part in parents:
                node = node.setdefault(part, {})
            node[last] = value
        else:
            arguments[name] = value
    return params, arguments


def check_section(section: str, values: Any) -> None:
    """Raise a UserError when ``values`` is not a valid ``section`` config (unknown key, wrong type)."""
    module, name = CONFIGS[section]
    cls = getattr(importlib.import_module(module), name)
    if not isinstance(values, dict):
        raise UserError(f"{section}: expected a mapping of settings, got {type(values).__name__}")
    from_dict(cls, values, section)


def check_arguments(spec_inputs: dict[str, str], arguments: dict[str, Any]) -> None:
    """Check pipeline arguments against the compiled parameter types ``name -> KFP type``."""
    for name, value in arguments.items():
        if name not in spec_inputs:
            raise UserError(f"unknown pipeline parameter {name!r}; known: {', '.join(sorted(spec_inputs))}")
        allowed = KFP_TYPES.get(spec_inputs[name], (object,))
        if (isinstance(value, bool) and bool not in allowed) or not isinstance(value, allowed):
            raise UserError(
                f"pipeline parameter {name}={value!r}: expected {spec_inputs[name].lower()}, "
                f"got {type(value).__name__}"
            )
        if name in CONFIGS:
            check_section(name, value)
        if name == "benchmarks":
            from compclip.evaluate.run import parse_benchmarks

            parse_benchmarks(value)

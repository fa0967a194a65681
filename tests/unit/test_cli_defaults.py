"""A flag's help shows the default of the config field it sets, read from the stage's dataclass
(``compclip.config.add_flag``), so no help string can name a default the stage does not use."""

import argparse
import dataclasses
import importlib
import re

import pytest

from compclip.cli import COMMANDS
from compclip.config import shown_default

# each command with a stage config: the dataclass whose fields its flags set
CONFIGS = {
    "pmi": "compclip.pmi.shards:CountConfig",
    "world": "compclip.world.corpus:CorpusConfig",
    "evalsets": "compclip.evalsets.build:EvalsetsConfig",
    "negatives": "compclip.negatives.run:NegativesConfig",
    "pretrain": "compclip.pretrain:PretrainConfig",
    "train": "compclip.train.loop:TrainConfig",
    "evaluate": "compclip.evaluate.run:EvaluateConfig",
    "serve": "compclip.serve.config:ServeConfig",
    "genpairs": "compclip.genpairs.run:GenPairsConfig",
    "paste": "compclip.paste.run:PasteConfig",
    "vqa-pmi": "compclip.vqa.run:VqaConfig",
}
WRITTEN_DEFAULT = re.compile(r"\(default:? ([^)]*)\)")


def _leaves(config, prefix: str = "") -> dict[str, object]:
    """Every field of a (nested) config by its dotted path."""
    found = {}
    for f in dataclasses.fields(config):
        value = getattr(config, f.name)
        if dataclasses.is_dataclass(value):
            found |= _leaves(value, f"{prefix}{f.name}.")
        else:
            found[f"{prefix}{f.name}"] = value
    return found


def _actions(command: str):
    """(parser, action) for every documented flag of ``command`` and its verbs."""
    top = argparse.ArgumentParser()
    importlib.import_module(COMMANDS[command][0]).register(top.add_subparsers())
    parsers = [top]
    while parsers:
        parser = parsers.pop()
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                parsers.extend(action.choices.values())
            elif action.option_strings and action.help is not argparse.SUPPRESS and action.dest != "help":
                yield parser, action


def _help(parser: argparse.ArgumentParser, action: argparse.Action) -> str:
    return " ".join(parser._get_formatter()._expand_help(action).split()) if action.help else ""


def _field(leaves: dict[str, object], dest: str):
    """The field a flag named ``dest`` sets: a top-level field, else the one nested field so named."""
    if dest in leaves:
        return leaves[dest]
    nested = {value for path, value in leaves.items() if path.rsplit(".", 1)[-1] == dest}
    return nested.pop() if len(nested) == 1 else None


@pytest.mark.parametrize("command", sorted(CONFIGS))
def test_a_flag_shows_its_fields_default_from_the_dataclass(command):
    module, name = CONFIGS[command].split(":")
    leaves = _leaves(getattr(importlib.import_module(module), name)())
    wrong = []
    for parser, action in _actions(command):
        value = _field(leaves, action.dest)
        if value is None or action.default is not None:
            continue
        text = _help(parser, action)
        if f"(default: {shown_default(value)})" not in text:
            wrong.append(f"{parser.prog} {action.option_strings[0]}: {text!r}, field default {value!r}")
    assert not wrong, "help not showing the field's default (use compclip.config.add_flag):\n" + "\n".join(
        wrong
    )


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_a_default_written_in_a_help_is_the_flags_own(command):
    """A default that argparse holds is shown through %(default)s; one that a config holds through
    add_flag; any other written in a help string is a description (a path, $VARIABLE, a rule)."""
    configs = CONFIGS.get(command)
    leaves = {}
    if configs:
        module, name = configs.split(":")
        leaves = _leaves(getattr(importlib.import_module(module), name)())
    shown = {shown_default(v) for v in leaves.values()}
    wrong = []
    for parser, action in _actions(command):
        for written in WRITTEN_DEFAULT.findall(_help(parser, action)):
            literal = re.fullmatch(r"[\w.+-]+", written) and not re.search("[A-Z]{2}", written)  # not a NAME
            own = action.default is not None and written == shown_default(action.default)
            if literal and not own and written not in shown:
                wrong.append(f"{parser.prog} {action.option_strings[0]}: default {written!r}")
    assert not wrong, "defaults written by hand in help strings:\n" + "\n".join(wrong)

"""The ``compclip`` command: one sub-command per stage, each a thin door onto a library function.

Every command has a module with ``register(subparsers)``, which adds its
sub-command and sets ``func(args) -> int | None``. Only the invoked stage's module is imported,
so ``compclip pmi`` never pays for torch. User errors print one line and exit 2.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

from compclip import __version__
from compclip.errors import UserError

COMMANDS = {
    "pmi": ("compclip.pmi.cli", "concept co-occurrence (PMI) tables"),
    "world": ("compclip.world.cli", "the compositional world: scenes, captions, corpora"),
    "evalsets": ("compclip.evalsets.cli", "evaluation sets built from the world and a PMI table"),
    "negatives": ("compclip.negatives.cli", "hard-negative captions of seven types"),
    "data": ("compclip.dataset_cli", "image-caption dataset folders: import COCO captions or a folder"),
    "pretrain": ("compclip.pretrain.cli", "pretrain a tiny CLIP from scratch on an image-caption folder"),
    "train": ("compclip.train.cli", "fine-tune with DeGLA, NegCLIP or plain CLIP"),
    "evaluate": ("compclip.evaluate.cli", "zero-shot accuracy against PMI and compositional benchmarks"),
    "compare": ("compclip.evaluate.compare_cli", "compare evaluation reports against a baseline"),
    "models": ("compclip.models.cli", "model sources: check one before a run"),
    "lineage": ("compclip.lineage", "record a pipeline run's lineage and push its outputs for `dvc pull`"),
    "pipeline": ("compclip.pipelines.cli", "the Kubeflow pipeline: compile, submit, schedule, run locally"),
    "serve": ("compclip.serve.cli", "the inspection service: a model answering over KServe V1/V2"),
    "inspect": ("compclip.serve.inspect_cli", "ask a running inspection service; the demo's showcase"),
    "registry": ("compclip.registry.cli", "model registry in S3: publish, promote behind gates, roll back"),
    "deploy": ("compclip.deploy.cli", "render or apply the inspection service's InferenceService"),
    "genpairs": ("compclip.genpairs.cli", "GenPairs: LLM captions and FLUX images by PMI stratum"),
    "paste": ("compclip.paste.cli", "ImageNet-paste: accessories pasted on ImageNet images by PMI stratum"),
    "vqa-pmi": ("compclip.vqa.cli", "LMM (LLaVA) VQA accuracy against question-answer PMI"),
}

DEBUG_LOGGERS = ("compclip",)


def add_command(
    parent: argparse._SubParsersAction, name: str, summary: str, examples: str, description: str | None = None
) -> argparse.ArgumentParser:
    """A sub-command whose ``--help`` ends with worked examples."""
    return parent.add_parser(
        name,
        help=summary,
        description=description or summary,
        epilog=examples,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )


class _Retired(argparse.Action):
    """A flag of an earlier release: refused in one line naming what replaced it (exit 2)."""

    def __init__(self, option_strings: list[str], dest: str, hint: str, **kwargs) -> None:
        super().__init__(option_strings, dest, nargs="?", help=argparse.SUPPRESS, **kwargs)
        self.hint = hint

    def __call__(self, parser, namespace, values, option_string=None) -> None:
        parser.exit(2, f"{parser.prog}: error: {option_string} is gone: {self.hint}\n")


def retire_flag(parser: argparse.ArgumentParser, flag: str, hint: str) -> None:
    """Refuse ``flag`` (with or without a value) with ``hint``, e.g. the flag that replaced it."""
    parser.add_argument(flag, action=_Retired, hint=hint)


def build_parser(argv: list[str]) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="compclip", description="Find and repair compositional blind spots")
    parser.add_argument("--version", action="version", version=f"compclip {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging (of compclip's own code)")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    chosen = next((a for a in argv if not a.startswith("-")), None)
    for command, (module, summary) in COMMANDS.items():
        if command == chosen:
            importlib.import_module(module).register(commands)
        else:
            commands.add_parser(command, help=summary)
    return parser


def _parse(argv: list[str]) -> argparse.Namespace:
    args = build_parser(argv).parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s", datefmt="%H:%M:%S"
    )
    if args.verbose:  # only our loggers: botocore's debug lines carry credentials (the session token)
        for name in DEBUG_LOGGERS:
            logging.getLogger(name).setLevel(logging.DEBUG)
    return args


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = _parse(argv)
    try:
        return args.func(args) or 0
    except UserError as err:
        print(f"compclip {args.command}: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())

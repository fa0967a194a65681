"""``compclip vqa-pmi``: does an LMM (LLaVA-1.5) answer better when its question's concepts co-occur?

``predict`` answers VQAv2/TextVQA questions with LLaVA through transformers (``--shard i/n`` takes
chunks i, i+n, ... of the questions; resumable) into LLaVA-format ``predictions.jsonl``;
``analyze`` scores predictions (these, or LLaVA's own evaluation output) against the mean PMI of each
question's concepts: accuracy by PMI bin, Pearson/Spearman r, the 5% tail gap and the yes-bias.
"""

from __future__ import annotations

import argparse
import json

from compclip.chunks import Shard, add_shard_flags
from compclip.cli import add_command
from compclip.config import add_flag, load_section, override
from compclip.devices import DEVICES
from compclip.vqa.run import PREDICTIONS, VqaConfig, analyze, predict

EXAMPLES = """examples:
  compclip vqa-pmi predict --questions v2_OpenEnded_mscoco_val2014_questions.json \\
      --annotations v2_mscoco_val2014_annotations.json --images coco/val2014 --out preds/vqav2 \\
      --model llava-hf/llava-1.5-7b-hf --shard 0/4
  compclip vqa-pmi analyze --questions v2_OpenEnded_mscoco_val2014_questions.json \\
      --annotations v2_mscoco_val2014_annotations.json --predictions 'preds/vqav2-*/predictions.jsonl' \\
      --pmi s3://bucket/pmi/laion400m --out vqa/vqav2
  compclip vqa-pmi analyze --questions TextVQA_0.5.1_val.json --predictions llava-textvqa.jsonl \\
      --pmi pmi/ --out vqa/textvqa           # LLaVA's own eval output (model_vqa_loader) works as is
"""


def register(commands: argparse._SubParsersAction) -> None:
    parser = add_command(commands, "vqa-pmi", "LMM (LLaVA) VQA accuracy against question-answer PMI",
                         EXAMPLES, description=__doc__)  # fmt: skip
    verbs = parser.add_subparsers(dest="verb", required=True, metavar="VERB")
    pred = add_command(
        verbs, "predict", "LLaVA answers to (one shard of) the questions (resumable)", EXAMPLES
    )
    ana = add_command(
        verbs, "analyze", "accuracy and yes-bias of predictions against PMI, with a report", EXAMPLES
    )
    for parser in (pred, ana):
        parser.add_argument(
            "--questions", required=True, help="VQAv2 questions or TextVQA JSON (local or s3://)"
        )
        parser.add_argument("--annotations", help="VQAv2 annotations JSON")
        parser.add_argument("--out", required=True, help="output folder (local or s3://)")
        parser.add_argument("--params", help="params.yaml; its `vqa_pmi` section sets defaults")
    pred.add_argument("--images", required=True, help="image folder (local or s3://)")
    defaults = VqaConfig()
    add_flag(
        pred, defaults, "--model", field="llava.model", help="LLaVA: hub name, local folder or s3:// URI"
    )
    add_flag(pred, defaults, "--device", field="llava.device", choices=DEVICES, help="where LLaVA runs")
    add_shard_flags(pred, "question")
    pred.set_defaults(func=_predict)
    ana.add_argument(
        "--predictions",
        nargs="+",
        required=True,
        help=f"LLaVA-format JSONL files or folders with {PREDICTIONS}",
    )
    ana.add_argument("--pmi", required=True, help="PMI table folder (local or s3://)")
    ana.set_defaults(func=_analyze)


def _config(args: argparse.Namespace) -> VqaConfig:
    return load_section(VqaConfig, args.params, "vqa_pmi")


def _predict(args: argparse.Namespace) -> None:
    config = _config(args)
    config = override(config, llava=override(config.llava, model=args.model, device=args.device))
    shard = Shard.parse(args.shard)
    metrics = predict(args.questions, args.annotations, args.images, args.out, config, shard, args.work_dir)
    print(f"wrote {args.out}/{PREDICTIONS}: {metrics['n']} answers")


def _analyze(args: argparse.Namespace) -> None:
    from compclip.storage import expand

    files = expand(args.predictions, keep=lambda path: path.endswith(".jsonl"))
    metrics = analyze(args.questions, args.annotations, files, args.pmi, args.out, _config(args))
    keys = ("n", "acc", "pearson_r", "spearman_r", "gap", "yes_bias/share_yes", "yes_bias/pearson_r")
    print(json.dumps({k: metrics[k] for k in keys if k in metrics}))

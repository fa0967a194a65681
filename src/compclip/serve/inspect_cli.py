"""``compclip inspect``: ask an inspection service whether an image prefers its specification.

The service is ``--url`` (a running ``compclip serve``) or ``--model`` (started here on loopback and
stopped at the end). The request is an image and a specification (against ``--negative`` captions,
or the hard negatives the service generates), or ``--lineage``: a run's showcase, the compositional
item the tuned model gets right where the base model was wrong and one it still gets wrong, picked
from that run's evaluation (:mod:`compclip.serve.showcase`).
"""

from __future__ import annotations

import argparse
import base64
import json
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from compclip.cli import add_command
from compclip.errors import UserError

if TYPE_CHECKING:
    from compclip.serve.showcase import Case

EXAMPLES = """examples:
  compclip inspect --url http://127.0.0.1:8080 --name compclip --image scene.png \\
      --specification "a red cube to the left of a blue ring"           # against generated negatives
  compclip inspect --url http://127.0.0.1:8080 --name compclip --image scene.png \\
      --specification "a red cube to the left of a blue ring" \\
      --negative "a blue cube to the left of a red ring"
  compclip inspect --model $(compclip registry resolve world-degla staging) \\
      --lineage out/demo/kfp/RUN/lineage-record/lineage/lineage.json --tuned degla   # a run's showcase
"""


def register(commands: argparse._SubParsersAction) -> None:
    parser = add_command(commands, "inspect", "ask an inspection service", EXAMPLES, description=__doc__)
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--url", help="a running service, e.g. http://127.0.0.1:8080")
    where.add_argument("--model", help="serve this model (folder or s3:// registry version) on loopback")
    parser.add_argument("--name", default="compclip", help="model name in its endpoint paths")
    what = parser.add_mutually_exclusive_group(required=True)
    what.add_argument("--image", help="PNG or JPEG file or s3:// URI (with --specification)")
    what.add_argument("--lineage", help="a run's lineage.json: its showcase (with --tuned)")
    parser.add_argument("--specification", help="the caption the image should match")
    parser.add_argument("--negative", action="append", default=[], help="a candidate caption (repeatable)")
    parser.add_argument("--tuned", default="degla", help="the tuned model's method in the run")
    parser.add_argument("--json", action="store_true", help="print the answers as JSON")
    parser.set_defaults(func=_inspect)


def _requests(args: argparse.Namespace) -> tuple[list[Case], list[dict]]:
    from compclip.files import parse_json
    from compclip.serve import showcase
    from compclip.storage import open_uri

    if args.lineage:
        with open_uri(args.lineage) as f:
            manifest = parse_json(f.read(), args.lineage, required=("run_id", "outputs"))
        cases = showcase.pick(*showcase.from_lineage(manifest, args.tuned))
        if not cases:
            raise UserError(f"run {manifest.get('run_id')} has no compositional item to show")
        return cases, [case.instance() for case in cases]
    if not args.specification:
        raise UserError("--image needs --specification TEXT")
    with open_uri(args.image) as f:
        instance = {"image": base64.b64encode(f.read()).decode(), "specification": args.specification}
    if args.negative:
        instance["candidates"] = args.negative
    return [], [instance]


def _inspect(args: argparse.Namespace) -> int:
    # imported here, not above: `compclip inspect --help` loads neither pyarrow nor fsspec
    from compclip.serve import local, showcase

    cases, instances = _requests(args)
    if args.url:
        answers = local.predict(local.Endpoint(args.url.rstrip("/"), args.name), instances)
    else:
        with tempfile.TemporaryDirectory(prefix="compclip-inspect-") as tmp:
            service = local.start(args.model, args.name, Path(tmp) / "serve.log")
            try:
                answers = local.predict(service, instances)
            finally:
                local.stop(service)
    if cases:
        shown = [{"case": c.id, "label": c.label, "answer": a} for c, a in zip(cases, answers, strict=True)]
        lines = [line for c, a in zip(cases, answers, strict=True) for line in showcase.describe(c, a)]
    else:
        shown, lines = answers, [line for a in answers for line in showcase.describe_answer(a)]
    print(json.dumps(shown, indent=2) if args.json else "\n".join(lines))
    return 0

"""Inspection requests picked from a run's own evidence: the demo's ending.

A run's evaluation scored the base and the tuned model on the same compositional items (each an
image, its caption and a hard negative, SugarCrepe's schema). :func:`pick` finds the item the tuned
model gets right by the widest margin where the base model was wrong, and the item the tuned model
gets wrong by the widest margin; :meth:`Case.instance` turns one into a V1 inspection instance (the
caption as the specification, the negative as its candidate) for the service to answer again.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc

from compclip.dataset import SHARD, read_image
from compclip.errors import UserError
from compclip.files import read_parquet
from compclip.storage import local_dir, read_bytes

COLUMNS = ["id", "subset", "positive_score", "best_negative_score", "correct"]
WIN, FAIL = "the tuned model passes, the base model failed", "the tuned model fails"


@dataclass(frozen=True)
class Case:
    """One compositional item with how both models did on it in the run's evaluation."""

    label: str  # WIN or FAIL
    id: str  # SUBSET/KEY
    caption: str
    negative: str
    image: bytes  # PNG
    base_margin: float  # positive score minus the best negative's: > 0 is correct
    tuned_margin: float

    def instance(self) -> dict:
        """The V1 inspection instance: does the image prefer its caption over the hard negative?"""
        subset = self.id.split("/")[0]
        return {
            "image": base64.b64encode(self.image).decode(),
            "specification": self.caption,
            "candidates": [{"caption": self.negative, "type": subset}],
        }


def _margins(report: str) -> dict[str, float]:
    """Per compositional item id, the report's margin (every non-zero-shot result table)."""
    with local_dir(report) as folder:
        tables = [
            read_parquet(path, COLUMNS)
            for path in sorted((folder / "results").glob("*.parquet"))
            if not path.name.startswith("zeroshot_")
        ]
    if not tables:
        raise UserError(f"{report} has no compositional result tables (results/*.parquet)")
    table = pa.concat_tables(tables)
    margins = pc.subtract(table.column("positive_score"), table.column("best_negative_score"))
    return dict(zip(table.column("id").to_pylist(), margins.to_pylist(), strict=True))


def pick(compositional: str, base_report: str, tuned_report: str) -> list[Case]:
    """The WIN case (tuned right, base wrong; the tuned model's widest margin) and the FAIL case
    (tuned wrong by the widest margin), each when the run has one, from the compositional set
    (``<subset>.json`` and its images, local or s3://; only the chosen items' images are read) and
    both models' ``compclip evaluate`` reports."""
    base, tuned = _margins(base_report), _margins(tuned_report)
    shared = sorted(base.keys() & tuned.keys())
    if not shared:
        raise UserError(f"{base_report} and {tuned_report} share no compositional items")
    wins = [i for i in shared if tuned[i] > 0 >= base[i]]
    fails = [i for i in shared if tuned[i] <= 0]
    chosen = []
    if wins:
        chosen.append((WIN, max(wins, key=lambda i: tuned[i])))
    if fails:
        chosen.append((FAIL, min(fails, key=lambda i: tuned[i])))
    cases = []
    for label, item in chosen:
        subset, key = item.split("/", 1)
        record = json.loads(read_bytes(f"{compositional.rstrip('/')}/{subset}.json"))[key]
        image = read_image(compositional, {"image": record["filename"], SHARD: record.get(SHARD)})
        texts = record["caption"], record["negative_caption"]
        cases.append(Case(label, item, *texts, image, base[item], tuned[item]))
    return cases


def from_lineage(manifest: dict, tuned: str) -> tuple[str, str, str]:
    """The compositional set and the base and ``tuned`` reports of a run's lineage manifest."""
    outputs = manifest["outputs"]
    for name in ("evalsets", "report-base", f"report-{tuned}"):
        if name not in outputs:
            raise UserError(f"run {manifest.get('run_id')} has no output {name!r} (has {sorted(outputs)})")
    compositional = f"{outputs['evalsets']['uri'].rstrip('/')}/compositional"
    return compositional, outputs["report-base"]["uri"], outputs[f"report-{tuned}"]["uri"]


def describe_answer(answer: dict) -> list[str]:
    """An inspection answer, for a person: the specification's score, each candidate's, the verdict."""
    lines = [f"  specification: {answer['specification']!r}  score {answer['score']:.4f}"]
    for c in answer["candidates"]:
        lines.append(f"  candidate [{c['type']}]: {c['caption']!r}  score {c['score']:.4f}")
    verdict = "PASS" if answer["passed"] else "FAIL"
    return [*lines, f"  service answer: {verdict}, margin {answer['margin']:+.4f}"]


def describe(case: Case, answer: dict) -> list[str]:
    """A case, how the run's evaluation scored it, and the service's answer."""
    header = (
        f"{case.id}: {case.label} (evaluation margins: base {case.base_margin:+.4f}, "
        f"tuned {case.tuned_margin:+.4f})"
    )
    return [header, *describe_answer(answer)]

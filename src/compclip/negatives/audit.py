"""The negatives audit: is a negatives file false, fluent, and not given away by text alone?

:func:`audit` reads a DeGLA negatives file (from the rules or the LLM generator, or from
anywhere) and a caption corpus, trains a blind model on the corpus (a text-only n-gram LM,
:class:`~compclip.negatives.blind.BlindModel`, a bigram by default as issue 18 measured) and
writes ``audit.json`` and ``audit.html`` with, per type:

- ``pairs``, ``captions`` (with at least one negative of the type) and ``yield`` (``captions``
  over the run's ``n_captions`` when a ``metrics.json`` sits beside the file, else over its records);
- ``blind_prefers_positive``: the share of pairs the blind model scores the caption above the negative;
- ``wordnet_related`` (replace types): the share of replacements whose new concept WordNet relates
  to the old one (:func:`compclip.negatives.wordnet.related`);
- ``sample``: seeded random pairs to read, with the blind model's score gap (nats).
"""

from __future__ import annotations

import html
import json
import logging
from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np

from compclip.captions import ReadConfig
from compclip.config import Checked, PositiveInt
from compclip.errors import UserError
from compclip.negatives import io
from compclip.negatives.blind import BlindModel
from compclip.negatives.tagger import Lexicon
from compclip.negatives.types import REPLACES, TYPES, Record
from compclip.negatives.wordnet import related
from compclip.pmi.concepts import ConceptRules
from compclip.rejects import Rejects
from compclip.storage import atomic_write_bytes, filesystem, local_out, read_bytes, write_json

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class AuditConfig(Checked):
    order: PositiveInt = 2  # the blind model's n-gram order
    sample: PositiveInt = 10  # pairs shown per type
    seed: int = 0
    read: ReadConfig = field(default_factory=ReadConfig)


def replaced(original: str, negative: str, rules: ConceptRules) -> tuple[str, str] | None:
    """The ``(old, new)`` concept of a one-concept replacement, else None."""
    old, new = set(rules.concepts(original)), set(rules.concepts(negative))
    if len(old - new) != 1 or len(new - old) != 1:
        return None
    return next(iter(old - new)), next(iter(new - old))


def wordnet_related(original: str, negative: str, rules: ConceptRules, lexicon: Lexicon) -> bool:
    pair = replaced(original, negative, rules)
    if pair is None:
        return False
    kind = lexicon.attribute_class(pair[0])
    return related(*pair, frozenset(lexicon.attributes[kind]) if kind else frozenset())


def summarize(records: list[Record], model: BlindModel, n_captions: int, config: AuditConfig) -> dict:
    """The audit's numbers per type (see the module docstring)."""
    rules, lexicon = ConceptRules(), Lexicon.load()
    pairs: dict[str, list[tuple[str, str]]] = defaultdict(list)
    holders: dict[str, set[tuple[str, str]]] = defaultdict(set)  # the captions with a negative of a type
    for record in records:
        for negative, kind in zip(record.enhanced, record.types, strict=True):
            pairs[kind].append((record.original, negative))
            holders[kind].add((record.image_id, record.original))
    rng = np.random.default_rng(config.seed)
    types = {}
    for kind in [t for t in TYPES if t in pairs] + sorted(set(pairs) - set(TYPES)):
        found = pairs[kind]
        gaps = [model.gap(a, b) for a, b in found]
        captions = len(holders[kind])
        row = {
            "pairs": len(found),
            "captions": captions,
            "yield": round(captions / n_captions, 4) if n_captions else 0.0,
            "blind_prefers_positive": round(float(np.mean([g > 0 for g in gaps])), 4),
        }
        if kind in REPLACES:
            hits = [wordnet_related(a, b, rules, lexicon) for a, b in found]
            row["wordnet_related"] = round(float(np.mean(hits)), 4)
        shown = rng.choice(len(found), size=min(config.sample, len(found)), replace=False)
        row["sample"] = [
            {"original": found[i][0], "negative": found[i][1], "blind_gap": round(gaps[i], 2)}
            for i in sorted(shown)
        ]
        types[kind] = row
    return {"n_captions": n_captions, "n_records": len(records), "blind_order": model.order, "types": types}


def caption_count(negatives: str, records: list[Record]) -> tuple[int, str]:
    """The run's caption count from ``metrics.json`` beside the file, else the number of records."""
    metrics = negatives.rsplit("/", 1)[0] + "/" + io.METRICS if "/" in negatives else io.METRICS
    fs, path = filesystem(metrics)
    if fs.exists(path):
        n = json.loads(read_bytes(metrics)).get("n_captions")
        if isinstance(n, int) and n > 0:
            return n, metrics
    return len({(r.image_id, r.original) for r in records}), "records"


def audit(negatives: str, corpus: str, out: str, config: AuditConfig = AuditConfig()) -> dict:
    """Audit ``negatives`` against the blind model of ``corpus``; write ``audit.json`` and ``audit.html``."""
    rejects = Rejects()
    records = io.read_negatives(negatives, rejects, known_types=None)
    captions = [c for _, c in io.read_inputs(corpus, config.read, Rejects())]
    if not records or not captions:
        raise UserError(
            f"nothing to audit: {len(records)} records in {negatives}, {len(captions)} captions in {corpus}"
        )
    n_captions, source = caption_count(negatives, records)
    report = summarize(records, BlindModel(captions, config.order), n_captions, config)
    report.update(
        negatives=negatives,
        corpus=corpus,
        corpus_captions=len(captions),
        yield_over=source,
        input_rejects=rejects.as_dict(),
    )
    with local_out(out) as stage:
        write_json(stage / "audit.json", report, sort_keys=False)
        atomic_write_bytes(stage / "audit.html", render_html(report).encode())
    log.info("audited %d records of %s against %d captions", len(records), negatives, len(captions))
    return report


def render_html(report: dict) -> str:
    """One self-contained page: the per-type table, then each type's sample."""
    esc = html.escape
    header = ["type", "pairs", "captions", "yield", "blind prefers positive", "WordNet-related"]
    rows = "".join(
        "<tr>"
        + "".join(
            f"<td>{esc(str(c))}</td>"
            for c in (
                kind,
                row["pairs"],
                row["captions"],
                f"{row['yield']:.1%}",
                f"{row['blind_prefers_positive']:.1%}",
                f"{row['wordnet_related']:.1%}" if "wordnet_related" in row else "",
            )
        )
        + "</tr>"
        for kind, row in report["types"].items()
    )
    samples = "".join(
        f"<h2>{esc(kind)}</h2><table><tr><th>caption</th><th>negative</th><th>blind gap (nats)</th></tr>"
        + "".join(
            f"<tr><td>{esc(s['original'])}</td><td>{esc(s['negative'])}</td><td>{s['blind_gap']}</td></tr>"
            for s in row["sample"]
        )
        + "</table>"
        for kind, row in report["types"].items()
    )
    return (
        "<!doctype html><html><head><meta charset='utf-8'><title>negatives audit</title>"
        "<style>body{font-family:sans-serif}td,th{border:1px solid #ccc;padding:2px 6px}"
        "table{border-collapse:collapse}</style></head><body>"
        f"<h1>Negatives audit</h1><p>{esc(report['negatives'])} against a {report['blind_order']}-gram "
        f"blind model of {esc(report['corpus'])} ({report['corpus_captions']} captions); yield over "
        f"{report['n_captions']} captions ({esc(report['yield_over'])}).</p>"
        f"<table><tr>{''.join(f'<th>{esc(h)}</th>' for h in header)}</tr>{rows}</table>"
        f"{samples}</body></html>"
    )

"""The negatives audit: is a negatives file false, fluent, and not given away by text alone?

:func:`audit` reads a DeGLA negatives file (from the rules or the LLM generator, or from
anywhere) and a caption corpus, trains a blind model on the corpus (a text-only n-gram LM,
:class:`~compclip.negatives.blind.BlindModel`, a bigram by default, as BENCHMARKS.md measured) and
writes ``audit.json`` and ``audit.html`` with, per type:

- ``pairs``, ``captions`` (captions, not records, with at least one negative of the type) and
  ``yield`` (``captions`` over the run's ``n_captions`` when a ``metrics.json`` sits beside the
  file; else over the corpus's captions when it holds every audited caption, as when the corpus
  is the run's input; else over the file's captions: ``yield_over`` says which);
- ``blind_prefers_positive`` with its Wilson interval (``ci``, 95%): the share of pairs the blind
  model scores the caption above the negative (every caption of the image left out of the model
  when the corpus holds it);
- ``still_true`` (swap types): the share of swaps that say what the caption says, by the audit's
  own reading (:func:`still_true`: every noun keeps its adjectives, numbers, governing word and
  what that word hangs from, as when a coordination is only reordered), not the filter's check;
- ``wordnet_related`` (replace types): the share of replacements whose new word WordNet relates to
  the old one by the audit's own, broader check (:func:`wordnet_near`: any part of speech and
  sense, similar-to and see-also adjectives, derivations), not the filter's;
- ``sample``: seeded random pairs to read, with the blind model's score gap (nats).
"""

from __future__ import annotations

import html
import json
import logging
import math
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from statistics import NormalDist

import numpy as np

from compclip import nltkdata
from compclip.captions import ReadConfig
from compclip.config import Checked, PositiveInt
from compclip.errors import UserError
from compclip.negatives import io
from compclip.negatives.blind import BlindModel, image_of
from compclip.negatives.inflection import noun_lemma
from compclip.negatives.tagger import Lexicon, Tagger
from compclip.negatives.text import tokens
from compclip.negatives.types import REPLACES, SWAPS, TYPES, Record
from compclip.outputs import local_out
from compclip.pmi.concepts import ConceptRules
from compclip.rejects import Rejects
from compclip.storage import atomic_write_bytes, filesystem, read_bytes, write_json

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class AuditConfig(Checked):
    order: PositiveInt = 2  # the blind model's n-gram order
    sample: PositiveInt = 10  # pairs shown per type
    seed: int = 0
    ci: float = 0.95  # level of the intervals
    read: ReadConfig = field(default_factory=ReadConfig)


def replaced(original: str, negative: str, rules: ConceptRules) -> tuple[str, str] | None:
    """The ``(old, new)`` concept of a one-concept replacement, else None."""
    old, new = set(rules.concepts(original)), set(rules.concepts(negative))
    if len(old - new) != 1 or len(new - old) != 1:
        return None
    return next(iter(old - new)), next(iter(new - old))


def wilson(hits: np.ndarray, ci: float) -> tuple[float, float]:
    """The Wilson score interval of a share (``compclip.evaluate.stats.wilson``'s, which cannot be
    imported here without the evaluator's torch)."""
    n, p = len(hits), float(np.mean(hits))
    z = NormalDist().inv_cdf(1 - (1 - ci) / 2)
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, min(p, centre - half)), min(1.0, max(p, centre + half))


def wordnet_near(old: str, new: str) -> bool:
    """Whether WordNet relates two words in any way a replacement may leave true: a shared synset
    or a hypernym or hyponym at any depth in any sense and part of speech, adjectives one
    similar-to or see-also step apart, or words derived from each other (*wood*, *wooden*)."""
    wordnet = nltkdata.wordnet()
    senses_a, senses_b = set(wordnet.synsets(old)), set(wordnet.synsets(new))
    if old == new or senses_a & senses_b:
        return True
    up = {s: set(s.closure(lambda x: x.hypernyms() + x.instance_hypernyms())) for s in senses_a | senses_b}
    if any(b in up[a] or a in up[b] for a in senses_a for b in senses_b):
        return True
    near = {n for s in senses_a for n in s.similar_tos() + s.also_sees()}
    if senses_b & near or any(a in set(b.similar_tos() + b.also_sees()) for a in senses_a for b in senses_b):
        return True
    derived = {
        d.synset() for s in senses_a for lemma in s.lemmas() for d in lemma.derivationally_related_forms()
    }
    return bool(senses_b & derived)


def replaced_words(original: str, negative: str, rules: ConceptRules) -> tuple[str, str] | None:
    """The ``(old, new)`` word of a one-concept replacement (a compound's head), else None."""
    pair = replaced(original, negative, rules)
    return None if pair is None else (pair[0].split()[-1], pair[1].split()[-1])


def attachments(caption: str, tagger: Tagger) -> Counter:
    """What a caption says of each thing: per noun, its lemma, its adjectives and numbers (those
    coordinated before it too), the word that governs its phrase (the nearest preposition, verb or
    auxiliary before it) and the noun or verb that word hangs from (*dog* of *a dog on a lead*)."""
    words = [t.lower for t in tokens(caption) if t.is_word]
    tags = tagger.tag(words) if words else []
    found: Counter = Counter()
    for i, tag in enumerate(tags):
        if tag != "noun" or (i + 1 < len(tags) and tags[i + 1] == "noun"):
            continue
        j, modifiers = i - 1, []
        while j >= 0 and tags[j] == "noun":  # a compound's other nouns (*tennis racket*)
            j -= 1
        while j >= 0 and (
            tags[j] in ("adj", "number", "adverb")
            or (words[j] in ("and", "or") and j and tags[j - 1] == "adj")
        ):
            if tags[j] in ("adj", "number"):
                modifiers.append(words[j])
            j -= 1
        at = next((k for k in range(j, -1, -1) if tags[k] in ("preposition", "verb", "auxiliary")), -1)
        head = next((words[k] for k in range(at - 1, -1, -1) if tags[k] in ("noun", "verb")), "")
        governor = (words[at], head) if at >= 0 else ("", "")
        found[noun_lemma(words[i]), frozenset(modifiers), governor] += 1
    return found


def still_true(original: str, negative: str, tagger: Tagger) -> bool:
    """Whether a swap says what its caption says: every noun keeps its modifiers and role."""
    return attachments(original, tagger) == attachments(negative, tagger)


def summarize(
    records: list[Record],
    model: BlindModel,
    n_captions: int,
    config: AuditConfig,
    tagger: Tagger | None = None,
) -> dict:
    """The audit's numbers per type (see the module docstring)."""
    rules, tagger = ConceptRules(), tagger or Tagger(Lexicon.load())
    pairs: dict[str, list[tuple[str, str, str]]] = defaultdict(list)
    holders: dict[str, set[tuple[str, str]]] = defaultdict(set)  # the captions with a negative of a type
    for record in records:
        for negative, kind in zip(record.enhanced, record.types, strict=True):
            pairs[kind].append((record.original, negative, image_of(record.image_id)))
            holders[kind].add((record.image_id, record.original))
    rng = np.random.default_rng(config.seed)
    types = {}
    for kind in [t for t in TYPES if t in pairs] + sorted(set(pairs) - set(TYPES)):
        found = pairs[kind]
        gaps = [model.gap(a, b, image) for a, b, image in found]
        preferred = np.array([g > 0 for g in gaps])
        captions = len(holders[kind])
        row = {
            "pairs": len(found),
            "captions": captions,
            "yield": round(captions / n_captions, 4) if n_captions else 0.0,
            "blind_prefers_positive": round(float(preferred.mean()), 4),
            "ci": [round(end, 4) for end in wilson(preferred, config.ci)],
        }
        if kind in SWAPS:
            row["still_true"] = round(float(np.mean([still_true(a, b, tagger) for a, b, _ in found])), 4)
        if kind in REPLACES:
            words = [replaced_words(a, b, rules) for a, b, _ in found]
            row["wordnet_related"] = round(
                float(np.mean([w is not None and wordnet_near(*w) for w in words])), 4
            )
        shown = rng.choice(len(found), size=min(config.sample, len(found)), replace=False)
        row["sample"] = [
            {"original": found[i][0], "negative": found[i][1], "blind_gap": round(gaps[i], 2)}
            for i in sorted(shown)
        ]
        types[kind] = row
    return {"n_captions": n_captions, "n_records": len(records), "blind_order": model.order, "types": types}


def caption_count(negatives: str, records: list[Record], corpus: list[tuple[str, str]]) -> tuple[int, str]:
    """The captions the yield is over: the run's (``metrics.json`` beside the file), else the
    corpus's when it holds every audited caption (the run's input), else the file's."""
    metrics = negatives.rsplit("/", 1)[0] + "/" + io.METRICS if "/" in negatives else io.METRICS
    fs, path = filesystem(metrics)
    if fs.exists(path):
        n = json.loads(read_bytes(metrics)).get("n_captions")
        if isinstance(n, int) and n > 0:
            return n, metrics
    audited = {io.caption_key(r.image_id, r.original) for r in records}
    held = {io.caption_key(i, c) for i, c in corpus}
    if audited <= held:
        return len(held), "corpus"
    return len(audited), "records"


def audit(negatives: str, corpus: str, out: str, config: AuditConfig = AuditConfig()) -> dict:
    """Audit ``negatives`` against the blind model of ``corpus``; write ``audit.json`` and ``audit.html``."""
    rejects = Rejects()
    records = io.read_negatives(negatives, rejects, known_types=None)
    rows = list(io.read_inputs(corpus, config.read, Rejects()))
    if not records or not rows:
        raise UserError(
            f"nothing to audit: {len(records)} records in {negatives}, {len(rows)} captions in {corpus}"
        )
    n_captions, source = caption_count(negatives, records, rows)
    model = BlindModel([c for _, c in rows], config.order, images=[image_of(i) for i, _ in rows])
    report = summarize(records, model, n_captions, config)
    report.update(
        negatives=negatives,
        corpus=corpus,
        corpus_captions=len(rows),
        yield_over=source,
        input_rejects=rejects.as_dict(),
    )
    with local_out(out) as stage:
        write_json(stage / "audit.json", report, sort_keys=False)
        atomic_write_bytes(stage / "audit.html", render_html(report).encode())
    log.info("audited %d records of %s against %d captions", len(records), negatives, len(rows))
    return report


def render_html(report: dict) -> str:
    """One self-contained page: the per-type table, then each type's sample."""
    esc = html.escape
    header = [
        "type",
        "pairs",
        "captions",
        "yield",
        "blind prefers positive [95% CI]",
        "still true",
        "WordNet-related",
    ]
    rows = "".join(
        "<tr>"
        + "".join(
            f"<td>{esc(str(c))}</td>"
            for c in (
                kind,
                row["pairs"],
                row["captions"],
                f"{row['yield']:.1%}",
                f"{row['blind_prefers_positive']:.1%} [{row['ci'][0]:.1%}, {row['ci'][1]:.1%}]",
                f"{row['still_true']:.1%}" if "still_true" in row else "",
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

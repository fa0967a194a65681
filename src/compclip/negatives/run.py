"""The negatives stage: captions in, valid hard negatives of every type out (resumable).

:func:`generate` reads captions, asks a generator (rules or LLM) for candidates of each type in
chunks, keeps the first ``per_type`` valid ones per type (:class:`ValidityFilter`), appends each
finished chunk to ``progress.jsonl`` in its work folder (``OUT.progress`` beside a local output,
or ``work_dir``: a path or an s3:// prefix, where the log is uploaded whole after every chunk)
and finally writes ``negatives.json``, ``negatives.parquet``, ``metrics.json`` and the
progress log to ``out`` (a path or ``s3://``), published only on success.
:func:`filter_file` runs the same filter over an existing negatives file.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import shutil
import tempfile
import time
import zlib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np
from tqdm import tqdm

from compclip.captions import ReadConfig
from compclip.chunks import Shard
from compclip.config import Checked, Count, PositiveInt, Share
from compclip.errors import UserError
from compclip.negatives import io
from compclip.negatives.blind import BlindModel, image_of
from compclip.negatives.llm import LLMConfig, LLMGenerator
from compclip.negatives.paraphrase import Paraphrases
from compclip.negatives.profile import Profile, WorldSettings, generators, resolve
from compclip.negatives.rules import RuleGenerator
from compclip.negatives.shards import shard_keys
from compclip.negatives.steering import SteerConfig, Steering
from compclip.negatives.types import PAPER_TYPES, TYPES, Record
from compclip.negatives.validity import FilterConfig, ValidityFilter
from compclip.outputs import check_place, claimed_work, local_out
from compclip.rejects import Rejects
from compclip.storage import is_remote, sha256_file
from compclip.workfolders import WorkFolder

log = logging.getLogger(__name__)

GENERATORS = ("auto", "rules", "llm")
PER_TYPE = ("candidates", "valid", "rejected", "captions_with", "no_valid")  # counts kept per type


@dataclass(frozen=True)
class NegativesConfig(Checked):
    # auto: real captions' llm_types by the LLM (when it can run), the rest by the rules; the
    # world's all by the rules (negatives.profile.generators). rules | llm: that one for every type
    generator: str = "auto"
    # the types whose rule negatives stay poor on real captions by hand and by the blind judge
    # (BENCHMARKS.md): under auto, the LLM makes them on real captions (WorldSettings: none)
    llm_types: tuple[str, ...] = ("reshuffle", "swap_nouns", "replace_nouns")
    types: tuple[str, ...] = PAPER_TYPES  # TYPES adds replace_relations
    per_type: PositiveInt = 1  # valid negatives kept per caption and type
    # rules: candidates proposed per caption and type, all the rules allow up to this many, for the
    # blind filter to rank; 0: a few (<= 6 per word or pair, 3 rotations), the first valid kept
    candidates: Count = 48
    seed: int = 0
    chunk: PositiveInt = 256  # captions between progress writes
    pmi: str | None = None  # PMI table folder for steering (rules generator)
    # captions the blind filter learns from (file, dataset folder or s3://); None: the input itself
    reference: str | None = None
    profile: Profile = "auto"  # world | real settings; auto: the input decides (negatives.profile)
    world: WorldSettings = field(default_factory=WorldSettings)  # where the world's settings depart
    max_reject_share: Share = 0.05  # of input rows, before the run fails
    read: ReadConfig = field(default_factory=ReadConfig)
    filter: FilterConfig = field(default_factory=FilterConfig)
    steer: SteerConfig = field(default_factory=SteerConfig)
    llm: LLMConfig = field(default_factory=LLMConfig)


class Generator(Protocol):
    def generate(self, items: list[tuple[str, str, str]]) -> list[list[str]]:
        """Candidate negatives for each ``(image_id, caption, type)``."""
        ...


class ByType:
    """Each type's candidates from the generator it is given to (the rules or the LLM)."""

    def __init__(self, by_type: dict[str, Generator]) -> None:
        self.by_type = by_type

    def generate(self, items: list[tuple[str, str, str]]) -> list[list[str]]:
        out: list[list[str]] = [[] for _ in items]
        for generator in {id(g): g for g in self.by_type.values()}.values():
            mine = [n for n, (_, _, kind) in enumerate(items) if self.by_type[kind] is generator]
            for n, found in zip(mine, generator.generate([items[n] for n in mine]), strict=True):
                out[n] = found
        return out


class Rules:
    """The rule-based generator behind the :class:`Generator` interface, seeded per caption and type."""

    def __init__(self, rules: RuleGenerator, seed: int) -> None:
        self.rules, self.seed = rules, seed

    def generate(self, items: list[tuple[str, str, str]]) -> list[list[str]]:
        out = []
        for image_id, caption, kind in items:
            rng = np.random.default_rng([self.seed, zlib.crc32(image_id.encode()), TYPES.index(kind)])
            out.append(self.rules.candidates(caption, kind, rng))
        return out


def select(
    image_id: str,
    caption: str,
    candidates: dict[str, list[str]],
    validity: ValidityFilter,
    per_type: int,
    rank: bool = True,
) -> tuple[Record, Counter]:
    """The first ``per_type`` valid candidates of each type, and counts of what happened.

    With ``rank`` and a blind model, candidates are checked closest to the caption's fluency first
    (:meth:`ValidityFilter.rank`), else in the order proposed."""
    record, counts, kept = Record(image_id, caption), Counter(), set()
    image = image_of(image_id)
    for kind, proposed in candidates.items():
        valid = 0
        for negative in validity.rank(caption, proposed, image) if rank else proposed:
            if valid == per_type:
                break
            counts[f"candidates_{kind}"] += 1
            reason = validity.reason(caption, negative, kind, kept, image)
            if reason:
                counts[f"reject_{reason}"] += 1
                counts[f"rejected_{kind}"] += 1
                continue
            valid += 1
            record.enhanced.append(negative)
            record.types.append(kind)
        counts[f"valid_{kind}"] += valid
        counts[f"captions_with_{kind}" if valid else f"no_valid_{kind}"] += 1
    return record, counts


def propose(
    captions: list[tuple[str, str]],
    generator: Generator,
    validity: ValidityFilter,
    types: tuple[str, ...],
    per_type: int,
) -> list[tuple[Record, Counter]]:
    """For each ``(image_id, caption)``: the generator's candidates of every type, in one call,
    and :func:`select`'s record and counts."""
    proposals = iter(generator.generate([(i, c, kind) for i, c in captions for kind in types]))
    return [select(i, c, {kind: next(proposals) for kind in types}, validity, per_type) for i, c in captions]


def make_generator(config: NegativesConfig, plan: dict[str, str]) -> Generator:
    """The generator of a resolved config that makes each type by ``plan`` (:func:`generators`)."""
    if config.generator == "llm" and config.pmi:
        raise UserError("--pmi steers the rules generator only; drop it or use --generator rules")
    made: dict[str, Generator] = {}
    if "llm" in plan.values():
        made["llm"] = LLMGenerator.load(config.llm, config.seed)
    if "rules" in plan.values():
        table = None
        if config.pmi:
            from compclip.pmi import PMITable

            table = PMITable.load(config.pmi)
        steering = Steering(table, config.steer)
        made["rules"] = Rules(RuleGenerator(steering, breadth=config.candidates), config.seed)
    if len(made) == 1:
        return next(iter(made.values()))
    return ByType({kind: made[name] for kind, name in plan.items()})


def make_filter(config: FilterConfig, captions: list[tuple[str, str]], source: str) -> ValidityFilter:
    """The validity filter, with (``config.blind``) a blind model trained on ``captions``
    (``(id, caption)`` of ``source``; the captions of one image are left out together) and the
    near-synonyms their images' captions show (:class:`Paraphrases`).

    Fewer than ``blind_min_captions`` captions cannot teach the model fluency: a UserError says
    so, never a silent run without the filter."""
    if not config.blind:
        return ValidityFilter(config)
    if len(captions) < config.blind_min_captions:
        raise UserError(
            f"the blind filter learns fluency from at least {config.blind_min_captions} captions and "
            f"{source} has {len(captions)}: give --reference-captions CORPUS (params: negatives.reference; "
            "captions of the same kind) or turn it off (negatives.filter.blind: false)"
        )
    images = [image_of(i) for i, _ in captions]
    model = BlindModel(
        [c for _, c in captions], config.blind_order, smoothing=config.blind_smoothing, images=images
    )
    paraphrases = Paraphrases(zip(images, (c for _, c in captions), strict=True))
    return ValidityFilter(config, blind=model, paraphrases=paraphrases)


def validity_filter(config: NegativesConfig, own: list[tuple[str, str]], source: str) -> ValidityFilter:
    """The validity filter of a run, its blind model taught by ``config.reference`` (a caption
    corpus) or by the run's ``own`` captions (of ``source``)."""
    if config.reference and config.filter.blind:
        rejects = Rejects()
        captions = list(io.read_inputs(config.reference, config.read, rejects))
        rejects.check(len(captions) + rejects.total, config.max_reject_share, config.reference)
        return make_filter(config.filter, captions, config.reference)
    return make_filter(config.filter, own, source)


def work_folder(out: str) -> str | None:
    """Where a run's resume log lives unless told: ``OUT.progress`` beside a local output, None for
    ``s3://``."""
    return None if is_remote(out) else f"{str(out).rstrip('/')}.progress"


def generate(
    inputs: str,
    out: str,
    config: NegativesConfig = NegativesConfig(),
    generator: Generator | None = None,
    work_dir: str | Path | None = None,
    shard: Shard | None = None,
) -> dict:
    """Hard negatives for every caption of ``inputs`` (``shard`` i/n: chunks i, i+n, ... of them;
    :mod:`compclip.negatives.shards` merges the shards' outputs) into ``out``; returns the metrics.

    The resume log goes to ``work_dir``, a path or s3:// prefix (default :func:`work_folder`; an
    ``s3://`` output without one is not resumable), and is removed once ``out`` is published.
    """
    unknown = [t for t in (*config.types, *config.llm_types) if t not in TYPES]
    if unknown:
        raise UserError(f"types must be among {TYPES} (got {unknown})")
    if config.generator not in GENERATORS:
        raise UserError(f"unknown generator {config.generator!r}; choose one of {', '.join(GENERATORS)}")
    out = str(out)
    check_place(out)
    config = resolve(config, inputs)
    work = str(work_dir) if work_dir else work_folder(out)
    with contextlib.ExitStack() as stack:
        if work is None:  # not resumable: the log in a scratch folder
            files = WorkFolder(
                stack.enter_context(tempfile.TemporaryDirectory(prefix="compclip-neg-")), "negatives"
            )
        else:
            stack.enter_context(claimed_work(work, "negatives"))
            files = WorkFolder(work, "negatives", pull=(io.PROGRESS_HEADER, io.PROGRESS))
        metrics = _generate(inputs, out, config, generator, files, shard or Shard())
    if work is not None:
        files.remove()
    return metrics


def _generate(
    inputs: str,
    out: str,
    config: NegativesConfig,
    generator: Generator | None,
    files: WorkFolder,
    shard: Shard,
) -> dict:
    started = time.perf_counter()
    work = files.local
    plan, fallback = generators(config)
    if generator is not None:
        fallback = None  # a generator given (tests) makes every type
    elif fallback:
        log.warning(fallback)
    fingerprint = {
        "inputs_sha256": sha256_file(io.caption_file(inputs)),
        **dataclasses.asdict(config),
        "generators": plan,
    }
    fingerprint.pop("chunk")
    if shard.count > 1:
        fingerprint.update(chunk=config.chunk, shard=dataclasses.asdict(shard))
    # a caption is an (image_id, caption) pair: COCO-style data has several captions an image
    rejects, captions, seen = Rejects(), [], set()
    for image_id, caption in io.read_inputs(inputs, config.read, rejects):
        key = io.caption_key(image_id, caption)
        if key in seen:
            rejects.add("duplicate_caption", f"{inputs}: id {image_id}")
            continue
        seen.add(key)
        captions.append((image_id, caption))
    rejects.check(len(captions) + rejects.total, config.max_reject_share, inputs)
    generator = generator or make_generator(config, plan)
    # every shard: the same blind model, of the whole input; before any progress: it may refuse the run
    validity = validity_filter(config, captions, inputs)
    mine = captions
    if shard.count > 1:  # every caption once, in input order, is the shard plan
        keys = set(shard_keys([io.caption_key(i, c) for i, c in captions], shard, config.chunk))
        mine = [(i, c) for i, c in captions if io.caption_key(i, c) in keys]
    done, progress_rejects = io.start_progress(work, fingerprint)
    files.push(*(name for name in (io.PROGRESS_HEADER, io.PROGRESS) if (work / name).is_file()))
    finished = {io.caption_key(record.image_id, record.original) for record, _ in done}
    if done:
        log.info("resuming %s: %d captions already done", work, len(done))
    todo = [(i, c) for i, c in mine if io.caption_key(i, c) not in finished]
    log.info("read %d captions from %s (%d to do, rejected %s)", len(captions), inputs, len(todo),
             rejects.as_dict())  # fmt: skip
    for start in tqdm(range(0, len(todo), config.chunk), desc="negatives", unit="chunk"):
        chunk = todo[start : start + config.chunk]
        results = propose(chunk, generator, validity, config.types, config.per_type)
        io.append_progress(work, results)
        files.push(io.PROGRESS)  # whole: a resumed run on another node reads every finished chunk
        done.extend(results)
    seconds = time.perf_counter() - started
    records = [record for record, _ in done]
    metrics = summarize([counts for _, counts in done], config.types, rejects, progress_rejects)
    metrics.update(
        generator=config.generator,
        **{f"generator_{kind}": name for kind, name in plan.items()},  # negatives.profile.generators
        llm_fallback=fallback or "",  # why auto's LLM types are the rules'
        profile=config.profile,  # world or real captions' settings (compclip.negatives.profile)
        candidates=config.candidates,
        blind_model=validity.blind is not None,  # whether the blind filter ran
        reference=config.reference or inputs,  # the captions it learnt from
        resumed=len(finished),
        seconds=round(seconds, 3),
        captions_per_s=round(len(todo) / seconds, 2) if seconds > 0 else 0.0,
    )
    with local_out(out) as stage:
        io.write_outputs(stage, records, metrics)
        for name in (io.PROGRESS_HEADER, io.PROGRESS):
            if (work / name).is_file():
                shutil.copyfile(work / name, stage / name)
    return metrics


def summarize(counts: list[Counter], types: tuple[str, ...], *rejects: Rejects) -> dict:
    """Flat metrics: totals of the per-caption counts, yield shares, input rejects by reason."""
    total = sum(counts, Counter())
    n = len(counts)
    n_records = sum(1 for c in counts if any(c[f"valid_{t}"] for t in types))
    metrics: dict = {
        "n_captions": n,
        "n_records": n_records,
        "no_negative": n - n_records,
        "n_negatives": sum(total[f"valid_{t}"] for t in types),
    }
    for kind in types:
        metrics.update({f"{key}_{kind}": 0 for key in PER_TYPE})
    metrics.update(total)
    for kind in types:
        metrics[f"yield_{kind}"] = round(total[f"captions_with_{kind}"] / n, 4) if n else 0.0
    for group in rejects:
        metrics.update({f"input_{reason}": count for reason, count in group.as_dict().items()})
    return metrics


def filter_file(uri: str, out: str, config: NegativesConfig = NegativesConfig()) -> dict:
    """Re-check a negatives file: malformed records and invalid negatives are counted and dropped."""
    config = resolve(config, uri)
    rejects = Rejects()
    records = io.read_negatives(uri, rejects)
    rejects.check(len(records) + rejects.total, config.max_reject_share, uri)
    validity = validity_filter(config, [(r.image_id, r.original) for r in records], uri)
    results = []
    for record in records:
        candidates: dict[str, list[str]] = {kind: [] for kind in config.types}
        for negative, kind in zip(record.enhanced, record.types, strict=True):
            if kind in candidates:
                candidates[kind].append(negative)
        per_type = max(len(record.enhanced), 1)  # keep every valid negative of the file
        # every valid negative is kept, in the file's order
        results.append(select(record.image_id, record.original, candidates, validity, per_type, rank=False))
    metrics = summarize([c for _, c in results], config.types, rejects)
    with local_out(str(out)) as stage:
        io.write_outputs(stage, [r for r, _ in results], metrics)
    return metrics

"""The selection stage of GenPairs: (class, concept) pairs from a real PMI table, spread over PMI strata.

PMI(class, concept) is the PMI of the concept with the class's head noun (``class_pmi: head``, as
the released code scores a pair), or the mean over every concept of the class name (``mean``,
``-inf`` when any of them never occurs with it). Every (class, candidate) pair is scored at once,
split into strata by :func:`compclip.evalsets.strata.assign_strata` (never together: stratum 0; the
rest by equal-count PMI rank) and :func:`~compclip.evalsets.strata.allocate` picks ``per_stratum``
pairs of each stratum (each pair once: a stratum with fewer pairs gives all it has).

``select_stage(pmi, out, config)`` writes the pairs as one Parquet file (``compclip genpairs
pairs``), its header (classes, PMI table, what was filtered out, strata) in the file's metadata:
CPU work, to inspect before the GPU phases read it.
"""

from __future__ import annotations

import io
import json
import logging
from dataclasses import asdict, dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from compclip.config import Checked, PositiveInt
from compclip.errors import UserError
from compclip.evalsets.strata import allocate, assign_strata
from compclip.evalsets.zeroshot import Pairs, strata_summary
from compclip.genpairs.vocabulary import (
    HEAD,
    IMAGENET,
    CandidateRules,
    ClassConcepts,
    candidate_concepts,
    class_concepts,
    class_words,
    read_classes,
)
from compclip.pmi import PMITable
from compclip.pmi.pairs import tri_index
from compclip.pmi.table import pmi_values
from compclip.rejects import Rejects
from compclip.storage import exists, read_bytes, write_bytes

log = logging.getLogger(__name__)

HEADER_KEY = b"compclip"
PAIR_FIELDS = [("pair_id", pa.string()), ("label", pa.string()), ("concept", pa.string()),
               ("pmi", pa.float64()), ("stratum", pa.int64())]  # fmt: skip


@dataclass(frozen=True)
class SelectConfig(Checked):
    seed: int = 0
    classes: str = IMAGENET  # "imagenet" (packaged) or a text file of class names, one a line
    class_pmi: str = HEAD  # "head": PMI with the class's head noun (released code); "mean": over its name
    n_strata: PositiveInt = 10
    per_stratum: PositiveInt = 100  # pairs per PMI stratum
    candidates: CandidateRules = field(default_factory=CandidateRules)


@dataclass(frozen=True)
class Pair:
    pair_id: str
    label: str  # the class name
    concept: str
    pmi: float
    stratum: int


def pmi_row(table: PMITable, i: int, others: np.ndarray) -> np.ndarray:
    """PMI of concept id ``i`` with each id of ``others`` (none equal to ``i``), vectorised."""
    v = len(table.names)
    keys = tri_index(np.minimum(i, others), np.maximum(i, others), v)
    pos = np.clip(np.searchsorted(table.keys, keys), 0, max(len(table.keys) - 1, 0))
    found = (table.keys[pos] == keys) if len(table.keys) else np.zeros(len(keys), bool)
    n12 = np.where(found, table.pair_counts[pos] if len(table.keys) else 0, 0)
    return pmi_values(n12, table.words[i], table.words[others], table.n_captions, table.smoothing)


def class_pmi(table: PMITable, cls: ClassConcepts, candidates: np.ndarray) -> np.ndarray:
    """Mean over the class's scoring concepts (its head noun alone, by default) of their PMI with each
    candidate id."""
    return np.mean([pmi_row(table, table.index[c], candidates) for c in cls.concepts], axis=0)


def select_pairs(
    table: PMITable,
    classes: list[ClassConcepts],
    candidates: list[str],
    n_strata: int,
    per_stratum: int,
    seed: int,
) -> list[Pair]:
    """``per_stratum`` distinct pairs per PMI stratum, ordered by stratum, with ids ``pair-000000``..."""
    ids = np.array([table.index[c] for c in candidates], dtype=np.int64)
    labels, concepts, values = [], [], []
    for cls in classes:
        own = np.isin(ids, [table.index[c] for c in cls.concepts])
        keep = ids[~own]
        labels.append(np.full(len(keep), len(labels)))
        concepts.append(np.flatnonzero(~own))
        values.append(class_pmi(table, cls, keep))
    if not values:
        return []
    label, concept, pmi = (np.concatenate(x) for x in (labels, concepts, values))
    strata = assign_strata(pmi, n_strata)
    chosen = allocate(strata, per_stratum, np.random.default_rng([seed, 17]))
    _, first = np.unique(chosen, return_index=True)
    chosen = chosen[np.sort(first)]
    return [
        Pair(f"pair-{k:06d}", classes[label[p]].name, candidates[concept[p]], float(pmi[p]), int(strata[p]))
        for k, p in enumerate(chosen)
    ]


@dataclass(frozen=True)
class Selection:
    pairs: list[Pair]
    header: dict  # classes, seed, PMI table, selection counts and strata


def selection(table: PMITable, config: SelectConfig, pmi: str = "") -> Selection:
    """The run's pairs and a header saying how they were chosen (``pmi``: the table's URI, recorded)."""
    rejects = Rejects()
    names = read_classes(config.classes)
    classes = class_concepts(names, table, rejects, by=config.class_pmi)
    excluded = class_words(names, table)
    candidates = candidate_concepts(table.names, list(table.counts), config.candidates, excluded, rejects)
    pairs = select_pairs(table, classes, candidates, config.n_strata, config.per_stratum, config.seed)
    if not pairs:
        raise UserError(
            f"no pairs: {len(classes)} classes and {len(candidates)} candidate concepts ({rejects.as_dict()})"
        )
    strata = strata_summary(
        Pairs([p.label for p in pairs], [p.concept for p in pairs],
              np.array([p.pmi for p in pairs]), np.array([p.stratum for p in pairs]))
    )  # fmt: skip
    summary = {"classes_in_vocabulary": len(classes), "candidates": len(candidates), "pairs": len(pairs),
               "rejects": rejects.as_dict(), "strata": strata, "config": asdict(config)}  # fmt: skip
    log.info("selected %d pairs over %d strata (%s)", len(pairs), len(strata), rejects.as_dict())
    header = {"classes": names, "seed": config.seed, "pmi_table": {"path": pmi, **table.header},
              "selection": summary, "strata": strata}  # fmt: skip
    return Selection(pairs, header)


def pairs_table(pairs: list[Pair], header: dict, extra: dict[str, tuple[pa.DataType, list]] | None = None):
    """The pairs as an Arrow table (plus ``extra`` columns), ``header`` in its schema metadata."""
    columns = {name: [getattr(p, name) for p in pairs] for name, _ in PAIR_FIELDS}
    fields = list(PAIR_FIELDS)
    for name, (kind, values) in (extra or {}).items():
        columns[name] = values
        fields.append((name, kind))
    schema = pa.schema(fields, metadata={HEADER_KEY: json.dumps(header, sort_keys=True, default=str)})
    return pa.table(columns, schema=schema)


def write_table_file(uri: str, table: pa.Table) -> None:
    """One Parquet file at a local path or s3:// URI, never seen half-written; a file already there is
    replaced only when it is one of these files (compclip never overwrites what it did not write)."""
    if exists(uri):
        try:
            read_table_file(uri)
        except UserError:
            raise UserError(f"{uri} exists and is not a file compclip wrote; choose another --out") from None
    buffer = io.BytesIO()
    pq.write_table(table, buffer, compression="zstd")
    write_bytes(uri, buffer.getvalue())


def read_table_file(uri: str) -> tuple[pa.Table, dict]:
    """A Parquet file written by :func:`write_table_file` and its header."""
    try:
        table = pq.read_table(io.BytesIO(read_bytes(uri)))
    except pa.ArrowInvalid as err:
        raise UserError(f"{uri}: not a Parquet file ({err})") from err
    metadata = table.schema.metadata or {}
    if HEADER_KEY not in metadata or not {n for n, _ in PAIR_FIELDS} <= set(table.column_names):
        raise UserError(f"{uri}: not a GenPairs pairs file (run `compclip genpairs pairs` first)")
    return table, json.loads(metadata[HEADER_KEY])


def read_pairs(uri: str) -> tuple[list[Pair], pa.Table, dict]:
    """The pairs of a pairs (or captions) file, the table itself and its header."""
    table, header = read_table_file(uri)
    rows = table.select([n for n, _ in PAIR_FIELDS]).to_pylist()
    return [Pair(**row) for row in rows], table, header


def select_stage(pmi: str, out: str, config: SelectConfig = SelectConfig()) -> dict:
    """Write the selection's pairs to ``out`` (a Parquet file, local or s3://); return its summary."""
    chosen = selection(PMITable.load(str(pmi)), config, str(pmi))
    write_table_file(str(out), pairs_table(chosen.pairs, chosen.header))
    return chosen.header["selection"]

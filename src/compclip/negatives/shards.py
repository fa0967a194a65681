"""LLM negatives on several GPUs: each task takes one shard of the captions, a merge joins them.

``compclip negatives generate --shard i/n`` works on chunks ``i, i+n, ...`` of the input's captions
(in input order, ``chunk`` captions each, as GenPairs deals its pairs), with the blind filter of
the whole input, so the shards' records together are one run's; ``compclip negatives merge``
writes them as one output. Throughput and cost: docs/negatives.md.
"""

from __future__ import annotations

import json
import logging

from compclip.chunks import Shard
from compclip.errors import UserError
from compclip.evalsets.generated import sum_metrics
from compclip.negatives import io
from compclip.outputs import local_out
from compclip.rejects import Rejects
from compclip.storage import read_bytes

log = logging.getLogger(__name__)

SHARES = ("yield_",)  # metrics that are shares, recomputed from the merged counts


def shard_keys(keys: list, shard: Shard, chunk: int) -> list:
    """The keys of shard ``shard``: chunks ``i, i+n, ...`` of ``keys`` in chunks of ``chunk``."""
    return [keys[i] for _, items in shard.chunks(len(keys), chunk) for i in items]


def merge_negatives(inputs: list[str], out: str) -> dict:
    """One negatives output from the outputs of a job's shards; returns the merged metrics.

    Records are concatenated in shard order; a caption in two shards (a shard given twice) is an
    error; counts are summed and the per-type yields recomputed."""
    if not inputs:
        raise UserError("merge: no shard outputs given")
    records, metrics, seen = [], [], set()
    for uri in inputs:
        rejects = Rejects()
        found = io.read_negatives(uri, rejects)
        if rejects.total:
            raise UserError(f"{uri}: {rejects.as_dict()} malformed records; not a negatives output")
        for record in found:
            key = io.caption_key(record.image_id, record.original)
            if key in seen:
                raise UserError(f"merge: caption {key} occurs in more than one shard (a shard given twice?)")
            seen.add(key)
        records.extend(found)
        metrics.append(json.loads(read_bytes(f"{uri.rstrip('/')}/{io.METRICS}")))
    merged = {k: v for k, v in sum_metrics(metrics).items() if not k.startswith(SHARES)}
    for key in (k for k in metrics[0] if k.startswith("yield_")):
        kind = key[len("yield_") :]
        merged[key] = (
            round(merged[f"captions_with_{kind}"] / merged["n_captions"], 4) if merged["n_captions"] else 0.0
        )
    merged["shards"] = len(inputs)
    with local_out(out) as stage:
        io.write_outputs(stage, records, merged)
    log.info("merged %d shards into %s: %d records", len(inputs), out, len(records))
    return merged

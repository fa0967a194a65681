"""Concept co-occurrence (PMI) over caption corpora of any size, exact under sharding."""

from compclip.pmi.shards import (
    CountConfig,
    count_corpus,
    count_shard_pairs,
    merge_table,
    merge_vocab,
    scan_shard,
)
from compclip.pmi.table import PMITable, Score

__all__ = [
    "CountConfig",
    "PMITable",
    "Score",
    "count_corpus",
    "count_shard_pairs",
    "merge_table",
    "merge_vocab",
    "scan_shard",
]

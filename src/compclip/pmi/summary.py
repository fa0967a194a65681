"""A readable report of a PMI table: corpus statistics and each concept's strongest and weakest partners."""

from __future__ import annotations

import numpy as np

from compclip.pmi.table import PMITable


def summarize(table: PMITable, concepts: list[str], k: int = 5) -> str:
    header = table.header
    pmi = table.pair_pmi()
    lines = [
        f"corpus: {table.n_captions:,} captions in {header['n_files']} file(s), "
        f"{sum(header['rejects'].values()):,} rejected {header['rejects'] or ''}".rstrip(),
        f"vocabulary: {len(table.names):,} concepts (of {header['n_concepts_seen']:,} seen; "
        f"mode {header['mode']}, min count {header['min_count']}), {len(table.keys):,} co-occurring pairs",
        f"PMI of co-occurring pairs: min {pmi.min():+.2f}, median {np.median(pmi):+.2f}, max {pmi.max():+.2f}"
        if len(pmi)
        else "no co-occurring pairs",
        f"most frequent: {', '.join(table.names[i] for i in np.argsort(-table.counts, kind='stable')[:10])}",
    ]
    for concept in concepts:
        if table.count(concept) == 0:
            lines.append(f"\n{concept}: not in the vocabulary")
            continue
        lines.append(f"\n{table.concept(concept)} ({table.count(concept):,} captions)")
        for label, lowest in (("highest", False), ("lowest", True)):
            partners = ", ".join(f"{c} {p:+.2f} ({n})" for c, p, n in table.top(concept, k, lowest=lowest))
            lines.append(f"  {label} PMI: {partners}")
    return "\n".join(lines)

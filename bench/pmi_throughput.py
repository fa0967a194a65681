"""PMI counting benchmarks: throughput per core, scaling, a plain-Python baseline, memory and merge.

    python bench/pmi_throughput.py                 # the full set (about 10 minutes on 2 cores)
    python bench/pmi_throughput.py --captions 500000 --skip-vocab22k   # a quick look

1. Flickr8k captions replicated to --captions (default 5.2M) in 8 TSV files: end-to-end
   `count_corpus` (read, tokenize, lemmatize, count pairs, write) with 1 and 2 workers.
2. The same work as a plain Python loop (reference concept extraction, Counter of pairs)
   on a 200k-caption slice, for the speed-up ratio.
3. A synthetic corpus whose vocabulary holds about 22k concepts (WordNet nouns drawn with a
   Zipf law): peak memory of one counting worker, then 64 shards merged into one table.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
FLICKR = REPO.parent / "shared" / "data" / "flickr8k" / "Flickr8k.token.txt"


def replicate_flickr(folder: Path, n_captions: int, n_files: int = 8) -> list[Path]:
    lines = FLICKR.read_text(encoding="utf-8").splitlines()
    copies = -(-n_captions // len(lines))
    per_file = -(-copies // n_files)
    paths = []
    for k in range(n_files):
        path = folder / f"flickr-x{k}.tsv"
        with path.open("w", encoding="utf-8") as out:
            for c in range(per_file):
                out.writelines(f"{k}-{c}-{line}\n" for line in lines)
        paths.append(path)
    return paths


def measured(cmd: list[str]) -> tuple[float, int]:
    """Run ``cmd``; return (seconds, its own peak RSS in MiB).

    ``os.wait4`` reports this child alone (with the worker processes it waited for), unlike
    ``RUSAGE_CHILDREN``, whose maximum never goes down and so repeats an earlier child's peak.
    """
    start = time.perf_counter()
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=log)
        _, status, usage = os.wait4(process.pid, 0)
        if os.waitstatus_to_exitcode(status) != 0:
            log.seek(0)
            raise RuntimeError(f"{' '.join(cmd)} failed:\n{log.read().decode()[-2000:]}")
    return time.perf_counter() - start, usage.ru_maxrss // 1024


def run_count(inputs: list[Path], out: Path, args: list[str]) -> tuple[float, int, dict]:
    """Run the CLI in a child process; return (seconds, its peak RSS in MiB, metrics)."""
    cmd = [sys.executable, "-m", "compclip.cli", "pmi", "count", *map(str, inputs), "--out", str(out), *args]
    seconds, peak = measured(cmd)
    return seconds, peak, json.loads((out / "metrics.json").read_text())


def python_baseline(n: int) -> float:
    """Captions per second of the same work written as a plain Python loop."""
    from compclip.pmi.concepts import ConceptRules

    rules = ConceptRules()
    lines = FLICKR.read_text(encoding="utf-8").splitlines()
    lines = (lines * (n // len(lines) + 1))[:n]
    rules.concepts("warm up the lemmatizer")
    start = time.perf_counter()
    words: Counter = Counter()
    pairs: Counter = Counter()
    for line in lines:
        concepts = sorted(rules.concepts(line.split("\t", 1)[1]))
        words.update(concepts)
        pairs.update(itertools.combinations(concepts, 2))
    return n / (time.perf_counter() - start)


def synthetic_corpus(folder: Path, n_files: int, per_file: int, seed: int = 0) -> list[Path]:
    """Captions of WordNet nouns drawn with a Zipf law, with stopwords between them."""
    from nltk.corpus import wordnet

    nouns = sorted({n for n in wordnet.all_lemma_names("n") if n.isalpha() and n.islower() and len(n) > 3})
    rng = np.random.default_rng(seed)
    words = np.array(rng.permutation(nouns))
    weights = 1.0 / np.arange(1, len(words) + 1)
    weights /= weights.sum()
    fillers = np.array(["a", "the", "with", "and", "on", "of", "in"])
    paths = []
    for k in range(n_files):
        lengths = rng.integers(6, 15, per_file)
        drawn = words[rng.choice(len(words), lengths.sum(), p=weights)]
        glue = fillers[rng.integers(0, len(fillers), lengths.sum())]
        tokens = np.char.add(np.char.add(drawn, " "), glue)
        cut = np.cumsum(lengths)[:-1]
        path = folder / f"synthetic-{k:02d}.txt"
        path.write_text("\n".join(" ".join(c) for c in np.split(tokens, cut)) + "\n")
        paths.append(path)
    return paths


def vocab22k(folder: Path, n_shards: int, per_shard: int, min_count: int) -> dict:
    parts = synthetic_corpus(folder, n_shards, per_shard)
    cli = [sys.executable, "-m", "compclip.cli", "pmi"]
    shards = [folder / f"w{k:02d}" for k in range(n_shards)]
    scans = [
        measured([*cli, "count", "--shard", str(p), "--out", str(s)])
        for p, s in zip(parts, shards, strict=True)
    ]
    vocab = folder / "vocab"
    measured([*cli, "merge", *map(str, shards), "--out", str(vocab), "--min-count", str(min_count)])
    n_vocab = json.loads((vocab / "vocab.json").read_text())
    counts = [
        measured([*cli, "count", "--shard", str(part), "--out", str(shard), "--vocab", str(vocab)])
        for part, shard in zip(parts, shards, strict=True)
    ]
    merge_seconds, peak_merge = measured(
        [*cli, "merge", *map(str, shards), "--vocab", str(vocab), "--out", str(folder / "table")]
    )
    header = json.loads((folder / "table" / "header.json").read_text())
    return {
        "shards": n_shards,
        "captions": header["n_captions"],
        "concepts_seen": n_vocab["n_concepts_seen"],
        "vocabulary": header["n_concepts"],
        "pairs": header["n_pairs"],
        "pair_pass_seconds_per_shard": round(sum(s for s, _ in counts) / n_shards, 2),
        "peak_rss_mib_scan_worker": max(peak for _, peak in scans),
        "peak_rss_mib_pairs_worker": max(peak for _, peak in counts),
        "merge_seconds": round(merge_seconds, 1),
        "peak_rss_mib_merge": peak_merge,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--captions", type=int, default=5_200_000)
    parser.add_argument("--baseline", type=int, default=200_000)
    parser.add_argument("--shards", type=int, default=64)
    parser.add_argument("--per-shard", type=int, default=50_000)
    parser.add_argument("--min-count", type=int, default=60)
    parser.add_argument("--skip-vocab22k", action="store_true")
    parser.add_argument("--skip-throughput", action="store_true", help="only the large-vocabulary part")
    args = parser.parse_args()
    results: dict = {"cpu_count": os.cpu_count()}
    with tempfile.TemporaryDirectory(prefix="compclip-bench-") as tmp:
        folder = Path(tmp)
        inputs = [] if args.skip_throughput else replicate_flickr(folder, args.captions)
        for workers in (1, 2) if inputs else ():
            seconds, peak, metrics = run_count(
                inputs, folder / f"t{workers}", ["--min-count", "5", "--workers", str(workers)]
            )
            results[f"workers_{workers}"] = {
                "captions": metrics["n_captions"],
                "seconds": round(seconds, 1),
                "captions_per_second": round(metrics["n_captions"] / seconds),
                "captions_per_second_per_core": round(metrics["n_captions"] / seconds / workers),
                "peak_rss_mib": peak,
            }
        if inputs:
            results["python_loop_captions_per_second"] = round(python_baseline(args.baseline))
            results["speedup_vs_python_loop"] = round(
                results["workers_1"]["captions_per_second"] / results["python_loop_captions_per_second"], 1
            )
        if not args.skip_vocab22k:
            (folder / "v22k").mkdir()
            results["vocab22k"] = vocab22k(folder / "v22k", args.shards, args.per_shard, args.min_count)
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()

"""The core image's stages of the flow (world, fine-tuning data, PMI in two fanned-out rounds,
evaluation sets, rule negatives) run twice through kfp's local runner, every task a subprocess and
every task in the core image (podman), each timed; every file of every output compared by sha256.

The torch stages need the train image (`make run-containers` runs the whole small pipeline); this
needs only `make image-core`. Run:
    .venv/bin/python bench/containers_core.py --out out/containers-core [--param SECTION.KEY=VALUE ...]
Exits non-zero when an output differs.
"""

import argparse
import hashlib
import sys
import time
from pathlib import Path

from kfp import dsl

from compclip.components.data.component import finetune_data
from compclip.components.evalsets.component import evalsets_build
from compclip.components.negatives.component import negatives_generate
from compclip.components.world.component import world_corpus
from compclip.config import load_params
from compclip.images import DEFAULT_REGISTRY, Images, content_tag
from compclip.pipelines import cluster
from compclip.pipelines.compclip_pipeline import pmi_count
from compclip.pipelines.local import execute
from compclip.pipelines.params import apply

REPO = Path(__file__).resolve().parents[1]
# What kfp writes beside the outputs: each names its own run's paths.
KFP_FILES = ("executor_output.json",)


def core_stages(params: dict):
    count = pmi_count()

    @dsl.pipeline(name="core-stages")
    def stages(shards: int = 2):
        world = world_corpus(config=params["world"], section="world").outputs["corpus"]
        data = finetune_data(source="", config=params["finetune"]).outputs["data"]
        table = count(corpus="", world=world, shards=shards, config=params["pmi"]).output
        evalsets_build(pmi=table, config=params["evalsets"])
        negatives_generate(data=data, pmi=table, config=params["negatives"])

    return stages


def hashes(run: Path) -> dict[str, str]:
    """``task/output/file -> sha256`` of every file a run's tasks wrote (kfp's own files left out)."""
    return {
        str(f.relative_to(run)): hashlib.sha256(f.read_bytes()).hexdigest()
        for f in sorted(run.rglob("*"))
        if f.is_file() and f.name not in KFP_FILES
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--param", action="append", default=[], help="SECTION.KEY=VALUE, as `pipeline run`")
    args = parser.parse_args()
    params, _ = apply(load_params(REPO / "params.yaml"), args.param)
    found = {}
    for runner in ("subprocess", "containers"):
        pipeline = core_stages(params)
        cluster.apply(pipeline, cluster.Cluster(Images(DEFAULT_REGISTRY, content_tag(REPO))))
        root = args.out.resolve() / runner
        root.mkdir(parents=True, exist_ok=True)
        start = time.perf_counter()
        (run,) = execute(pipeline, {}, root, cache=False, runner=runner)
        print(f"{runner:>10}: {time.perf_counter() - start:7.1f} s", flush=True)
        found[runner] = hashes(run)
    a, b = found["subprocess"], found["containers"]
    differ = sorted(f for f in a.keys() | b.keys() if a.get(f) != b.get(f))
    print(f"files: {len(a)}, differing: {len(differ)}")
    print("\n".join(f"  differs: {d}" for d in differ))
    sys.exit(1 if differ else 0)


if __name__ == "__main__":
    main()

"""GenPairs as Kubeflow components: the shard plan, one shard's `compclip genpairs run --shard i/n`
(a GPU task) and `compclip genpairs merge`."""

from kfp import dsl
from kfp.dsl import Dataset, Input, Output

from compclip.images import image


@dsl.component(base_image=image("core"), install_kfp_package=False)
def shard_plan(shards: int) -> list[str]:
    """The shards ``i/n`` (n = ``shards``) a generator deals its chunks into, for a ParallelFor."""
    if shards < 1:
        raise ValueError(f"shards must be at least 1, got {shards}")
    return [f"{i}/{shards}" for i in range(shards)]


@dsl.component(base_image=image("gen"), install_kfp_package=False)
def genpairs_shard(pmi: str, part: str, work_dir: str, config: dict, shard: Output[Dataset]):
    """Shard ``part`` (``i/n``) of GenPairs from the PMI table at ``pmi`` (a URI). ``work_dir``: a
    mounted volume where finished chunks outlive a failed attempt (empty: the task's own disk)."""
    from compclip.cli import run

    argv = ["genpairs", "run", "--pmi", pmi, "--out", shard.path, "--shard", part]
    if work_dir:
        argv += ["--work-dir", work_dir]
    run(argv, params={"genpairs": config})
    shard.metadata["shard"] = part


@dsl.component(base_image=image("gen"), install_kfp_package=False)
def genpairs_merge(shards: Input[list[Dataset]], evalset: Output[Dataset]):
    """The shards' folders joined into one GenPairs evaluation set."""
    from compclip.cli import run

    run(["genpairs", "merge", *[s.path for s in shards], "--out", evalset.path])

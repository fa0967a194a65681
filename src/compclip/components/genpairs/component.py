"""GenPairs as Kubeflow components, one per phase so that each GPU task holds one model: the pairs
(CPU), the captions (the LM, one GPU), one shard of the images (FLUX, a GPU each) and the merge;
plus the shard plan every generator's ParallelFor iterates."""

from kfp import dsl
from kfp.dsl import Dataset, Input, Output

from compclip.images import image


@dsl.component(base_image=image("core"), install_kfp_package=False)
def shard_plan(shards: int) -> list[str]:
    """The shards ``i/n`` (n = ``shards``) a generator deals its chunks into, for a ParallelFor."""
    if shards < 1:
        raise ValueError(f"shards must be at least 1, got {shards}")
    return [f"{i}/{shards}" for i in range(shards)]


@dsl.component(base_image=image("core"), install_kfp_package=False)
def genpairs_pairs(pmi: str, config: dict, pairs: Output[Dataset]):
    """The (class, concept) pairs by PMI stratum from the PMI table at ``pmi`` (a URI): CPU work."""
    from compclip.cli import run

    run(["genpairs", "pairs", "--pmi", pmi, "--out", pairs.path], params={"genpairs": config})


@dsl.component(base_image=image("gen"), install_kfp_package=False)
def genpairs_captions(
    pmi: str, pairs: Input[Dataset], work_root: str, config: dict, captions: Output[Dataset]
):
    """A caption for every pair (the LM alone on the GPU). ``work_root``: an s3:// prefix under which
    finished chunks outlive a failed attempt (:func:`compclip.workfolders.task_work_dir`; empty: the
    task's own disk)."""
    from compclip.cli import run
    from compclip.workfolders import task_work_dir

    argv = ["genpairs", "captions", "--pairs", pairs.path, "--pmi", pmi, "--out", captions.path]
    work = task_work_dir(work_root, "genpairs-captions", pairs.uri, pmi, config)
    run([*argv, *(["--work-dir", work] if work else [])], params={"genpairs": config})


@dsl.component(base_image=image("gen"), install_kfp_package=False)
def genpairs_images(
    captions: Input[Dataset], part: str, work_root: str, config: dict, shard: Output[Dataset]
):
    """Shard ``part`` (``i/n``) of the images of the captioned pairs (FLUX alone on the GPU); every
    shard works in its own subfolder of one work folder under ``work_root``."""
    from compclip.cli import run
    from compclip.workfolders import task_work_dir

    argv = ["genpairs", "images", "--captions", captions.path, "--out", shard.path, "--shard", part]
    work = task_work_dir(work_root, "genpairs-images", captions.uri, config)
    run([*argv, *(["--work-dir", work] if work else [])], params={"genpairs": config})
    shard.metadata["shard"] = part


@dsl.component(base_image=image("gen"), install_kfp_package=False)
def genpairs_merge(shards: Input[list[Dataset]], evalset: Output[Dataset]):
    """The image shards' folders joined into one GenPairs evaluation set."""
    from compclip.cli import run

    run(["genpairs", "merge", *[s.path for s in shards], "--out", evalset.path])

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
    """The (class, concept) pairs by PMI stratum from the PMI table at ``pmi`` (a URI): CPU work;
    ``config``: params `genpairs`."""
    from compclip.config import from_dict
    from compclip.genpairs.pairs import select_stage
    from compclip.genpairs.run import GenPairsConfig

    select_stage(pmi, pairs.path, from_dict(GenPairsConfig, config, "genpairs").select)


@dsl.component(base_image=image("gen"), install_kfp_package=False)
def genpairs_captions(
    pmi: str, pairs: Input[Dataset], work_root: str, config: dict, captions: Output[Dataset]
):
    """A caption for every pair (the LM alone on the GPU). ``work_root``: an s3:// prefix under which
    finished chunks outlive a failed attempt (:func:`compclip.workfolders.task_work_dir`; empty: the
    task's own disk)."""
    from compclip.config import from_dict
    from compclip.genpairs.captions import caption_stage
    from compclip.genpairs.run import GenPairsConfig
    from compclip.workfolders import task_work_dir

    settings = from_dict(GenPairsConfig, config, "genpairs").captions
    work = task_work_dir(work_root, "genpairs-captions", pairs.uri, pmi, config)
    caption_stage(pairs.path, captions.path, settings, pmi, work)


@dsl.component(base_image=image("gen"), install_kfp_package=False)
def genpairs_images(
    captions: Input[Dataset], part: str, work_root: str, config: dict, shard: Output[Dataset]
):
    """Shard ``part`` (``i/n``) of the images of the captioned pairs (FLUX alone on the GPU); every
    shard works in its own subfolder of one work folder under ``work_root``."""
    from compclip.chunks import Shard
    from compclip.config import from_dict
    from compclip.genpairs.images import image_stage
    from compclip.genpairs.run import GenPairsConfig
    from compclip.workfolders import task_work_dir

    settings = from_dict(GenPairsConfig, config, "genpairs").images
    work = task_work_dir(work_root, "genpairs-images", captions.uri, config)
    image_stage(captions.path, shard.path, settings, Shard.parse(part), work)
    shard.metadata["shard"] = part


@dsl.component(base_image=image("gen"), install_kfp_package=False)
def genpairs_merge(shards: Input[list[Dataset]], evalset: Output[Dataset]):
    """The image shards' folders joined into one GenPairs evaluation set."""
    from compclip.evalsets.generated import merge_evalsets

    merge_evalsets([s.path for s in shards], evalset.path)

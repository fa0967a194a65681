"""ImageNet-paste as Kubeflow components: the accessories painted once into a cache (the GPU task),
one shard of the set reading that cache (CPU work, `compclip paste run --shard i/n`), and the merge."""

from kfp import dsl
from kfp.dsl import Dataset, Input, Output

from compclip.images import image


@dsl.component(base_image=image("gen"), install_kfp_package=False)
def paint_accessories(images: str, pmi: str, accessories: str, config: dict, cache: Output[Dataset]):
    """Every accessory the set uses that the folder ``accessories`` (may be empty) lacks, painted by
    FLUX on white into ``cache``, which every shard then reads; ``config``: params `paste`."""
    from compclip.config import from_dict
    from compclip.paste.run import PasteConfig
    from compclip.paste.run import paint_accessories as paint

    paint(images, pmi, cache.path, from_dict(PasteConfig, config, "paste"), accessories or None)


@dsl.component(base_image=image("gen"), install_kfp_package=False)
def paste_shard(
    images: str, pmi: str, accessories: str, cache: Input[Dataset], part: str, work_root: str, config: dict,
    shard: Output[Dataset],
):  # fmt: skip
    """Shard ``part`` (``i/n``) of ImageNet-paste over the class folders at ``images`` (a URI);
    ``accessories``: a folder of CONCEPT.png files (empty: the painted ``cache``); ``work_root`` as in
    GenPairs."""
    from compclip.chunks import Shard
    from compclip.config import from_dict, override
    from compclip.paste.run import PasteConfig, paste_set
    from compclip.workfolders import task_work_dir

    settings = override(from_dict(PasteConfig, config, "paste"), accessory_cache=cache.path)
    work = task_work_dir(work_root, "paste", images, pmi, accessories, cache.uri, config)
    paste_set(images, pmi, shard.path, settings, accessories or None, Shard.parse(part), work)
    shard.metadata["shard"] = part


@dsl.component(base_image=image("gen"), install_kfp_package=False)
def paste_merge(shards: Input[list[Dataset]], evalset: Output[Dataset]):
    """The shards' folders joined into one ImageNet-paste evaluation set."""
    from compclip.evalsets.generated import merge_evalsets

    merge_evalsets([s.path for s in shards], evalset.path)

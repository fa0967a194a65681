"""ImageNet-paste as Kubeflow components: one shard's `compclip paste run --shard i/n` (a GPU task
when FLUX paints the accessories) and `compclip paste merge`."""

from kfp import dsl
from kfp.dsl import Dataset, Input, Output

from compclip.images import image


@dsl.component(base_image=image("gen"), install_kfp_package=False)
def paste_shard(
    images: str, pmi: str, accessories: str, part: str, work_dir: str, config: dict, shard: Output[Dataset]
):
    """Shard ``part`` (``i/n``) of ImageNet-paste over the class folders at ``images`` (a URI);
    ``accessories``: a folder of CONCEPT.png files (empty: FLUX paints them); ``work_dir`` as in GenPairs."""
    from compclip.chunks import Shard
    from compclip.config import from_dict
    from compclip.paste.run import PasteConfig, paste_set

    settings = from_dict(PasteConfig, config, "paste")
    paste_set(images, pmi, shard.path, settings, accessories or None, Shard.parse(part), work_dir or None)
    shard.metadata["shard"] = part


@dsl.component(base_image=image("gen"), install_kfp_package=False)
def paste_merge(shards: Input[list[Dataset]], evalset: Output[Dataset]):
    """The shards' folders joined into one ImageNet-paste evaluation set."""
    from compclip.evalsets.generated import merge_evalsets

    merge_evalsets([s.path for s in shards], evalset.path)

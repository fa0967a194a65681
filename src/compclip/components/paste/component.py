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
    from compclip.cli import run

    argv = ["paste", "run", "--images", images, "--pmi", pmi, "--out", shard.path, "--shard", part]
    if accessories:
        argv += ["--accessories", accessories]
    if work_dir:
        argv += ["--work-dir", work_dir]
    run(argv, params={"paste": config})
    shard.metadata["shard"] = part


@dsl.component(base_image=image("gen"), install_kfp_package=False)
def paste_merge(shards: Input[list[Dataset]], evalset: Output[Dataset]):
    """The shards' folders joined into one ImageNet-paste evaluation set."""
    from compclip.cli import run

    run(["paste", "merge", *[s.path for s in shards], "--out", evalset.path])

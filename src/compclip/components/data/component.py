"""The fine-tuning data as a Kubeflow component: a given image-caption set (`compclip data import`:
checked and written as shards) or, when none is given, the world's fine-tuning corpus (`compclip world
corpus`)."""

from kfp import dsl
from kfp.dsl import Dataset, Output

from compclip.images import image


@dsl.component(base_image=image("core"), install_kfp_package=False)
def finetune_data(source: str, config: dict, data: Output[Dataset]):
    """``source``: a dataset folder (sharded, or the older folder of images) or a folder of img2dataset
    tar or parquet shards, a path or s3:// URI; or empty for the world's fine-tuning corpus with
    ``config`` (params.yaml ``finetune``)."""
    from compclip.config import from_dict
    from compclip.dataset_import import ImportConfig, import_dataset
    from compclip.world.corpus import CorpusConfig, write_corpus

    if source:
        import_dataset(source, data.path, config=ImportConfig())
    else:
        write_corpus(data.path, from_dict(CorpusConfig, config, "finetune"))
    data.metadata["source"] = source or "world"

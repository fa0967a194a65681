"""The fine-tuning data as a Kubeflow component: a given image-caption set (`compclip data import`:
checked and copied) or, when none is given, the world's fine-tuning corpus (`compclip world corpus`)."""

from kfp import dsl
from kfp.dsl import Dataset, Output

from compclip.images import image


@dsl.component(base_image=image("core"), install_kfp_package=False)
def finetune_data(source: str, config: dict, data: Output[Dataset]):
    """``source``: a dataset folder (captions.parquet and its images; a path or s3:// URI), or empty
    for the world's fine-tuning corpus with ``config`` (params.yaml ``finetune``)."""
    from compclip.cli import run

    if source:
        run(["data", "import", source, "--format", "folder", "--out", data.path])
    else:
        run(["world", "corpus", "--section", "finetune", "--out", data.path], params={"finetune": config})
    data.metadata["source"] = source or "world"

"""A given base model as a Kubeflow component: checked (`compclip models check`) before any GPU time
is spent."""

from kfp import dsl
from kfp.dsl import Model, Output

from compclip.images import image


@dsl.component(base_image=image("train"), install_kfp_package=False)
def base_model(source: str, model: Output[Model]):
    """Check that ``source`` (open_clip NAME:TAG, hf-hub:ID, s3:// or folder) names a loadable model;
    ``model`` is a folder naming it, which training and evaluation load like any model folder."""
    from pathlib import Path

    from compclip.models.loading import check, write_reference

    print(check(source))
    write_reference(source, Path(model.path))
    model.metadata["source"] = source

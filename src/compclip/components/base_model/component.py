"""A given base model as a Kubeflow component: `compclip models check`, before any GPU time is spent."""

from kfp import dsl
from kfp.dsl import Model, Output

from compclip.images import image


@dsl.component(base_image=image("train"), install_kfp_package=False)
def base_model(source: str, model: Output[Model]):
    """Check that ``source`` (open_clip NAME:TAG, hf-hub:ID, s3:// or folder) names a loadable model;
    ``model`` is a folder naming it, which training and evaluation load like any model folder."""
    from compclip.cli import run

    run(["models", "check", source, "--out", model.path])
    model.metadata["source"] = source

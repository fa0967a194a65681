"""The world stage as a Kubeflow component: `compclip world corpus` into a Dataset."""

from kfp import dsl
from kfp.dsl import Dataset, Output

from compclip.images import image


@dsl.component(base_image=image("core"), install_kfp_package=False)
def world_corpus(config: dict, section: str, corpus: Output[Dataset]):
    """Render a seeded image-caption corpus of the world; ``config`` is the params.yaml ``section``."""
    from compclip.cli import run

    run(["world", "corpus", "--section", section, "--out", corpus.path], params={section: config})

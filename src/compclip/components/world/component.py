"""The world stage as a Kubeflow component: ``write_corpus`` (`compclip world corpus`) into a Dataset."""

from kfp import dsl
from kfp.dsl import Dataset, Output

from compclip.images import image


@dsl.component(base_image=image("core"), install_kfp_package=False)
def world_corpus(config: dict, section: str, corpus: Output[Dataset]):
    """Render a seeded image-caption corpus of the world; ``config`` is the params.yaml ``section``."""
    from compclip.config import from_dict
    from compclip.world.corpus import CorpusConfig, write_corpus

    write_corpus(corpus.path, from_dict(CorpusConfig, config, section))

"""Hard negatives as a Kubeflow component: `compclip negatives generate`, steered by the PMI table."""

from kfp import dsl
from kfp.dsl import Dataset, Input, Output

from compclip.images import image


@dsl.component(base_image=image("core"), install_kfp_package=False)
def negatives_generate(data: Input[Dataset], pmi: Input[Dataset], config: dict, negatives: Output[Dataset]):
    """Negatives of every configured type for the captions of ``data``; ``config``: params `negatives`.

    The rule generator runs in the ``core`` image; an LLM generator (``generator: llm``) needs the
    ``gen`` image (see the pipeline's ``negatives_image``)."""
    from compclip.cli import run

    argv = ["negatives", "generate", data.path, "--pmi", pmi.path, "--out", negatives.path]
    run(argv, params={"negatives": config})

"""Hard negatives as Kubeflow components: `compclip negatives generate`, steered by the PMI table,
in the core image (rules) or the gen image on a GPU (``generator: llm``), and the choice between them."""

from kfp import dsl
from kfp.dsl import Dataset, Input, Output

from compclip.images import image


@dsl.component(base_image=image("core"), install_kfp_package=False)
def negatives_generator(config: dict) -> str:
    """The generator ``config`` (params `negatives`) names, ``rules`` or ``llm``: the pipeline's branch."""
    from compclip.config import from_dict
    from compclip.negatives.run import NegativesConfig

    return from_dict(NegativesConfig, config, "negatives").generator


@dsl.component(base_image=image("core"), install_kfp_package=False)
def negatives_generate(
    data: Input[Dataset], pmi: Input[Dataset], config: dict, negatives: Output[Dataset], work_root: str = ""
):
    """Rule negatives of every configured type for the captions of ``data``; ``config``: params
    `negatives`; ``work_root``: an s3:// prefix for the resume log, as for pretrain."""
    from compclip.config import from_dict, override
    from compclip.negatives.run import NegativesConfig, generate
    from compclip.workfolders import task_work_dir

    settings = override(from_dict(NegativesConfig, config, "negatives"), pmi=pmi.path)
    work = task_work_dir(work_root, "negatives", data.uri, pmi.uri, config)
    generate(data.path, negatives.path, settings, work_dir=work)


@dsl.component(base_image=image("gen"), install_kfp_package=False)
def negatives_generate_llm(
    data: Input[Dataset], pmi: Input[Dataset], config: dict, negatives: Output[Dataset], work_root: str = ""
):
    """LLM negatives (``generator: llm``: transformers, a GPU) for the captions of ``data``."""
    from compclip.config import from_dict, override
    from compclip.negatives.run import NegativesConfig, generate
    from compclip.workfolders import task_work_dir

    settings = override(from_dict(NegativesConfig, config, "negatives"), pmi=pmi.path)
    work = task_work_dir(work_root, "negatives", data.uri, pmi.uri, config)
    generate(data.path, negatives.path, settings, work_dir=work)

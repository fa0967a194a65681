"""Hard negatives as Kubeflow components: `compclip negatives generate`, steered by the PMI table,
in the core image (rules), or dealt over shards in the gen image on GPUs when the LLM makes any
type (``generator: llm``, or ``auto`` on real captions) and merged; and the choice between them."""

from kfp import dsl
from kfp.dsl import Dataset, Input, Output

from compclip.images import image


@dsl.component(base_image=image("core"), install_kfp_package=False)
def negatives_generator(config: dict, data: Input[Dataset]) -> str:
    """``llm`` when the settings ``config`` (params `negatives`) give ``data``'s captions have the LLM
    make any type (negatives.profile), else ``rules``: the pipeline's branch."""
    from compclip.config import from_dict
    from compclip.negatives.profile import resolve, wants_llm
    from compclip.negatives.run import NegativesConfig

    settings = resolve(from_dict(NegativesConfig, config, "negatives"), data.path)
    return "llm" if wants_llm(settings) else "rules"


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
def negatives_shard(
    data: Input[Dataset],
    pmi: Input[Dataset],
    part: str,
    config: dict,
    shard: Output[Dataset],
    work_root: str = "",
):
    """Shard ``part`` (``i/n``) of the negatives of ``data``'s captions, the LLM's types on this
    task's GPU (transformers), the rules' steered by ``pmi``."""
    from compclip.chunks import Shard
    from compclip.config import from_dict, override
    from compclip.negatives.run import NegativesConfig, generate
    from compclip.workfolders import task_work_dir

    settings = from_dict(NegativesConfig, config, "negatives")
    steering = None if settings.generator == "llm" else pmi.path  # the LLM alone takes no PMI table
    work = task_work_dir(work_root, "negatives-shard", data.uri, pmi.uri, part, config)
    generate(data.path, shard.path, override(settings, pmi=steering), work_dir=work, shard=Shard.parse(part))
    shard.metadata["shard"] = part


@dsl.component(base_image=image("core"), install_kfp_package=False)
def negatives_merge(shards: Input[list[Dataset]], negatives: Output[Dataset]):
    """The shards' negatives joined into one output, as one run would have written it."""
    from compclip.negatives.shards import merge_negatives

    merge_negatives([s.path for s in shards], negatives.path)

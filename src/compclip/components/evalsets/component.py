"""The evaluation sets as a Kubeflow component: `compclip evalsets build` against the corpus' PMI table."""

from kfp import dsl
from kfp.dsl import Dataset, Input, Output

from compclip.images import image


@dsl.component(base_image=image("core"), install_kfp_package=False)
def evalsets_build(pmi: Input[Dataset], config: dict, evalsets: Output[Dataset]):
    """GenPairs-world, Paste-world, single objects and SugarCrepe-style sets.

    ``config`` is the params.yaml section `evalsets`."""
    from compclip.config import from_dict
    from compclip.evalsets.build import EvalsetsConfig, build_evalsets

    build_evalsets(pmi.path, evalsets.path, from_dict(EvalsetsConfig, config, "evalsets"))

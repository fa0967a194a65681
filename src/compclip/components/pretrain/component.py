"""Pretraining as a Kubeflow component: `compclip pretrain`, a tiny CLIP from scratch."""

from kfp import dsl
from kfp.dsl import Dataset, Input, Model, Output

from compclip.images import image


@dsl.component(base_image=image("train"), install_kfp_package=False)
def pretrain(data: Input[Dataset], config: dict, model: Output[Model]):
    """Train ``config['model']`` from random weights on ``data``; ``config``: params `pretrain`."""
    from compclip.config import from_dict
    from compclip.pretrain import PretrainConfig, pretrain

    pretrain(data.path, model.path, from_dict(PretrainConfig, config, "pretrain"))
